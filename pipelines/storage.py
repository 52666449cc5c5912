"""Storage: articles, images and translations upserted in batched transactions; runs recorded.

The batches are written by the crawl's writer thread (``ingest/store/dbfaults.py``, ``DbWriter``),
never on the crawl thread: while the database is locked, downloads and the other pipelines go
on, and up to ``INGEST_STORAGE_MAX_PENDING`` articles wait here for the writer; past that,
``process_item`` waits too, and Scrapy's scraper slot stops taking new responses, so downloads
pause and nothing is dropped.

An article whose text changed keeps its old version in ``revisions``; one that did not change
changes no row at all (not even ``fetched_at``: the ``seen`` table says when it was last checked).
At most ``INGEST_MAX_REVISIONS`` revisions are kept per article: a body that changes on every
fetch (a clock, a counter) would otherwise add one per crawl without end; the oldest go
(``ingest/revisions/pruned``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Self, TypeVar, cast

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from sqlite_utils import Database
from twisted.internet.defer import Deferred, DeferredList
from twisted.python.failure import Failure

from ingest.dates import utc_now_iso
from ingest.items import ArticleItem, Image
from ingest.store.db import articles, immediate_transaction
from ingest.store.dbfaults import (
    DbWriter,
    StorageFault,
    awaited,
    deferred,
    final_reason,
    on_reactor,
)
from ingest.store.schema import ARTICLE_COLUMNS, ARTICLE_JSON_COLUMNS, TABLES
from ingest.store.search_index import index_articles
from ingest.store.signals import storage_flush

logger = logging.getLogger(__name__)

# Columns that say when and how a version was fetched, not what it says: a difference in these
# alone is no change.
FETCH_COLUMNS = frozenset({"fetched_at", "run_id", "fetched_url"})
# What the search index is made of (articles_search's columns are analysed copies of these
# article columns): a change here re-indexes the row.
INDEXED_COLUMNS = tuple(TABLES["articles_search"].columns)
# What a revision keeps of the version it replaces: its columns but the row's own bookkeeping.
REVISION_COLUMNS = tuple(
    c for c in TABLES["revisions"].columns if c not in {"id", "article_url", "revised_at"}
)
T = TypeVar("T")
# The batch's stored state, one statement each; ? is a JSON list of URLs (or story ids).
_SELECT_ARTICLES = "select * from articles where url in (select value from json_each(?))"
_SELECT_IMAGES = (
    "select * from images where article_url in (select value from json_each(?)) "
    "order by article_url, position"
)
_SELECT_TRANSLATIONS = (
    "select story_id, lang, url from translations "
    "where story_id in (select value from json_each(?))"
)
_DELETE_IMAGES = "delete from images where article_url in (select value from json_each(?))"
# All but the newest :keep revisions of one article (ids grow with insertion).
_PRUNE_REVISIONS = (
    "delete from revisions where article_url = :url and id not in "
    "(select id from revisions where article_url = :url order by id desc limit :keep)"
)
WAL_CHECKPOINT_PAGES = 10_000  # pages of 4 kB
_IMAGE_FIELDS = tuple(f.name for f in fields(Image))
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def article_row(item: ArticleItem) -> dict[str, Any]:
    """The ``articles`` row of one item; lists and dicts as JSON, as they are stored (so a row
    read back compares equal to the row of an unchanged item). Read field by field: ``asdict``
    deep-copies every list only for them to be serialised."""
    values = vars(item)
    row = {name: values[name] for name in ARTICLE_COLUMNS}
    for key in ARTICLE_JSON_COLUMNS:
        value = row[key]
        if isinstance(value, list | dict):
            row[key] = _to_json(value)
    return row


def image_rows(item: ArticleItem) -> list[dict[str, Any]]:
    """The ``images`` rows of one item, as they are stored (and read back)."""
    return [
        {"article_url": item.url, "position": n, **{f: getattr(img, f) for f in _IMAGE_FIELDS}}
        for n, img in enumerate(item.images)
    ]


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

    In a crawl, batches go to the writer thread and ``process_item`` returns at once, unless
    ``INGEST_STORAGE_MAX_PENDING`` articles already wait for it (then it waits for room).
    Driven without a reactor (``ingest store``, tests), every call waits for its writes.

    Per article: ``ingest/stored/new``, ``ingest/stored/revised`` (body changed: the old version
    goes to ``revisions``), ``ingest/stored/updated`` (other fields changed) or
    ``ingest/unchanged`` (nothing written); ``ingest/stored`` counts the rows written and
    ``ingest/db/changes`` the rows SQLite changed for articles, images, translations, revisions.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.batch_size = max(1, settings.getint("INGEST_BATCH_SIZE", 100))
        self.max_pending = max(
            settings.getint("INGEST_STORAGE_MAX_PENDING", 1000), 2 * self.batch_size
        )
        self.max_revisions = settings.getint("INGEST_MAX_REVISIONS", 100)
        self.trigger = settings.get("INGEST_TRIGGER", "manual")
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
        self.buffer: list[ArticleItem] = []
        self.writer = DbWriter.of(crawler)  # one writer connection (INGEST_DB), its thread
        self.guard = self.writer.guard  # locked / full database: ingest/store/dbfaults.py
        self.pending = 0  # articles handed to the writer, not yet written or dropped
        self.writing: set[Deferred[None]] = set()  # the batches the writer has (in a crawl)
        self.waiting: list[tuple[Deferred[ArticleItem], ArticleItem]] = []  # for room

    @property
    def db(self) -> Database | None:
        """The writer connection; use it only when no batch is being written."""
        return self.writer.db

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.flush_requested, signal=storage_flush)
        return pipeline

    def flush_requested(self) -> Deferred[None] | None:
        """``storage_flush`` (ingest/store/signals.py): hand every buffered article to the
        writer now; in a crawl, a Deferred fired once the writer is done with every batch it has
        (each counted in the stats by ``written``)."""
        self.flush()
        if not self.writing:
            return None
        return DeferredList(list(self.writing)).addCallback(lambda _: None)

    def open_spider(self) -> None:
        self.writer.acquire()
        spider = self.crawler.spider
        run = {
            "id": self.run_id,
            "spider": spider.name if spider else "",
            "trigger": self.trigger,
            "args": json.dumps(getattr(spider, "run_args", {}), default=str),
            "started_at": utc_now_iso(),
        }

        def start(db: Database) -> None:
            # Checkpoint the WAL every ~40 MB, not 4: a crawl writes ~20 kB per article (row,
            # FTS, indexes), and each checkpoint rewrites pages the next batches touch again.
            db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            db.table("runs").insert(run)

        self.writer.submit(lambda: start(self._db())).result()

    def _db(self) -> Database:
        db = self.writer.db
        assert db is not None, "the storage pipeline is not open"
        return db

    def process_item(self, item: ArticleItem) -> ArticleItem | Deferred[ArticleItem]:
        item.run_id = self.run_id
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.hand_over()
        if self.pending + len(self.buffer) <= self.max_pending or not on_reactor():
            return item
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("ingest/storage/waited")
        room: Deferred[ArticleItem] = Deferred()
        self.waiting.append((room, item))
        return room

    def flush(self) -> None:
        """Hand every buffered item to the writer, in batches; without a reactor, wait for
        them to be written."""
        while self.buffer:
            self.hand_over()

    def hand_over(self) -> None:
        """The first ``batch_size`` buffered items, one transaction on the writer thread: one
        read of what is stored for the batch's URLs (articles, images, translations), the
        decisions in memory, then batched writes of what changed."""
        batch, self.buffer = self.buffer[: self.batch_size], self.buffer[self.batch_size :]
        if not batch:
            return
        if self.guard.halted:  # the crawl is closing on a storage fault: count, do not retry
            self.guard.drop_unstored(len(batch))
            return
        self.pending += len(batch)
        future = self.writer.write(lambda db: self.write_transaction(db, batch), "batch")
        if not on_reactor():
            got = _outcome(future)
            self.written(got, batch)
            return
        done = deferred(future).addBoth(lambda got: self.written(_unwrap(got), batch))
        self.writing.add(done)
        done.addBoth(lambda _: self.writing.discard(done))

    def written(
        self, outcome: tuple[list[str], int, int] | BaseException, batch: list[ArticleItem]
    ) -> None:
        """Count what the writer did with ``batch`` (on the crawl thread), then let waiting
        items in."""
        self.pending -= len(batch)
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        try:
            if isinstance(outcome, StorageFault):  # rolled back: nothing of it written
                self.guard.halt(outcome, unstored=len(batch))
                return
            if isinstance(outcome, BaseException):
                stats.inc_value("ingest/dropped/pipeline_error", len(batch))
                logger.error(
                    "storage failed, %d article(s) not stored: %s",
                    len(batch),
                    outcome,
                    exc_info=outcome,
                )
                return
            outcomes, changes, pruned = outcome
            for one in outcomes:
                stats.inc_value(f"ingest/{one}")
            stats.inc_value("ingest/stored", sum(o != "unchanged" for o in outcomes))
            stats.inc_value("ingest/db/changes", changes)
            if pruned:
                stats.inc_value("ingest/revisions/pruned", pruned)
                logger.info("pruned %d revision(s) over INGEST_MAX_REVISIONS", pruned)
        finally:
            while self.waiting and self.pending + len(self.buffer) <= self.max_pending:
                room, item = self.waiting.pop(0)
                room.callback(item)

    def write_transaction(
        self, db: Database, batch: list[ArticleItem]
    ) -> tuple[list[str], int, int]:
        """``write_batch`` in one transaction, rolled back if it raises (so it can be retried);
        its outcomes, the rows changed and the revisions pruned."""
        with immediate_transaction(db):  # not db.atomic(): see ingest/store/db.py
            outcomes, changes = self.write_batch(db, batch)
        return outcomes, changes, self.pruned

    def write_batch(self, db: Database, batch: list[ArticleItem]) -> tuple[list[str], int]:
        """Write what changed of each article; its ``stored/new|revised|updated`` or
        ``unchanged``, and the rows written. Items are judged in order against what is stored
        *and* what this batch already wrote, so a URL twice in a batch sees its own first
        version.

        Rows written are counted from the statements (``rowcount``), not ``total_changes``:
        that also counts FTS5's shadow-table writes, which depend on the order the articles
        arrived in, so two identical crawls reported different numbers.
        """
        conn = db.conn
        self.pruned = 0  # a retried batch counts again from nothing
        urls = json.dumps(list(dict.fromkeys(item.url for item in batch)))
        stored: dict[str, dict[str, Any]] = {
            row["url"]: row for row in db.query(_SELECT_ARTICLES, [urls])
        }
        images: dict[str, list[dict[str, Any]]] = {}
        for row in db.query(_SELECT_IMAGES, [urls]):
            images.setdefault(row["article_url"], []).append(row)
        story_ids = json.dumps(list({item.story_id for item in batch if item.story_id}))
        translations: dict[tuple[str, str], str] = {
            (story, lang): url
            for story, lang, url in conn.execute(_SELECT_TRANSLATIONS, [story_ids])
        }
        outcomes: list[str] = []
        upserts: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        new_images: dict[str, list[dict[str, Any]]] = {}  # url -> its images, replacing the stored
        new_translations: dict[tuple[str, str], str] = {}
        to_index: list[str] = []  # new articles and those whose indexed text changed
        for item in batch:
            row = article_row(item)
            old = stored.get(item.url)
            if old is None:
                outcome = "stored/new"
            elif old["body_hash"] != row["body_hash"]:
                outcome = "stored/revised"
                revision = {k: old.get(k) for k in REVISION_COLUMNS}
                revisions.append({"article_url": item.url, **revision, "revised_at": utc_now_iso()})
                logger.info("revised: %s (old version kept in revisions)", item.url)
            elif any(old.get(k) != v for k, v in row.items() if k not in FETCH_COLUMNS):
                outcome = "stored/updated"
            else:
                outcome = "unchanged"
            outcomes.append(outcome)
            if outcome != "unchanged":
                if old is None or any(old.get(c) != row[c] for c in INDEXED_COLUMNS):
                    to_index.append(item.url)
                upserts.append(row)
                stored[item.url] = {**old, **row} if old else row
            item_images = image_rows(item)
            if images.get(item.url, []) != item_images:
                images[item.url] = new_images[item.url] = item_images
            for t in translation_rows(item):
                key = (t["story_id"], t["lang"])
                if translations.get(key) != t["url"]:
                    translations[key] = new_translations[key] = t["url"]
        # Articles first: images and revisions refer to them (foreign keys are on).
        changes = 0
        if upserts:
            # As few statements as sqlite-utils allows (it splits at 999 parameters): FTS5
            # writes its pending index at every statement, so fewer mean fewer segments.
            articles(db).upsert_all(upserts, pk="url", batch_size=len(upserts))
            changes += len(upserts)  # each row inserted or updated
        if to_index:  # not counted in changes: like articles_fts, the index follows the rows
            index_articles(conn, list(dict.fromkeys(to_index)))
        if revisions:
            db.table("revisions").insert_all(revisions)
            changes += len(revisions)
            for url in dict.fromkeys(r["article_url"] for r in revisions):
                keep = max(0, self.max_revisions)
                pruned = conn.execute(_PRUNE_REVISIONS, {"url": url, "keep": keep}).rowcount
                self.pruned += pruned
                changes += pruned
        if new_images:
            changes += conn.execute(_DELETE_IMAGES, [json.dumps(list(new_images))]).rowcount
            rows = [r for image_list in new_images.values() for r in image_list]
            if rows:
                db.table("images").insert_all(rows)
                changes += len(rows)
        if new_translations:
            db.table("translations").upsert_all(
                [
                    {"story_id": s, "lang": lang, "url": u}
                    for (s, lang), u in new_translations.items()
                ],
                pk=("story_id", "lang"),
            )
            changes += len(new_translations)
        return outcomes, changes

    def close_spider(self) -> Coroutine[Any, Any, None] | None:
        """The last batch; in a crawl, a coroutine done once the writer has written every
        batch (without a reactor, every batch is written on return)."""
        self.flush()
        return self.batches_written() if on_reactor() else None

    async def batches_written(self) -> None:
        while self.writing:
            await maybe_deferred_to_future(DeferredList(list(self.writing)))

    def spider_closed(self, spider: Spider, reason: str) -> Coroutine[Any, Any, None] | None:
        """Record how the run ended, with the crawl's stats, then let the database go. In a
        crawl, a coroutine; without a reactor (``ingest store``, the frontier's writer), done
        on return."""
        if self.db is None:
            return None
        if on_reactor():
            return self.record_end_last(reason)
        self.ended(_outcome(self.writer.submit(self.record_end(reason))))
        _outcome(self.writer.release())
        return None

    async def record_end_last(self, reason: str) -> None:
        """The run's record is the writer's last job: it waits for every other user of the
        writer (the incremental check's last seen rows) to be done, so the stats it saves
        count what they did (a storage fault in their last job, too)."""
        try:
            await self.writer.alone()
            try:
                await awaited(self.writer.submit(self.record_end(reason)))
            except Exception as exc:  # noqa: BLE001  (sorted out by ended)
                self.ended(exc)
        finally:
            await awaited(self.writer.release())

    def record_end(self, reason: str) -> Callable[[], None]:
        """The writer job that records the run's end, with the crawl's stats as they are now
        (taken on the crawl thread)."""
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        record = {
            "finished_at": utc_now_iso(),
            "finish_reason": final_reason({**stats, "finish_reason": reason}),
            "stats": json.dumps(stats, default=str, sort_keys=True),
        }

        def finish() -> None:
            try:
                self._db().table("runs").update(self.run_id, record)
            except sqlite3.OperationalError as exc:  # locked or full still: the log says
                logger.error("could not record the end of run %s: %s", self.run_id, exc)
                raise

        return finish

    def ended(self, outcome: object) -> None:
        if isinstance(outcome, sqlite3.OperationalError):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("ingest/db/run_not_recorded")
        elif isinstance(outcome, BaseException):
            raise outcome


def _outcome(future: Future[T]) -> T | BaseException:
    """What ``future`` gave, or the exception it raised (as a Deferred would pass it on)."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001  (handed on, as Deferred errbacks are)
        return exc


def _unwrap(got: T | Failure) -> T | BaseException:
    """A Deferred's result, a Failure as its exception."""
    if isinstance(got, Failure):
        return cast(BaseException, got.value)
    return got
