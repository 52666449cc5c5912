"""Where the CPU-heavy pipelines do their work: on the crawl thread, or in a process pool.

Scrapy runs item pipelines on one thread, so parsing, extraction, cleaning, normalisation and
language detection (about 10 ms of CPU per page) would serialise behind the crawl and use one
core. Each of those pipelines is an ordinary Scrapy item pipeline, wired in ``ITEM_PIPELINES``;
its ``async def process_item`` awaits ``CpuPool.run(key, fn, *args)``, where ``fn`` is a
module-level function of plain data (picklable arguments and result). ``CpuPool`` is one per
crawl, shared by those pipelines: ``INGEST_WORKERS`` = N > 0 runs ``fn`` in one of N spawned
worker processes, 0 calls it here. The same function either way, so the same output. The
pipeline then counts its stats and logs from what ``fn`` returned, on the crawl thread.

The pool only starts after ``INGEST_POOL_AFTER`` pages (run here meanwhile, and until a worker
is ready): small crawls never pay its start-up. Each call's CPU time (``time.thread_time``
where it ran) is returned to the pipeline, which adds it to ``ingest/cpu_us/<stage>``.

One page may use at most ``INGEST_MAX_PAGE_CPU`` seconds of CPU over all its calls, in every
mode: a page over it is dropped (``ingest/dropped/cpu_limit``) and the crawl goes on. Where a
signal can reach the call (the main thread of a worker, or of ``ingest crawl`` running it
itself) a CPU timer stops it as soon as the page's budget is spent; elsewhere the page is
dropped afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.exceptions import DropItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

CPU_STAT = "ingest/cpu_us/"  # + stage name; microseconds of CPU, summed over the crawl
# Of those, the microseconds spent on the crawl thread (no pool, or before it was ready).
CRAWL_THREAD_CPU_STAT = CPU_STAT + "on_crawl_thread"

T = TypeVar("T")


def microseconds(seconds: float) -> int:
    """CPU seconds as the ``ingest/cpu_us/<stage>`` stats count them."""
    return round(seconds * 1e6)


class PageTooSlow(BaseException):
    """Raised into a call by the CPU timer. A BaseException, so that no ``except Exception``
    in the called code can swallow it."""


class CpuLimit:
    """Stops a call at a CPU budget. In the main thread of its process an ITIMER_VIRTUAL
    timer raises ``PageTooSlow`` into the call once the budget is spent (the process's user
    CPU: in a worker, the page's own); in any other thread only the returned time tells,
    afterwards."""

    def __init__(self) -> None:
        self.armed = False
        self.preemptive = (
            hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )
        if self.preemptive:
            signal.signal(signal.SIGVTALRM, self._expired)

    def _expired(self, signum: int, frame: Any) -> None:
        if self.armed:  # not a late signal after the call was done
            self.armed = False
            raise PageTooSlow

    @contextmanager
    def running(self, budget: float | None) -> Iterator[None]:
        """The block that is one call, stopped after ``budget`` CPU seconds (None: no limit)."""
        timed = self.preemptive and budget is not None
        if timed:
            self.armed = True
            signal.setitimer(signal.ITIMER_VIRTUAL, max(budget or 0.0, 1e-6))
        try:
            yield
        finally:
            self.armed = False
            if timed:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)


@dataclass(frozen=True)
class Timed(Generic[T]):
    """What a call returned and the CPU seconds it took; ``value`` is None when it was stopped
    by the page's CPU budget (``over``)."""

    value: T | None
    seconds: float
    over: bool = False


def run_timed(
    cpu: CpuLimit, budget: float | None, fn: Callable[..., T], args: tuple[Any, ...]
) -> Timed[T]:
    """``fn(*args)`` within ``budget`` CPU seconds, timed."""
    start = time.thread_time()
    try:
        with cpu.running(budget):
            value = fn(*args)
    except PageTooSlow:
        return Timed(None, time.thread_time() - start, over=True)
    seconds = time.thread_time() - start
    if budget is not None and seconds > budget:
        return Timed(None, seconds, over=True)
    return Timed(value, seconds)


# --- in a worker process -------------------------------------------------------------------------

_worker_cpu: CpuLimit | None = None

# Seconds between a worker's checks that the crawl that started it is still alive.
PARENT_POLL_INTERVAL = 0.5


def _exit_with_parent(parent: int) -> None:
    """Thread body: end this worker once ``parent`` has died (its pid is then no longer our
    parent's: the orphan was adopted by init or a subreaper). A crawl killed outright (SIGKILL,
    the OOM killer) never shuts its pool down; its workers (about 135 MB each) and, through
    their end of its pipe, the multiprocessing resource tracker ran on forever."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_INTERVAL)
    os._exit(1)  # no clean-up to do: the crawl that wanted the results is gone


def _init_worker(log: dict[str, Any], parent: int = 0) -> None:
    """A worker's start: the parent watchdog, its own log lines, langdetect's profiles."""
    global _worker_cpu
    if parent:  # first: a crawl killed while workers start leaves none behind either
        threading.Thread(
            target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
        ).start()
    _worker_cpu = CpuLimit()
    if log.get("LOG_ENABLED", True):
        # A worker logs for itself, in the crawl's format, to the crawl's log file or stderr.
        path = log.get("LOG_FILE")
        handler: logging.Handler = (
            logging.FileHandler(path, encoding=log.get("LOG_ENCODING") or "utf-8")
            if path
            else logging.StreamHandler(sys.stderr)
        )
        handler.setFormatter(logging.Formatter(log.get("LOG_FORMAT"), log.get("LOG_DATEFORMAT")))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(log.get("LOG_LEVEL") or "INFO")
    from ingest.extract.language import langdetect_languages

    langdetect_languages()  # langdetect's profiles load (0.3 s) before the first page


def _ready() -> None:
    """Nothing: submitted once per worker to start the pool early."""


def _run_in_worker(budget: float | None, fn: Callable[..., T], args: tuple[Any, ...]) -> Timed[T]:
    assert _worker_cpu is not None, "worker not initialised"
    return run_timed(_worker_cpu, budget, fn, args)


# --- in the crawl process ------------------------------------------------------------------------

LOG_SETTINGS = (
    "LOG_ENABLED",
    "LOG_FILE",
    "LOG_ENCODING",
    "LOG_FORMAT",
    "LOG_DATEFORMAT",
    "LOG_LEVEL",
)
_pools: WeakKeyDictionary[Crawler, CpuPool] = WeakKeyDictionary()


class CpuPool:
    """Runs module-level functions here (``workers`` = 0) or in worker processes; one per crawl.

    Workers are spawned, not forked: the crawl process has threads (the reactor's, a mirror
    server's) and open SQLite handles that a fork would copy mid-use. Spawning costs 1-2 s of
    CPU per crawl (each worker imports Scrapy, lxml, bs4 and loads langdetect's profiles), which
    a small crawl (the demo, the tests: a few dozen pages) never wins back. So the first
    ``start_after`` pages run here; the next one starts the pool, and calls keep running here
    until a worker is ready (no stall while they start).
    """

    def __init__(
        self,
        workers: int = 0,
        *,
        start_after: int = 0,
        page_cpu: float = 0.0,
        stats: StatsCollector | None = None,
        log: dict[str, Any] | None = None,
    ) -> None:
        self.workers = max(0, workers)
        self.start_after = max(0, start_after)
        self.page_cpu = max(0.0, page_cpu)  # CPU seconds per page, over all calls; 0: no limit
        self.stats = stats
        self.log = log or {}
        self.pages = 0  # pages counted so far (``page``)
        self.spent: dict[str, float] = {}  # CPU seconds per page key, until the page is done
        self.local: CpuLimit | None = None
        self.executor: ProcessPoolExecutor | None = None
        self.ready: list[Future[None]] = []
        if self.workers and not self.start_after:
            self.start()

    @classmethod
    def of(cls, crawler: Crawler) -> CpuPool:
        """The crawl's pool, made by the first pipeline that asks; shut down when the spider
        closes (after every pipeline's ``close_spider``)."""
        if (pool := _pools.get(crawler)) is None:
            settings = crawler.settings
            pool = cls(
                settings.getint("INGEST_WORKERS"),
                start_after=settings.getint("INGEST_POOL_AFTER"),
                page_cpu=settings.getfloat("INGEST_MAX_PAGE_CPU"),
                stats=crawler.stats,
                log={name: settings.get(name) for name in LOG_SETTINGS},
            )
            _pools[crawler] = pool
            crawler.signals.connect(pool.shutdown, signal=signals.spider_closed)
            for done in (signals.item_scraped, signals.item_dropped, signals.item_error):
                crawler.signals.connect(pool.page_done, signal=done)
        return pool

    def start(self) -> None:
        """Spawn the workers; they initialise while calls still run here."""
        self.executor = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.log, os.getpid()),
        )
        self.ready = [self.executor.submit(_ready) for _ in range(self.workers)]

    def pool_ready(self) -> bool:
        """Whether calls go to the workers: the pool runs and one worker has initialised."""
        return self.executor is not None and any(f.done() for f in self.ready)

    def page(self) -> None:
        """Count a page entering the first pipeline; the pool starts after ``start_after``."""
        self.pages += 1
        if self.workers and self.executor is None and self.pages > self.start_after:
            self.start()

    def page_done(self, item: Any, **_: Any) -> None:
        """Signal handler: an item left the pipelines; its CPU account is closed."""
        self.spent.pop(page_key(item), None)

    async def run(self, key: str, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
        """``fn(*args)`` and its CPU seconds, computed here or in a worker, charged to the page
        ``key`` (``page_key``). Raises ``DropItem`` (``ingest/dropped/cpu_limit``) when the
        page's CPU is over ``INGEST_MAX_PAGE_CPU``."""
        budget = self.page_cpu - self.spent.get(key, 0.0) if self.page_cpu else None
        if self.executor is not None and self.pool_ready():
            future: Future[Timed[T]] = self.executor.submit(_run_in_worker, budget, fn, args)
            timed = await asyncio.wrap_future(future)
        else:
            if self.local is None:
                self.local = CpuLimit()
            timed = run_timed(self.local, budget, fn, args)
            if self.stats is not None:
                self.stats.inc_value(CRAWL_THREAD_CPU_STAT, microseconds(timed.seconds))
        if self.page_cpu:
            self.spent[key] = self.spent.get(key, 0.0) + timed.seconds
        if timed.over:
            self.spent.pop(key, None)
            if self.stats is not None:
                self.stats.inc_value("ingest/dropped/cpu_limit")
            limit = f"over INGEST_MAX_PAGE_CPU ({self.page_cpu:g} s of CPU)"
            raise DropItem(f"cpu_limit: {limit}: {key}", log_level="INFO")
        return cast(T, timed.value), timed.seconds  # not over: the call's own value

    def shutdown(self) -> None:
        """Stop the workers (pending calls are cancelled: the crawl is over)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def page_key(item: Any) -> str:
    """The key a page's CPU is charged to: the URL it was downloaded from (an item's
    ``fetched_url``), the same from the spider's unparsed item to the stored one."""
    return str(getattr(item, "fetched_url", None) or getattr(item, "url", ""))
