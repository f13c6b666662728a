"""The client of ``sleepmem bench server``'s overhead figure, run as its own process.

A client in the server's process shares its GIL and cores and is counted as server time;
real clients are other processes. It is also as thin as a client can be (one prepared
request, a raw socket, just enough parsing to find the end of the response), because on a
small shared VM every line of Python a process runs after waiting is slow, and a full HTTP
client's header parsing would be counted against the server. Standard library only, so
starting it loads no model runtime.

    python -m sleepmem.adapters.server.bench_client ROUNDS URL [URL ...] < body.json

POSTs the JSON body on stdin to each URL in turn, ROUNDS times, over one kept-alive
connection per URL, after one warm-up round; prints ``{url: [[first event, end], ...]}`` in
seconds (a plain JSON response's first event is its end).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from urllib.parse import urlsplit


class _Connection:
    def __init__(self, url: str, body: bytes) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.create_connection((host, port), timeout=300)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nX-Sleepmem-No-Wake: 1\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def post(self) -> tuple[int, bytes, float]:
        """Send the request; read exactly one response. Returns the status, the body and
        when the first server-sent event arrived (for a plain response: when it all had)."""
        self.sock.sendall(self.request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = [line.lower() for line in head.split(b"\r\n")]
        status = int(lines[0].split()[1])
        if b"transfer-encoding: chunked" in lines:  # a stream: events, then a zero chunk
            while b"data: " not in rest and not rest.endswith(b"0\r\n\r\n"):
                rest += self._recv()
            first = time.perf_counter()
            while not rest.endswith(b"0\r\n\r\n"):
                rest += self._recv()
            return status, rest, first
        length = next(int(x.split(b":", 1)[1]) for x in lines if x.startswith(b"content-length:"))
        while len(rest) < length:
            rest += self._recv()
        return status, rest, time.perf_counter()

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        return chunk


def timed_rounds(urls: list[str], body: bytes, rounds: int) -> dict[str, list[list[float]]]:
    """``{url: [[seconds to the first event, seconds to the end], ...]}``."""
    connections = {url: _Connection(url, body) for url in urls}
    times: dict[str, list[list[float]]] = {url: [] for url in urls}
    try:
        for i in range(rounds + 1):
            for url, conn in connections.items():
                started = time.perf_counter()
                status, data, first = conn.post()
                ended = time.perf_counter()
                if status != 200:
                    raise SystemExit(f"{url}: HTTP {status}: {data[:200]!r}")
                if i:  # round 0 warms up each connection
                    times[url].append([first - started, ended - started])
    finally:
        for conn in connections.values():
            conn.sock.close()
    return times


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        raise SystemExit(
            f"usage: python -m {__spec__.name if __spec__ else 'bench_client'} "
            "ROUNDS URL [URL ...] < body.json"
        )
    rounds, urls = int(argv[0]), argv[1:]
    print(json.dumps(timed_rounds(urls, sys.stdin.buffer.read(), rounds)))


if __name__ == "__main__":
    main(sys.argv[1:])
