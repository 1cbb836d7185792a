"""A small HTTP client for load generation: one keep-alive connection per worker thread.

The standard library's ``http.client``, so the harness runs with any Python 3.11+ and nothing
installed. A connection is reused while the server keeps it open; when the server closes it
(``Connection: close``, as gunicorn's sync workers do) the next request opens a new one, and that
connect time is part of the request's measured latency, as it is for a real client.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

SCIM_JSON = "application/scim+json"
# The request failed before any answer: counted as an error under this name, never retried silently.
CONNECTION_ERROR = "conn-error"


@dataclass
class Response:
    status: int | str  # an HTTP status, or CONNECTION_ERROR
    body: bytes
    headers: dict[str, str]
    seconds: float

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class HttpClient:
    """Requests to one server: paths are relative to the base URL's path unless they start with
    ``//`` (then relative to the origin, e.g. ``//bench/floor/<id>``)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60, insecure: bool = False):
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path
        self.timeout = timeout
        self.headers = {"Accept": f"{SCIM_JSON}, application/json", "User-Agent": "roster-benchmark/1"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._context = None
        if self.scheme == "https":
            self._context = ssl.create_default_context()
            if insecure:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
        self._connection: http.client.HTTPConnection | None = None
        self.connects = 0

    def _connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1
        return conn

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        full = path[1:] if path.startswith("//") else self.base_path + path
        if params:
            full += ("&" if "?" in full else "?") + urlencode(params, quote_via=quote)
        return full

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        target = self.url(path, params)
        all_headers = dict(self.headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
            all_headers["Content-Type"] = SCIM_JSON
        if headers:
            all_headers.update(headers)
        started = time.perf_counter()
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                if self._connection is None:
                    self._connection = self._connect()
                self._connection.request(method, target, body=data, headers=all_headers)
                response = self._connection.getresponse()
                content = response.read()
                if response.will_close:
                    self._drop()
                return Response(
                    response.status,
                    content,
                    {k.lower(): v for k, v in response.getheaders()},
                    time.perf_counter() - started,
                )
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self._drop()
                # A kept-alive connection the server had closed meanwhile: once more on a new one.
                if reused and attempt == 1:
                    continue
                return Response(CONNECTION_ERROR, str(error).encode(), {}, time.perf_counter() - started)
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                return Response(CONNECTION_ERROR, str(error).encode(), {}, time.perf_counter() - started)
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._drop()

    # Conveniences for the set-up steps (not the measured loops).

    def get(self, path: str, **params: Any) -> Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Response:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Any, **params: Any) -> Response:
        return self.request("PATCH", path, body=body, params=params or None)


def describe(response: Response, limit: int = 300) -> str:
    text = response.body[:limit].decode("utf-8", errors="replace")
    return f"{response.status}: {text}"
