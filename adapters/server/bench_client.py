"""The load-free client of ``sleepmem bench server``'s overhead figure, run as its own process.

A client in the server's process shares its GIL and cores and is counted as server time;
real clients are other processes. Standard library only, so starting it loads no model
runtime (whose idle worker threads would compete for the two cores of a small machine).

    python -m sleepmem.adapters.server.bench_client ROUNDS URL [URL ...] < body.json

POSTs the JSON body on stdin to each URL in turn, ROUNDS times, over one kept-alive
connection per URL, after one warm-up round; prints ``{url: [seconds, ...]}``.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit


def timed_rounds(urls: list[str], body: bytes, rounds: int) -> dict[str, list[float]]:
    headers = {"Content-Type": "application/json", "X-Sleepmem-No-Wake": "1"}
    connections = {}
    for url in urls:
        parts = urlsplit(url)
        connections[url] = (
            http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300),
            parts.path,
        )
    times: dict[str, list[float]] = {url: [] for url in urls}
    try:
        for i in range(rounds + 1):
            for url, (conn, path) in connections.items():
                started = time.perf_counter()
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                data = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise SystemExit(f"{url}: HTTP {response.status}: {data[:200]!r}")
                if i:  # round 0 warms up each connection
                    times[url].append(elapsed)
    finally:
        for conn, _ in connections.values():
            conn.close()
    return times


def main(argv: list[str]) -> None:
    rounds, urls = int(argv[0]), argv[1:]
    print(json.dumps(timed_rounds(urls, sys.stdin.buffer.read(), rounds)))


if __name__ == "__main__":
    main(sys.argv[1:])
