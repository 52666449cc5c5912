"""Soak: a few thousand mirror pages with injected faults, one real crawl, every good article
stored exactly once and every loss counted under the reason it was injected with.

Why: the fault tests (tests/test_faults.py) check each fault once, on a dozen pages; a long crawl
meets them mixed, concurrently, thousands of times, with retries, back-off and batches of storage
interleaved. This script generates N English RBC articles (the bundled mirror's ten, replicated
under distinct ids, each with its own sentence so dedup keeps them), lists them in the site's RSS
feed and serves them on 127.0.0.1 with seeded faults: transient ones (500, 503, 429 with
Retry-After, resets, stalls past DOWNLOAD_TIMEOUT, truncated bodies: the first request fails, the
retry succeeds), slow pages, and pages that never work or are not articles. Then it runs
``python -m ingest crawl rbc -a lang=en`` against them and checks:

- the set of stored URLs is the set of good URLs (plain, transient, slow), each once;
- ``PRAGMA integrity_check`` and the FTS5 integrity check pass;
- ``ingest/dropped/<reason>`` equals, reason by reason, the bad pages injected with it.

It prints pages, good, stored, drops by reason, retries, wall time, articles/s and peak RSS, and
exits 1 if a check fails. Not part of pytest (minutes, not seconds): ``make soak``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
HOST = "newsukraine.rbc.ua"
TEMPLATES = REPO / "ingest" / "mirror" / "rbc" / HOST / "news"
ID_RE = re.compile(r"-(\d{10})\.html$")
FIRST_ID = 1_760_000_000
# The crawl: loopback, concurrent, small timeouts; one retry, as tests/faultserver.py.
SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    # AutoThrottle on, as in production: without it a back-off (429/503) raises the slot's
    # delay for the rest of the crawl (ingest/crawl/middlewares.py takes the max, nothing lowers
    # it).
    "AUTOTHROTTLE_ENABLED": "True",
    "AUTOTHROTTLE_START_DELAY": "0",
    "AUTOTHROTTLE_MAX_DELAY": "1",
    "AUTOTHROTTLE_TARGET_CONCURRENCY": "16",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_TIMEOUT": "1",
    "RETRY_TIMES": "1",
    # Each 429/503 raises the slot's delay to the back-off (x2 for the jitter): capped low here,
    # or the ~4 % of pages that answer 503 once keep the crawl at a few pages a second.
    "INGEST_BACKOFF_BASE": "0.05",
    "INGEST_BACKOFF_MAX": "0.3",
    "CLOSESPIDER_TIMEOUT": "600",
    "LOG_LEVEL": "INFO",
    "INGEST_PROGRESS_INTERVAL": "15",
}
STALL = 2.5  # seconds a stalled response waits: past DOWNLOAD_TIMEOUT

# kind -> (share of pages, drop reason if the page is never stored, else None)
KINDS: dict[str, tuple[float, str | None]] = {
    "ok": (0.66, None),
    "500-then-ok": (0.04, None),
    "503-then-ok": (0.04, None),
    "429-then-ok": (0.005, None),
    "reset-then-ok": (0.03, None),
    "stall-then-ok": (0.015, None),
    "truncated-then-ok": (0.02, None),
    "slow": (0.04, None),
    "always-503": (0.02, "http_503"),
    "always-reset": (0.015, "connection"),
    "always-stall": (0.01, "timeout"),
    "always-truncated": (0.01, "data_loss"),
    "gone-404": (0.015, "http_404"),
    "empty-200": (0.01, "empty_page"),
    "too-short": (0.01, "too_short"),
    "javascript-shell": (0.01, "no_body"),
}
RETRIED = frozenset(
    k for k in KINDS if k.endswith("-then-ok") or k.startswith(("always-", "stall", "reset"))
)
JS_SHELL = (
    b"<!DOCTYPE html><html><head><title>RBC-Ukraine</title><script src='/app.js'></script>"
    b"</head><body><div id='app'></div></body></html>"
)


@dataclass
class Page:
    url: str
    kind: str
    body: bytes


def generate(n: int, seed: int) -> dict[str, Page]:
    """N article pages keyed by mirror path, each with a fault kind drawn with KINDS' shares."""
    templates = sorted(TEMPLATES.glob("*.html"))
    rng = random.Random(seed)  # noqa: S311  (test data, not crypto)
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    pages: dict[str, Page] = {}
    for i in range(n):
        template = templates[i % len(templates)]
        match = ID_RE.search(template.name)
        assert match is not None, template
        old_id, new_id = match.group(1), str(FIRST_ID + i)
        html = template.read_text("utf-8").replace(old_id, new_id)
        # A sentence of its own: dedup (body hash) would merge identical copies.
        unique = (
            f"<p>Soak copy {i}: the {rng.choice(['morning', 'evening', 'late'])} edition, "
            f"reference number {rng.randrange(10**9)}, checked by the editors.</p>"
        )
        html = html.replace('<div class="txt">', '<div class="txt">' + unique, 1)
        kind = rng.choices(kinds, weights)[0]
        if kind == "too-short":
            html = re.sub(
                r'<div class="txt">.*?</div>',
                '<div class="txt"><p>Short.</p></div>',
                html,
                count=1,
                flags=re.S,
            )
        url = f"https://{HOST}/news/{template.name.replace(old_id, new_id)}"
        pages[f"/{HOST}{urlsplit(url).path}"] = Page(url, kind, html.encode())
    return pages


def feed(urls: list[str]) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><link>{u}</link>"
        "<pubDate>Fri, 04 Jul 2025 10:00:00 +0300</pubDate></item>"
        for i, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>soak</title>'
        f"{items}</channel></rss>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: resets and cuts stay local
    pages: dict[str, Page]
    static: dict[str, tuple[bytes, str]]
    hits: Counter[str]
    lock: threading.Lock
    stopping: threading.Event

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.lock:
            self.hits[path] += 1
            nth = self.hits[path]
        if path in self.static:
            body, content_type = self.static[path]
            self.send(body, 200, content_type)
            return
        page = self.pages.get(path)
        if page is None:
            self.send(b"not found", 404)
            return
        with contextlib.suppress(OSError):  # the client hung up: what stalls and resets do
            self.behave(page, nth)

    def behave(self, page: Page, nth: int) -> None:
        kind, first = page.kind, nth == 1
        if kind == "ok" or (kind.endswith("-then-ok") and not first):
            self.send(page.body)
        elif kind == "slow":
            time.sleep(random.uniform(0.2, 0.6))  # noqa: S311  (timing, not crypto)
            self.send(page.body)
        elif kind in ("500-then-ok", "503-then-ok", "always-503", "gone-404"):
            self.send(b"error", {"500": 500, "503": 503, "alw": 503, "gon": 404}[kind[:3]])
        elif kind == "429-then-ok":
            self.send(b"slow down", 429, headers={"Retry-After": "1"})
        elif kind in ("reset-then-ok", "always-reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif kind in ("stall-then-ok", "always-stall"):
            self.stopping.wait(STALL)
            self.close_connection = True
        elif kind in ("truncated-then-ok", "always-truncated"):
            self.send(page.body[:2000], length=len(page.body))
            self.close_connection = True
        elif kind == "empty-200":
            self.send(b"")
        elif kind == "javascript-shell":
            self.send(JS_SHELL)
        else:  # too-short: a page whose text is too short
            self.send(page.body)

    def send(
        self,
        body: bytes,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the crawl's log says what was fetched."""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a stalled response is expected."""


def start_server(pages: dict[str, Page]) -> tuple[Server, type[Handler]]:
    empty = b"<html><body><div class='newsline'></div></body></html>"
    static = {
        f"/{HOST}/rss.xml": (feed([p.url for p in pages.values()]), "application/rss+xml"),
        f"/{HOST}/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain"),
        f"/{HOST}/allnews/1": (empty, "text/html; charset=utf-8"),
        f"/{HOST}/allnews/2": (empty, "text/html; charset=utf-8"),
    }
    handler = type(
        "SoakHandler",
        (Handler,),
        {
            "pages": pages,
            "static": static,
            "hits": Counter(),
            "lock": threading.Lock(),
            "stopping": threading.Event(),
        },
    )
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def run(n: int, seed: int, workdir: Path, timeout: float) -> dict[str, Any]:
    """Generate, serve, crawl, check; the figures and the failed checks."""
    pages = generate(n, seed)
    server, handler = start_server(pages)
    host, port = server.server_address[:2]
    db = workdir / "soak.db"
    command = [sys.executable, "-m", "ingest", "crawl", "rbc", "--db", str(db), "-a", "lang=en"]
    for name, value in {**SETTINGS, "INGEST_MIRROR": f"http://{host!s}:{port}"}.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    started = time.monotonic()
    with (workdir / "crawl.log").open("w") as log:
        result = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False, env=env
        )
    wall = time.monotonic() - started
    handler.stopping.set()
    server.shutdown()
    server.server_close()
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    conn = sqlite3.connect(db)
    stats = json.loads(conn.execute("select stats from runs order by rowid desc").fetchone()[0])
    stored = [u for (u,) in conn.execute("select url from articles")]
    integrity = conn.execute("pragma integrity_check").fetchone()[0]
    try:
        conn.execute("insert into articles_fts(articles_fts) values('integrity-check')")
        fts = "ok"
    except sqlite3.DatabaseError as exc:
        fts = str(exc)
    conn.close()

    good = {p.url for p in pages.values() if KINDS[p.kind][1] is None}
    expected_drops = Counter(r for p in pages.values() if (r := KINDS[p.kind][1]) is not None)
    drops = {
        k.removeprefix("ingest/dropped/"): v
        for k, v in stats.items()
        if k.startswith("ingest/dropped/") and v
    }
    failures = []
    if result.returncode != 0:
        failures.append(f"exit code {result.returncode} (log: {workdir / 'crawl.log'})")
    if len(stored) != len(set(stored)):
        failures.append("a URL stored twice")
    if set(stored) != good:
        missing, extra = good - set(stored), set(stored) - good
        failures.append(f"stored != good: {len(missing)} missing, {len(extra)} not good")
    if stats.get("ingest/stored/new") != len(good):
        failures.append(f"stored/new {stats.get('ingest/stored/new')} != {len(good)} good")
    if integrity != "ok" or fts != "ok":
        failures.append(f"integrity {integrity}, fts {fts}")
    if drops != dict(expected_drops):
        failures.append(f"drops {drops} != injected {dict(expected_drops)}")
    # One retry (RETRY_TIMES) per page whose first answer was a retryable failure; a few more
    # are fine (a slow page past DOWNLOAD_TIMEOUT on a busy machine), fewer are not.
    retried = sum(1 for p in pages.values() if p.kind in RETRIED)
    if stats.get("retry/count", 0) < retried:
        failures.append(f"retries {stats.get('retry/count', 0)} < {retried} retryable faults")
    return {
        "pages": n,
        "kinds": dict(Counter(p.kind for p in pages.values())),
        "good": len(good),
        "stored": len(stored),
        "drops": drops,
        "expected_drops": dict(expected_drops),
        "retries": stats.get("retry/count", 0),
        "retryable": retried,
        "requests": sum(handler.hits.values()),
        "wall_s": wall,
        "articles_per_s": len(stored) / wall if wall else 0.0,
        "peak_rss_mib": rss_mib,
        "finish_reason": stats.get("finish_reason"),
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=3000, help="article pages (default 3000)")
    parser.add_argument("--seed", type=int, default=20251124)
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the crawl")
    parser.add_argument("--keep", type=Path, help="keep the database and log in this directory")
    args = parser.parse_args(argv)
    report: Callable[[str], None] = print
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args.n, args.seed, args.keep, args.timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            figures = run(args.n, args.seed, Path(tmp), args.timeout)
    report(f"pages {figures['pages']}, good {figures['good']}, stored {figures['stored']}")
    report("injected: " + ", ".join(f"{k} {v}" for k, v in sorted(figures["kinds"].items())))
    report("drops: " + ", ".join(f"{k} {v}" for k, v in sorted(figures["drops"].items())))
    report(
        f"retries {figures['retries']} (retryable faults injected {figures['retryable']}), "
        f"requests served {figures['requests']}"
    )
    report(
        f"wall {figures['wall_s']:.1f} s, {figures['articles_per_s']:.1f} articles/s, "
        f"peak RSS {figures['peak_rss_mib']:.0f} MiB, finish reason {figures['finish_reason']}"
    )
    for failure in figures["failures"]:
        report(f"FAILED: {failure}")
    report("soak: " + ("FAILED" if figures["failures"] else "ok"))
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
