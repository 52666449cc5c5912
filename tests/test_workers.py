"""Where the CPU-heavy pipelines run changes nothing: the mirror demo crawl stores the same rows
and counts the same drops with INGEST_WORKERS=0 (crawl thread) and 2 (worker processes); each
stage is a Scrapy item pipeline of ITEM_PIPELINES awaiting the crawl's CpuPool."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.conf import build_component_list
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from ingest.crawl.workers import CPU_STAT, CRAWL_THREAD_CPU_STAT, CpuPool
from ingest.items import ArticleItem
from ingest.store.db import open_db
from pipelines.boilerplate import BoilerplatePipeline
from pipelines.extraction import ExtractionPipeline
from pipelines.language import LanguagePipeline
from pipelines.normalise import NormalisePipeline

from .crawl_helpers import run_demo
from .test_e2e import snapshot

URL = "https://example.com/news/a.html"


def downloaded(html: str, url: str = URL, fetched_at: str = "2025-07-04T15:00:00Z") -> ArticleItem:
    """What a spider yields for a page of an undeclared site."""
    return ArticleItem(
        url=url, fetched_url=url, site="example.com", fetched_at=fetched_at, html=html
    )


PAGE = (
    "<html><head><title>A headline</title></head><body><article><h1>A headline</h1>"
    "<p>The council approved the budget for next year after a long debate, and the mayor "
    "said the money would go to schools, roads and the hospital.</p></article></body></html>"
)
ARTICLE_PATH = [
    "pipelines.extraction.ExtractionPipeline",
    "pipelines.boilerplate.BoilerplatePipeline",
    "pipelines.normalise.NormalisePipeline",
    "pipelines.language.LanguagePipeline",
    "pipelines.validation.ValidationPipeline",
    "pipelines.dedup.DedupPipeline",
    "pipelines.provenance.ProvenancePipeline",
    "pipelines.storage.SQLitePipeline",
]


def test_item_pipelines_list_the_path_of_an_article() -> None:
    settings = get_project_settings()
    assert build_component_list(settings.getdict("ITEM_PIPELINES")) == ARTICLE_PATH
    assert settings.get("INGEST_ARTICLE_PIPELINES") is None  # no second runtime


def demo(db: Path, workers: int) -> dict[str, Any]:
    """The demo crawl into ``db``; the stored rows and the run's ``ingest/`` stats."""
    # The pool from the first page (by default a crawl this small never starts it).
    run_demo(db, INGEST_WORKERS=str(workers), INGEST_POOL_AFTER="0")
    database = open_db(db)
    stats = json.loads(next(iter(database.table("runs").rows))["stats"])
    # Outcomes, not timings: CPU times and waits for the database lock (ingest/db/) differ.
    counted = {
        k: v
        for k, v in stats.items()
        if k.startswith("ingest/") and not k.startswith((CPU_STAT, "ingest/db/"))
    }
    return {"rows": snapshot(database), "stats": counted, "cpu": stats}


def test_in_process_and_pool_store_identical_rows(tmp_path: Path) -> None:
    here, pool = demo(tmp_path / "w0.db", 0), demo(tmp_path / "w2.db", 2)
    assert len(here["rows"]["articles"]) >= 30
    assert here["rows"] == pool["rows"]
    assert here["stats"] == pool["stats"]
    assert any(
        k.startswith("ingest/fields/") or k.startswith("ingest/dropped/") for k in here["stats"]
    )
    for stage in ("parse", "extract", "boilerplate", "normalise", "language"):
        assert pool["cpu"].get(CPU_STAT + stage, 0) > 0, stage
        assert here["cpu"].get(CPU_STAT + stage, 0) > 0, stage
    # With the pool from the first page, hardly any stage ran on the crawl thread.
    stages = sum(v for k, v in pool["cpu"].items() if k.startswith(CPU_STAT))
    assert pool["cpu"].get(CRAWL_THREAD_CPU_STAT, 0) < stages / 2


class ArticlePath:
    """The four CPU-heavy pipelines, made as Scrapy makes them, sharing one CpuPool."""

    def __init__(self, workers: int, **settings: Any) -> None:
        crawler = get_crawler(settings_dict={"INGEST_WORKERS": workers, **settings})
        crawler.stats = self.stats = MemoryStatsCollector(crawler)
        self.pool = CpuPool.of(crawler)
        self.pipelines = [
            cls.from_crawler(crawler)
            for cls in (
                ExtractionPipeline,
                BoilerplatePipeline,
                NormalisePipeline,
                LanguagePipeline,
            )
        ]
        assert all(p.pool is self.pool for p in self.pipelines)

    async def run(self, page: ArticleItem) -> ArticleItem:
        item: Any = page
        for pipeline in self.pipelines:
            item = await pipeline.process_item(item)
        assert isinstance(item, ArticleItem)
        return item


@pytest.mark.parametrize("workers", [0, 1])
def test_a_page_comes_back_cleaned_and_tagged(workers: int) -> None:
    path = ArticlePath(workers, INGEST_POOL_AFTER=0)
    try:
        page = downloaded(PAGE)
        item = asyncio.run(path.run(page))
    finally:
        path.pool.shutdown()
    assert item.title == "A headline"
    assert item.html is None  # parsed: the page is not carried further
    assert (item.fetched_at, item.site) == (page.fetched_at, page.site)
    assert item.body is not None
    assert item.body.startswith("The council approved")
    assert item.lang == "en"
    assert path.stats.get_value("ingest/language/detected/en") == 1
    for stage in ("parse", "extract", "boilerplate", "normalise", "language"):
        assert path.stats.get_value(CPU_STAT + stage, 0) > 0, stage


def test_an_item_without_a_page_passes_extraction_untouched() -> None:
    path = ArticlePath(0)
    item = downloaded(PAGE)
    item.html = None
    assert asyncio.run(path.pipelines[0].process_item(item)) is item
    assert path.pool.pages == 0  # not a page reaching the pipeline (INGEST_POOL_AFTER)
    assert path.stats.get_value(CPU_STAT + "parse") is None


@pytest.mark.parametrize("workers", [0, 1])
def test_a_drop_in_a_stage_is_raised_with_its_reason(workers: int) -> None:
    path = ArticlePath(workers, INGEST_POOL_AFTER=0)
    page = downloaded("<html><body><nav>menu</nav></body></html>", fetched_at="x")
    try:
        with pytest.raises(DropItem, match="no article body"):
            asyncio.run(path.run(page))
    finally:
        path.pool.shutdown()
    # a page of an undeclared site with no text and no article markup is no article
    assert path.stats.get_value("ingest/dropped/not_article") == 1


@pytest.mark.parametrize("workers", [0, 1])
def test_a_bound_in_parsing_is_a_counted_drop(workers: int) -> None:
    path = ArticlePath(workers, INGEST_POOL_AFTER=0, INGEST_MAX_PARAGRAPHS=2)
    html = PAGE.replace("</article>", "<p>one</p><p>two</p></article>")
    try:
        with pytest.raises(DropItem, match="too_many_paragraphs"):
            asyncio.run(path.run(downloaded(html, fetched_at="x")))
    finally:
        path.pool.shutdown()
    assert path.stats.get_value("ingest/dropped/too_many_paragraphs") == 1


def test_the_pool_starts_after_its_first_pages_and_changes_nothing() -> None:
    pages = [downloaded(PAGE, f"{URL[:-5]}-{n}.html") for n in range(4)]
    path = ArticlePath(1, INGEST_POOL_AFTER=2)
    pool = path.pool

    async def crawl() -> list[ArticleItem]:
        items = [await path.run(page) for page in pages[:2]]
        assert pool.executor is None  # the first two ran here
        items.append(await path.run(pages[2]))  # starts the pool; runs here until it is ready
        assert pool.executor is not None
        await asyncio.wrap_future(pool.ready[0])
        before = path.stats.get_value(CRAWL_THREAD_CPU_STAT)
        items.append(await path.run(pages[3]))  # in the worker
        assert path.stats.get_value(CRAWL_THREAD_CPU_STAT) == before
        return items

    try:
        items = asyncio.run(crawl())
    finally:
        pool.shutdown()
    first = items[0]
    for item in items[1:]:
        assert (item.body, item.lang, item.lang_confidence) == (
            first.body,
            first.lang,
            first.lang_confidence,
        )


def spin(seconds: float) -> float:
    """CPU for ``seconds``, as a pathological page costs an extractor."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return seconds


def test_the_cpu_limit_is_per_page_over_all_its_stages() -> None:
    stats = MemoryStatsCollector(get_crawler())
    pool = CpuPool(page_cpu=0.5, stats=stats)

    async def page(key: str) -> None:
        for _ in range(3):  # three stages of 0.2 s: the third is over the page's 0.5 s
            await pool.run(key, spin, 0.2)

    with pytest.raises(DropItem, match="cpu_limit"):
        asyncio.run(page("https://example.com/slow.html"))
    assert stats.get_value("ingest/dropped/cpu_limit") == 1
    assert asyncio.run(pool.run("https://example.com/calm.html", spin, 0.2))[0] == 0.2
