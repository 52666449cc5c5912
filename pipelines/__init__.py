"""Item pipelines: one concern each, wired once in ingest/settings.py."""

from __future__ import annotations

from typing import Self

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from ingest.crawl.workers import CpuPool


class StatsPipeline:
    """Base of the pipelines whose only dependency is the crawl's stats collector."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)


class CpuPipeline(StatsPipeline):
    """Base of the CPU-heavy pipelines: their work is a module-level function of plain data
    that ``self.pool``, the crawl's ``CpuPool`` (ingest/crawl/workers.py), runs on a worker process
    or here; ``process_item`` awaits it, then counts its stats from the result, here. Without
    a pool (a pipeline made by hand, in tests) the work runs here."""

    def __init__(self, stats: StatsCollector, pool: CpuPool | None = None) -> None:
        super().__init__(stats)
        self.pool = pool if pool is not None else CpuPool(stats=stats)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, CpuPool.of(crawler))
