"""Where the article stages run changes nothing: the mirror demo crawl stores the same rows and
counts the same drops with INGEST_WORKERS=0 (crawl thread) and 2 (worker processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem

from ingest.db import open_db
from ingest.extract import Page
from ingest.items import ArticleItem
from ingest.workers import CPU_STAT, StagePool

from .crawl_helpers import run_demo
from .test_e2e import snapshot

STAGES = ["pipelines.boilerplate.BoilerplatePipeline", "pipelines.language.LanguagePipeline"]
URL = "https://example.com/news/a.html"
PAGE = (
    "<html><head><title>A headline</title></head><body><article><h1>A headline</h1>"
    "<p>The council approved the budget for next year after a long debate, and the mayor "
    "said the money would go to schools, roads and the hospital.</p></article></body></html>"
)


def demo(db: Path, workers: int) -> dict[str, Any]:
    """The demo crawl into ``db``; the stored rows and the run's ``ingest/`` stats."""
    # The pool from the first page (by default a crawl this small never starts it).
    run_demo(db, INGEST_WORKERS=str(workers), INGEST_POOL_AFTER="0")
    database = open_db(db)
    stats = json.loads(next(iter(database.table("runs").rows))["stats"])
    counted = {k: v for k, v in stats.items() if k.startswith("ingest/") and CPU_STAT not in k}
    return {"rows": snapshot(database), "stats": counted, "cpu": stats}


def test_in_process_and_pool_store_identical_rows(tmp_path: Path) -> None:
    here, pool = demo(tmp_path / "w0.db", 0), demo(tmp_path / "w2.db", 2)
    assert len(here["rows"]["articles"]) >= 30
    assert here["rows"] == pool["rows"]
    assert here["stats"] == pool["stats"]
    for stage in ("parse", "extract", "boilerplate", "language"):
        assert pool["cpu"].get(CPU_STAT + stage, 0) > 0, stage


@pytest.mark.parametrize("workers", [0, 1])
def test_a_page_comes_back_cleaned_and_tagged(workers: int) -> None:
    import asyncio

    pool = StagePool({}, STAGES, workers)
    try:
        item = asyncio.run(pool.run(Page(url=URL, html=PAGE, fetched_at="2025-07-04T15:00:00Z")))
    finally:
        pool.shutdown()
    assert item.title == "A headline"
    assert item.body is not None
    assert item.body.startswith("The council approved")
    assert item.lang == "en"


@pytest.mark.parametrize("workers", [0, 1])
def test_a_drop_in_a_stage_is_raised_with_its_reason(workers: int) -> None:
    import asyncio

    pool = StagePool({}, STAGES, workers)
    page = Page(url=URL, html="<html><body><nav>menu</nav></body></html>", fetched_at="x")
    try:
        with pytest.raises(DropItem, match="no article body"):
            asyncio.run(pool.run(page))
    finally:
        pool.shutdown()


def test_the_pool_starts_after_its_first_pages_and_changes_nothing() -> None:
    import asyncio

    pages = [
        Page(url=f"{URL[:-5]}-{n}.html", html=PAGE, fetched_at="2025-07-04T15:00:00Z")
        for n in range(4)
    ]
    pool = StagePool({}, STAGES, workers=1, start_after=2)

    async def crawl() -> list[ArticleItem]:
        items = [await pool.run(page) for page in pages[:2]]
        assert pool.executor is None  # the first two ran here
        items.append(await pool.run(pages[2]))  # starts the pool; runs here until it is ready
        assert pool.executor is not None
        await asyncio.wrap_future(pool.ready[0])
        items.append(await pool.run(pages[3]))  # in the worker
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
