"""A loopback HTTP server that misbehaves on purpose, and the crawl that runs against it.

``FaultServer`` serves a fixed table of routes on 127.0.0.1 (port 0, its own thread); each route
is a ``Fault``: a page in some encoding, a compression bomb, a reset, a stall, a truncated body, a
redirect loop, a 429 with Retry-After... Requests are recorded in ``hits`` (path, status, time),
so a test can count retries and measure waits. ``crawl_rbc`` runs the real ``ingest crawl rbc``
in a subprocess with ``INGEST_MIRROR`` pointing here: the spider's real URLs arrive as
``/<host>/<path>`` (see ``ingest.demo``), and the stats of the run come back from the database.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli

from ingest.store.db import open_db

HOST = "newsukraine.rbc.ua"  # the rbc spider's English site: `-a lang=en` starts here
FEED_PATH = f"/{HOST}/rss.xml"
LISTING_PATH = f"/{HOST}/allnews/1"
CRAWL_TIMEOUT = 120  # seconds for one whole crawl subprocess, a hard bound
MIB = 1024 * 1024
# Politeness is for real sites; the loopback crawl goes at full speed, with small timeouts.
LOOPBACK = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "1",
    "INGEST_BACKOFF_BASE": "0.2",
    "INGEST_BACKOFF_MAX": "3",
    "CLOSESPIDER_TIMEOUT": "60",  # the crawl ends on its own long before
    "LOG_LEVEL": "INFO",
}


@dataclass
class Hit:
    """One request the server answered: path, status sent (0 for a reset or stall), when."""

    path: str
    status: int
    at: float


Handler = BaseHTTPRequestHandler
Behaviour = Callable[["_FaultHandler", int], int]  # (handler, nth hit of the route) -> status


@dataclass
class Fault:
    """A route's behaviour; ``hits`` counts how often it was asked for."""

    behaviour: Behaviour
    hits: int = 0


def send(
    h: _FaultHandler,
    body: bytes,
    *,
    status: int = 200,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> int:
    """Status, headers and body; ``length`` overrides the Content-Length sent."""
    h.send_response(status)
    if content_type is not None:
        h.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body) if length is None else length))
    h.end_headers()
    h.wfile.write(body)
    return status


# --- behaviours -----------------------------------------------------------------------------


def page(
    body: bytes, content_type: str | None = "text/html; charset=utf-8", **kw: Any
) -> Behaviour:
    """Always the same response."""
    return lambda h, n: send(h, body, content_type=content_type, **kw)


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    """Always an error status with a tiny body."""
    return lambda h, n: send(h, f"error {code}".encode(), status=code, headers=headers)


def then(first: list[Behaviour], after: Behaviour) -> Behaviour:
    """The behaviours of ``first`` for the first hits, ``after`` from then on."""
    return lambda h, n: (first[n - 1] if n <= len(first) else after)(h, n)


def redirect(location: str, code: int = 302) -> Behaviour:
    return lambda h, n: send(h, b"", status=code, headers={"Location": location})


def reset() -> Behaviour:
    """Close the connection with a TCP RST before any byte of a response."""

    def run(h: _FaultHandler, n: int) -> int:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
        return 0

    return run


def stall(seconds: float) -> Behaviour:
    """Answer nothing for ``seconds`` (the crawl's DOWNLOAD_TIMEOUT is shorter), then close."""

    def run(h: _FaultHandler, n: int) -> int:
        h.server.stopping.wait(seconds)  # type: ignore[attr-defined]
        h.close_connection = True
        return 0

    return run


def truncated(body: bytes, claimed: int) -> Behaviour:
    """Content-Length says ``claimed`` bytes; the connection closes after ``body``."""

    def run(h: _FaultHandler, n: int) -> int:
        send(h, body, length=claimed)
        h.close_connection = True
        return 200

    return run


def streamed(total: int, chunk: bytes = b"<p>" + b"x" * 65533) -> Behaviour:
    """A close-delimited body without Content-Length, ``total`` bytes, stopped if the client goes."""

    def run(h: _FaultHandler, n: int) -> int:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.end_headers()
        sent = 0
        try:
            while sent < total:
                h.wfile.write(chunk)
                sent += len(chunk)
        except OSError:  # the crawler hung up, as it must at DOWNLOAD_MAXSIZE
            pass
        h.close_connection = True
        return 200

    return run


@cache
def gzip_bomb(decompressed_mib: int) -> bytes:
    """Gzip members of 16 MiB of zeros, concatenated: ``decompressed_mib`` MiB, ~16 kB each."""
    member = gzip.compress(b"\0" * 16 * MIB, compresslevel=9)
    return member * (decompressed_mib // 16)


@cache
def brotli_bomb(decompressed_mib: int) -> bytes:
    return bytes(brotli.compress(b"\0" * decompressed_mib * MIB, quality=1))


def compressed(body: bytes, encoding: str) -> Behaviour:
    """``body`` sent with Content-Encoding ``gzip``, ``br`` or ``deflate``."""
    if encoding == "gzip":
        data = gzip.compress(body)
    elif encoding == "br":
        data = bytes(brotli.compress(body))
    else:
        data = zlib.compress(body)
    return page(data, headers={"Content-Encoding": encoding})


# --- the server -----------------------------------------------------------------------------


class _FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: resets and cuts stay local
    routes: dict[str, Fault]
    hits: list[Hit]
    lock: threading.Lock

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.lock:
            fault = self.routes.get(path)
            if fault is not None:
                fault.hits += 1
            nth = fault.hits if fault else 0
        if fault is None:
            code = send(self, b"not found", status=404, content_type="text/plain")
        else:
            try:
                code = fault.behaviour(self, nth)
            except OSError:  # the client went away: what the fault was for
                code = -1
        with self.lock:
            self.hits.append(Hit(path, code, time.monotonic()))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``hits``."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a stalled or streamed response is expected, not an error."""


@dataclass
class FaultServer:
    """The routes (path -> Fault) served on 127.0.0.1 until ``stop``."""

    routes: dict[str, Fault]
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        handler = type(
            "Handler",
            (_FaultHandler,),
            {"routes": self.routes, "hits": self.hits, "lock": threading.Lock()},
        )
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.stopping = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits_of(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@contextmanager
def serve(routes: dict[str, Behaviour]) -> Iterator[FaultServer]:
    server = FaultServer({path: Fault(b) for path, b in routes.items()})
    try:
        yield server
    finally:
        server.stop()


# --- pages and the crawl --------------------------------------------------------------------


def article_url(slug: str, story: int) -> str:
    """A URL the rbc spider takes for an article (``-<9-11 digits>.html``)."""
    return f"https://{HOST}/news/{slug}-{1751600000 + story}.html"


def mirror_path(url: str) -> str:
    """Where MirrorMiddleware sends ``url``: ``/<host>/<path>``."""
    split = urlsplit(url)
    return f"/{split.hostname}{split.path}"


def article_html(
    title: str, paragraphs: list[str], *, meta: str = "", lang: str = "uk", lead: str = ""
) -> str:
    """An rbc-style article page (the spider's selectors: ``article > h1``, ``div.txt``)."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    lead_html = f'<div class="publication-lead">{lead}</div>' if lead else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{meta}<title>{title}</title>'
        '<meta property="og:type" content="article">'
        '<meta property="article:published_time" content="2025-07-04T10:00:00+03:00">'
        f"</head><body><article><h1>{title}</h1>{lead_html}"
        f'<div class="txt">{body}</div></article></body></html>'
    )


def feed(urls: list[str]) -> bytes:
    """RSS 2.0 listing ``urls`` (dated 2025-07-04, so no ``since`` filter applies)."""
    items = "".join(
        f"<item><title>t{i}</title><link>{u}</link>"
        "<pubDate>Fri, 04 Jul 2025 10:00:00 +0300</pubDate></item>"
        for i, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>f</title>'
        f"{items}</channel></rss>"
    ).encode()


def site_routes(urls: list[str], robots: str = "User-agent: *\nAllow: /\n") -> dict[str, Behaviour]:
    """The feed listing ``urls``, an empty all-news page and robots.txt."""
    return {
        FEED_PATH: page(feed(urls), "application/rss+xml; charset=utf-8"),
        LISTING_PATH: page(b"<html><body><div class='newsline'></div></body></html>"),
        f"/{HOST}/robots.txt": page(robots.encode(), "text/plain"),
    }


@dataclass
class CrawlResult:
    """What a crawl left: its stats, stored rows by URL, its log, the peak RSS of any crawl."""

    returncode: int
    stats: dict[str, Any]
    articles: dict[str, dict[str, Any]]
    log: str
    max_rss_mib: float
    seconds: float

    def dropped(self, reason: str) -> int:
        return int(self.stats.get(f"ingest/dropped/{reason}", 0))


def crawl_rbc(server: FaultServer, db: Path, **settings: str) -> CrawlResult:
    """``python -m ingest crawl rbc -a lang=en`` against ``server``, bounded in time."""
    merged = {**LOOPBACK, **settings, "INGEST_MIRROR": server.url}
    command = [sys.executable, "-m", "ingest", "crawl", "rbc", "--db", str(db), "-a", "lang=en"]
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=CRAWL_TIMEOUT, check=False, env=env
    )
    seconds = time.monotonic() - started
    conn = open_db(db, read_only=True)
    run = conn.execute("select stats from runs order by rowid desc limit 1").fetchone()
    articles = {row["url"]: dict(row) for row in conn.table("articles").rows}
    conn.close()
    # ru_maxrss is in KiB on Linux; the largest child this test process has waited for.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stats = json.loads(run[0]) if run and run[0] else {}
    return CrawlResult(result.returncode, stats, articles, result.stderr, rss, seconds)
