"""Scale-out measured on loopback: a Redis frontier with 1, 2 and 3 workers against one process.

Why: ``ingest crawl --frontier`` (ingest/crawl/frontier.py) exists to use more cores than one crawl
process does; this says what it gives here, what it costs in Redis, and how fast the one writer
drains. Three figures, from one run:

- **Throughput.** The 1,000-page loopback benchmark of ``pipeline_bench.py`` (the
  article-extraction-benchmark pages, each copy made a distinct stored article, served on
  127.0.0.1 under ``/a/<i>.html``), listed in one sitemap and crawled by the ``sitemap`` spider:
  once by a single ``ingest crawl`` process (INGEST_WORKERS=0, then the default pool), and by
  1, 2 and 3 ``ingest crawl sitemap --frontier`` worker processes (each INGEST_WORKERS=0) plus
  one ``ingest store --from`` writer, every process a fresh child. Articles/s counts from the
  first article request the server sees to the moment the last article is in SQLite (polled),
  so the interpreter start-up and the frontier's idle wait at the end are left out; the wall
  time from launch is printed beside it. CPU is each child process's user + system time (its
  pool processes included), summed, and the writer's share apart; with ``--rounds`` each
  figure is the median over interleaved rounds.
- **Redis memory per queued request**: INFO memory ``used_memory`` before and after pushing N
  sitemap-spider article requests through the frontier's own queue and dupefilter (a realistic
  news URL each), per request.
- **The writer alone**: N real extracted items (distinct URLs and texts) pre-filled in a
  crawl's ``items`` list, drained into a fresh SQLite file by ``ingest.crawl.frontier.store`` (the
  code of ``ingest store --from``), articles/s.

Needs redis-server on PATH and ``../shared/data/article-extraction-benchmark`` (not in the
repo: when either is missing, the script says so and exits 0).

Usage (from the repo root; ``make bench-scale``):
    python benchmarks/scale_bench.py [--n 1000] [--rounds 1] [--queue-n 100000] [--writer-n 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline_bench import (
    DEFAULT_DATA,
    LOOPBACK_SETTINGS,
    PAGE_PATH_RE,
    REPO_ROOT,
    article_path,
    downloaded,
    load_pages,
    now_iso,
    prepare,
)

SITEMAP = "/sitemap.xml"
CRAWL_SETTINGS = {
    **LOOPBACK_SETTINGS,
    "LOG_LEVEL": "WARNING",
    "INGEST_FRONTIER_IDLE": 2,  # the crawl ends 2 s after the queue empties (not timed)
    "INGEST_FRONTIER_DEAD_AFTER": 5,
}


# --- the pages, with a sitemap listing them ----------------------------------------------------


@dataclass
class Served:
    """What the server saw: the time of the first article request."""

    first: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self) -> None:
        with self.lock:
            if self.first is None:
                self.first = time.monotonic()


@contextmanager
def serving(pages: list[tuple[bytes, bytes]], n: int) -> Iterator[tuple[str, Served]]:
    """(base URL, what it saw) of a keep-alive server of ``/a/0..n-1.html`` and SITEMAP."""
    served = Served()
    sitemap: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            match = PAGE_PATH_RE.match(self.path)
            if self.path == SITEMAP:
                body = sitemap[0]
            elif match is not None and int(match.group(1)) < n:
                i = int(match.group(1))
                before, after = pages[i % len(pages)]
                body = b"".join((before, b" %06d" % i, after))
                served.hit()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    base = f"http://{host!s}:{port}"
    locs = "".join(f"<url><loc>{base}/a/{i}.html</loc></url>" for i in range(n))
    sitemap.append(
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + locs.encode()
        + b"</urlset>"
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield base, served
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- Redis -------------------------------------------------------------------------------------


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """The URL of a fresh redis-server on a free loopback port, no persistence."""
    from tests.redis_server import serving_redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    with serving_redis(binary, directory) as (url, _):
        yield url


# --- the crawls --------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    stored: int
    rate: float  # articles/s, first article request -> last article in SQLite
    wall: float  # s, launch -> last article in SQLite
    cpu_ms: float  # CPU ms per article, every child process
    writer_ms: float  # of which the writer's (frontier crawls)


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}


def settings_args(extra: dict[str, Any]) -> list[str]:
    return [a for k, v in {**CRAWL_SETTINGS, **extra}.items() for a in ("-s", f"{k}={v}")]


def stored_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("select count(*) from articles").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet, or mid-migration
        return 0


def timed_crawl(
    label: str, commands: list[list[str]], db: Path, served: Served, logs: Path, timeout: float
) -> Result:
    """Run ``commands`` (``ingest`` arguments) side by side; time them until all have exited."""
    served.first = None
    logs.mkdir(parents=True, exist_ok=True)
    launched = time.monotonic()
    processes = []
    for i, command in enumerate(commands):
        with (logs / f"{label.replace(' ', '_')}-{i}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ingest", *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=child_env(),
                    cwd=REPO_ROOT,
                )
            )
    trace: list[tuple[float, int]] = []
    deadline = launched + timeout
    cpu: dict[int, float] = {}  # pid -> CPU seconds, its pool processes included
    while len(cpu) < len(processes):
        if time.monotonic() > deadline:
            for p in processes:
                p.kill()
            raise RuntimeError(f"{label}: not done after {timeout:.0f} s (logs in {logs})")
        trace.append((time.monotonic(), stored_count(db)))
        for p in processes:
            if p.pid in cpu:
                continue
            # wait4, not Popen.poll: the exit status and the child's own CPU time.
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                cpu[pid] = usage.ru_utime + usage.ru_stime
                if p.returncode != 0:
                    output = logs / f"{label.replace(' ', '_')}-{processes.index(p)}.log"
                    tail = output.read_text("utf-8", "replace")[-3000:]
                    raise RuntimeError(f"{label}: a process exited {p.returncode}:\n{tail}")
        time.sleep(0.1)
    final = stored_count(db)
    done = next((t for t, count in trace if count == final), time.monotonic())
    first = served.first or launched
    per = 1000 / max(final, 1)
    writer = per * cpu[processes[0].pid] if len(processes) > 1 else 0.0
    return Result(
        label,
        final,
        final / (done - first),
        done - launched,
        per * sum(cpu.values()),
        writer,
    )


def median(runs: tuple[Result, ...]) -> Result:
    """Each figure's median over the rounds of one setup."""
    return Result(
        runs[0].label,
        min(r.stored for r in runs),
        statistics.median(r.rate for r in runs),
        statistics.median(r.wall for r in runs),
        statistics.median(r.cpu_ms for r in runs),
        statistics.median(r.writer_ms for r in runs),
    )


def single(n: int, base: str, served: Served, tmp: Path, workers: int | None) -> Result:
    db = tmp / f"single-{workers}.db"
    extra = {} if workers is None else {"INGEST_WORKERS": workers}
    command = ["crawl", "sitemap", "--db", str(db), "-a", f"url={base}{SITEMAP}"]
    label = "1 process, " + (f"INGEST_WORKERS={workers}" if workers is not None else "default pool")
    return timed_crawl(label, [command + settings_args(extra)], db, served, tmp, 600)


def frontier(k: int, url: str, base: str, served: Served, tmp: Path) -> Result:
    db = tmp / f"frontier-{k}.db"
    crawl = f"bench{k}"
    worker = ["crawl", "sitemap", "--frontier", url, "--crawl-id", crawl]
    worker += ["-a", f"url={base}{SITEMAP}", *settings_args({"INGEST_WORKERS": 0})]
    writer = ["store", "--from", url, "--crawl-id", crawl, "--db", str(db), "--wait", "60"]
    commands = [writer] + [[*worker, "--worker-id", f"w{i}"] for i in range(k)]
    label = f"{k} worker{'s' if k > 1 else ''} + writer"
    return timed_crawl(label, commands, db, served, tmp, 600)


# --- Redis memory per queued request -----------------------------------------------------------


def queue_memory(url: str, n: int) -> tuple[float, float]:
    """Bytes of Redis ``used_memory`` per request in the shared queue, and in the dupefilter."""
    import redis
    from scrapy import Request
    from scrapy.utils.test import get_crawler
    from scrapy_redis.dupefilter import RFPDupeFilter

    from ingest.crawl.frontier import FrontierQueue, Keys
    from ingest.items import Listing
    from spiders.sitemap import SitemapSpider

    client = redis.Redis.from_url(url)
    client.flushdb()
    keys = Keys("memory")
    crawler = get_crawler(SitemapSpider)
    spider = SitemapSpider.from_crawler(crawler, url="https://newsukraine.rbc.ua/sitemap.xml")
    queue = FrontierQueue(client, spider, keys.requests)
    dupefilter = RFPDupeFilter(client, keys.dupefilter)
    lastmod = "2025-07-04T10:00:00+03:00"

    def url_of(i: int) -> str:
        # A typical news URL (~80 characters).
        return (
            f"https://newsukraine.rbc.ua/news/ukraine-grid-repairs-summer-{1_760_000_000 + i}.html"
        )

    def request(i: int) -> Request:
        # As the sitemap spider requests an entry (callback, errback, listing, lastmod).
        made = spider.follow(url_of(i), Listing(source="sitemap", published=lastmod), lastmod)
        assert made is not None
        return made

    def used() -> int:
        return int(client.info("memory")["used_memory"])

    start = used()
    for chunk in range(0, n, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(chunk, min(chunk + 1000, n)):
            pipe.lpush(keys.requests, queue._encode_request(request(i)))
        pipe.execute()
    queued = used()
    for chunk in range(0, n, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(chunk, min(chunk + 1000, n)):  # what request_seen adds, pipelined
            pipe.sadd(keys.dupefilter, dupefilter.request_fingerprint(Request(url_of(i))))
        pipe.execute()
    seen = used()
    client.flushdb()
    return (queued - start) / n, (seen - queued) / n


# --- the writer alone --------------------------------------------------------------------------


def writer_rate(url: str, pages: list[tuple[bytes, bytes]], n: int, tmp: Path) -> float:
    """Articles/s of ``ingest.crawl.frontier.store`` draining ``n`` pre-filled items into SQLite."""
    import redis

    from ingest.crawl.frontier import Keys, item_to_json, store

    run = article_path()
    items = []
    for i, (before, after) in enumerate(pages):
        html = (before + b" %06d" % i + after).decode()
        item = run(downloaded(f"http://127.0.0.1/a/{i}.html", html))
        if item is not None:
            items.append(item)
    client = redis.Redis.from_url(url)
    client.flushdb()
    keys = Keys("writer")
    for chunk in range(0, n, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(chunk, min(chunk + 1000, n)):
            one = items[i % len(items)]
            copy = replace(one, url=f"http://127.0.0.1/w/{i}.html", body=f"{i} {one.body}")
            pipe.lpush(keys.items, item_to_json(copy))
        pipe.execute()
    client.sadd(keys.workers, "gone")  # a crawl over: its one worker has left
    client.set(keys.finished, now_iso())
    db = tmp / "writer.db"
    started = time.perf_counter()
    status = store(url, db, "writer", poll=0.05)
    elapsed = time.perf_counter() - started
    assert status == 0
    assert stored_count(db) == n, (stored_count(db), n)
    return n / elapsed


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--n", type=int, default=1000, help="pages per crawl")
    parser.add_argument("--queue-n", type=int, default=100_000, help="requests for the memory")
    parser.add_argument("--writer-n", type=int, default=10_000, help="items for the writer")
    parser.add_argument("--rounds", type=int, default=1, help="crawls of each setup (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.data / "html").is_dir():
        print(f"no benchmark data at {args.data}: nothing to measure (it is not in the repo)")
        return 0
    if shutil.which("redis-server") is None:
        print("redis-server is not on PATH (apt-get install redis-server): nothing to measure")
        return 0
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    started = time.perf_counter()
    pages = prepare(load_pages(args.data), "http://127.0.0.1/a/0.html")
    print(
        f"{len(pages)} benchmark pages become stored articles (prepared in "
        f"{time.perf_counter() - started:.0f} s); {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="scale-") as tmp_name,
        redis_server(Path(tmp_name)) as url,
        serving(pages, args.n) as (base, served),
    ):
        tmp = Path(tmp_name)
        rounds: list[list[Result]] = []
        for n_round in range(args.rounds):  # interleaved: load changes hit all alike
            one = [single(args.n, base, served, tmp / f"r{n_round}", 0)]
            one += [frontier(k, url, base, served, tmp / f"r{n_round}") for k in (1, 2, 3)]
            one.append(single(args.n, base, served, tmp / f"r{n_round}", None))
            rounds.append(one)
        results = [median(runs) for runs in zip(*rounds, strict=True)]
        per_queued, per_seen = queue_memory(url, args.queue_n)
        writer = writer_rate(url, pages, args.writer_n, tmp)
    reference = results[0].rate
    print(
        f"\nN={args.n} pages, sitemap spider, loopback, median of {args.rounds} round(s); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "| crawl | stored | articles/s | × 1 process | wall from launch "
        "| CPU ms/article, all processes | of which the writer |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.label} | {r.stored} | {r.rate:.0f} | {r.rate / reference:.2f} | "
            f"{r.wall:.1f} s | {r.cpu_ms:.1f} | {f'{r.writer_ms:.1f}' if r.writer_ms else '–'} |"
        )
    print(
        f"\nRedis used_memory per queued request ({args.queue_n:,} sitemap article requests): "
        f"{per_queued:.0f} B in the queue + {per_seen:.0f} B in the dupefilter = "
        f"{per_queued + per_seen:.0f} B"
    )
    print(
        f"writer alone: {args.writer_n:,} items from Redis into SQLite at {writer:.0f} articles/s"
    )
    if args.json:
        figures = {
            "n": args.n,
            "crawls": [vars(r) for r in results],
            "queue_bytes": per_queued,
            "dupefilter_bytes": per_seen,
            "writer_rate": writer,
        }
        args.json.write_text(json.dumps(figures, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
