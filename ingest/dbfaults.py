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
``ingest/dropped/<reason>``. The crawl thread waits while it retries: downloads pause too, which
is what should happen when nothing can be stored.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

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


def final_reason(stats: dict[str, Any]) -> str:
    """A crawl's finish reason, a storage fault's winning over the engine's: a fault met while
    the spider was already closing (its last batch) leaves the engine saying ``finished``."""
    halted = stats.get(HALTED_STAT)
    return halted if isinstance(halted, str) else str(stats.get("finish_reason", "?"))


def _log_close_failure(failure: Any) -> None:
    logger.error("could not close the crawl after a storage fault: %s", failure.value)
