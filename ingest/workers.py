"""Where the CPU-bound article stages run: on the crawl thread, or in a pool of processes.

Scrapy runs callbacks and item pipelines on one thread, so parsing, extraction, cleaning,
normalisation and language detection (about 10 ms of CPU per page) serialised behind the crawl,
and a 2-core machine used one core. ``ExtractionPipeline`` hands each page to ``ArticleStages``:
parsing, then the per-article pipelines of ``INGEST_ARTICLE_PIPELINES`` (boilerplate, normalise,
language: no state shared between items), in order, unchanged. ``INGEST_WORKERS`` = N > 0 runs
that on N worker processes, 0 on the crawl thread: the same code either way, so the same output.
The pool only starts after ``INGEST_POOL_AFTER`` pages (run on the crawl thread meanwhile): small
crawls never pay its start-up.

What a stage does besides its item travels back with it and is replayed on the crawl: stats
increments, log records, a ``DropItem``. Each stage's CPU time (``time.thread_time`` where it
ran) goes to the stat ``ingest/cpu_us/<stage>``, read by ``benchmarks/pipeline_bench.py``.

One page may use at most ``INGEST_MAX_PAGE_CPU`` seconds of CPU for all its stages, in every
mode: a page over it is dropped (``ingest/dropped/cpu_limit``) and the crawl goes on. Where a
signal can reach the stages (the main thread of a worker, or of ``ingest crawl`` running them
itself) a CPU timer stops the page as soon as it is over; elsewhere it is dropped afterwards.
Fields extraction left out are counted (``ingest/fields/<flag>``), and a page over another
bound (``INGEST_MAX_PARAGRAPHS``) is ``ingest/dropped/<reason>``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import build_from_crawler, load_object

from ingest.extract import Limits, Page, PageRefused, cap_images, extract_page, page_selector
from ingest.items import ArticleItem

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

CPU_STAT = "ingest/cpu_us/"  # + stage name; microseconds of CPU, summed over the crawl
# Of those, the microseconds spent on the crawl thread (no pool, or before it was ready).
CRAWL_THREAD_CPU_STAT = CPU_STAT + "on_crawl_thread"


@dataclass
class Outcome:
    """One page through the stages: the item or why it was dropped, and what happened."""

    item: ArticleItem | None = None
    dropped: str | None = None  # the DropItem message
    drop_log_level: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)  # increments (numbers) or values
    seconds: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # logger, level, message


class _Collect(logging.Handler):
    """Keeps the records a worker's stages log, to be logged again by the crawl."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


class PageTooSlow(BaseException):
    """Raised into a page's stages by the CPU timer. A BaseException, so that no ``except
    Exception`` in the stages can swallow it."""


class CpuLimit:
    """At most ``seconds`` of CPU per page (0: no limit). In the main thread of its process
    an ITIMER_VIRTUAL timer raises ``PageTooSlow`` into the page once it is over (the process's
    user CPU: in a worker, the page's own); in any other thread only ``over`` tells,
    afterwards, from the thread's CPU time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.armed = False
        self.preemptive = (
            self.seconds > 0
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )
        if self.preemptive:
            signal.signal(signal.SIGVTALRM, self._expired)

    def _expired(self, signum: int, frame: Any) -> None:
        if self.armed:  # not a late signal after the page was done
            self.armed = False
            raise PageTooSlow

    @contextmanager
    def running(self) -> Iterator[None]:
        """The block that is one page's stages, timed."""
        if self.preemptive:
            self.armed = True
            signal.setitimer(signal.ITIMER_VIRTUAL, self.seconds)
        try:
            yield
        finally:
            self.armed = False
            if self.preemptive:
                signal.setitimer(signal.ITIMER_VIRTUAL, 0)

    def over(self, seconds: float) -> bool:
        return bool(self.seconds) and seconds > self.seconds


class ArticleStages:
    """Parsing plus the per-article pipelines, with their own (worker-local) stats."""

    def __init__(self, settings: dict[str, Any], pipelines: Iterable[str]) -> None:
        crawler = Crawler(Spider, Settings(settings))
        self.stats = MemoryStatsCollector(crawler)
        crawler.stats = self.stats  # the pipelines' from_crawler reads settings and stats only
        self.pipelines = [
            (path.rsplit(".", 2)[-2], build_from_crawler(load_object(path), crawler))
            for path in pipelines
        ]
        self.log: _Collect | None = None
        self.limits = Limits.from_settings(settings)
        self.cpu = CpuLimit(float(settings.get("INGEST_MAX_PAGE_CPU") or 0))

    def collect_logs(self, level: str) -> None:
        """In a worker: keep log records for the crawl (a worker has no log of its own)."""
        self.log = _Collect()
        root = logging.getLogger()
        root.addHandler(self.log)
        root.setLevel(level)

    def run(self, obj: Page | ArticleItem) -> Outcome:
        """Parse a page (an item is already parsed) and pass it through the pipelines, within
        the CPU limit."""
        out = Outcome()
        try:
            with self.cpu.running():
                self.stages(obj, out)
            if self.cpu.over(sum(out.seconds.values())):
                raise PageTooSlow
        except DropItem as exc:
            out.item, out.dropped, out.drop_log_level = None, str(exc), exc.log_level
        except PageRefused as exc:
            self.stats.inc_value(f"ingest/dropped/{exc.reason}")
            out.item, out.dropped, out.drop_log_level = None, str(exc), "INFO"
        except PageTooSlow:
            self.stats.inc_value("ingest/dropped/cpu_limit")
            limit = f"over INGEST_MAX_PAGE_CPU ({self.cpu.seconds:g} s of CPU)"
            out.item, out.dropped, out.drop_log_level = (
                None,
                f"cpu_limit: {limit}: {obj.url}",
                "INFO",
            )
        out.stats = dict(self.stats.get_stats())  # a copy: clear_stats empties the dict itself
        self.stats.clear_stats()
        if self.log is not None:
            out.logs, self.log.records = self.log.records, []
        return out

    def stages(self, obj: Page | ArticleItem, out: Outcome) -> None:
        """The work of ``run``: ``out.item`` set at the end, CPU seconds per stage as they go."""
        clock = time.thread_time
        start = clock()
        if isinstance(obj, Page):
            sel = page_selector(obj)
            parsed = clock()
            out.seconds["parse"] = parsed - start
            item = extract_page(obj, sel, self.limits)
            start = clock()
            out.seconds["extract"] = start - parsed
        else:
            item = obj
        for flag in item.flags:  # only extraction has flagged it so far
            self.stats.inc_value(f"ingest/fields/{flag}")
        for stage, pipeline in self.pipelines:
            try:
                item = pipeline.process_item(item)
            finally:
                now = clock()
                out.seconds[stage] = out.seconds.get(stage, 0.0) + now - start
                start = now
        cut = "images_cut" not in item.flags
        item.images = cap_images(item.images, self.limits, item.flags)
        if cut and "images_cut" in item.flags:  # the body's images, found by the cleaner
            self.stats.inc_value("ingest/fields/images_cut")
        out.item = item


_worker_stages: ArticleStages | None = None


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


def _init_worker(settings: dict[str, Any], pipelines: list[str], parent: int = 0) -> None:
    global _worker_stages
    if parent:  # first: a crawl killed while workers start leaves none behind either
        threading.Thread(
            target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
        ).start()
    _worker_stages = ArticleStages(settings, pipelines)
    _worker_stages.collect_logs(str(settings.get("LOG_LEVEL", "INFO")))
    from pipelines.language import langdetect_languages

    langdetect_languages()  # langdetect's profiles load (0.3 s) before the first page


def _ready() -> None:
    """Nothing: submitted once per worker to start the pool early."""


def _run_in_worker(obj: Page | ArticleItem) -> Outcome:
    assert _worker_stages is not None, "worker not initialised"
    return _worker_stages.run(obj)


class StagePool:
    """Runs ``ArticleStages`` in-process (``workers`` = 0) or in worker processes, and replays
    each outcome's stats and logs on the crawl.

    Workers are spawned, not forked: the crawl process has threads (the reactor's, a mirror
    server's) and open SQLite handles that a fork would copy mid-use. Spawning costs 1-2 s of
    CPU per crawl (each worker imports Scrapy, lxml, bs4 and loads langdetect's profiles), which
    a small crawl (the demo, the tests: a few dozen pages) never wins back. So the first
    ``start_after`` pages run here; the next one starts the pool, and pages keep running here
    until a worker is ready (no stall while they start). The same stages either way, so the
    same output.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        pipelines: list[str],
        workers: int = 0,
        stats: StatsCollector | None = None,
        start_after: int = 0,
    ) -> None:
        self.workers = max(0, workers)
        self.stats = stats
        self.settings = settings
        self.pipelines = pipelines
        self.start_after = max(0, start_after)
        self.pages = 0  # pages (and items) received so far
        self.local: ArticleStages | None = None
        self.executor: ProcessPoolExecutor | None = None
        self.ready: list[Future[None]] = []
        if self.workers and not self.start_after:
            self.start()

    def start(self) -> None:
        """Spawn the workers; they initialise while pages still run here."""
        self.executor = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.settings, self.pipelines, os.getpid()),
        )
        self.ready = [self.executor.submit(_ready) for _ in range(self.workers)]

    def pool_ready(self) -> bool:
        """Whether pages go to the workers: the pool runs and one worker has initialised."""
        return self.executor is not None and any(f.done() for f in self.ready)

    async def run(self, obj: Page | ArticleItem) -> ArticleItem:
        """The item ``obj`` becomes, computed here or in a worker; raises its ``DropItem``."""
        self.pages += 1
        if self.workers and self.executor is None and self.pages > self.start_after:
            self.start()
        if self.executor is not None and self.pool_ready():
            future: Future[Outcome] = self.executor.submit(_run_in_worker, obj)
            out = await asyncio.wrap_future(future)
        else:
            if self.local is None:
                self.local = ArticleStages(self.settings, self.pipelines)
            out = self.local.run(obj)
            if self.stats is not None:
                cpu = round(sum(out.seconds.values()) * 1e6)
                self.stats.inc_value(CRAWL_THREAD_CPU_STAT, cpu)
        self.replay(out)
        if out.dropped is not None or out.item is None:
            raise DropItem(out.dropped or "no item", log_level=out.drop_log_level)
        return out.item

    def replay(self, out: Outcome) -> None:
        """Stats, CPU times and log records of an outcome, as if the stages ran here."""
        for name, level, message in out.logs:
            logging.getLogger(name).log(level, "%s", message)
        if self.stats is None:
            return
        for key, value in out.stats.items():
            if isinstance(value, int) and not isinstance(value, bool):
                self.stats.inc_value(key, value)
            else:
                self.stats.set_value(key, value)
        for stage, seconds in out.seconds.items():
            self.stats.inc_value(CPU_STAT + stage, round(seconds * 1e6))

    def shutdown(self) -> None:
        """Stop the workers (pending stages are cancelled: the crawl is over)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
