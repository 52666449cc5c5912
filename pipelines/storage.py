"""Storage: articles, images and translations upserted in batched transactions; runs recorded."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from sqlite_utils import Database

from ingest.dates import utc_now_iso
from ingest.db import open_db
from ingest.items import ArticleItem

# Item fields that are not article columns: they go to other tables or are pipeline inputs.
NOT_COLUMNS = frozenset({"images", "candidate_languages", "is_article"})


def article_row(item: ArticleItem) -> dict[str, Any]:
    """The ``articles`` row of one item; lists and dicts as JSON."""
    row = {k: v for k, v in asdict(item).items() if k not in NOT_COLUMNS}
    for key in ("authors", "tags", "alternates"):
        row[key] = json.dumps(row[key], ensure_ascii=False)
    return row


def translation_rows(item: ArticleItem) -> list[dict[str, str]]:
    """(story_id, lang, url) for the article itself and every hreflang alternate."""
    if not item.story_id:
        return []
    rows = {code: url for code, url in item.alternates.items()}
    if item.lang:
        rows[item.lang] = item.url
    return [{"story_id": item.story_id, "lang": c, "url": u} for c, u in sorted(rows.items())]


class SQLitePipeline:
    """Reads every field; writes ``run_id``. Upserts by URL in batches of ``INGEST_BATCH_SIZE``,
    each batch one transaction (an article, its images and translations land together or not at
    all), and records the crawl in ``runs`` with its final Scrapy stats."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.db_path = settings.get("INGEST_DB", "data/news.db")
        self.batch_size = settings.getint("INGEST_BATCH_SIZE", 100)
        self.trigger = settings.get("INGEST_TRIGGER", "manual")
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
        self.buffer: list[ArticleItem] = []
        self.db: Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        self.db = open_db(self.db_path)
        spider = self.crawler.spider
        args = getattr(spider, "run_args", {})
        self.db.table("runs").insert(
            {
                "id": self.run_id,
                "spider": spider.name if spider else "",
                "trigger": self.trigger,
                "args": json.dumps(args, default=str),
                "started_at": utc_now_iso(),
            }
        )

    def process_item(self, item: ArticleItem) -> ArticleItem:
        item.run_id = self.run_id
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        """Write the buffered items in one transaction."""
        if not self.buffer or self.db is None:
            return
        db, batch = self.db, self.buffer
        with db.atomic():
            db.table("articles").upsert_all([article_row(i) for i in batch], pk="url")
            urls = [i.url for i in batch]
            db.table("images").delete_where(
                "article_url in (select value from json_each(?))", [json.dumps(urls)]
            )
            images = [
                {"article_url": i.url, "position": n, **asdict(img)}
                for i in batch
                for n, img in enumerate(i.images)
            ]
            if images:
                db.table("images").insert_all(images)
            translations = [row for i in batch for row in translation_rows(i)]
            if translations:
                db.table("translations").upsert_all(translations, pk=("story_id", "lang"))
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("ingest/stored", len(batch))
        self.buffer = []

    def close_spider(self) -> None:
        self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Record how the run ended, with the crawl's stats, then close the database."""
        if self.db is None:
            return
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        self.db.table("runs").update(
            self.run_id,
            {
                "finished_at": utc_now_iso(),
                "finish_reason": reason,
                "stats": json.dumps(stats, default=str, sort_keys=True),
            },
        )
        self.db.close()
        self.db = None
