"""A webhook receiver on 127.0.0.1 for tests: records every POST (headers, body) and answers with
the status the test sets; it can be made to hold an answer until released."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None  # set: answers wait until it is cleared (released)
    holding: threading.Event = field(default_factory=threading.Event)  # a request is being held
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received if "webhook-id" in r.headers]


def receiver_start() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                status = receiver.status
                receiver.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, status)
                )
            if receiver.hold is not None and receiver.hold.is_set():
                receiver.holding.set()
                while receiver.hold.is_set():
                    time.sleep(0.02)
            self.send_response(status)
            self.send_header("Set-Cookie", "sid=receiver-session; Path=/")  # never to be sent back
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
