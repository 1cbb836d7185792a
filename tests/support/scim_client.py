"""A scim2-client engine on the standard library's urllib, for talking SCIM to a live server.

scim2-client's own network engine needs the optional ``httpx2`` package; this one needs nothing
more. It takes the arguments scim2-client passes to an engine's ``request`` (those of httpx:
``params``, ``json``, ``content``, ``headers``) and answers a response with ``status_code``,
``headers`` and ``text``, which is all scim2-client reads.
"""

import json as jsonlib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from scim2_client import BaseSyncSCIMClient, RequestNetworkException

from tests.support.processes import direct_opener

SCIM_JSON = "application/scim+json"


def _readable(url: str, content: bytes) -> bytes:
    """``content``, without the ServiceProviderConfig's ``securityEvents``: RFC 9967 (section 4)
    adds that attribute to the core schema, and scim2-models 0.12, which predates the RFC, refuses
    a configuration carrying it (``extra_forbidden``), which makes scim2-tester skip checks."""
    if not urllib.parse.urlsplit(url).path.rstrip("/").endswith("ServiceProviderConfig"):
        return content
    document = jsonlib.loads(content)
    document.pop("securityEvents", None)
    return jsonlib.dumps(document).encode()


@dataclass
class UrllibResponse:
    status_code: int
    headers: Message  # .get() looks names up case-insensitively
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def __repr__(self) -> str:
        return f"<HTTP {self.status_code} {self.headers.get('Content-Type')}: {self.text!r}>"


class UrllibSCIMClient(BaseSyncSCIMClient):
    """A synchronous SCIM client sending real HTTP requests to ``base_url``.

    Bodies go out as ``application/scim+json``, as identity providers send them; ``headers`` (such
    as ``Authorization``) go with every request. Redirects are not followed and proxies are not
    used, so what is checked is what the server itself answered.
    """

    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 30, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = {"Accept": SCIM_JSON, **(headers or {})}
        self.timeout = timeout
        self._opener = direct_opener()

    def _absolute(self, url: str) -> str:
        """A relative URL is appended to the base URL's path, as httpx does."""
        if urllib.parse.urlsplit(url).scheme:
            return url
        return self.base_url + url.lstrip("/")

    def _stays_under_base_url(self, endpoint: str) -> bool:
        # As scim2-client's httpx2 engine: an endpoint a /ResourceTypes entry names must lead
        # to the same origin, under the base URL's path.
        base, url = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(self._absolute(endpoint))
        segments = set(url.path.split("/"))
        return (
            (url.scheme, url.netloc) == (base.scheme, base.netloc)
            and f"{url.path.rstrip('/')}/".startswith(base.path)
            and not segments & {".", ".."}
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> UrllibResponse:
        target = self._absolute(url)
        if params:
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(params, doseq=True)
        body = content
        all_headers = dict(self.headers)
        if json is not None:
            body = jsonlib.dumps(json).encode()
            all_headers["Content-Type"] = SCIM_JSON
        for name, value in (headers or {}).items():
            all_headers = {k: v for k, v in all_headers.items() if k.lower() != name.lower()}
            all_headers[name] = value
        request = urllib.request.Request(target, data=body, headers=all_headers, method=method.upper())
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return UrllibResponse(response.status, response.headers, _readable(target, response.read()))
        except urllib.error.HTTPError as error:  # 3xx, 4xx and 5xx are answers, not failures
            with error:
                return UrllibResponse(error.code, error.headers, error.read())
        except OSError as error:  # refused, reset, timed out: what httpx calls a RequestError
            exception = RequestNetworkException()
            exception.add_note(f"{method} {target}: {error}")
            raise exception from error
