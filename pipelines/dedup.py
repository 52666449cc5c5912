"""Dedup: one row per article, whether it comes back in this crawl or a later one."""

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

from ingest.db import open_db
from ingest.extract import canonical_url
from ingest.items import ArticleItem

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
    """What this crawl stored under one URL: enough to tell a revision from another page."""

    digest: str
    title: str | None
    fetched_url: str | None


class DedupPipeline:
    """Reads ``url`` (already canonical, w3lib) and ``body``; writes ``body_hash`` and, for a body
    already stored under another URL, ``url`` (so the stored row is updated, not doubled).

    Drops (``ingest/dropped/duplicate``) an item whose URL and body, or body alone, were already
    seen in this crawl.

    Two pages fetched from different URLs that name one canonical URL with different bodies
    would be one row, the first kept only in ``revisions``: with different titles they are
    different articles (a canonical pointing at a home or section page), and the second is
    stored under its own fetched URL (``ingest/dedup/canonical_collision``); with the same
    title it is the same story, written over the first (``ingest/dedup/canonical_merged``).
    Both are logged at INFO.
    """

    def __init__(self, stats: StatsCollector, db_path: str) -> None:
        self.stats = stats
        self.db_path = db_path
        self.seen_urls: dict[str, Seen] = {}  # url -> what was stored under it, this crawl
        self.seen_hashes: dict[str, str] = {}  # body hash -> url, this crawl
        self.db: Database | None = None  # read-only, opened once the storage pipeline made the file

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, crawler.settings.get("INGEST_DB", "data/news.db"))

    def stored_url_for(self, digest: str) -> str | None:
        """The URL an earlier crawl stored this exact body under, if any."""
        if self.db is None:
            if not Path(self.db_path).exists():
                return None
            self.db = open_db(self.db_path, read_only=True)
        row = self.db.execute(
            "select url from articles where body_hash = ? limit 1", [digest]
        ).fetchone()
        return str(row[0]) if row else None

    def close_spider(self) -> None:
        if self.db is not None:
            self.db.close()

    def canonical_clash(self, item: ArticleItem, digest: str) -> None:
        """Another page of this crawl is stored under ``item.url`` with another body: rekey the
        item to its fetched URL when the titles differ (and that URL is free), else count the
        merge."""
        seen = self.seen_urls.get(item.url)
        if seen is None or seen.digest == digest or not item.fetched_url:
            return
        own = canonical_url(item.fetched_url)
        if seen.fetched_url in (None, item.fetched_url):
            return  # one page fetched twice: a revision
        if not same_title(seen.title, item.title) and own != item.url and own not in self.seen_urls:
            self.stats.inc_value("ingest/dedup/canonical_collision")
            logger.info(
                "canonical collision: %s names %s, already %s's (another title); stored as %s",
                item.fetched_url,
                item.url,
                seen.fetched_url,
                own,
            )
            item.url = own
            return
        self.stats.inc_value("ingest/dedup/canonical_merged")
        logger.info(
            "canonical merged: %s and %s both name %s; the later is kept, the first in revisions",
            seen.fetched_url,
            item.fetched_url,
            item.url,
        )

    def process_item(self, item: ArticleItem) -> ArticleItem:
        digest = body_hash(item.body or "")
        item.body_hash = digest
        self.canonical_clash(item, digest)
        first_url = self.seen_hashes.get(digest)
        seen = self.seen_urls.get(item.url)
        if (seen is not None and seen.digest == digest) or (first_url and first_url != item.url):
            self.stats.inc_value("ingest/dropped/duplicate")
            raise DropItem(f"duplicate: {item.url} (same text as {first_url})", log_level="INFO")
        stored = self.stored_url_for(digest)
        if stored and stored != item.url:
            self.stats.inc_value("ingest/dedup/rekeyed")
            item.url = stored
        self.seen_urls[item.url] = Seen(digest, item.title, item.fetched_url)
        self.seen_hashes.setdefault(digest, item.url)
        return item
