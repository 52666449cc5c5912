"""Offline mirrors of real sites, served on 127.0.0.1, and the middleware that routes to them.

The spiders never know: ``MirrorMiddleware`` (on only when ``INGEST_MIRROR`` is set, by the demo
and the tests) sends a request for ``https://www.rbc.ua/x`` to ``http://127.0.0.1:PORT/www.rbc.ua/x``
and hands the spider a response whose URL is the real one again. The files live in
``ingest/demo/<name>/<host>/<path>``; a path without an extension is a directory with
``index.html``; ``_headers.json`` overrides the status or headers of single URLs. Like a real
news server it sends an ETag (a hash of the file) and Last-Modified (its mtime), and answers a
matching conditional request with 304; ``MirrorServer.hits`` lists (path, status) of every request.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

MIRRORS_DIR = Path(__file__).resolve().parent
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def mirror_root(name: str) -> Path:
    """Directory of the bundled mirror ``name`` (e.g. ``rbc``)."""
    root = MIRRORS_DIR / name
    if not root.is_dir():
        raise FileNotFoundError(f"no bundled mirror named {name!r} in {MIRRORS_DIR}")
    return root


def resolve(root: Path, host: str, path: str) -> Path | None:
    """The file serving ``host`` + ``path`` inside ``root``, or None (never outside ``root``)."""
    parts = [p for p in PurePosixPath(unquote(path)).parts if p not in ("/", "", ".")]
    if ".." in parts or not host or "/" in host or host.startswith("."):
        return None
    target = root.joinpath(host, *parts)
    if target.is_dir() or not target.suffix:
        target = target / "index.html"
    return target if target.is_file() else None


def not_modified(request_headers: Any, etag: str, mtime: float) -> bool:
    """RFC 9110 13.1: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = request_headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = request_headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return int(mtime) <= when.timestamp()


class _Handler(BaseHTTPRequestHandler):
    roots: tuple[Path, ...]
    headers_override: dict[str, dict[str, Any]]
    hits: list[tuple[str, int]]

    def send_response(self, code: int, message: str | None = None) -> None:
        self.hits.append((self.path, code))
        super().send_response(code, message)

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        host, _, rest = split.path.lstrip("/").partition("/")
        key = f"{host}/{rest}"
        override = self.headers_override.get(key, {})
        target = next(
            (t for root in self.roots if (t := resolve(root, host, "/" + rest)) is not None), None
        )
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = target.read_bytes()
        status = int(override.get("status", 200))
        content_type = override.get("Content-Type") or CONTENT_TYPES.get(
            target.suffix, mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        mtime = target.stat().st_mtime
        if status == 200 and not_modified(self.headers, etag, mtime):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(status)
        if status == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the crawl's own log says what was fetched."""


class MirrorServer:
    """A threaded HTTP server for mirror directories on 127.0.0.1 (port 0 = any free port).

    Several roots (one per bundled mirror) are served as one: each holds its own hosts.
    """

    def __init__(self, root: Path | Sequence[Path], port: int = 0) -> None:
        roots = (root,) if isinstance(root, Path) else tuple(root)
        overrides: dict[str, dict[str, Any]] = {}
        for each in roots:
            overrides_file = each / "_headers.json"
            if overrides_file.is_file():
                overrides.update(json.loads(overrides_file.read_text("utf-8")))
        self.hits: list[tuple[str, int]] = []  # (path, status) of every request answered
        handler = type(
            "MirrorHandler",
            (_Handler,),
            {"roots": roots, "headers_override": overrides, "hits": self.hits},
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve(root: Path | Sequence[Path], port: int = 0) -> Iterator[MirrorServer]:
    """Serve ``root`` (one directory or several) for the duration of a ``with`` block."""
    server = MirrorServer(root, port).start()
    try:
        yield server
    finally:
        server.stop()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SAVED_META = ("dont_obey_robotstxt",)  # meta the mirror overrides, restored on a redirect
_MIRROR_META = frozenset({"mirror_of", "mirror_saved", "mirror_dont_filter", *_SAVED_META})


class MirrorMiddleware:
    """Downloader middleware: real hosts → the loopback mirror, and back, invisibly.

    Enabled by ``INGEST_MIRROR`` (the mirror's base URL). The robots.txt check has already been
    made on the real URL when this runs (RobotsTxtMiddleware sits earlier and its own request
    for robots.txt is mirrored too), so the rewritten request skips a second check.
    """

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        base = crawler.settings.get("INGEST_MIRROR")
        if not base:
            raise NotConfigured  # off unless configured; a message would warn on every crawl
        return cls(base)

    def process_request(self, request: Request) -> Request | None:
        original = request.meta.get("mirror_of")
        if original is not None and request.url.startswith(self.base + "/"):
            return None
        if original is not None and urlsplit(request.url).hostname not in LOOPBACK_HOSTS:
            # A redirect built from a mirrored request inherits its meta and dont_filter, which
            # would skip the offsite and robots.txt checks: it gets the spider's own state back
            # and goes through the whole chain again, as it would without a mirror.
            meta = {k: v for k, v in request.meta.items() if k not in _MIRROR_META}
            meta.update(request.meta.get("mirror_saved", {}))
            return request.replace(
                meta=meta, dont_filter=bool(request.meta.get("mirror_dont_filter"))
            )
        # A request rewritten for another mirror (a resumed crawl's queue, another port) is
        # rewritten again from its real URL.
        split = urlsplit(original or request.url)
        if split.scheme not in ("http", "https") or not split.hostname:
            return None
        query = f"?{split.query}" if split.query else ""
        target = f"{self.base}/{split.hostname}{split.path or '/'}{query}"
        meta = {
            "mirror_saved": {k: request.meta[k] for k in _SAVED_META if k in request.meta},
            "mirror_dont_filter": request.dont_filter,
            **request.meta,  # a request mirrored before keeps what was saved then
            "mirror_of": original or request.url,
            "dont_obey_robotstxt": True,
        }
        return request.replace(url=target, meta=meta, dont_filter=True)

    def process_response(self, request: Request, response: Response) -> Response:
        original = request.meta.get("mirror_of")
        return response.replace(url=original) if original else response
