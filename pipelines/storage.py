"""Storage: articles, images and translations upserted in batched transactions; runs recorded.

An article whose text changed keeps its old version in ``revisions``; one that did not change
changes no row at all (not even ``fetched_at``: the ``seen`` table says when it was last checked).
"""

from __future__ import annotations

import json
import logging
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

logger = logging.getLogger(__name__)

# Item fields that are not article columns: they go to other tables or are pipeline inputs.
NOT_COLUMNS = frozenset({"images", "candidate_languages", "is_article"})
# Columns that say when and how a version was fetched, not what it says: a difference in these
# alone is no change.
FETCH_COLUMNS = frozenset({"fetched_at", "run_id", "fetched_url"})
# What a revision keeps of the version it replaces.
REVISION_COLUMNS = ("body_hash", "title", "body", "body_html", "modified", "fetched_at", "run_id")


def article_row(item: ArticleItem) -> dict[str, Any]:
    """The ``articles`` row of one item; lists and dicts as JSON, as they are stored (so a row
    read back compares equal to the row of an unchanged item)."""
    row = {k: v for k, v in asdict(item).items() if k not in NOT_COLUMNS}
    for key, value in row.items():
        if isinstance(value, list | dict):
            row[key] = json.dumps(value, ensure_ascii=False)
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
    all), and records the crawl in ``runs`` with its final Scrapy stats.

    Per article: ``ingest/stored/new``, ``ingest/stored/revised`` (body changed: the old version
    goes to ``revisions``), ``ingest/stored/updated`` (other fields changed) or
    ``ingest/unchanged`` (nothing written); ``ingest/stored`` counts the rows written and
    ``ingest/db/changes`` the rows SQLite changed for articles, images, translations, revisions.
    """

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
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        changes_before = db.conn.total_changes
        with db.atomic():
            # One item at a time: a URL twice in a batch must see its own first write.
            outcomes = [self.store(db, item) for item in batch]
        for outcome in outcomes:
            stats.inc_value(f"ingest/{outcome}")
        stats.inc_value("ingest/stored", sum(o != "unchanged" for o in outcomes))
        stats.inc_value("ingest/db/changes", db.conn.total_changes - changes_before)
        self.buffer = []

    def store(self, db: Database, item: ArticleItem) -> str:
        """Write what changed of one article; return ``stored/new|revised|updated`` or
        ``unchanged``."""
        row = article_row(item)
        articles = db.table("articles")
        old = next(articles.rows_where("url = ?", [item.url]), None)
        if old is None:
            outcome = "stored/new"
        elif old["body_hash"] != row["body_hash"]:
            outcome = "stored/revised"
            revision = {k: old.get(k) for k in REVISION_COLUMNS}
            db.table("revisions").insert(
                {"article_url": item.url, **revision, "revised_at": utc_now_iso()}
            )
            logger.info("revised: %s (old version kept in revisions)", item.url)
        elif any(old.get(k) != v for k, v in row.items() if k not in FETCH_COLUMNS):
            outcome = "stored/updated"
        else:
            outcome = "unchanged"
        if outcome != "unchanged":
            articles.upsert(row, pk="url")
        self.store_images(db, item)
        self.store_translations(db, item)
        return outcome

    def store_images(self, db: Database, item: ArticleItem) -> None:
        """Replace the article's images only when the list differs from the stored one."""
        images = db.table("images")
        new = [
            {"article_url": item.url, "position": n, **asdict(img)}
            for n, img in enumerate(item.images)
        ]
        old = list(images.rows_where("article_url = ?", [item.url], order_by="position"))
        if old == new:
            return
        images.delete_where("article_url = ?", [item.url])
        if new:
            images.insert_all(new)

    def store_translations(self, db: Database, item: ArticleItem) -> None:
        """Upsert the (story_id, lang) → url rows that are missing or point elsewhere."""
        translations = db.table("translations")
        for row in translation_rows(item):
            old = next(
                translations.rows_where(
                    "story_id = ? and lang = ?", [row["story_id"], row["lang"]]
                ),
                None,
            )
            if old != row:
                translations.upsert(row, pk=("story_id", "lang"))

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
