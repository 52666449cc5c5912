"""The whole pipeline measured end to end on real pages served on 127.0.0.1, against trafilatura.

Why: extraction speed alone (extract_bench.py) says nothing about what a crawl sustains: the
download, Scrapy, cleaning, normalisation, language, dedup and storage all share two cores. This
script crawls N pages with the project's article path (``NewsSpider.parse_article`` and every
pipeline of ``ingest/settings.py``) into a fresh database, each crawl in a fresh child process
(so its peak RSS is its own), and prints articles/s, CPU ms per article and stage, peak RSS, the
ratio to trafilatura's extraction alone on the same pages, and the storage path alone.

The pages: the 181 of ``../shared/data/article-extraction-benchmark`` (not in the repo: when
missing, the script says so and exits 0), repeated under distinct URLs ``/a/<i>.html``. Each copy
is made a distinct article by two changes: its ``<link rel=canonical>`` and ``og:url`` are
removed (the served URL is then the article's key), and a number (`` 000123``, the copy's
index) is inserted after one word of its article text that occurs once in the page (the body
hash differs, so dedup keeps it; digit-only tokens are ignored by language detection). Pages
our pipeline drops (no title, too short...) or where no such word is found are left out, so
every page served is one stored article.

Usage (from the repo root; ``make bench``):
    python benchmarks/pipeline_bench.py [--n 1000 --n 10000] [--workers 0 --workers 1 ...]

Crawl settings: the project's, with politeness off for loopback (robots.txt not obeyed, no
delay, no AutoThrottle, 32 concurrent requests). The page server runs in this (parent) process.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
PAGE_PATH_RE = re.compile(r"^/a/(\d+)\.html$")
# Benchmark page preparation only (not extraction): the two head tags that name another URL.
CANONICAL_RE = re.compile(
    r"<link\b[^>]*\brel=[\"']?canonical\b[^>]*>|<meta\b[^>]*\bog:url\b[^>]*>", re.IGNORECASE
)
WORD_RE = re.compile(r"\b[^\W\d_]{6,}\b")
LOOPBACK_SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": False,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "LOG_LEVEL": "ERROR",
    "INGEST_PROGRESS": False,
    "TELNETCONSOLE_ENABLED": False,
}
STAGES = (  # (label, stats keys) in article order; values are ingest/cpu_us/<key>
    ("parse (lxml)", ("parse",)),
    ("extraction", ("extract",)),
    ("cleaning (boilerplate + normalise)", ("boilerplate", "normalise")),
    ("language", ("language",)),
)


# --- the pages ---------------------------------------------------------------------------------


def load_pages(data: Path) -> list[tuple[str, str]]:
    """(id, html) of every benchmark page, canonical and og:url removed."""
    pages = []
    for path in sorted((data / "html").glob("*.html.gz")):
        html = gzip.decompress(path.read_bytes()).decode("utf-8")
        pages.append((path.name.removesuffix(".html.gz"), CANONICAL_RE.sub("", html)))
    return pages


def downloaded(url: str, html: str) -> Any:
    """A page as a spider yields it (``ArticleItem`` with its HTML, not parsed yet)."""
    from ingest.items import ArticleItem

    host = url.split("/")[2]
    return ArticleItem(url=url, fetched_url=url, site=host, fetched_at=now_iso(), html=html)


def prepare(pages: list[tuple[str, str]], url: str) -> list[tuple[bytes, bytes]]:
    """(before, after) the insertion point of each page that becomes a stored article."""
    run = article_path(validate=True)

    def body(html: str) -> str | None:
        item = run(downloaded(url, html))
        return item.body if item is not None else None

    kept = []
    for _, html in pages:
        text = body(html)
        if not text:
            continue
        for word in WORD_RE.findall(text):
            if html.count(word) != 1:
                continue
            cut = html.index(word) + len(word)
            before, after = html[:cut], html[cut:]
            one, two = body(f"{before} 000001{after}"), body(f"{before} 000002{after}")
            if one and two and one != two and one != text:
                kept.append((before.encode(), after.encode()))
            break
    return kept


def now_iso() -> str:
    from ingest.dates import utc_now_iso

    return utc_now_iso()


class PageServer:
    """Copy ``i`` of the prepared pages at ``/a/<i>.html``, HTTP/1.1 keep-alive, in a thread."""

    def __init__(self, pages: list[tuple[bytes, bytes]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                match = PAGE_PATH_RE.match(self.path)
                if match is None:
                    self.send_error(404)
                    return
                n = int(match.group(1))
                before, after = pages[n % len(pages)]
                body = b"".join((before, b" %06d" % n, after))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serving(pages: list[tuple[bytes, bytes]]) -> Iterator[PageServer]:
    server = PageServer(pages)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# --- one crawl, in a child process -------------------------------------------------------------


def project_settings() -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.utils.project import get_project_settings

    return get_project_settings()


# The pipelines of ITEM_PIPELINES that make a page an article (in process: INGEST_WORKERS 0).
ARTICLE_PIPELINES = (
    "pipelines.extraction.ExtractionPipeline",
    "pipelines.boilerplate.BoilerplatePipeline",
    "pipelines.normalise.NormalisePipeline",
    "pipelines.language.LanguagePipeline",
)


def article_path(validate: bool = False) -> Callable[[Any], Any]:
    """A function: page -> its article item (None when dropped), through the project's
    article pipelines as Scrapy builds them (in process), and validation if ``validate``."""
    import asyncio

    from scrapy.exceptions import DropItem
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.misc import build_from_crawler, load_object
    from scrapy.utils.test import get_crawler

    # The project's INGEST_* settings only: the rest (the reactor) is for a real crawl.
    ingest = {k: v for k, v in project_settings().items() if k.startswith("INGEST_")}
    crawler = get_crawler(settings_dict={**ingest, "INGEST_WORKERS": 0})
    crawler.stats = MemoryStatsCollector(crawler)
    paths = [*ARTICLE_PIPELINES, *(["pipelines.validation.ValidationPipeline"] * validate)]
    pipelines = [build_from_crawler(load_object(path), crawler) for path in paths]

    async def through(item: Any) -> Any:
        for pipeline in pipelines:
            item = pipeline.process_item(item)
            if asyncio.iscoroutine(item):
                item = await item
        return item

    def run(page: Any) -> Any:
        try:
            return asyncio.run(through(page))
        except DropItem:
            return None

    return run


def instrument(timings: dict[str, float]) -> None:
    """Time the pipelines that run on the crawl thread (benchmark-only wrappers)."""
    from pipelines.dedup import DedupPipeline
    from pipelines.storage import SQLitePipeline
    from pipelines.validation import ValidationPipeline

    def wrap(cls: Any, method: str, key: str) -> None:
        original: Callable[..., Any] = getattr(cls, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                timings[key] = timings.get(key, 0.0) + time.thread_time() - start

        setattr(cls, method, timed)

    wrap(ValidationPipeline, "process_item", "validation")
    wrap(DedupPipeline, "process_item", "dedup")
    wrap(SQLitePipeline, "process_item", "storage")
    wrap(SQLitePipeline, "close_spider", "storage")


def crawl_child(n: int, workers: int, base: str, db: str) -> dict[str, Any]:
    """Crawl ``base``/a/0..n-1.html with the project's spider path and pipelines."""
    sys.path.insert(0, str(REPO_ROOT))
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from spiders._base import NewsSpider

    class BenchSpider(NewsSpider):
        name = "bench"

        async def start(self) -> AsyncIterator[scrapy.Request]:
            for i in range(n):
                yield scrapy.Request(f"{base}/a/{i}.html", callback=self.parse_article)

    settings = project_settings()
    for key, value in {**LOOPBACK_SETTINGS, "INGEST_DB": db, "INGEST_WORKERS": workers}.items():
        settings.set(key, value, priority="cmdline")
    timings: dict[str, float] = {}
    instrument(timings)
    marks: dict[str, Any] = {}

    def opened() -> None:
        marks["start"] = time.perf_counter()
        marks["cpu_start"] = resource.getrusage(resource.RUSAGE_SELF)

    def closed() -> None:
        marks["wall"] = time.perf_counter() - marks["start"]

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    crawler.signals.connect(opened, signal=signals.spider_opened)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler)
    process.start()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = marks["cpu_start"]
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    return {
        "n": n,
        "workers": workers,
        "wall": marks["wall"],
        "stored": stats.get("ingest/stored/new", 0),
        "dropped": {k: v for k, v in stats.items() if k.startswith("ingest/dropped/")},
        "main_cpu": own.ru_utime + own.ru_stime - before.ru_utime - before.ru_stime,
        "workers_cpu": kids.ru_utime + kids.ru_stime,
        "main_rss_mb": own.ru_maxrss / 1024,
        "worker_rss_mb": kids.ru_maxrss / 1024,
        "cpu_us": {
            k.removeprefix("ingest/cpu_us/"): v
            for k, v in stats.items()
            if k.startswith("ingest/cpu_us/")
        },
        "main_stages": timings,
    }


def run_crawl(n: int, workers: int, base: str) -> dict[str, Any]:
    """One crawl in a fresh child process, into a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", str(n), str(workers), base, tmp, str(out)]
        subprocess.run(cmd, check=True, cwd=REPO_ROOT)
        result: dict[str, Any] = json.loads(out.read_text("utf-8"))
        return result


def report(r: dict[str, Any], traf_ms: float) -> None:
    n, stored = r["n"], r["stored"]
    per = max(stored, 1)
    rate = stored / r["wall"]
    print(
        f"\nN={n}, INGEST_WORKERS={r['workers']}: {stored} stored in {r['wall']:.1f} s = "
        f"{rate:.0f} articles/s; wall {1000 * r['wall'] / per:.1f} ms/article = "
        f"{1000 * r['wall'] / per / traf_ms:.2f} x trafilatura's extraction alone"
    )
    if r["dropped"]:
        print(f"  dropped: {r['dropped']}")
    cpu = {k: v / 1000 / per for k, v in r["cpu_us"].items()}
    # Stage CPU that ran on the crawl thread: all of it without workers; with them, the pages
    # before the pool started (INGEST_POOL_AFTER) or was ready.
    on_crawl_thread = cpu.pop("on_crawl_thread", 0.0)
    main = {k: 1000 * v / per for k, v in r["main_stages"].items()}
    where = "worker" if r["workers"] else "crawl thread"
    in_main = sum(main.values()) + on_crawl_thread
    crawl_ms = 1000 * r["main_cpu"] / per - in_main
    rest = "download + Scrapy + pool hand-offs (crawl process, rest)"
    print(f"  CPU ms/article: {rest:42} {crawl_ms:6.2f}")
    for label, keys in STAGES:
        stage_ms = sum(cpu.get(k, 0.0) for k in keys)
        print(f"  CPU ms/article: {label + f' ({where})':42} {stage_ms:6.2f}")
    if r["workers"]:
        print(f"  of which on the crawl thread (before the pool):  {on_crawl_thread:6.2f}")
    for key in ("validation", "dedup", "storage"):
        print(f"  CPU ms/article: {key + ' (crawl thread)':42} {main.get(key, 0.0):6.2f}")
    total = 1000 * (r["main_cpu"] + r["workers_cpu"]) / per
    print(f"  CPU ms/article, all processes (workers incl. start-up): {total:.2f}")
    if r["workers"]:  # what the CPU work allows on this many idle cores, whatever the noise
        cores = min(os.cpu_count() or 1, r["workers"] + 1)
        print(f"  CPU-bound ceiling on {cores} idle cores: {1000 * cores / total:.0f} articles/s")
    print(
        f"  peak RSS: crawl process {r['main_rss_mb']:.0f} MB"
        + (f", largest worker {r['worker_rss_mb']:.0f} MB" if r["workers"] else "")
    )


# --- trafilatura and the storage path ----------------------------------------------------------


def trafilatura_ms(pages: list[tuple[bytes, bytes]], url: str) -> tuple[float, float] | None:
    """Mean and median ms/article of trafilatura.extract alone (comments off) on the pages."""
    try:
        import trafilatura
    except ImportError:
        print("trafilatura is not installed (pip install -e '.[bench]'): no comparison")
        return None
    htmls = [(b + b" 000001" + a).decode() for b, a in pages]
    for html in htmls[:3]:
        trafilatura.extract(html, url=url, include_comments=False)
    ms = []
    for html in htmls:
        start = time.perf_counter()
        trafilatura.extract(html, url=url, include_comments=False)
        ms.append(1000 * (time.perf_counter() - start))
    return statistics.mean(ms), statistics.median(ms)


def storage_bench(pages: list[tuple[bytes, bytes]], base: str, n: int) -> float:
    """Articles/s of the storage pipeline alone, writing realistic items in its batches."""
    from dataclasses import replace

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import MemoryStatsCollector

    from pipelines.dedup import body_hash
    from pipelines.storage import SQLitePipeline

    run = article_path()
    items = []
    for i, (before, after) in enumerate(pages):
        url = f"{base}/a/{i}.html"
        html = (before + b" %06d" % i + after).decode()
        item = run(downloaded(url, html))
        if item is not None:
            items.append(item)
    with tempfile.TemporaryDirectory() as tmp:
        crawler = Crawler(Spider, {"INGEST_DB": str(Path(tmp) / "s.db")})
        crawler.stats = MemoryStatsCollector(crawler)
        pipeline = SQLitePipeline.from_crawler(crawler)
        pipeline.open_spider()
        batch = [
            replace(
                items[i % len(items)],
                url=f"{base}/s/{i}.html",
                body_hash=body_hash(f"{i} {items[i % len(items)].body}"),
            )
            for i in range(n)
        ]
        start = time.perf_counter()
        for item in batch:
            pipeline.process_item(item)
        pipeline.close_spider()
        elapsed = time.perf_counter() - start
        assert pipeline.db is not None
        pipeline.db.close()
    return n / elapsed


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--child"]:
        n, workers, base, tmp, out = args_list[1:6]
        result = crawl_child(int(n), int(workers), base, str(Path(tmp) / "bench.db"))
        Path(out).write_text(json.dumps(result), "utf-8")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--n", type=int, action="append", help="pages per crawl (repeatable)")
    parser.add_argument(
        "--workers", type=int, action="append", help="INGEST_WORKERS for the first N (repeatable)"
    )
    parser.add_argument("--storage-n", type=int, default=10_000, help="items for the storage run")
    args = parser.parse_args(args_list)
    if not (args.data / "html").is_dir():
        print(f"no benchmark data at {args.data}: nothing to measure (it is not in the repo)")
        return 0
    sys.path.insert(0, str(REPO_ROOT))
    from scrapy.utils.project import get_project_settings

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    default_workers = get_project_settings().getint("INGEST_WORKERS")
    sizes = args.n or [1000, 10_000]
    worker_counts = args.workers or [0, 1, default_workers]
    raw = load_pages(args.data)
    started = time.perf_counter()
    pages = prepare(raw, "http://127.0.0.1/a/0.html")
    print(
        f"{len(pages)} of {len(raw)} pages from {args.data} become stored articles "
        f"(prepared in {time.perf_counter() - started:.0f} s); {os.cpu_count()} CPUs"
    )
    with serving(pages) as server:
        traf = trafilatura_ms(pages, f"{server.url}/a/1.html")
        if traf:
            print(
                f"trafilatura extraction alone: {traf[0]:.1f} ms/article mean, {traf[1]:.1f} median"
            )
        traf_mean = traf[0] if traf else float("nan")
        results: dict[tuple[int, int], dict[str, Any]] = {}
        for w in worker_counts:
            results[sizes[0], w] = run_crawl(sizes[0], w, server.url)
            report(results[sizes[0], w], traf_mean)
        for size in sizes[1:]:
            results[size, default_workers] = run_crawl(size, default_workers, server.url)
            report(results[size, default_workers], traf_mean)
    rates = {k: r["stored"] / r["wall"] for k, r in results.items()}
    print()
    if (sizes[0], 1) in rates and (sizes[0], 2) in rates:
        speedup = rates[sizes[0], 2] / rates[sizes[0], 1]
        print(f"speed-up 1 -> 2 workers (N={sizes[0]}): {speedup:.2f}x")
    if (sizes[0], 0) in rates and (sizes[0], default_workers) in rates and default_workers:
        speedup = rates[sizes[0], default_workers] / rates[sizes[0], 0]
        print(f"speed-up in-process -> {default_workers} workers (N={sizes[0]}): {speedup:.2f}x")
    if len(sizes) > 1:
        small, large = results[sizes[0], default_workers], results[sizes[-1], default_workers]
        for key, label in (("main_rss_mb", "crawl process"), ("worker_rss_mb", "largest worker")):
            if small[key]:
                growth = 100 * (large[key] / small[key] - 1)
                print(
                    f"peak RSS growth N={sizes[0]} -> {sizes[-1]}, {label}: "
                    f"{small[key]:.0f} -> {large[key]:.0f} MB ({growth:+.1f}%)"
                )
    rate = storage_bench(pages, "http://127.0.0.1", args.storage_n)
    print(f"storage pipeline alone, {args.storage_n} items in batches: {rate:.0f} articles/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
