"""Dedup: one row per article, whether it comes back in this crawl or a later one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from sqlite_utils import Database

from ingest.db import open_db
from ingest.items import ArticleItem


def body_hash(body: str) -> str:
    """Hash of the whitespace- and case-normalised body text."""
    return hashlib.sha256(" ".join(body.split()).casefold().encode()).hexdigest()


class DedupPipeline:
    """Reads ``url`` (already canonical, w3lib) and ``body``; writes ``body_hash`` and, for a body
    already stored under another URL, ``url`` (so the stored row is updated, not doubled).

    Drops (``ingest/dropped/duplicate``) an item whose URL and body, or body alone, were already
    seen in this crawl.
    """

    def __init__(self, stats: StatsCollector, db_path: str) -> None:
        self.stats = stats
        self.db_path = db_path
        self.seen_urls: dict[str, str] = {}  # url -> body hash, this crawl
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

    def process_item(self, item: ArticleItem) -> ArticleItem:
        digest = body_hash(item.body or "")
        item.body_hash = digest
        first_url = self.seen_hashes.get(digest)
        if self.seen_urls.get(item.url) == digest or (first_url and first_url != item.url):
            self.stats.inc_value("ingest/dropped/duplicate")
            raise DropItem(f"duplicate: {item.url} (same text as {first_url})", log_level="INFO")
        stored = self.stored_url_for(digest)
        if stored and stored != item.url:
            self.stats.inc_value("ingest/dedup/rekeyed")
            item.url = stored
        self.seen_urls[item.url] = digest
        self.seen_hashes.setdefault(digest, item.url)
        return item
