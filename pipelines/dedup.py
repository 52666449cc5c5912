"""Dedup: one row per article, whether it comes back in this crawl or a later one, and no page
writing a row that is not its own."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from sqlite_utils import Database

from ingest.items import ArticleItem
from ingest.sites import Site, get_site
from ingest.store.db import open_db
from ingest.store.dbfaults import DbWriter
from ingest.urls import canonical_url, on_site

logger = logging.getLogger(__name__)


def body_hash(body: str) -> str:
    """Hash of the whitespace- and case-normalised body text."""
    return hashlib.sha256(" ".join(body.split()).casefold().encode()).hexdigest()


def same_title(a: str | None, b: str | None) -> bool:
    """Titles equal once case and spacing are ignored (no title matches nothing)."""
    if not a or not b:
        return False
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True)
class Seen:
    """What is stored under one URL (this crawl, or before): enough to tell a revision of the
    same page from another page naming that URL."""

    digest: str | None
    title: str | None
    fetched_url: str | None


class DedupPipeline:
    """Reads ``url`` (already canonical, w3lib, on the page's site: ``ingest/urls.py``),
    ``fetched_url``, ``title`` and ``body``; writes ``body_hash``, and ``url`` /
    ``canonical_declared`` when the page may not write the row it names. Enforces, against what
    this crawl stored and what earlier crawls stored (README, "Canonical URLs and duplicates"):

    - A page speaks only for its own site: a key or hreflang alternate off the site of the
      URL it was fetched from is refused (``ingest/canonical/offsite``,
      ``ingest/canonical/offsite_alternate``), the page keyed by its own URL.
    - A page fetched from its own canonical URL writes that row, replacing a version another
      page stored there: the same story (``ingest/dedup/canonical_merged``) or another article
      (``ingest/dedup/canonical_reclaimed``: that page, no longer under any row, is downloaded
      again by the next crawl and stored under its own URL).
    - A page naming another page's row: another title, another article, stored under its own
      URL (``ingest/dedup/canonical_collision``); the same title, a version of the stored story
      (AMP, mobile, tracking parameters), dropped (``ingest/dedup/canonical_merged``).
    - The same text under another URL of the same site is a duplicate: dropped
      (``ingest/dropped/duplicate``), except that a stored row with the same title takes the
      page (``ingest/dedup/rekeyed``: the article moved). On another site it is a copy, kept
      under its own URL (``ingest/dedup/cross_site_copy``): never moved to the other host.

    Every decision is logged at INFO.
    """

    def __init__(self, stats: StatsCollector, db_path: str, writer: DbWriter | None = None) -> None:
        self.stats = stats
        self.db_path = db_path
        self.writer = writer  # in a crawl: its read-only connection is the one dedup reads
        self.seen_urls: dict[str, Seen] = {}  # url -> what was stored under it, this crawl
        self.seen_hashes: dict[str, list[str]] = {}  # body hash -> urls, this crawl
        self.db: Database | None = None  # without a writer: read-only, opened once the file is

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        writer = DbWriter.of(crawler)
        return cls(crawler.stats, str(writer.path), writer)

    def stored(self, sql: str, params: list[str]) -> list[tuple[str | None, ...]]:
        """Rows of an earlier crawl (none before the database exists)."""
        if self.writer is not None:
            db = self.writer.reader()  # the crawl's reader, shared with the incremental check
            return list(db.execute(sql, params).fetchall()) if db is not None else []
        if self.db is None:
            if not Path(self.db_path).exists():
                return []
            self.db = open_db(self.db_path, read_only=True)
        return list(self.db.execute(sql, params).fetchall())

    def holder(self, url: str) -> Seen | None:
        """What is stored under ``url``: by this crawl, else by an earlier one."""
        if url in self.seen_urls:
            return self.seen_urls[url]
        rows = self.stored(
            "select body_hash, title, fetched_url from articles where url = ?", [url]
        )
        return Seen(*rows[0]) if rows else None

    def close_spider(self) -> None:
        if self.db is not None:  # the crawl's reader is its writer's to close
            self.db.close()

    def own_site(self, item: ArticleItem, site: Site | None) -> None:
        """Refuse a key or alternates off the page's site (whatever built the item)."""
        if not on_site(item.url, item.fetched_url, site):
            item.canonical_declared = item.url
            item.url = canonical_url(item.fetched_url)
        declared = item.canonical_declared
        if declared and not on_site(declared, item.fetched_url, site):
            self.stats.inc_value("ingest/canonical/offsite")
            logger.info(
                "canonical off site ignored: %s names %s; stored under %s",
                item.fetched_url,
                declared,
                item.url,
            )
        kept = {c: u for c, u in item.alternates.items() if on_site(u, item.fetched_url, site)}
        if len(kept) < len(item.alternates):
            refused = sorted(set(item.alternates.values()) - set(kept.values()))
            self.stats.inc_value(
                "ingest/canonical/offsite_alternate", len(item.alternates) - len(kept)
            )
            logger.info(
                "hreflang off site ignored: %s names %s", item.fetched_url, ", ".join(refused)
            )
            item.alternates = kept

    def claim(self, item: ArticleItem) -> None:
        """Who writes the row at ``item.url``, when another page already stored it."""
        held = self.holder(item.url)
        if held is None or held.fetched_url is None:
            return
        own = canonical_url(item.fetched_url)
        if canonical_url(held.fetched_url) == own:
            return  # the same page again: a revision
        same = same_title(held.title, item.title)
        if item.url == own:
            outcome = "canonical_merged" if same else "canonical_reclaimed"
            self.stats.inc_value(f"ingest/dedup/{outcome}")
            logger.info(
                "%s: %s is the page at its own URL; the version %s stored there goes to revisions",
                outcome.replace("_", " "),
                item.url,
                held.fetched_url,
            )
            return
        if not same:
            self.stats.inc_value("ingest/dedup/canonical_collision")
            logger.info(
                "canonical collision: %s names %s, already %s's (another title); stored as %s",
                item.fetched_url,
                item.url,
                held.fetched_url,
                own,
            )
            item.canonical_declared, item.url = item.url, own
            self.claim(item)  # its own URL: its row, whoever named it before
            return
        self.stats.inc_value("ingest/dedup/canonical_merged")
        raise DropItem(
            f"canonical merged: {item.fetched_url} is a version of {item.url}, "
            f"already stored from {held.fetched_url} (same title); that one is kept",
            log_level="INFO",
        )

    def same_text(self, item: ArticleItem, digest: str, site: Site | None) -> None:
        """The body already stored under another URL: a duplicate on the same site (dropped,
        or the stored row takes a new URL's page when its title is the same), a copy on
        another. A URL with a row of its own keeps it, whatever other row has the same text."""
        this_crawl = [u for u in self.seen_hashes.get(digest, []) if u != item.url]
        if any(on_site(u, item.fetched_url, site) for u in this_crawl):
            self.stats.inc_value("ingest/dropped/duplicate")
            raise DropItem(
                f"duplicate: {item.url} (same text as {this_crawl[0]})", log_level="INFO"
            )
        if self.holder(item.url) is not None:
            return  # its own row: a revision (or no change) of it, whatever else has this text
        rows = self.stored(
            "select url, title from articles where body_hash = ? and url != ? limit 20",
            [digest, item.url],
        )
        others = [(str(u), t) for u, t in rows]
        same_site = [(u, t) for u, t in others if on_site(u, item.fetched_url, site)]
        if same_site:
            stored_url = next((u for u, t in same_site if same_title(t, item.title)), None)
            if stored_url is None:
                self.stats.inc_value("ingest/dropped/duplicate")
                raise DropItem(
                    f"duplicate: {item.url} (same text as stored {same_site[0][0]})",
                    log_level="INFO",
                )
            self.stats.inc_value("ingest/dedup/rekeyed")
            logger.info("rekeyed: %s has the text and title of %s", item.url, stored_url)
            item.url = stored_url
        elif this_crawl or rows:
            self.stats.inc_value("ingest/dedup/cross_site_copy")
            logger.info(
                "cross-site copy kept: %s has the text of %s",
                item.url,
                (this_crawl or [u for u, _ in others])[0],
            )

    def process_item(self, item: ArticleItem) -> ArticleItem:
        digest = body_hash(item.body or "")
        item.body_hash = digest
        if item.fetched_url:
            site = get_site(item.site)
            self.own_site(item, site)
            self.claim(item)
        else:
            site = None
        seen = self.seen_urls.get(item.url)
        if seen is not None and seen.digest == digest:
            self.stats.inc_value("ingest/dropped/duplicate")
            raise DropItem(f"duplicate: {item.url} (already stored this crawl)", log_level="INFO")
        self.same_text(item, digest, site)
        self.seen_urls[item.url] = Seen(digest, item.title, item.fetched_url)
        self.seen_hashes.setdefault(digest, []).append(item.url)
        return item
