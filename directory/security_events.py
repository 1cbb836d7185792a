"""SCIM events as Security Event Tokens (RFC 9967, on RFC 8417), for the webhook endpoints that
choose that format (issue 22): each a JWT signed with the endpoint's own key (ES256, RFC 7518's
recommended curve; PyJWT signs), typed ``secevent+jwt`` (RFC 8417 section 2.3), naming its
subject by ``sub_id`` in SCIM's format and never ``sub`` (RFC 9967 section 2.1), with ``txn`` the
same for every SET of one transaction and on every retry (section 2.2), and the resource's version
inside the event (section 2.2). Delivered by push (RFC 8935: ``Content-Type:
application/secevent+jwt``, 202 on success), the stored token re-sent as it is, so that ``jti``
and ``iat`` stay.

RFC 9967 defines the event URIs below and no others; Roster's events without one (offboarding,
bursts, tokens) go out only in the Standard Webhooks format.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SET_TYPE = "secevent+jwt"
CONTENT_TYPE = "application/secevent+jwt"
ALGORITHM = "ES256"
PREFIX = "urn:ietf:params:scim:event:"
# RFC 9967 section 7.4: every event URI it registers.
EVENT_URIS = tuple(
    PREFIX + name
    for name in (
        "feed:add",
        "feed:remove",
        "prov:create:notice",
        "prov:create:full",
        "prov:patch:notice",
        "prov:patch:full",
        "prov:put:notice",
        "prov:put:full",
        "prov:delete",
        "prov:activate",
        "prov:deactivate",
        "misc:asyncresp",
    )
)
REQUIRED_CLAIMS = ("iss", "iat", "jti", "events", "sub_id", "txn")


def set_key_new() -> str:
    """A new endpoint signing key: an EC P-256 private key, PEM (kept encrypted at rest by the
    caller's storage, like the endpoint's webhook secret)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def set_public_jwk(private_pem: str, kid: str) -> dict:
    """The public half of an endpoint's key as a JWK (RFC 7517), for its receiver to verify with:
    RFC 9967 leaves publishing keys to the profile, and receivers MUST verify (section 5)."""
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ValueError("An endpoint's SET key is an EC P-256 key.")
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def set_encode(
    *,
    issuer: str,
    audience: str,
    subject_uri: str,
    events: dict[str, dict],
    txn: str,
    private_pem: str,
    kid: str,
    external_id: str | None = None,
    at: datetime | None = None,
    jti: str | None = None,
) -> str:
    """One SET: ``events`` maps RFC 9967 event URIs to their payloads (``data`` for ``:full``,
    ``attributes`` for ``:notice``, each with ``version``; ``{}`` for delete, activate and
    deactivate); ``subject_uri`` is the resource's path under the SCIM base (``/Users/<id>``);
    ``jti`` and ``at`` fixed by the caller make a retry carry the same claims. A URI of RFC 9967's
    namespace must be one it registers; others are private event types (RFC 8417 section 2.2:
    Roster's test event)."""
    unknown = {uri for uri in events if uri.startswith("urn:ietf:")} - set(EVENT_URIS)
    if unknown or not events:
        raise ValueError(f"Not RFC 9967 event URIs: {sorted(unknown) or 'none given'}.")
    sub_id: dict = {"format": "scim", "uri": subject_uri}
    if external_id:
        sub_id["externalId"] = external_id
    claims = {
        "iss": issuer,
        "iat": int(at.timestamp()) if at else int(time.time()),
        "jti": jti or uuid.uuid4().hex,
        "aud": audience,
        "txn": txn,
        "sub_id": sub_id,
        "events": events,
    }
    return jwt.encode(claims, private_pem, algorithm=ALGORITHM, headers={"typ": SET_TYPE, "kid": kid})


def set_decode(token: str, *, public_jwk: dict, issuer: str, audience: str) -> dict:
    """What a receiver does (RFC 8935 section 2, RFC 8725's explicit typing): the header's type,
    the signature by the one algorithm, the issuer, the audience, and every claim RFC 9967 needs;
    the claims, or ``jwt.InvalidTokenError``."""
    if jwt.get_unverified_header(token).get("typ") != SET_TYPE:
        raise jwt.InvalidTokenError(f"Not a {SET_TYPE}.")
    key = jwt.algorithms.ECAlgorithm.from_jwk(public_jwk)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise jwt.InvalidTokenError("The key to verify with is a public key.")
    claims = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        issuer=issuer,
        audience=audience,
        options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
    )
    if "sub" in claims or claims["sub_id"].get("format") != "scim" or not claims["sub_id"].get("uri"):
        raise jwt.InvalidTokenError("RFC 9967: the subject is sub_id in SCIM's format, never sub.")
    return claims
