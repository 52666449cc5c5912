"""A frontier crawl survives kill -9 (issue 13): three workers and one writer through a real
Redis crawl a slow loopback mirror of 320 articles; one worker is killed mid-crawl, then the
writer mid-batch; both are started again, and every article served is stored exactly once.

Slow on purpose: each article page takes PAGE_DELAY seconds and a worker fetches two at a
time, so the crawl lasts long enough for both kills to land while requests are in flight and
items are queued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from ingest.crawl.frontier import Keys
from ingest.demo import mirror_root
from ingest.store.db import open_db
from tests.crawl_helpers import clean_env
from tests.redis_server import running_redis

HOST = "newsukraine.rbc.ua"
ARTICLES = 320
PAGE_DELAY = 0.2  # seconds per article page
FIRST_ID = 1_770_000_000
DEADLINE = 150  # seconds for the whole crawl, kills and restarts included
SETTINGS = {
    "INGEST_WORKERS": "0",
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
    "INGEST_FRONTIER_IDLE": "3",
    "INGEST_FRONTIER_DEAD_AFTER": "3",
    "INGEST_BATCH_SIZE": "20",
    "LOG_LEVEL": "INFO",
    "INGEST_PROGRESS": "False",
}


def generate(n: int) -> dict[str, bytes]:
    """``n`` English RBC articles by mirror path: the mirror's ten under new ids, each with a
    sentence of its own (dedup by text would merge identical copies)."""
    templates = sorted((mirror_root("rbc") / HOST / "news").glob("*.html"))
    pages = {}
    for i in range(n):
        template = templates[i % len(templates)]
        old_id = template.stem.rsplit("-", 1)[1]
        new_id = str(FIRST_ID + i)
        html = template.read_text("utf-8").replace(old_id, new_id)
        unique = f"<p>Fault copy {i}: reference number {i * 7919}, checked by the editors.</p>"
        html = html.replace('<div class="txt">', '<div class="txt">' + unique, 1)
        pages[f"/{HOST}/news/{template.name.replace(old_id, new_id)}"] = html.encode()
    return pages


def feed(paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><link>https:/{path}</link>"
        "<pubDate>Fri, 04 Jul 2025 10:00:00 +0300</pubDate></item>"
        for i, path in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>faults'
        f"</title>{items}</channel></rss>"
    ).encode()


@contextmanager
def slow_mirror(pages: dict[str, bytes]) -> Iterator[tuple[str, Counter[str]]]:
    """(base URL, hits by path) of a threaded server answering each article after PAGE_DELAY."""
    empty = b"<html><body><div class='newsline'></div></body></html>"
    static = {
        f"/{HOST}/rss.xml": feed(list(pages)),
        f"/{HOST}/robots.txt": b"User-agent: *\nAllow: /\n",
        f"/{HOST}/allnews/1": empty,
        f"/{HOST}/allnews/2": empty,
    }
    hits: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            body = static.get(path)
            if body is None and path in pages:
                time.sleep(PAGE_DELAY)
                body = pages[path]
                with lock:
                    hits[path] += 1
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}", hits
    finally:
        server.shutdown()
        server.server_close()


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", *command],
            stdout=out, stderr=subprocess.STDOUT, env=clean_env(),
        )  # fmt: skip


def wait_for(condition: Callable[[], bool], what: str, deadline: float, step: float) -> None:
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def test_kill_a_worker_then_the_writer_and_every_article_is_stored_once(tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    pages = generate(ARTICLES)
    db = tmp_path / "shared.db"
    logs = tmp_path / "logs"
    logs.mkdir()
    with running_redis(tmp_path / "redis") as (url, _), slow_mirror(pages) as (mirror, hits):
        client = redis.Redis.from_url(url)
        keys = Keys("rbc")
        sets = [
            a for k, v in {**SETTINGS, "INGEST_MIRROR": mirror}.items() for a in ("-s", f"{k}={v}")
        ]

        def worker(name: str) -> subprocess.Popen[bytes]:
            command = ["crawl", "rbc", "--frontier", url, "--worker-id", name, "-a", "lang=en"]
            return start([*command, *sets], logs / f"{name}.log")

        def writer() -> subprocess.Popen[bytes]:
            command = ["store", "--from", url, "--db", str(db), "--wait", "60"]
            return start([*command, *sets], logs / "writer.log")

        def served() -> int:
            return sum(hits.values())

        store = writer()
        workers = {name: worker(name) for name in ("w0", "w1", "w2")}

        # kill -9 a worker while it holds requests, a fifth of the way in.
        wait_for(
            lambda: served() >= ARTICLES // 5 and client.llen(keys.inflight("w1")) > 0,
            "w1 to hold requests",
            deadline,
            0.05,
        )
        workers["w1"].send_signal(signal.SIGKILL)
        workers["w1"].wait()
        held = client.llen(keys.inflight("w1"))
        assert held > 0  # its requests are nowhere else: the queue no longer has them

        # kill -9 the writer while a batch is out of `items` and not yet deleted.
        wait_for(lambda: served() >= ARTICLES // 2, "half the pages", deadline, 0.1)

        def caught_mid_batch() -> bool:
            if not client.llen(keys.processing):
                return False
            store.send_signal(signal.SIGSTOP)  # frozen: is the batch still out?
            if client.llen(keys.processing):
                return True
            store.send_signal(signal.SIGCONT)  # it was committed meanwhile: try the next one
            return False

        wait_for(caught_mid_batch, "the writer mid-batch", deadline, 0.001)
        os.kill(store.pid, signal.SIGKILL)
        store.wait()
        assert client.llen(keys.processing) > 0  # killed mid-batch

        # Both start again; the crawl runs to its end.
        store = writer()
        workers["w1"] = worker("w1")
        for name, process in [*workers.items(), ("writer", store)]:
            try:
                status = process.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
            log = (logs / f"{name}.log").read_text("utf-8", "replace")
            assert status == 0, f"{name} exited {status}:\n{log[-3000:]}"
        assert client.keys("ingest:*") == []  # drained, then removed
        assert served() >= ARTICLES

    writer_log = (logs / "writer.log").read_text("utf-8", "replace")
    assert "of an unfinished batch stored again" in writer_log
    worker_logs = "".join((logs / f"w{n}.log").read_text("utf-8", "replace") for n in range(3))
    assert "in-flight request(s) of worker w1 back in the queue" in worker_logs

    expected = {f"https:/{path}" for path in pages}
    store_db = open_db(db, read_only=True)
    urls = [url for (url,) in store_db.execute("select url from articles")]
    revisions = store_db.execute("select count(*) from revisions").fetchone()[0]
    runs = store_db.execute("select args, finish_reason from runs").fetchall()
    store_db.close()
    assert len(urls) == len(set(urls))
    assert set(urls) == expected, (
        f"{len(expected - set(urls))} missing, {len(set(urls) - expected)} unexpected"
    )
    assert revisions == 0  # a batch stored again changed no row
    assert sum('"role": "writer"' in args for args, _ in runs) == 2


def test_a_second_writer_of_the_same_crawl_and_database_is_refused(tmp_path: Path) -> None:
    # Two writers would share the crawl's `processing` list: one could delete the other's batch
    # before it is committed. The crawl is found in Redis, not named, and still locked.
    from ingest.crawl.frontier import store
    from ingest.crawl.locks import SpiderLocked, spider_lock

    db = tmp_path / "shared.db"
    with running_redis(tmp_path / "redis") as (url, _):
        client = redis.Redis.from_url(url)
        client.sadd(Keys("rbc").workers, "w0")
        client.lpush(Keys("rbc").items, b"{}")
        with spider_lock(db, "rbc"), pytest.raises(SpiderLocked):
            store(url, db, wait=5)
        assert client.llen(Keys("rbc").items) == 1  # nothing taken
