"""Validation: only real, plausible articles go on; everything else is a counted, logged drop."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from ingest.dates import parse_iso
from ingest.items import ArticleItem


class ValidationPipeline:
    """Reads ``is_article``, ``title``, ``body``, ``published``, ``fetched_at``; writes nothing.

    Drops (stats ``ingest/dropped/<reason>``): ``not_article``, ``no_title``, ``too_short``
    (body under ``INGEST_MIN_BODY_CHARS``), ``future_date`` (published after the fetch time plus
    ``INGEST_FUTURE_TOLERANCE`` seconds of clock skew).
    """

    def __init__(self, stats: StatsCollector, min_body: int, tolerance: float) -> None:
        self.stats = stats
        self.min_body = min_body
        self.tolerance = timedelta(seconds=tolerance)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            crawler.stats,
            settings.getint("INGEST_MIN_BODY_CHARS", 200),
            settings.getfloat("INGEST_FUTURE_TOLERANCE", 300),
        )

    def reject(self, item: ArticleItem) -> tuple[str, str] | None:
        """(reason, detail) when the item must not be stored."""
        if not item.is_article:
            return "not_article", "no article markup or structured data"
        if not item.title:
            return "no_title", ""
        length = len(item.body or "")
        if length < self.min_body:
            return "too_short", f"{length} chars < {self.min_body}"
        published, fetched = parse_iso(item.published), parse_iso(item.fetched_at)
        if published and fetched and published > fetched + self.tolerance:
            return "future_date", f"published {item.published} > fetched {item.fetched_at}"
        return None

    def process_item(self, item: ArticleItem) -> ArticleItem:
        rejected = self.reject(item)
        if rejected is not None:
            reason, detail = rejected
            self.stats.inc_value(f"ingest/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url} {detail}".rstrip(), log_level="INFO")
        return item
