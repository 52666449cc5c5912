"""Incremental crawling: a stored article is downloaded again only when it may have changed.

``IncrementalMiddleware`` looks at the requests a spider marks ``meta["article"]`` (feeds and
listings always go through, they are how changes are found). An article URL that was fetched
before (a ``seen`` row) and stored (an ``articles`` row) is skipped unless its feed or sitemap
entry (``meta["lastmod"]``) is newer than anything known about it, or it was published less than
``INGEST_REFRESH_WINDOW`` seconds ago (news is edited in its first hours). When it is fetched
again, the request is conditional (ETag, Last-Modified), and a 304 is a counted skip. Every skip
raises ``SkippedRequest`` (an ``IgnoreRequest``) and counts ``ingest/skipped/<reason>``; every
download counts ``ingest/incremental/<why>``; a URL the spider asks for twice in one crawl is
downloaded once (``incremental/asked_twice``). The ``seen`` rows are written by the crawl's
writer thread (``ingest/store/dbfaults.py``), gathered while it is busy, never on the crawl thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.job import job_dir
from sqlite_utils import Database
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ingest.dates import parse_iso, utc_now_iso
from ingest.store.db import immediate_transaction
from ingest.store.dbfaults import DbWriter, StorageFault, awaited, deferred, on_reactor

logger = logging.getLogger(__name__)

# Request meta keys. Spiders set the first two; the middleware sets SEEN_URL once it has
# decided, so retries, redirects and the mirror's rewritten request are not judged twice.
ARTICLE = "article"
LASTMOD = "lastmod"  # ISO 8601: the newest change date the feed/sitemap entry gives
SEEN_URL = "seen_url"
STATE_FILE = "incremental.json"  # in JOBDIR: what this crawl already fetched, for --resume


class SkippedRequest(IgnoreRequest):
    """An article request the incremental check skipped; already counted as
    ``ingest/skipped/<reason>``, so an errback must not count it again as a drop."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"{reason}: {url}")
        self.reason = reason


@dataclass(frozen=True)
class Known:
    """What the database knows of a stored article URL."""

    etag: str | None
    last_modified: str | None
    lastmod: str | None
    published: str | None
    modified: str | None


def newest(*values: str | None) -> datetime | None:
    """The latest of some ISO 8601 dates (unparseable and missing ones ignored)."""
    parsed = [d for d in (parse_iso(v) for v in values) if d is not None]
    return max(parsed) if parsed else None


def refetch_reason(
    known: Known | None, lastmod: str | None, window: timedelta, now: datetime
) -> str | None:
    """Why an article should be downloaded (new, changed, young), or None: it is unchanged."""
    if known is None:
        return "new"
    entry = parse_iso(lastmod)
    have = newest(known.lastmod, known.modified, known.published)
    if entry is not None and (have is None or entry > have):
        return "changed"
    published = parse_iso(known.published)
    if published is not None and now - published < window:
        return "young"
    return None


class IncrementalMiddleware:
    """Downloader middleware: skip unchanged stored articles; conditional GET for the others.

    Reads ``INGEST_DB``, ``INGEST_INCREMENTAL`` (False: download every article, as
    ``ingest crawl --full``), ``INGEST_REFRESH_WINDOW`` (seconds) and ``JOBDIR``. Writes one
    ``seen`` row per article URL it asks a server about, through the writer thread: the rows
    gathered while it is busy go in one transaction. With incremental off it still records
    ``seen`` and still skips an article already downloaded in this crawl.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.enabled = settings.getbool("INGEST_INCREMENTAL", True)
        self.window = timedelta(seconds=settings.getfloat("INGEST_REFRESH_WINDOW", 6 * 3600))
        jobdir = job_dir(settings)
        self.state_file = Path(jobdir, STATE_FILE) if jobdir else None
        self.writer: DbWriter | None = None  # the crawl's, shared with storage
        self.rows: dict[str, dict[str, Any]] = {}  # seen rows for the writer's next job
        self.writing = False  # a job of seen rows is with the writer
        self.last_job: Deferred[None] | None = None  # fired once it is written and counted
        # This crawl's decisions: a spider may ask for one URL twice (a feed's change date
        # arriving after a listing's request without one).
        self.fetched: set[str] = set()
        self.skipped: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        self.writer = DbWriter.of(self.crawler)
        self.writer.acquire()
        if self.state_file is not None and self.state_file.is_file():
            state = json.loads(self.state_file.read_text("utf-8"))
            self.fetched = set(state.get("fetched", []))

    async def spider_closed(self, spider: Spider) -> None:
        """Write the seen rows still gathered, wait until the last job of them is written and
        counted, then release the writer (storage records the run after that)."""
        if self.state_file is not None:
            state = {"fetched": sorted(self.fetched)}
            self.state_file.write_text(json.dumps(state), "utf-8")
        self.log_counts()
        writer, self.writer = self.writer, None  # no job chained after this one
        if writer is None:
            return
        try:
            if self.rows and not writer.guard.halted:
                rows, self.rows = list(self.rows.values()), {}
                self.write_seen(writer, rows)  # after the job in progress, in order
            if self.last_job is not None:
                await maybe_deferred_to_future(self.last_job)
        finally:
            await awaited(writer.release())

    def log_counts(self) -> None:
        counts = {
            k.removeprefix("ingest/"): v
            for k, v in sorted(self.stats.get_stats().items())
            if k.startswith(("ingest/skipped/", "ingest/incremental/", "incremental/"))
        }
        logger.info(
            "incremental (%s): %s",
            "on" if self.enabled else "off",
            ", ".join(f"{k} {v}" for k, v in counts.items()) or "no article requests",
        )

    def known(self, url: str) -> Known | None:
        """The seen row of ``url`` joined with its stored article, or None (new or forgotten)."""
        db = self.reader()
        if db is None:
            return None
        row = db.execute(
            "select s.etag, s.last_modified, s.lastmod, a.published, a.modified "
            "from seen s join articles a on a.url = s.url or a.fetched_url = s.url "
            "where s.url = ? limit 1",
            [url],
        ).fetchone()
        return Known(*row) if row else None

    def reader(self) -> Database | None:
        """The crawl thread's read-only connection (WAL: a writer never blocks it)."""
        return self.writer.reader() if self.writer is not None else None

    def skip(self, url: str, reason: str, *, count: bool = True) -> SkippedRequest:
        """Count (``ingest/skipped/<reason>``) and log a skip; the caller raises the result."""
        if count:
            self.stats.inc_value(f"ingest/skipped/{reason}")
        logger.debug("skipped (%s): %s", reason, url)
        return SkippedRequest(reason, url)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(ARTICLE) or SEEN_URL in request.meta:
            return
        url = request.url
        request.meta[SEEN_URL] = url
        if url in self.fetched:
            # The spider asked again (a feed date came after a listing's request): not an
            # article skipped, and how often it happens depends on which page was parsed first,
            # so it is counted apart, like Scrapy's dupefilter/filtered.
            self.stats.inc_value("incremental/asked_twice")
            logger.debug("already downloaded in this crawl: %s", url)
            raise SkippedRequest("asked_twice", url)
        known = self.known(url)
        if not self.enabled:
            reason: str | None = "full" if known else "new"
        else:
            reason = refetch_reason(
                known, request.meta.get(LASTMOD), self.window, datetime.now(UTC)
            )
        if reason is None:
            # A URL asked for twice and unchanged both times is one skip, not two.
            first = url not in self.skipped
            self.skipped.add(url)
            raise self.skip(url, "unchanged", count=first)
        if url in self.skipped:
            # Skipped earlier in this crawl, then a newer change date came: not a skip after all.
            self.skipped.discard(url)
            self.stats.inc_value("ingest/skipped/unchanged", -1)
        self.fetched.add(url)
        self.stats.inc_value(f"ingest/incremental/{reason}")
        if known is not None and self.enabled:
            if known.etag:
                request.headers.setdefault(b"If-None-Match", known.etag)
            if known.last_modified:
                request.headers.setdefault(b"If-Modified-Since", known.last_modified)

    def process_response(self, request: Request, response: Response) -> Response:
        url = request.meta.get(SEEN_URL)
        if url is None:
            return response
        lastmod = request.meta.get(LASTMOD)
        if response.status == 304:
            self.record(url, 304, lastmod)
            raise self.skip(url, "not_modified")
        self.stats.inc_value("ingest/incremental/downloaded")
        self.record(url, response.status, lastmod, response)
        return response

    def record(
        self, url: str, status: int, lastmod: str | None, response: Response | None = None
    ) -> None:
        """Upsert the ``seen`` row of ``url`` after the server answered (soon: the writer
        thread writes it)."""
        db = self.reader()
        if db is None:
            return
        now = utc_now_iso()
        pending = self.rows.get(url)
        if pending is not None:
            old = (pending["lastmod"],)
        else:
            old = db.execute("select lastmod from seen where url = ?", [url]).fetchone()
        latest = newest(old[0] if old else None, lastmod)
        row: dict[str, Any] = {
            "url": url,
            "site": self.site_of(url),
            "status": status,
            "checked_at": now,
            "lastmod": latest.astimezone(UTC).isoformat(timespec="seconds") if latest else None,
        }
        if response is not None and 200 <= status < 300:
            headers = response.headers
            row |= {
                "etag": _header(headers.get(b"ETag")),
                "last_modified": _header(headers.get(b"Last-Modified")),
                "body_hash": hashlib.sha256(response.body).hexdigest(),
                "fetched_at": now,
            }
        writer = self.writer
        if writer is None or writer.guard.halted:  # closing on a storage fault: no more rows
            return
        self.rows[url] = {**pending, **row} if pending else row
        if not self.writing:
            rows, self.rows = list(self.rows.values()), {}
            self.write_seen(writer, rows)

    def write_seen(self, writer: DbWriter, rows: list[dict[str, Any]]) -> None:
        """One transaction of ``seen`` rows on the writer thread; the rows gathered meanwhile
        follow when it is done. Without a reactor, waits for it."""

        # Rows with the same columns go in one upsert; a 304's row has fewer (it keeps the
        # stored etag, hash and fetch time), and a missing column would be written as NULL.
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(sorted(row)), []).append(row)

        def upsert(db: Database) -> None:
            with immediate_transaction(db):  # not db.atomic(): see ingest/store/db.py
                seen = db.table("seen")
                for same in by_columns.values():
                    seen.upsert_all(same, pk="url")

        future = writer.write(upsert, "seen")
        if not on_reactor():
            try:
                future.result()
            except StorageFault as fault:
                writer.guard.halt(fault)
            return
        self.writing = True
        self.last_job = deferred(future).addBoth(self.seen_written, writer)

    def seen_written(self, outcome: object, writer: DbWriter) -> None:
        self.writing = False
        if isinstance(outcome, Failure):
            if isinstance(outcome.value, StorageFault):
                writer.guard.halt(outcome.value)
                return
            logger.error("seen rows not written: %s", outcome.value)
        if self.rows and self.writer is writer and not writer.guard.halted:
            rows, self.rows = list(self.rows.values()), {}
            self.write_seen(writer, rows)

    def site_of(self, url: str) -> str:
        """The declared site's name, as in ``articles.site``; the host for unknown sites."""
        site = getattr(self.crawler.spider, "site", None)
        name = getattr(site, "name", None)
        return name if isinstance(name, str) else urlsplit(url).hostname or ""


def _header(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None
