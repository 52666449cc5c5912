"""What a crawl does when SQLite cannot write: wait out a lock, stop cleanly on a full disk.

Two database failures are not about one page and cannot be dropped like a bad page:

- ``db_locked`` (SQLITE_BUSY, SQLITE_LOCKED): another connection holds the write lock (a
  ``VACUUM``, a long ``BEGIN IMMEDIATE``, a second writer). SQLite's busy handler waits
  ``INGEST_DB_BUSY_TIMEOUT`` per statement, but not always: a deferred transaction whose read
  snapshot went stale while it waited gets SQLITE_BUSY at once. So the whole transaction is run
  again, from its first read, with back-off, until ``INGEST_DB_LOCK_TIMEOUT`` has passed.
- ``disk_full`` (SQLITE_FULL): the disk, or the database's ``max_page_count``. Waiting does not
  help.

Either way the failed transaction was rolled back (nothing half-written), the fault is counted
(``ingest/db/<reason>``, ``ingest/db/halted`` = the reason), logged, and the crawl is closed with
the reason as its finish reason; what could not be stored is counted as
``ingest/dropped/<reason>``.

Nothing here waits on the crawl (reactor) thread: a crawl's writes (storage batches, ``seen``
rows, the run's record) go through ``DbWriter``, one connection owned by one thread, which waits
out locks in that thread; the reactor goes on downloading meanwhile, and storage holds what
waits for the writer up to a cap (``pipelines/storage.py``). Reads on the crawl thread (the
incremental check, dedup) share one read-only connection, which WAL never blocks on a writer.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from sqlite_utils import Database
from twisted.internet.defer import Deferred
from twisted.python.threadable import isInIOThread

from ingest.store.db import default_db_path, open_db

logger = logging.getLogger(__name__)

T = TypeVar("T")

DB_LOCKED = "db_locked"
DISK_FULL = "disk_full"
FAULT_REASONS = frozenset({DB_LOCKED, DISK_FULL})
HALTED_STAT = "ingest/db/halted"  # the reason the crawl was closed for, once it was
BACKOFF_START = 0.05  # seconds before the first retry of a locked transaction; doubled each time
BACKOFF_MAX = 2.0
_LOCK_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class StorageFault(Exception):
    """A write that cannot succeed now: ``reason`` is ``db_locked`` or ``disk_full``."""

    def __init__(self, reason: str, what: str, cause: sqlite3.Error) -> None:
        super().__init__(f"{what}: {cause} ({reason})")
        self.reason = reason
        self.what = what
        self.cause = cause


def fault_reason(exc: sqlite3.Error) -> str | None:
    """``db_locked`` or ``disk_full`` for the errors a crawl stops on, None for any other."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    primary = code & 0xFF  # extended codes (SQLITE_BUSY_SNAPSHOT...) keep the primary low byte
    if primary in _LOCK_CODES:
        return DB_LOCKED
    if primary == sqlite3.SQLITE_FULL:
        return DISK_FULL
    return None


class DbGuard:
    """Runs one component's writes under the policy above. Reads ``INGEST_DB_BUSY_TIMEOUT``
    and ``INGEST_DB_LOCK_TIMEOUT`` (seconds)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats = crawler.stats
        self.busy_timeout = settings.getfloat("INGEST_DB_BUSY_TIMEOUT", 5.0)
        self.lock_timeout = settings.getfloat("INGEST_DB_LOCK_TIMEOUT", 60.0)

    @property
    def halted(self) -> str | None:
        """The reason the crawl was closed for a storage fault, if it was."""
        value = self.stats.get_value(HALTED_STAT)
        return value if isinstance(value, str) else None

    def run(self, action: Callable[[], T], what: str) -> T:
        """``action()`` (a whole transaction: it must roll back when it raises), run again on
        a locked database until ``INGEST_DB_LOCK_TIMEOUT``. Raises ``StorageFault`` when the
        lock outlasts it or the disk is full; other SQLite errors propagate unchanged."""
        deadline = time.monotonic() + self.lock_timeout
        delay = BACKOFF_START
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                reason = fault_reason(exc)
                if reason is None:
                    raise
                if reason != DB_LOCKED or time.monotonic() + delay > deadline:
                    raise StorageFault(reason, what, exc) from exc
                self.stats.inc_value("ingest/db/lock_retries")
                logger.warning("database locked (%s); trying again in %.2f s", what, delay)
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    def halt(self, fault: StorageFault, unstored: int = 0) -> None:
        """Count and log ``fault``, count ``unstored`` items as dropped, and close the crawl
        with the fault's reason (the first fault decides the reason)."""
        self.stats.inc_value(f"ingest/db/{fault.reason}")
        if unstored:
            self.stats.inc_value(f"ingest/dropped/{fault.reason}", unstored)
        logger.error(
            "storage failed, %s; %d article(s) not stored, closing the crawl (%s)",
            fault,
            unstored,
            fault.reason,
        )
        if self.halted is not None:
            return
        self.stats.set_value(HALTED_STAT, fault.reason)
        engine = self.crawler.engine
        if engine is None or engine.spider is None:
            return
        closing = deferred_from_coro(engine.close_spider_async(reason=fault.reason))
        closing.addErrback(_log_close_failure)

    def drop_unstored(self, count: int) -> None:
        """Count items that reached storage after the crawl was halted."""
        if count and (reason := self.halted) is not None:
            self.stats.inc_value(f"ingest/dropped/{reason}", count)
            logger.warning("%d article(s) not stored: the crawl stopped (%s)", count, reason)


def on_reactor() -> bool:
    """True on the thread of a running Twisted reactor (a crawl), where nothing may wait. A
    pipeline driven without one (``ingest store``, tests) waits for its writes instead. The
    reactor module is looked up, never imported: importing it would install one."""
    reactor = sys.modules.get("twisted.internet.reactor")
    return bool(reactor is not None and getattr(reactor, "running", False) and isInIOThread())  # type: ignore[no-untyped-call]


class DbWriter:
    """One crawl's writer connection, opened, used and closed by one thread of its own, and the
    read-only connection the crawl thread reads through. Shared by storage, the incremental
    middleware and dedup (``DbWriter.of(crawler)``); each user ``acquire``s it and ``release``s
    it once its last job is submitted, and the last release closes both connections after every
    job. Jobs run one at a time, in the order submitted, each a whole transaction under
    ``DbGuard``'s lock policy. Once a job met a storage fault, the jobs after it fail with that
    fault at once instead of waiting again.

    The order in which users close is thus not left to the order of Scrapy's signal handlers
    (run concurrently): a user that must write last (storage's record of the run, with the
    crawl's final stats) awaits ``alone()`` first."""

    def __init__(self, crawler: Crawler, path: str | Path) -> None:
        self.crawler = crawler
        self.path = Path(path)
        self.guard = DbGuard(crawler)
        self.users = 0
        self._alone: list[Deferred[None]] = []  # waiting for every other user to release
        self.fault: StorageFault | None = None  # the first fault a job met (writer thread)
        self.db: Database | None = None  # used on the writer thread only
        self._reader: Database | None = None  # used on the crawl thread only
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db-writer")

    @classmethod
    def of(cls, crawler: Crawler, path: str | Path | None = None) -> DbWriter:
        """The crawl's writer (made on first use; ``INGEST_DB``, else ``default_db_path()``,
        unless ``path``)."""
        writer = _WRITERS.get(crawler)
        if writer is None:
            if path is None:
                path = crawler.settings.get("INGEST_DB") or default_db_path()
            writer = _WRITERS[crawler] = cls(crawler, path)
        return writer

    def acquire(self) -> None:
        """Open the database (creating and migrating it) for one more user; waits."""
        self.users += 1
        if self.db is None:
            self.submit(self._open).result()

    def _open(self) -> None:
        self.db = open_db(self.path, busy_timeout=self.guard.busy_timeout)

    async def alone(self) -> None:
        """Wait (on the reactor) until every other user has released the writer, so every job
        they will ever submit is already queued ahead of the caller's next one."""
        if self.users > 1:
            waiter: Deferred[None] = Deferred()
            self._alone.append(waiter)
            await maybe_deferred_to_future(waiter)

    def release(self) -> Future[None]:
        """One user less; the last one closes both connections once every job is done. The
        future is done once the jobs submitted before the release are."""
        self.users -= 1
        if self.users <= 1:
            waiting, self._alone = self._alone, []
            for waiter in waiting:
                waiter.callback(None)
        if self.users > 0:
            return self.submit(lambda: None)
        if _WRITERS.get(self.crawler) is self:
            del _WRITERS[self.crawler]
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        done = self.submit(self._close)
        self._thread.shutdown(wait=False)
        return done

    def _close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def reader(self) -> Database | None:
        """The read-only connection of the crawl thread; None while the file does not exist."""
        if self._reader is None and self.path.exists():
            self._reader = open_db(self.path, read_only=True)
        return self._reader

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` on the writer thread after those submitted before it."""
        return self._thread.submit(job)

    def write(self, transaction: Callable[[Database], T], what: str) -> Future[T]:
        """Run ``transaction(db)`` on the writer thread under the lock policy; its future
        raises ``StorageFault`` when the database stays locked or is full."""

        def job() -> T:
            if self.fault is not None:
                raise StorageFault(self.fault.reason, what, self.fault.cause)
            db = self.db
            assert db is not None, "DbWriter.write before acquire"
            try:
                return self.guard.run(lambda: transaction(db), what)
            except StorageFault as fault:
                self.fault = fault
                raise

        return self.submit(job)


# The writer of each running crawl.
_WRITERS: weakref.WeakKeyDictionary[Crawler, DbWriter] = weakref.WeakKeyDictionary()


def deferred(future: Future[T]) -> Deferred[T]:
    """A Deferred fired on the reactor thread with ``future``'s outcome."""
    from twisted.internet import reactor

    result: Deferred[T] = Deferred()

    def fire(done: Future[T]) -> None:
        error = done.exception()
        if error is None:
            result.callback(done.result())
        else:
            result.errback(error)

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return result


async def awaited(future: Future[T]) -> T:
    """``future``'s result, awaited on the reactor (its exception raised)."""
    return await maybe_deferred_to_future(deferred(future))


def final_reason(stats: dict[str, Any]) -> str:
    """A crawl's finish reason, a storage fault's winning over the engine's: a fault met while
    the spider was already closing (its last batch) leaves the engine saying ``finished``."""
    halted = stats.get(HALTED_STAT)
    return halted if isinstance(halted, str) else str(stats.get("finish_reason", "?"))


def _log_close_failure(failure: Any) -> None:
    logger.error("could not close the crawl after a storage fault: %s", failure.value)
