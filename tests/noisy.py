"""A Scrapy extension that logs one ERROR line of its own: what a buggy add-on or middleware
does when it loses a page without any counted reason (tests/test_uncounted.py)."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class ErrorOnFirstItem:
    """Logs an ERROR when the first item is scraped, and nothing else."""

    def __init__(self) -> None:
        self.done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls()
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def item_scraped(self, item: Any) -> None:
        if not self.done:
            self.done = True
            logger.error("lost a page somewhere, counted nowhere")
