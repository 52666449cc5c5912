"""One crawl over many workers: a Redis frontier (scrapy-redis) and the one writer into SQLite.

``ingest crawl SPIDER --frontier redis://HOST:PORT/DB`` makes this process a *worker*: the
scheduler queue and the duplicate filter are Redis keys shared by every worker of the crawl
(scrapy-redis' scheduler and dupefilter), and finished items go to a Redis list instead of
SQLite. ``ingest store --from redis://...`` is the *writer*: a Scrapy crawl of its own
(``FrontierWriter``) whose spider yields that list's items into the dedup and storage pipelines
(``WRITER_PIPELINES``), so the per-crawl dedup and the run records live with the one process
that owns the file.

Keys, under ``ingest:<crawl>`` (``<crawl>`` = INGEST_CRAWL_ID, default the spider's name):
``requests`` (list: the shared queue), ``dupefilter`` (set), ``inflight:<worker>`` (list: the
requests that worker took and has not finished), ``alive:<worker>`` (``busy``/``idle``,
expiring after INGEST_FRONTIER_DEAD_AFTER seconds unless refreshed), ``workers`` (set),
``items`` (list: finished items, JSON), ``processing`` (list: the writer's current batch),
``runs`` (hash: each worker's run record), ``activity`` (Redis time of the last pop or push),
``finished`` (set when a worker judged the crawl over). All of them stay until the writer has
drained every item of a finished crawl; it then deletes them.

At least once, nowhere lost: a worker takes a request with RPOPLPUSH into its in-flight list
and removes it (LREM) only when Scrapy has finished the response, its callback's output and
every item's pipelines, the last of which pushed the item; a worker that dies (its ``alive``
key expires) has its in-flight list put back on the queue by any live worker, or by itself when
it restarts. The writer moves a batch into ``processing``, yields it, asks storage to commit
it (the ``storage_flush`` signal), then deletes it; a writer killed in between finds the batch
there on restart and stores it again (an upsert by URL: unchanged rows are not written twice).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider, DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy_redis.queue import Base as RedisQueueBase
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from sqlite_utils import Database
from twisted.internet import task
from twisted.internet.defer import Deferred

from ingest.crawl.locks import lock_path, spider_lock
from ingest.dates import utc_now_iso
from ingest.items import ArticleItem, Image
from ingest.store.db import immediate_transaction
from ingest.store.dbfaults import DbWriter, StorageFault, deferred, final_reason
from ingest.store.signals import storage_flush

logger = logging.getLogger(__name__)

EXIT_FRONTIER_LOST = 3  # the Redis frontier went away
RAW = "frontier_raw"  # request meta: the queue entry this request came from
LOST = "frontier_lost"  # finish reason of a worker that lost Redis
# Pipelines a worker runs: parsing, cleaning, language and validation; dedup, provenance and
# storage are the writer's (they read SQLite).
WORKER_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 50,
    "pipelines.boilerplate.BoilerplatePipeline": 100,
    "pipelines.normalise.NormalisePipeline": 150,
    "pipelines.language.LanguagePipeline": 200,
    "pipelines.validation.ValidationPipeline": 300,
    "pipelines.dedup.DedupPipeline": None,
    "pipelines.provenance.ProvenancePipeline": None,
    "pipelines.storage.SQLitePipeline": None,
    "ingest.crawl.frontier.FrontierItemPipeline": 900,
}


class FrontierError(Exception):
    """Redis cannot be reached, or holds no crawl to drain."""


def redacted(url: str) -> str:
    """The Redis URL without its password, for logs and run records."""
    split = urlsplit(url)
    if split.password is None:
        return url
    host = split.hostname or ""
    netloc = f"{split.username or ''}:***@{host}" + (f":{split.port}" if split.port else "")
    return urlunsplit(split._replace(netloc=netloc))


def connect(url: str, timeout: float = 10.0) -> redis.Redis:
    """A client for ``url`` that gives up after ``timeout`` seconds, never hangs."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise FrontierError(f"not a Redis URL: {redacted(url)} (expected redis://HOST:PORT/DB)")
    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise FrontierError(f"Redis at {redacted(url)} cannot be reached: {exc}") from exc
    return client


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one crawl."""

    crawl: str

    def __getattr__(self, name: str) -> str:
        return f"ingest:{self.crawl}:{name}"

    def inflight(self, worker: str) -> str:
        return f"ingest:{self.crawl}:inflight:{worker}"

    def alive(self, worker: str) -> str:
        return f"ingest:{self.crawl}:alive:{worker}"


def frontier_settings(
    url: str, spider: str, crawl_id: str = "", worker_id: str = ""
) -> dict[str, Any]:
    """Scrapy settings that make a crawl a frontier worker (``ingest crawl --frontier``)."""
    crawl = crawl_id or spider
    keys = Keys(crawl)
    return {
        "INGEST_FRONTIER": url,
        "INGEST_CRAWL_ID": crawl,
        "INGEST_WORKER_ID": worker_id or f"{socket.gethostname()}-{os.getpid()}",
        "SCHEDULER": "ingest.crawl.frontier.FrontierScheduler",
        "SCHEDULER_QUEUE_CLASS": "ingest.crawl.frontier.FrontierQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # the queue outlives each worker; the writer removes it
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # a blocking pop would stall the reactor
        "REDIS_URL": url,
        "JOBDIR": None,  # the state is in Redis
        "ITEM_PIPELINES": WORKER_PIPELINES,
        # Incremental checks read and write SQLite's seen table: the writer's (docs/scale.md).
        "DOWNLOADER_MIDDLEWARES": {"ingest.crawl.incremental.IncrementalMiddleware": None},
        "EXTENSIONS": {"ingest.crawl.frontier.FrontierExtension": 100},
    }


class Frontier:
    """This worker's view of the crawl: client, keys, identity. One per crawler."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.url = settings.get("INGEST_FRONTIER")
        self.keys = Keys(settings.get("INGEST_CRAWL_ID"))
        self.worker = settings.get("INGEST_WORKER_ID")
        self.idle = settings.getfloat("INGEST_FRONTIER_IDLE", 10.0)
        self.dead_after = settings.getfloat("INGEST_FRONTIER_DEAD_AFTER", 10.0)
        self.heartbeat = settings.getfloat("INGEST_FRONTIER_HEARTBEAT", 1.0)
        self.timeout = settings.getfloat("INGEST_FRONTIER_TIMEOUT", 10.0)
        self.redis = connect(self.url, self.timeout)
        self.lost: str | None = None  # the error, once Redis went away

    @classmethod
    def of(cls, crawler: Crawler) -> Frontier:
        found = getattr(crawler, "_ingest_frontier", None)
        if found is None:
            found = cls(crawler)
            crawler._ingest_frontier = found  # type: ignore[attr-defined]
        return cast(Frontier, found)

    def now(self) -> float:
        """Redis' clock: workers on several hosts agree on it."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def lose(self, exc: Exception) -> None:
        """Redis went away: say so once and close the crawl (exit status non-zero)."""
        if self.lost is not None:
            return
        self.lost = f"Redis at {redacted(self.url)} went away: {exc}"
        logger.error("%s; stopping this worker", self.lost)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=LOST))

    def guarded(self, action: Callable[[], Any], default: Any = None) -> Any:
        """``action()``, or ``default`` once Redis is lost (the crawl is then closing)."""
        if self.lost is not None:
            return default
        try:
            return action()
        except redis.RedisError as exc:
            self.lose(exc)
            return default

    def beat(self, busy: bool) -> None:
        """Say this worker is alive (and whether it has work) for ``dead_after`` seconds."""
        pipe = self.redis.pipeline()
        pipe.set(
            self.keys.alive(self.worker), "busy" if busy else "idle", px=int(self.dead_after * 1000)
        )
        pipe.sadd(self.keys.workers, self.worker)
        pipe.execute()

    def put_back(self, worker: str) -> int:
        """Move ``worker``'s in-flight requests back to the shared queue; how many."""
        moved = 0
        while self.redis.rpoplpush(self.keys.inflight(worker), self.keys.requests) is not None:
            moved += 1
        if moved:
            logger.warning(
                "put %d in-flight request(s) of worker %s back in the queue", moved, worker
            )
            self.touch()
        return moved

    def reclaim_dead(self) -> int:
        """Put back the in-flight requests of every worker whose heartbeat expired."""
        moved = 0
        for raw in cast(set[bytes], self.redis.smembers(self.keys.workers)):
            worker = raw.decode()
            if worker != self.worker and not self.redis.exists(self.keys.alive(worker)):
                moved += self.put_back(worker)
                if not self.redis.llen(self.keys.inflight(worker)):
                    self.redis.srem(self.keys.workers, worker)
        return moved

    def touch(self) -> None:
        self.redis.set(self.keys.activity, str(self.now()))

    def others_busy(self) -> bool:
        for raw in cast(set[bytes], self.redis.smembers(self.keys.workers)):
            worker = raw.decode()
            if worker != self.worker and self.redis.get(self.keys.alive(worker)) == b"busy":
                return True
        return False

    def record_run(self, run: dict[str, Any]) -> None:
        self.redis.hset(self.keys.runs, self.worker, json.dumps(run, default=str, sort_keys=True))


class FrontierQueue(RedisQueueBase):  # type: ignore[misc]
    """The shared FIFO queue; a pop moves the request into this worker's in-flight list."""

    inflight_key = ""

    def _encode_request(self, request: Request) -> bytes:
        if RAW in request.meta:
            request = request.replace(meta={k: v for k, v in request.meta.items() if k != RAW})
        return cast(bytes, super()._encode_request(request))

    def __len__(self) -> int:
        return cast(int, self.server.llen(self.key))

    def push(self, request: Request) -> None:
        self.server.lpush(self.key, self._encode_request(request))

    def pop(self, timeout: int = 0) -> Request | None:
        data = self.server.rpoplpush(self.key, self.inflight_key)
        if data is None:
            return None
        request = cast(Request, self._decode_request(data))
        request.meta[RAW] = data
        return request


class FrontierScheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis' scheduler with in-flight lists, and Redis errors that end the worker
    instead of looping in the engine."""

    frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        frontier = Frontier.of(crawler)  # connects first: a clear error when Redis is away
        instance = cast(Self, super().from_crawler(crawler))
        instance.frontier = frontier
        return instance

    def open(self, spider: Spider) -> None:
        super().open(spider)
        frontier = self.frontier
        self.queue.inflight_key = frontier.keys.inflight(frontier.worker)
        frontier.beat(busy=True)
        # A restart of this worker: what its previous life held goes back first.
        frontier.put_back(frontier.worker)
        frontier.reclaim_dead()
        frontier.touch()

    def enqueue_request(self, request: Request) -> bool:
        def push() -> bool:
            added = bool(super(FrontierScheduler, self).enqueue_request(request))
            raw = request.meta.get(RAW)
            if raw is not None:
                # A retry, redirect or mirror rewrite of a request this worker holds: the new
                # one is in the shared queue now, so the old entry is done with.
                self.server.lrem(self.queue.inflight_key, 1, raw)
            if added:
                self.frontier.touch()
            return added

        return bool(self.frontier.guarded(push, default=False))

    def next_request(self) -> Request | None:
        request = self.frontier.guarded(self.queue.pop)
        if request is not None:
            if self.stats:
                self.stats.inc_value("scheduler/dequeued/redis")
            self.frontier.guarded(self.frontier.touch)
        return cast(Request | None, request)

    def has_pending_requests(self) -> bool:
        return bool(self.frontier.guarded(lambda: len(self) > 0, default=False))

    def close(self, reason: str) -> None:
        if reason == "finished":
            # Everything taken was finished; anything left is a request no callback closed.
            self.frontier.guarded(lambda: self.server.delete(self.queue.inflight_key))


class FrontierExtension:
    """A worker's heartbeat, the removal of finished requests from its in-flight list, the
    end of the crawl (queue empty, no worker busy, quiet for INGEST_FRONTIER_IDLE seconds),
    and its run record (the writer stores it in ``runs``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.frontier = Frontier.of(crawler)
        self.loop: task.LoopingCall | None = None
        self.started_at = utc_now_iso()
        self.run_id = f"{self.frontier.keys.crawl}-{self.frontier.worker}-{int(time.time())}"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        engine = self.crawler.engine
        assert engine is not None
        slot = engine.scraper.slot
        assert slot is not None
        finish = slot.finish_response

        # Scrapy calls finish_response once a response (or failure) has been through the
        # callback and every item it gave through the pipelines (tests/test_frontier.py pins it).
        def finished(result: Any, request: Request) -> None:
            finish(result, request)
            raw = request.meta.get(RAW)
            if raw is not None:
                self.frontier.guarded(
                    lambda: self.frontier.redis.lrem(
                        self.frontier.keys.inflight(self.frontier.worker), 1, raw
                    )
                )

        slot.finish_response = finished  # type: ignore[method-assign]
        self.frontier.guarded(lambda: self.frontier.record_run(self.run(spider)))
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.frontier.heartbeat, now=False)

    def run(self, spider: Spider, **end: Any) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "spider": spider.name,
            "trigger": self.crawler.settings.get("INGEST_TRIGGER", "manual"),
            "args": json.dumps({**getattr(spider, "run_args", {}), "worker": self.frontier.worker}),
            "started_at": self.started_at,
            **end,
        }

    def tick(self) -> None:
        """Heartbeat; wakes the engine when the shared queue has work (its own beat is 5 s)."""
        engine = self.crawler.engine
        if engine is None or self.frontier.lost:
            return
        idle = engine.spider_is_idle()
        self.frontier.guarded(lambda: self.frontier.beat(busy=not idle))
        if idle and self.frontier.guarded(
            lambda: self.frontier.redis.llen(self.frontier.keys.requests), 0
        ):
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()

    def spider_idle(self, spider: Spider) -> None:
        frontier = self.frontier
        if frontier.lost:
            return

        def over() -> bool:
            frontier.beat(busy=False)
            frontier.reclaim_dead()
            if frontier.redis.exists(frontier.keys.finished):
                return True
            if frontier.redis.llen(frontier.keys.requests) or frontier.others_busy():
                return False
            last = float(frontier.redis.get(frontier.keys.activity) or 0)
            if frontier.now() - last < frontier.idle:
                return False
            frontier.redis.set(frontier.keys.finished, utc_now_iso())
            logger.info(
                "frontier: queue empty and no worker busy for %.0f s: crawl over", frontier.idle
            )
            return True

        if not frontier.guarded(over, default=True):
            raise DontCloseSpider

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        end = {
            "finished_at": utc_now_iso(),
            "finish_reason": reason,
            "stats": json.dumps(stats, default=str, sort_keys=True),
        }
        self.frontier.guarded(lambda: self.frontier.record_run(self.run(spider, **end)))
        self.frontier.guarded(
            lambda: self.frontier.redis.delete(self.frontier.keys.alive(self.frontier.worker))
        )


def item_to_json(item: ArticleItem) -> str:
    return json.dumps(asdict(item), ensure_ascii=False)


def item_from_json(text: str | bytes) -> ArticleItem:
    data = json.loads(text)
    data["images"] = [Image(**image) for image in data.get("images", [])]
    return ArticleItem(**data)


class FrontierItemPipeline:
    """Reads every field; writes none. Pushes each finished article to the crawl's ``items``
    list for the writer (``ingest store --from``): a worker never opens SQLite."""

    def __init__(self, crawler: Crawler) -> None:
        self.frontier = Frontier.of(crawler)
        assert crawler.stats is not None
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        try:
            self.frontier.redis.lpush(self.frontier.keys.items, item_to_json(item))
        except redis.RedisError as exc:
            self.frontier.lose(exc)
            raise DropItem(f"frontier lost: {item.url}") from exc
        self.stats.inc_value("ingest/frontier/pushed")
        return item


# The writer: a crawl of its own whose spider reads Redis instead of the web.
WRITER_PIPELINES = {
    **{name: None for name in WORKER_PIPELINES},
    "pipelines.dedup.DedupPipeline": 400,
    "pipelines.storage.SQLitePipeline": 900,
}
NOT_COMMITTED = "batch_not_stored"  # finish reason: storage did not commit a batch, no fault


def writer_settings(project: Settings) -> dict[str, Any]:
    """Scrapy settings of the writer's crawl (``ingest store --from``): dedup and storage only,
    the worker stages off (they ran in the workers), no downloads and so no ``seen`` rows."""
    return {
        "ITEM_PIPELINES": WRITER_PIPELINES,
        "DOWNLOADER_MIDDLEWARES": {
            **project.getdict("DOWNLOADER_MIDDLEWARES"),
            "ingest.crawl.incremental.IncrementalMiddleware": None,
        },
    }


class FrontierWriter(Spider):
    """The writer of a frontier crawl. ``start`` takes the crawl's finished items from Redis
    a batch at a time (moved into ``processing``), yields them into the item pipelines (dedup,
    storage), and deletes the batch from Redis only once every article of it that reached
    storage is committed: storage flushes when sent ``storage_flush`` and counts each article
    it commits. Once the crawl is over and drained, it copies the workers' run records into
    ``runs`` and deletes the crawl's keys.

    Run by class (``run_writer``), never by name: it is no spider a user crawls, so it is not in
    SPIDER_MODULES. Its name is the crawl's id (the writer's row in ``runs``)."""

    name = "frontier-writer"

    def __init__(self, url: str, crawl_id: str, poll: float = 0.5, **kwargs: Any) -> None:
        super().__init__(name=crawl_id, **kwargs)
        self.url = url
        self.crawl_id = crawl_id
        self.keys = Keys(crawl_id)
        self.poll = poll
        self.writer_id = f"{socket.gethostname()}-{os.getpid()}"
        # Stored by storage as the run's args; "writer" finds this run's row.
        self.run_args = {"role": "writer", "frontier": redacted(url), "writer": self.writer_id}
        self.unfinished = 0  # items of this batch still in the item pipelines
        self.reached_storage = 0  # items of this batch that passed every pipeline
        self.failed = 0  # items of this batch a pipeline raised on (not a drop)
        self.finished: Deferred[None] | None = None  # fired when ``unfinished`` reaches 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.item_stored, signal=signals.item_scraped)
        crawler.signals.connect(spider.item_done, signal=signals.item_dropped)
        crawler.signals.connect(spider.item_failed, signal=signals.item_error)
        return spider

    def item_stored(self) -> None:
        self.reached_storage += 1
        self.item_done()

    def item_failed(self) -> None:
        self.failed += 1
        self.item_done()

    def item_done(self) -> None:
        self.unfinished -= 1
        if self.unfinished == 0 and self.finished is not None:
            finished, self.finished = self.finished, None
            finished.callback(None)

    @property
    def stats(self) -> StatsCollector:
        assert self.crawler.stats is not None
        return self.crawler.stats

    async def start(self) -> AsyncIterator[ArticleItem]:
        settings = self.crawler.settings
        batch_size = max(1, settings.getint("INGEST_BATCH_SIZE", 100))
        logger.info(
            "writer: draining crawl %s from %s into %s",
            self.crawl_id,
            redacted(self.url),
            settings.get("INGEST_DB"),
        )
        try:
            client = connect(self.url, settings.getfloat("INGEST_FRONTIER_TIMEOUT", 10.0))
            await self.write_runs(self.own_run)
            while True:
                raw = self.take(client, batch_size)
                if raw:
                    self.unfinished, self.reached_storage, self.failed = len(raw), 0, 0
                    for data in raw:
                        yield item_from_json(data)
                    await self.commit(len(raw))
                    client.delete(self.keys.processing)  # committed: now it may leave Redis
                    self.stats.inc_value("ingest/frontier/drained", len(raw))
                elif self.over(client):
                    break
                else:
                    await sleep(self.poll)
            records = cast(dict[bytes, bytes], client.hgetall(self.keys.runs)).values()
            await self.write_runs(lambda db: self.worker_runs(db, records))
            client.delete(*cast(list[bytes], client.keys(f"ingest:{self.crawl_id}:*")))
        except (redis.RedisError, FrontierError) as exc:
            logger.error(
                "writer: Redis at %s went away: %s; stored batches stay stored",
                redacted(self.url),
                exc,
            )
            raise CloseSpider(LOST) from exc
        logger.info(
            "writer: crawl %s drained, %s stored",
            self.crawl_id,
            self.stats.get_value("ingest/stored", 0),
        )

    def take(self, client: redis.Redis, batch_size: int) -> list[bytes]:
        """The unfinished batch a killed writer left in ``processing``, else the next one."""
        raw = cast(list[bytes], client.lrange(self.keys.processing, 0, -1))
        if raw:
            logger.warning("writer: %d item(s) of an unfinished batch stored again", len(raw))
            return raw
        pipe = client.pipeline()
        for _ in range(batch_size):
            pipe.rpoplpush(self.keys.items, self.keys.processing)
        return [r for r in pipe.execute() if r is not None]

    def over(self, client: redis.Redis) -> bool:
        """The crawl is over, everything drained, and every worker has recorded its run (they
        do as they close, after the crawl was judged over)."""
        if not client.exists(self.keys.finished) or client.llen(self.keys.items):
            return False
        members = cast(set[bytes], client.smembers(self.keys.workers))
        return not any(client.exists(self.keys.alive(w.decode())) for w in members)

    async def commit(self, taken: int) -> None:
        """Wait until every article of the batch that reached storage is committed; close the
        crawl (the batch stays in Redis) when one is not."""
        if self.unfinished:
            self.finished = Deferred()
            await maybe_deferred_to_future(self.finished)
        before = self.committed()
        await self.crawler.signals.send_catch_log_async(signal=storage_flush)
        committed = self.committed() - before
        if committed == self.reached_storage and not self.failed:
            return
        reason = final_reason({**self.stats.get_stats(), "finish_reason": NOT_COMMITTED})
        logger.error(
            "writer: %d of %d article(s) of the batch not stored (%s); the batch stays in Redis",
            self.reached_storage - committed + self.failed,
            taken,
            reason,
        )
        raise CloseSpider(reason)

    def committed(self) -> int:
        """Articles storage has committed so far, written or found unchanged."""
        stats = self.stats
        return int(stats.get_value("ingest/stored", 0)) + int(
            stats.get_value("ingest/unchanged", 0)
        )

    async def write_runs(self, transaction: Callable[[Database], object]) -> None:
        """``transaction`` on the crawl's writer thread (the connection storage writes with),
        opened like every writer transaction that upserts through sqlite-utils."""
        writer = DbWriter.of(self.crawler)

        def immediate(db: Database) -> None:
            with immediate_transaction(db):
                transaction(db)

        try:
            await maybe_deferred_to_future(deferred(writer.write(immediate, "runs")))
        except StorageFault as fault:
            writer.guard.halt(fault)
            raise CloseSpider(fault.reason) from fault

    def own_run(self, db: Database) -> None:
        """This writer's row in ``runs`` (storage inserted it) belongs to the crawl."""
        db.execute(
            "update runs set crawl_id = ? where spider = ? and finished_at is null "
            "and json_extract(args, '$.writer') = ?",
            [self.crawl_id, self.name, self.writer_id],
        )

    def worker_runs(self, db: Database, records: Iterable[bytes]) -> None:
        """The workers' run records, as they recorded them in Redis, in ``runs``."""
        for record in records:
            run = json.loads(record)
            db.table("runs").upsert({**run, "crawl_id": self.crawl_id}, pk="id")


def crawls(client: redis.Redis) -> list[str]:
    """Crawl ids with workers registered in this Redis."""
    found = {
        key.decode().split(":")[1] for key in cast(list[bytes], client.keys("ingest:*:workers"))
    }
    return sorted(found)


def store(
    url: str,
    db_path: Path,
    crawl_id: str = "",
    *,
    wait: float = 60.0,
    poll: float = 0.5,
    settings_overrides: dict[str, Any] | None = None,
) -> int:
    """Drain a crawl's items into SQLite until the crawl is over and every item is stored.

    ``wait``: seconds to wait for a crawl to appear. Returns the exit status (0: drained).
    """
    settings = writer_crawl_settings(db_path, settings_overrides or {})
    client = connect(url, settings.getfloat("INGEST_FRONTIER_TIMEOUT", 10.0))
    deadline = time.monotonic() + wait
    while not crawl_id:
        found = crawls(client)
        if len(found) > 1:
            raise FrontierError(f"several crawls in {redacted(url)}: {', '.join(found)}; name one")
        if found:
            crawl_id = found[0]
        elif time.monotonic() > deadline:
            raise FrontierError(f"no crawl in {redacted(url)} after {wait:.0f} s")
        else:
            time.sleep(poll)
    client.close()
    # One writer per crawl and database, whether the crawl was named or found: two would share
    # the ``processing`` list, and one could delete the other's batch before it is committed.
    try:
        lock_path(db_path, crawl_id)
    except ValueError as exc:  # a crawl id that cannot name a lock file
        raise FrontierError(str(exc)) from exc
    with spider_lock(db_path, crawl_id):  # SpiderLocked: another writer has it
        stats = run_writer(settings, url, crawl_id, poll)
    reason = final_reason(stats) if stats else "the writer did not run"
    if reason == "finished":
        return 0
    if reason == LOST:
        return EXIT_FRONTIER_LOST
    logger.error("writer stopped (%s); the unfinished batch stays in Redis", reason)
    return 1


def writer_crawl_settings(db_path: Path, overrides: dict[str, Any]) -> Settings:
    """The project's settings for a writer into ``db_path``: ``overrides`` (``-s``), then the
    writer's own (``writer_settings``) on top."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.set("INGEST_DB", str(db_path), priority="cmdline")
    for name, value in {**overrides, **writer_settings(settings)}.items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_writer(settings: Settings, url: str, crawl_id: str, poll: float) -> dict[str, Any]:
    """Run ``FrontierWriter`` as this process' one crawl (Scrapy's ``CrawlerProcess``, as
    ``ingest crawl`` runs spiders); its final stats and finish reason (empty if it never ran)."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FrontierWriter)
    results: dict[str, Any] = {}

    def keep(spider: Spider, reason: str) -> None:
        # `reason`, not the stat: CoreStats may set finish_reason after this handler runs.
        assert crawler.stats is not None
        results.update(crawler.stats.get_stats(), finish_reason=reason)

    crawler.signals.connect(keep, signal=signals.spider_closed)
    process.crawl(crawler, url=url, crawl_id=crawl_id, poll=poll)
    process.start()
    return results


def run_worker(
    spiders: tuple[str, ...] | list[str],
    url: str,
    crawl_id: str,
    worker_id: str,
    spider_args: dict[str, str],
    overrides: dict[str, Any],
) -> int:
    """``ingest crawl SPIDER --frontier URL``: one worker; its exit status (0: crawl over)."""
    if len(spiders) != 1:
        raise FrontierError("a frontier crawl runs one spider: start one worker per spider")
    (spider,) = spiders
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.utils.project import get_project_settings

    from ingest.crawl.run import run_crawl

    connect(url).close()  # a clear error now rather than one logged by Scrapy
    project = get_project_settings()
    settings = frontier_settings(url, spider, crawl_id, worker_id)
    for name in ("DOWNLOADER_MIDDLEWARES", "EXTENSIONS"):
        settings[name] = {**project.getdict(name), **settings[name]}
    results = run_crawl(
        [spider], Path(project.get("INGEST_DB")), spider_args, {**overrides, **settings}
    )
    reason = results.get(spider, {}).get("finish_reason")
    if reason == "finished":
        return 0
    if reason == LOST:
        logger.error("worker stopped: Redis went away (%s)", redacted(url))
        return EXIT_FRONTIER_LOST
    logger.error("worker stopped: %s", reason or "the crawl did not run")
    return 1
