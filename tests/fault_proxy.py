"""A fault-injecting HTTP proxy: a real server on 127.0.0.1 in front of an upstream (the fake PIM of
tests/fake_akeneo.py), answering each request either as the upstream did or with one injected fault.

Raw sockets on the client side (a threaded `socketserver`), because some faults cannot be said with
`http.server`: a body cut below its Content-Length, a connection reset mid-body, a stall mid-body.
Every request is forwarded upstream first (as a real server would have done the work before the
network failed), then, with probability `rate`, one fault replaces the answer:

    429-retry-after  429 with `Retry-After: <retry_after>` (small: 1 s by default)
    429              429 without Retry-After (the client's own backoff)
    5xx              500, 502, 503 or 504 with a JSON {code, message} body
    drop-before      the connection closed (FIN) without a byte of answer
    drop-mid-body    headers with the full Content-Length, part of the body, then a reset (RST)
    stall            no answer for `stall` seconds (longer than the client's read timeout), then closed
    stall-mid-body   headers and part of the body, then `stall` seconds of silence, then closed
    truncated-json   a complete 200 answer whose Content-Length is right but whose JSON is cut
                     (only on 200 application/json answers: a short binary with a right length is a
                     different file, which no client can detect)
    cut-body         headers with the full Content-Length, fewer bytes, then closed cleanly (FIN)

The decision is deterministic per seed and per request, whatever the order in which the client's
threads send: the n-th time a given `METHOD target` arrives, `random.Random(seed, METHOD, target, n)`
decides. So the same seed, client and data inject the same faults at the same requests.
The upstream's absolute URLs in JSON bodies (`_links`) are rewritten to the proxy's, so that a
client following them (downloads included) stays behind the proxy.

`injected` counts the faults per kind; `on_token` and `on_binaries` count those that hit the token
endpoint and binary downloads; `events` lists every request with its fault (or None).
Run `python tests/fault_proxy.py` for a self-check.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import socketserver
import struct
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from fake_akeneo import TracksConnections

KINDS = ("429-retry-after", "429", "5xx", "drop-before", "drop-mid-body", "stall", "stall-mid-body",
         "truncated-json", "cut-body")
BODY_KINDS = frozenset({"drop-mid-body", "stall-mid-body", "cut-body"})  # need a body of 2 bytes or more
TOKEN_PATH = "/api/oauth/v1/token"
BINARY = re.compile(r"/api/rest/v1/(media-files/.+/download|asset-media-files/.+|reference-entities-media-files/.+)")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te",
                        "trailer", "upgrade"})
MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class Event:
    """One request as the proxy handled it: what came, what the upstream said, what was injected."""
    method: str
    target: str
    occurrence: int  # 1 for the first time this METHOD target came, 2 for its first retry...
    upstream_status: int
    fault: str | None


class FaultProxy:
    """Use as a context manager: `with FaultProxy(fake.url, rate=0.3, seed=7) as proxy: proxy.url`."""

    def __init__(self, upstream: str, *, rate: float, seed: int, stall: float = 3.0, retry_after: str = "1",
                 kinds: tuple[str, ...] = KINDS, most: int | None = None):
        """`stall`: seconds a stall lasts (make it longer than the client's read timeout); `kinds`: the
        faults to choose from; `most`: at most that many faults per METHOD target (None: no limit)."""
        parts = urlsplit(upstream)
        assert parts.scheme == "http" and parts.hostname, upstream
        self.upstream = upstream.rstrip("/")
        self._host, self._port = parts.hostname, parts.port or 80
        self.rate, self.seed, self.stall, self.retry_after, self.kinds = rate, seed, stall, retry_after, kinds
        self.most = most
        self.url = ""
        self.injected: Counter[str] = Counter()
        self.on_token: Counter[str] = Counter()
        self.on_binaries: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()  # the 5xx statuses sent
        self.events: list[Event] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # stalls end at once
        if self._server:
            self._server.shutdown()
            self._server.cut_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- decisions ----------------------------------------------------------------------

    def decide(self, method: str, target: str, status: int, headers: dict[str, str], body: bytes
               ) -> tuple[int, str | None, random.Random]:
        """(occurrence, fault kind or None, the request's own random source) for one request."""
        with self._lock:
            self._seen[f"{method} {target}"] += 1
            occurrence = self._seen[f"{method} {target}"]
        rng = random.Random(f"{self.seed}|{method}|{target}|{occurrence}")
        fault = None
        if rng.random() < self.rate and (self.most is None or occurrence <= self.most):
            json_200 = status == 200 and headers.get("content-type", "").startswith("application/json")
            possible = [kind for kind in self.kinds
                        if (kind != "truncated-json" or json_200) and (kind not in BODY_KINDS or len(body) >= 2)]
            fault = rng.choice(possible)
        with self._lock:
            self.events.append(Event(method, target, occurrence, status, fault))
            if fault is not None:
                self.injected[fault] += 1
                path = urlsplit(target).path
                if path == TOKEN_PATH:
                    self.on_token[fault] += 1
                elif BINARY.fullmatch(path):
                    self.on_binaries[fault] += 1
        return occurrence, fault, rng

    def rewrite(self, headers: dict[str, str], body: bytes) -> bytes:
        """JSON bodies name the upstream in absolute links: name the proxy instead."""
        if headers.get("content-type", "").startswith("application/json"):
            return body.replace(self.upstream.encode(), self.url.encode())
        return body

    def summary(self) -> str:
        requests = len(self.events)
        faults = sum(self.injected.values())
        return (f"{faults} faults in {requests} requests (rate {self.rate}, seed {self.seed}): "
                + ", ".join(f"{kind} {self.injected[kind]}" for kind in KINDS if self.injected[kind])
                + (f"; on the token endpoint: {dict(self.on_token)}" if self.on_token else "")
                + (f"; on binary downloads: {dict(self.on_binaries)}" if self.on_binaries else ""))


class _Server(TracksConnections, socketserver.ThreadingTCPServer):
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients hang up on purpose here (timeouts): nothing to report


class _Handler(socketserver.BaseRequestHandler):
    """One client connection: keep-alive requests, one at a time, each forwarded upstream."""

    proxy: FaultProxy

    def handle(self) -> None:
        sock: socket.socket = self.request
        reader = sock.makefile("rb")
        upstream = http.client.HTTPConnection(self.proxy._host, self.proxy._port, timeout=30)
        try:
            while not self.proxy._stopping.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                status, reason, answer_headers, answer = self._forward(upstream, method, target, headers, body)
                answer = self.proxy.rewrite(answer_headers, answer)
                _, fault, rng = self.proxy.decide(method, target, status, answer_headers, answer)
                if not self._answer(sock, fault, rng, status, reason, answer_headers, answer):
                    return  # the fault ended the connection
                if headers.get("connection", "").lower() == "close":
                    return
        except (OSError, http.client.HTTPException):
            return
        finally:
            upstream.close()
            reader.close()

    def _forward(self, upstream: http.client.HTTPConnection, method: str, target: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, str, dict[str, str], bytes]:
        sent = {k: v for k, v in headers.items() if k not in HOP_BY_HOP and k != "host"}
        sent["Host"] = f"{self.proxy._host}:{self.proxy._port}"
        for tries in range(2):  # an idle upstream keep-alive connection may have been closed meanwhile
            try:
                upstream.request(method, target, body=body or None, headers=sent)
                response = upstream.getresponse()
                data = response.read()
                return response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, data
            except (OSError, http.client.HTTPException):
                upstream.close()
                if tries:
                    raise
        raise AssertionError("unreachable")

    def _answer(self, sock: socket.socket, fault: str | None, rng: random.Random, status: int, reason: str,
                headers: dict[str, str], body: bytes) -> bool:
        """Send the answer or the fault; False when the connection is over."""
        proxy = self.proxy
        if fault is None:
            sock.sendall(_response(status, reason, headers, body))
            return True
        if fault in ("429-retry-after", "429"):
            extra = {"retry-after": proxy.retry_after} if fault == "429-retry-after" else {}
            sock.sendall(_response(429, "Too Many Requests", {"content-type": "application/json", **extra},
                                   json.dumps({"code": 429, "message": "Too many requests"}).encode()))
            return True
        if fault == "5xx":
            code = rng.choice((500, 502, 503, 504))
            with proxy._lock:
                proxy.statuses[code] += 1
            sock.sendall(_response(code, http.client.responses[code], {"content-type": "application/json"},
                                   json.dumps({"code": code, "message": "Injected server error"}).encode()))
            return True
        if fault == "drop-before":
            sock.shutdown(socket.SHUT_RDWR)  # FIN before any byte
            return False
        if fault == "stall":
            proxy._stopping.wait(proxy.stall)
            return False
        if fault == "truncated-json":
            cut = body[:rng.randrange(1, len(body))] if len(body) > 1 else b""
            sock.sendall(_response(status, reason, headers, cut))  # its own, right, Content-Length
            return True
        # The body kinds: the head announces every byte, fewer come.
        head = _response(status, reason, headers, body)[:-len(body)]
        if fault == "cut-body":
            sock.sendall(head + body[:rng.randrange(1, len(body))])
            sock.shutdown(socket.SHUT_WR)  # a clean FIN: the client sees an early end of the body
            return False
        sock.sendall(head + body[:len(body) // 2])
        if fault == "stall-mid-body":
            proxy._stopping.wait(proxy.stall)
            return False
        # drop-mid-body: an abortive close (RST), as a crashed server or a middlebox gives
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # closed for real once the handler's reader is: no FIN first (shutdown_request would send one)
        return False


def _read_request(reader) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, target, headers with lower-case names, body), or None when the client closed."""
    line = reader.readline(MAX_HEADER)
    while line in (b"\r\n", b"\n"):  # tolerated before a request line (RFC 9112 §2.2)
        line = reader.readline(MAX_HEADER)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = reader.readline(MAX_HEADER)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise OSError("chunked request bodies are not supported by this test proxy")
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    if len(body) < length:
        return None
    return method, target, headers, body


def _response(status: int, reason: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name not in HOP_BY_HOP]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _self_check() -> None:
    """Every kind, forced, seen by `requests` as the client the tool uses sees it."""
    import sys
    from pathlib import Path

    import requests

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_akeneo import FakeAkeneo

    demo = Path(__file__).resolve().parent.parent / "transformer" / "demo" / "pim"
    code = json.loads((demo / "media-files.json").read_text())[0]["code"]
    binary = f"/api/rest/v1/media-files/{code}/download"
    with FakeAkeneo(demo) as fake:
        grant = requests.post(fake.url + TOKEN_PATH, auth=("client", "s3cret"), timeout=5,
                              json={"grant_type": "password", "username": "user", "password": "pass"}).json()
        auth = {"Authorization": f"Bearer {grant['access_token']}"}
        for kind in KINDS:
            with FaultProxy(fake.url, rate=1.0, seed=1, stall=1.0, kinds=(kind,)) as proxy, requests.Session() as http:
                path = binary if kind in BODY_KINDS else "/api/rest/v1/locales"
                try:
                    answer = http.get(proxy.url + path, headers=auth, timeout=(2, 0.5))
                    if kind == "truncated-json":
                        try:
                            answer.json()
                            raise AssertionError("truncated JSON parsed")
                        except ValueError:
                            pass
                    else:
                        assert answer.status_code >= 429, (kind, answer.status_code)
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                    assert kind not in ("429-retry-after", "429", "5xx", "truncated-json"), kind
                assert proxy.injected == Counter({kind: 1}), (kind, proxy.injected)
        with FaultProxy(fake.url, rate=0.0, seed=1) as proxy:
            page = requests.get(proxy.url + "/api/rest/v1/locales", headers=auth, timeout=5).json()
            assert page["_links"]["self"]["href"].startswith(proxy.url), page["_links"]
            direct = requests.get(fake.url + binary, headers=auth, timeout=5).content
            assert requests.get(proxy.url + binary, headers=auth, timeout=5).content == direct
    print("ok")


if __name__ == "__main__":
    _self_check()
