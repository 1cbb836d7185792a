"""Outbound requests (directory/outbound.py): a receiver on this host answers only where allowed;
the server's own networks and a cloud's metadata address are refused before any connection; no
redirect is followed; a slow receiver is cut off; nothing raises."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from directory.outbound import ANSWER_KEPT, outbound_post, outbound_url_problem


class Receiver(BaseHTTPRequestHandler):
    behaviour = "accept"
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append((dict(self.headers), body))
        if Receiver.behaviour == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if Receiver.behaviour == "dribble":
            self.send_response(200)
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"x" * 8)
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b"ok" * (ANSWER_KEPT))  # more than is kept

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.behaviour, Receiver.received = "accept", []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_receiver_on_this_host_is_refused_unless_allowed(receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    refused = outbound_post(receiver, b"{}", {"Content-Type": "application/json"})
    assert (refused.status, refused.delivered) == (None, False) and "refused" in refused.error
    assert Receiver.received == []  # nothing reached it

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    answer = outbound_post(receiver, b'{"a":1}', {"Content-Type": "application/json", "webhook-id": "evt_1"})
    assert (answer.status, answer.delivered, answer.error) == (202, True, "")
    assert len(answer.body) == ANSWER_KEPT
    headers, body = Receiver.received[0]
    assert body == b'{"a":1}' and headers["webhook-id"] == "evt_1"
    assert headers["User-Agent"].startswith("Roster-Webhooks/")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://10.0.0.1/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",  # carrier NAT
        "http://[::ffff:127.0.0.1]/hook",  # loopback, IPv4-mapped
        "http://localhost/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_the_servers_own_networks_are_refused_before_any_connection(settings, url):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    started = time.monotonic()
    answer = outbound_post(url, b"{}", {})
    assert answer.status is None and "refused" in answer.error
    assert time.monotonic() - started < 2, "refused, not timed out"


def test_a_redirect_is_the_answer_never_followed(receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    Receiver.behaviour = "redirect"
    answer = outbound_post(receiver, b"{}", {})
    assert (answer.status, answer.delivered) == (302, False)
    assert len(Receiver.received) == 1


def test_a_receiver_that_dribbles_is_cut_off_at_the_deadline(receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_DEADLINE_SECONDS = 0.5
    Receiver.behaviour = "dribble"
    started = time.monotonic()
    answer = outbound_post(receiver, b"{}", {})
    assert answer.status is None and "within 0.5 s" in answer.error
    assert time.monotonic() - started < 2


def test_nothing_listening_is_an_answer_not_an_exception(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    answer = outbound_post("http://127.0.0.1:9/hook", b"{}", {})  # the discard port: closed
    assert answer.status is None and answer.error


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://hooks.example.com/roster", False, ""),
        ("http://hooks.example.com/roster", False, "must start with https://"),
        ("http://hooks.example.com/roster", True, ""),
        ("ftp://hooks.example.com/", True, "must start with"),
        ("https:///no-host", False, "no host"),
        ("https://user:secret@hooks.example.com/", False, "no user or password"),
        ("https://hooks.example.com:99999/", False, "not a URL"),
    ],
)
def test_an_endpoints_address_is_checked_when_saved(settings, url, allow_http, problem):
    settings.WEBHOOK_ALLOW_HTTP = allow_http
    found = outbound_url_problem(url)
    assert (problem in found) if problem else found == ""
    if problem:
        assert outbound_post(url, b"{}", {}).error == found
