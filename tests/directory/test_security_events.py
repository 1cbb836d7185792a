"""SCIM events as Security Event Tokens (directory/security_events.py), checked against RFC 9967's
and RFC 8417's required claims by a receiver's decoding (PyJWT, the public JWK only)."""

import base64
import json

import jwt
import pytest

from directory.security_events import (
    EVENT_URIS,
    PREFIX,
    SET_TYPE,
    set_decode,
    set_encode,
    set_key_new,
    set_public_jwk,
)

ISSUER, AUDIENCE = "https://roster.example.com/scim/acme/v2", "https://host.example.com/events"
CREATE = PREFIX + "prov:create:full"
PATCH = PREFIX + "prov:patch:notice"


@pytest.fixture(scope="module")
def key():
    return set_key_new()


def encoded(key, **overrides) -> str:
    values = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject_uri": "/Users/01a2",
        "external_id": "jdoe",
        "events": {CREATE: {"data": {"userName": "jdoe"}, "version": 'W/"1"'}, PREFIX + "prov:activate": {}},
        "txn": "tx-1",
        "private_pem": key,
        "kid": "endpoint-7",
    }
    return set_encode(**(values | overrides))


def test_a_set_carries_every_claim_rfc_9967_requires(key):
    token = encoded(key)
    header = jwt.get_unverified_header(token)
    assert (header["typ"], header["alg"], header["kid"]) == (SET_TYPE, "ES256", "endpoint-7")
    claims = set_decode(token, public_jwk=set_public_jwk(key, "endpoint-7"), issuer=ISSUER, audience=AUDIENCE)
    assert {"iss", "iat", "jti", "aud", "txn", "sub_id", "events"} <= set(claims) and "sub" not in claims
    assert claims["sub_id"] == {"format": "scim", "uri": "/Users/01a2", "externalId": "jdoe"}
    assert claims["events"][CREATE] == {"data": {"userName": "jdoe"}, "version": 'W/"1"'}  # version inside
    assert claims["txn"] == "tx-1" and len(claims["jti"]) == 32


def test_each_set_has_its_own_jti_and_one_transactions_sets_share_txn(key):
    first, second = (jwt.decode(encoded(key), options={"verify_signature": False}) for _ in range(2))
    assert first["jti"] != second["jti"] and first["txn"] == second["txn"]


def test_the_public_jwk_holds_no_private_part(key):
    jwk = set_public_jwk(key, "endpoint-7")
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["kid"]) == ("EC", "P-256", "ES256", "endpoint-7")
    assert "d" not in jwk


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        ("other key", "Signature verification failed"),
        ("audience", "Audience doesn't match"),
        ("issuer", "Invalid issuer"),
        ("typ", r"Not a secevent\+jwt"),
        ("payload", "Signature verification failed"),
    ],
)
def test_a_receiver_refuses_what_is_not_this_endpoints_set(key, tamper, refusal):
    token, jwk, issuer, audience = encoded(key), set_public_jwk(key, "k"), ISSUER, AUDIENCE
    if tamper == "other key":
        jwk = set_public_jwk(set_key_new(), "k")
    elif tamper == "audience":
        audience = "https://someone.else/events"
    elif tamper == "issuer":
        issuer = "https://evil.example.com"
    elif tamper == "typ":
        token = jwt.encode({"iss": ISSUER}, key, algorithm="ES256", headers={"typ": "JWT"})
    elif tamper == "payload":
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=="))
        claims["sub_id"]["uri"] = "/Users/someone-else"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{head}.{forged}.{signature}"
    with pytest.raises(jwt.InvalidTokenError, match=refusal):
        set_decode(token, public_jwk=jwk, issuer=issuer, audience=audience)


def test_only_rfc_9967_event_uris_are_sent(key):
    assert len(EVENT_URIS) == 12 and PATCH in EVENT_URIS
    with pytest.raises(ValueError, match="Not RFC 9967 event URIs"):
        encoded(key, events={PREFIX + "prov:offboarded": {}})
    with pytest.raises(ValueError, match="none given"):
        encoded(key, events={})
