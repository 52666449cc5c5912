"""Validation, dedup and storage pipelines, each alone, on items shaped like real articles."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from ingest.items import ArticleItem, Image
from ingest.store.db import open_db
from pipelines.dedup import DedupPipeline, body_hash
from pipelines.storage import SQLitePipeline
from pipelines.validation import ValidationPipeline
from spiders.rbc import RbcSpider

UK_URL = "https://www.rbc.ua/rus/news/zelenskiy-tramp-ppo-1751639400.html"
EN_URL = "https://newsukraine.rbc.ua/news/zelenskiy-tramp-ppo-1751639400.html"
BODY = (
    "Під час телефонної розмови президенти обговорили постачання систем протиповітряної "
    "оборони та нічні атаки на Київ.\n\nСторони домовилися працювати разом над посиленням "
    "захисту неба, а команди найближчим часом зустрінуться."
)


def article(**changes: object) -> ArticleItem:
    item = ArticleItem(
        url=UK_URL,
        fetched_url=UK_URL,
        site="rbc",
        fetched_at="2025-07-04T16:00:00+00:00",
        title="Зеленський і Трамп домовилися посилити ППО України",
        lead="Президенти провели телефонну розмову.",
        body=BODY,
        body_html="<p>…</p>",
        published="2025-07-04T14:56:00+00:00",
        lang="uk",
        lang_confidence=0.99,
        lang_declared="uk",
        story_id="1751639400",
        alternates={"uk": UK_URL, "en": EN_URL},
        images=[Image(src="https://www.rbc.ua/static/img/a.jpg", caption="Фото", credit="РБК")],
        authors=["Ірина Сорока"],
        tags=["ППО"],
    )
    return replace(item, **changes)  # type: ignore[arg-type]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"title": None}, "no_title"),
        ({"body": "Коротко."}, "too_short"),
        ({"is_article": False}, "not_article"),
        ({"published": "2025-07-05T10:00:00+00:00"}, "future_date"),
    ],
)
def test_validation_drops_with_a_counted_reason(
    stats: MemoryStatsCollector, changes: dict[str, object], reason: str
) -> None:
    pipeline = ValidationPipeline(stats, min_body=150, tolerance=300)
    with pytest.raises(DropItem, match=reason):
        pipeline.process_item(article(**changes))
    assert stats.get_value(f"ingest/dropped/{reason}") == 1


def test_validation_passes_a_good_article_and_tolerates_clock_skew(
    stats: MemoryStatsCollector,
) -> None:
    pipeline = ValidationPipeline(stats, min_body=150, tolerance=300)
    item = article(published="2025-07-04T16:04:00+00:00")  # 4 min ahead of the fetch clock
    assert pipeline.process_item(item) is item
    assert not any(k.startswith("ingest/dropped") for k in stats.get_stats())


def test_validation_clears_a_modified_date_after_the_fetch(stats: MemoryStatsCollector) -> None:
    pipeline = ValidationPipeline(stats, min_body=150, tolerance=300)
    item = pipeline.process_item(
        article(modified="2025-07-06T10:00:00+00:00", modified_source="json-ld")
    )
    assert item.modified is None
    assert item.modified_source is None
    assert item.published == "2025-07-04T14:56:00+00:00"  # kept: it is before the fetch
    assert stats.get_value("ingest/dates/modified_in_future") == 1
    kept = pipeline.process_item(article(modified="2025-07-04T15:30:00+00:00"))
    assert kept.modified == "2025-07-04T15:30:00+00:00"


# --- dedup ------------------------------------------------------------------------------------


def test_dedup_drops_a_repeat_in_the_same_crawl(stats: MemoryStatsCollector, db_path: Path) -> None:
    pipeline = DedupPipeline(stats, str(db_path))
    pipeline.process_item(article())
    with pytest.raises(DropItem, match="duplicate"):
        pipeline.process_item(article())
    with pytest.raises(DropItem, match="duplicate"):  # same text under another URL
        pipeline.process_item(article(url=UK_URL.replace("zelenskiy", "zelensky")))
    assert stats.get_value("ingest/dropped/duplicate") == 2


def test_dedup_lets_an_edited_article_through(stats: MemoryStatsCollector, db_path: Path) -> None:
    pipeline = DedupPipeline(stats, str(db_path))
    pipeline.process_item(article())
    edited = pipeline.process_item(article(body=BODY + " Оновлено."))
    assert edited.body_hash == body_hash(BODY + " Оновлено.")


def test_dedup_sends_a_known_body_under_a_new_url_to_its_stored_row(
    stats: MemoryStatsCollector, db_path: Path
) -> None:
    """A later crawl finding the same text under another URL updates the stored row."""
    run_storage(db_path, [article(body_hash=body_hash(BODY))])
    moved = article(url=UK_URL.replace(".html", "-amp.html"))
    out = DedupPipeline(stats, str(db_path)).process_item(moved)
    assert out.url == UK_URL
    assert stats.get_value("ingest/dedup/rekeyed") == 1


def test_body_hash_ignores_whitespace_and_case() -> None:
    assert body_hash("A  b\n\nC") == body_hash("a b c")
    assert body_hash("a b c") != body_hash("a b d")


# --- storage ----------------------------------------------------------------------------------


def storage_crawler(db_path: Path, batch_size: int = 100) -> Crawler:
    crawler = get_crawler(RbcSpider, {"INGEST_DB": str(db_path), "INGEST_BATCH_SIZE": batch_size})
    crawler.spider = crawler._create_spider()
    return crawler


def run_storage(db_path: Path, items: list[ArticleItem], batch_size: int = 100) -> None:
    crawler = storage_crawler(db_path, batch_size)
    pipeline = SQLitePipeline.from_crawler(crawler)
    pipeline.open_spider()
    for item in items:
        pipeline.process_item(item)
    pipeline.close_spider()
    assert crawler.spider is not None
    pipeline.spider_closed(crawler.spider, "finished")


def test_storage_writes_articles_images_translations_and_the_run(db_path: Path) -> None:
    run_storage(db_path, [article()])
    db = open_db(db_path)
    row = db.table("articles").get(UK_URL)
    assert row["title"] == "Зеленський і Трамп домовилися посилити ППО України"
    assert json.loads(row["authors"]) == ["Ірина Сорока"]
    assert row["run_id"]
    assert [dict(r) for r in db.table("images").rows] == [
        {"article_url": UK_URL, "position": 0, "src": "https://www.rbc.ua/static/img/a.jpg",
         "caption": "Фото", "credit": "РБК"}
    ]  # fmt: skip
    translations = {r["lang"]: r["url"] for r in db.table("translations").rows}
    assert translations == {"uk": UK_URL, "en": EN_URL}
    run = next(db.table("runs").rows)
    assert run["finish_reason"] == "finished"
    assert run["trigger"] == "manual"
    assert isinstance(json.loads(run["stats"]), dict)


def test_storage_is_idempotent_and_fts_follows_updates(db_path: Path) -> None:
    run_storage(db_path, [article()])
    run_storage(db_path, [article()])
    db = open_db(db_path)
    assert db.table("articles").count == 1
    assert db.table("images").count == 1
    assert db.table("runs").count == 2
    run_storage(db_path, [article(body=BODY + " Додано нову деталь про винищувачі.")])
    hits = list(db.execute("select rowid from articles_fts where articles_fts match 'винищувачі'"))
    assert len(hits) == 1
    assert db.table("articles").count == 1


def test_storage_flushes_in_batches(db_path: Path) -> None:
    items = [article(url=f"{UK_URL[:-5]}-{n}.html", story_id=None) for n in range(7)]
    crawler = storage_crawler(db_path, batch_size=3)
    pipeline = SQLitePipeline.from_crawler(crawler)
    pipeline.open_spider()
    for item in items[:6]:
        pipeline.process_item(item)
    reader = open_db(db_path, read_only=True)
    assert reader.table("articles").count == 6  # two full batches committed
    pipeline.process_item(items[6])
    assert reader.table("articles").count == 6  # the seventh waits for its batch
    pipeline.close_spider()
    assert reader.table("articles").count == 7


def test_read_only_connection_cannot_write(db_path: Path) -> None:
    run_storage(db_path, [article()])
    reader = open_db(db_path, read_only=True)
    with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
        reader.execute("delete from articles")
    assert reader.table("articles").count == 1
