"""Validation: only real, plausible articles go on; everything else is a counted, logged drop."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from ingest.dates import parse_iso
from ingest.items import ArticleItem

logger = logging.getLogger(__name__)
_WORD_RE = re.compile(r"\w+")  # over titles already extracted as text
DATE_TOLERANCE = timedelta(days=1)  # feeds round, lag and use other zones; a day is noise


def title_words(title: str) -> set[str]:
    """Case-folded words of a title; one-letter words ("a", "в") are too common to count."""
    return {w for w in _WORD_RE.findall(title.casefold()) if len(w) > 1}


class ValidationPipeline:
    """Reads ``is_article``, ``title``, ``body``, ``published``, ``modified``, ``fetched_at``,
    ``feed_title``, ``feed_published``; writes only ``modified`` (cleared when it lies in the
    future: a page's clock, not a date we store; stat ``ingest/dates/modified_in_future``).

    Drops (stats ``ingest/dropped/<reason>``): ``not_article``, ``no_title``, ``too_short``
    (body under ``INGEST_MIN_BODY_CHARS``), ``future_date`` (published after the fetch time plus
    ``INGEST_FUTURE_TOLERANCE`` seconds of clock skew).

    Cross-checks (counted and logged, never dropped), when a feed or sitemap listed the page:
    ``ingest/crosscheck/date_mismatch`` (``feed_published`` and ``published`` more than a day
    apart), ``ingest/crosscheck/title_mismatch`` (``feed_title`` and ``title`` share no word).
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

    def crosscheck(self, item: ArticleItem) -> list[str]:
        """Where the feed's word and the page's disagree: ``date_mismatch``, ``title_mismatch``."""
        found = []
        feed_date, page_date = parse_iso(item.feed_published), parse_iso(item.published)
        if feed_date and page_date and abs(feed_date - page_date) > DATE_TOLERANCE:
            found.append("date_mismatch")
            logger.warning(
                "date mismatch: feed says %s, page says %s: %s",
                item.feed_published,
                item.published,
                item.url,
            )
        if item.feed_title and item.title:
            feed_words, page_words = title_words(item.feed_title), title_words(item.title)
            if feed_words and page_words and not feed_words & page_words:
                found.append("title_mismatch")
                logger.warning(
                    "title mismatch: feed says %r, page says %r: %s",
                    item.feed_title,
                    item.title,
                    item.url,
                )
        for name in found:
            self.stats.inc_value(f"ingest/crosscheck/{name}")
        return found

    def process_item(self, item: ArticleItem) -> ArticleItem:
        rejected = self.reject(item)
        if rejected is not None:
            reason, detail = rejected
            self.stats.inc_value(f"ingest/dropped/{reason}")
            raise DropItem(f"{reason}: {item.url} {detail}".rstrip(), log_level="INFO")
        self.crosscheck(item)
        modified, fetched = parse_iso(item.modified), parse_iso(item.fetched_at)
        if modified and fetched and modified > fetched + self.tolerance:
            self.stats.inc_value("ingest/dates/modified_in_future")
            logger.info("modified %s is after the fetch, not kept: %s", item.modified, item.url)
            item.modified = item.modified_raw = item.modified_source = None
        return item
