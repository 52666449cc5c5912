"""One crawl over three workers through a real Redis and one writer (issue 13): the same
articles as a single-process crawl, each once; a worker's in-flight requests come back after
kill -9; Redis going away is a clear, non-zero exit. Contract checks pin the Scrapy and
scrapy-redis behaviour the frontier relies on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from scrapy.core.scraper import Slot

from ingest.crawl.frontier import Keys, item_from_json, item_to_json
from ingest.demo import mirror_root, serve
from ingest.items import ArticleItem, Image
from ingest.store.db import open_db
from tests.crawl_helpers import CRAWL_TIMEOUT, LOOPBACK, MIRROR_ARGS, clean_env, crawl
from tests.redis_server import running_redis

FAST = ["-s", "INGEST_FRONTIER_IDLE=2", "-s", "INGEST_FRONTIER_DEAD_AFTER=3"]


def worker(url: str, mirror: str, name: str, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", "crawl", "rbc", "--frontier", url, "--worker-id", name,
         "--db", str(db), *MIRROR_ARGS, *LOOPBACK, "-s", f"INGEST_MIRROR={mirror}",
         "-s", "INGEST_WORKERS=0", *FAST, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip


def writer(url: str, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", "store", "--from", url, "--db", str(db), "--wait", "60",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=CRAWL_TIMEOUT)
    return process.returncode, err


def articles(db: Path) -> dict[str, str]:
    store = open_db(db, read_only=True)
    rows = dict(store.execute("select url, body_hash from articles").fetchall())
    store.close()
    return rows


def test_three_workers_and_a_writer_store_what_one_crawl_stores(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as (url, _), serve(mirror_root("rbc")) as mirror:
        single = tmp_path / "single.db"
        crawl(single, mirror.url)
        shared = tmp_path / "shared.db"
        store = writer(url, shared)
        workers = [worker(url, mirror.url, f"w{n}", shared) for n in range(3)]
        for process in workers:
            status, err = finish(process)
            assert status == 0, err[-3000:]
        status, err = finish(store)
        assert status == 0, err[-3000:]
        assert redis.Redis.from_url(url).keys("ingest:*") == []  # drained, then removed
    assert articles(shared) == articles(single)
    db = open_db(shared, read_only=True)
    runs = db.execute(
        "select crawl_id, args, finish_reason from runs order by started_at"
    ).fetchall()
    assert {r[0] for r in runs} == {"rbc"}
    assert len(runs) == 4
    assert sum('"role": "writer"' in r[1] for r in runs) == 1
    assert all(r[2] == "finished" for r in runs)


def test_a_killed_workers_requests_come_back_and_redis_gone_is_an_error(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as (url, server), serve(mirror_root("rbc")) as mirror:
        client = redis.Redis.from_url(url)
        keys = Keys("rbc")
        # A worker killed while holding requests: its in-flight list is all that is left of them.
        client.lpush(keys.inflight("dead"), b"x")
        client.sadd(keys.workers, "dead")
        first = worker(
            url, mirror.url, "w0", tmp_path / "unused.db", "-s", "INGEST_FRONTIER_IDLE=60"
        )
        deadline = time.monotonic() + 30
        while client.llen(keys.inflight("dead")):
            assert time.monotonic() < deadline, "the dead worker's requests were not put back"
            time.sleep(0.2)
        server.kill()  # Redis goes away mid-crawl
        status, err = finish(first)
        assert status != 0
        assert "went away" in err or "cannot be reached" in err, err[-3000:]
        assert not (tmp_path / "unused.db").exists()  # a worker never opens SQLite
    status, err = finish(writer(url, tmp_path / "w.db"))
    assert status != 0
    assert "cannot be reached" in err


def test_items_survive_the_trip_through_redis() -> None:
    item = ArticleItem(url="https://x.test/a", site="x", fetched_url="https://x.test/a",
                       fetched_at="2025-07-02T00:00:00Z", images=[Image(src="https://x.test/i.jpg")],
                       authors=["A"], alternates={"en": "https://x.test/en/a"})  # fmt: skip
    assert item_from_json(item_to_json(item)) == item


def test_the_scrapy_api_the_frontier_relies_on() -> None:
    # finish_response is called once a response's output and items are done (scraper.py).
    assert callable(Slot.finish_response)
    from scrapy.core.engine import ExecutionEngine
    from scrapy_redis.queue import Base
    from scrapy_redis.scheduler import Scheduler

    assert hasattr(ExecutionEngine, "spider_is_idle")
    assert {"_encode_request", "_decode_request"} <= set(vars(Base))
    assert {"enqueue_request", "next_request", "open", "close"} <= set(vars(Scheduler))


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_a_frontier_url_must_be_redis(url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "crawl", "rbc", "--frontier", url],
        capture_output=True, text=True, timeout=60, check=False, env=clean_env(), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "not a Redis URL" in result.stderr


def queued_articles(client: redis.Redis, crawl: str, n: int) -> set[str]:
    """``n`` distinct articles pushed to the crawl's ``items`` list, as a worker pushes them."""
    urls = set()
    for i in range(n):
        url = f"https://x.test/news/{i}.html"
        item = ArticleItem(url=url, fetched_url=url, site="x.test", title=f"Story {i}",
                           body=f"Paragraph {i} of a story told once.", lang="en",
                           fetched_at="2025-07-02T00:00:00Z")  # fmt: skip
        client.lpush(Keys(crawl).items, item_to_json(item))
        urls.add(url)
    return urls


def wait_until(condition: Callable[[], object], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def writer_run(db: Path) -> tuple[str | None, str | None] | None:
    """(crawl_id, finish_reason) of the writer's row in ``runs``, None before it has one."""
    if not db.exists():
        return None
    try:
        store = open_db(db, read_only=True)
    except sqlite3.DatabaseError:  # still being created
        return None
    try:
        row = store.execute("select crawl_id, finish_reason from runs").fetchone()
    except sqlite3.OperationalError:  # still being migrated
        return None
    finally:
        store.close()
    return (row[0], row[1]) if row else None


@contextmanager
def stopped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process``, killed if the test fails before it ends."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_batch_the_database_refuses_stays_in_redis(tmp_path: Path) -> None:
    # The writer is running when the database gets locked for longer than it waits: its batch
    # is not committed, so it must stay in Redis, and a writer started later stores it.
    db = tmp_path / "shared.db"
    with running_redis(tmp_path / "redis") as (url, _):
        client = redis.Redis.from_url(url)
        keys = Keys("rbc")
        client.sadd(keys.workers, "w0")
        client.set(keys.alive("w0"), "busy")  # a crawl going on: the writer waits for items
        waits = ["-s", "INGEST_DB_LOCK_TIMEOUT=1", "-s", "INGEST_DB_BUSY_TIMEOUT=0.2"]
        with stopped(writer(url, db, *waits)) as first:
            wait_until(lambda: writer_run(db) == ("rbc", None), "the writer's run row")
            holder = sqlite3.connect(db, isolation_level=None)
            holder.execute("begin immediate")  # the write lock, held past INGEST_DB_LOCK_TIMEOUT
            urls = queued_articles(client, "rbc", 30)
            status, err = finish(first)
        assert status == 1, err[-3000:]
        assert "the batch stays in Redis" in err
        assert "db_locked" in err
        left = client.llen(keys.processing) + client.llen(keys.items)
        assert left == len(urls)  # nothing taken out of Redis that is not stored
        holder.execute("rollback")
        holder.close()
        assert articles(db) == {}

        client.delete(keys.alive("w0"))
        client.set(keys.finished, "2025-07-02T00:00:00Z")
        with stopped(writer(url, db)) as second:
            status, err = finish(second)
        assert status == 0, err[-3000:]
        assert "of an unfinished batch stored again" in err
        assert client.keys("ingest:*") == []
    assert set(articles(db)) == urls


def test_redis_gone_mid_drain_exits_3_and_what_was_stored_stays(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with running_redis(tmp_path / "redis") as (url, server):
        client = redis.Redis.from_url(url)
        client.sadd(Keys("rbc").workers, "w0")
        client.set(Keys("rbc").alive("w0"), "busy")
        with stopped(writer(url, db)) as store:
            urls = queued_articles(client, "rbc", 30)
            wait_until(lambda: writer_run(db) is not None, "the writer's run row")
            wait_until(lambda: len(articles(db)) == len(urls), "the batch stored")
            wait_until(lambda: not client.llen(Keys("rbc").processing), "the batch acknowledged")
            server.kill()
            status, err = finish(store)
    assert status == 3, err[-3000:]
    assert "went away" in err
    assert "stored batches stay stored" in err
    assert set(articles(db)) == urls
    assert writer_run(db) == ("rbc", "frontier_lost")


def test_the_writer_is_no_spider_a_user_can_name() -> None:
    # It runs by class (ingest store --from), so `ingest spiders` must not list it.
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    from ingest.crawl.frontier import WRITER_PIPELINES, FrontierWriter

    loader = SpiderLoader.from_settings(get_project_settings())
    assert FrontierWriter.name not in loader.list()
    assert FrontierWriter not in [loader.load(name) for name in loader.list()]
    # The worker stages ran in the workers; the writer runs dedup and storage, nothing else.
    assert [name for name, order in WRITER_PIPELINES.items() if order is not None] == [
        "pipelines.dedup.DedupPipeline",
        "pipelines.storage.SQLitePipeline",
    ]
