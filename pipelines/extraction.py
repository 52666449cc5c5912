"""Extraction: pages become clean, language-tagged items, on worker processes."""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.utils.conf import build_component_list

from ingest.extract import Page
from ingest.items import ArticleItem
from ingest.workers import StagePool


class ExtractionPipeline:
    """Reads a ``Page`` (what spiders yield when ``INGEST_DEFER_PARSING`` is set) or an
    ``ArticleItem``; returns the item parsed and passed through ``INGEST_ARTICLE_PIPELINES``
    (boilerplate, normalise, language), on one of ``INGEST_WORKERS`` processes (0: here),
    once ``INGEST_POOL_AFTER`` pages have run here.

    Drops what those pipelines drop, with their reasons; their stats and log lines come back
    with the item. Stats: ``ingest/cpu_us/<stage>``, CPU microseconds where each stage ran.
    ``CONCURRENT_ITEMS`` bounds the pages in flight per response.
    """

    def __init__(self, pool: StagePool) -> None:
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        paths = [
            p if isinstance(p, str) else f"{p.__module__}.{p.__qualname__}"
            for p in build_component_list(settings.getdict("INGEST_ARTICLE_PIPELINES"))
        ]
        pool = StagePool(
            settings.copy_to_dict(),
            paths,
            settings.getint("INGEST_WORKERS"),
            crawler.stats,
            start_after=settings.getint("INGEST_POOL_AFTER"),
        )
        return cls(pool)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page | ArticleItem):
            return item
        return await self.pool.run(item)

    def close_spider(self) -> None:
        self.pool.shutdown()
