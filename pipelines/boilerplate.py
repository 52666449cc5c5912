"""The boilerplate stage: the article fragment cleaned by ``ingest.extract.clean``, on the
crawl's CPU pool."""

from __future__ import annotations

from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from ingest.crawl.workers import CPU_STAT, CpuPool, microseconds
from ingest.extract import DEFAULT_LIMITS, Limits, cap_images
from ingest.extract.clean import clean_item
from ingest.items import ArticleItem
from ingest.sites import get_site
from pipelines import CpuPipeline


def cleaned(item: ArticleItem, limits: Limits) -> ArticleItem:
    """The pipeline's work, on the crawl's CPU pool: ``clean_item``, then the images capped
    at ``limits.images`` (the body's pictures are found here). Returns the item: it may have
    crossed a process."""
    clean_item(item)
    item.images = cap_images(item.images, limits, item.flags)
    return item


class BoilerplatePipeline(CpuPipeline):
    """Reads ``body_html``, ``url``, ``site``, ``title``; writes ``body_html`` (clean, rebuilt),
    ``body`` and appends in-body pictures to ``images``, at most ``INGEST_MAX_IMAGES`` (flag
    and stat ``ingest/fields/images_cut``). Drops an item without a fragment. CPU:
    ``ingest/cpu_us/boilerplate``."""

    def __init__(
        self, stats: StatsCollector, pool: CpuPool | None = None, limits: Limits | None = None
    ) -> None:
        super().__init__(stats, pool)
        if limits is None:
            limits = DEFAULT_LIMITS
        self.limits = limits

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats, CpuPool.of(crawler), Limits.from_settings(crawler.settings))

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        if not item.body_html or not item.body_html.strip():
            # On a site we know nothing of, a tag or index page without text is no article,
            # not an article without a body; on a declared site's article URL, an empty page
            # (a script shell) is an article whose body is missing.
            known = get_site(item.site) is not None
            reason = "no_body" if item.is_article or known else "not_article"
            self.stats.inc_value(f"ingest/dropped/{reason}")
            raise DropItem(f"{reason}: no article body found: {item.url}", log_level="INFO")
        cut = "images_cut" in item.flags
        item, seconds = await self.pool.run(item.fetched_url, cleaned, item, self.limits)
        self.stats.inc_value(CPU_STAT + "boilerplate", microseconds(seconds))
        if not cut and "images_cut" in item.flags:
            self.stats.inc_value("ingest/fields/images_cut")
        return item
