"""Item pipelines: one concern each, wired once in ingest/settings.py."""

from __future__ import annotations

from typing import Self

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector


class StatsPipeline:
    """Base of the pipelines whose only dependency is the crawl's stats collector (which is
    also all a worker process can give them: see ingest/workers.py)."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)
