"""The database fails under a crawl: locked by another connection, full, or the crawl killed in
the middle of a write. Each time the file stays consistent (``integrity_check``, FTS in sync), no
article is half-written (its images and translations are those of an undisturbed crawl), the
crawl either stores everything or stops with a counted reason and a non-zero exit, and the next
crawl completes the set, every article once.

The real ``ingest crawl rbc`` runs in a subprocess against the bundled mirror on 127.0.0.1, slowed
(one request at a time, 0.2 s apart, batches of 2) so a fault can be made to land mid-crawl.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler
from sqlite_utils import Database

import ingest.crawl.incremental as incremental_module
import pipelines.storage as storage_module
from ingest.crawl.incremental import IncrementalMiddleware
from ingest.crawl.jobs import job_dirs, was_killed
from ingest.demo import MirrorServer, mirror_root, serve
from ingest.items import ArticleItem, Image
from ingest.store.db import immediate_transaction, open_db
from ingest.store.dbfaults import HALTED_STAT, DbWriter
from pipelines.storage import SQLitePipeline
from spiders.rbc import RbcSpider

from .crawl_helpers import CRAWL_TIMEOUT, clean_env, crawl, crawl_command, last_run

REPO = Path(__file__).resolve().parent.parent
SLOW = ["-s", "CONCURRENT_REQUESTS=1", "-s", "DOWNLOAD_DELAY=0.2", "-s", "INGEST_BATCH_SIZE=2"]
# A short busy handler, so a held lock is met within the test's seconds.
SHORT_WAITS = ["-s", "INGEST_DB_BUSY_TIMEOUT=0.2"]
FIRST = 4  # articles stored before the fault is made
KILL_BATCH = 20  # of the 43 articles of the mirror: the second and last batches are long writes


@pytest.fixture(scope="module")
def server() -> Iterator[MirrorServer]:
    with serve(mirror_root("rbc")) as running:
        yield running


@pytest.fixture(scope="module")
def reference(server: MirrorServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An undisturbed crawl: per URL, the article's images and the translations it wrote."""
    db_path = tmp_path_factory.mktemp("reference") / "news.db"
    crawl(db_path, server.url)
    return content(db_path)


def content(db_path: Path) -> dict[str, Any]:
    """What a test compares: article URLs, bodies, images per URL, translation rows."""
    db = open_db(db_path, read_only=True)
    try:
        bodies = {r["url"]: r["body"] for r in db.table("articles").rows}
        images: dict[str, list[tuple[Any, ...]]] = {}
        for r in db.execute(
            "select article_url, position, src, caption, credit from images "
            "order by article_url, position"
        ):
            images.setdefault(r[0], []).append(tuple(r))
        translations = set(db.execute("select story_id, lang, url from translations").fetchall())
        return {"bodies": bodies, "images": images, "translations": translations}
    finally:
        db.close()


def assert_consistent(db_path: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """The file is sound and every stored article is whole; returns its content."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        assert conn.execute("pragma foreign_key_check").fetchall() == []
        # FTS5's own check: the index holds exactly the rows of articles (raises if not).
        conn.execute("insert into articles_fts(articles_fts) values('integrity-check')")
        fts = conn.execute("select count(*) from articles_fts").fetchone()[0]
        assert fts == conn.execute("select count(*) from articles").fetchone()[0]
    finally:
        conn.close()
    got = content(db_path)
    assert set(got["bodies"]) <= set(reference["bodies"])
    for url, body in got["bodies"].items():
        assert body == reference["bodies"][url], url
        assert got["images"].get(url, []) == reference["images"].get(url, []), url
    assert set(got["images"]) <= set(got["bodies"])  # no image without its article
    assert got["translations"] <= reference["translations"]
    db = open_db(db_path, read_only=True)
    try:  # an article's own translations row came with it
        orphans = db.execute(
            "select url from articles a where story_id is not null and lang is not null and "
            "not exists (select 1 from translations t where t.story_id = a.story_id and "
            "t.lang = a.lang and t.url = a.url)"
        ).fetchall()
    finally:
        db.close()
    assert orphans == []
    return got


def stored_count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("select count(*) from articles").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=REPO,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + CRAWL_TIMEOUT
    while not condition():
        assert process.poll() is None, f"the crawl ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.01)


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=CRAWL_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def logged_stat(log: str, name: str) -> int:
    """A counter from the stats Scrapy dumps at the end of the log (the run's row may be
    unwritable: the database was locked or full)."""
    found = re.search(rf"'{re.escape(name)}': (\d+)", log)
    return int(found.group(1)) if found else 0


def rerun_completes(db_path: Path, server: MirrorServer, reference: dict[str, Any]) -> None:
    """A plain crawl afterwards stores every missing article, each once, nothing twice."""
    before = set(content(db_path)["bodies"])
    stats = crawl(db_path, server.url)
    assert last_run(db_path)["finish_reason"] == "finished"
    got = assert_consistent(db_path, reference)
    assert got == reference
    assert stats.get("ingest/stored/new", 0) == len(reference["bodies"]) - len(before)


# --- locks ----------------------------------------------------------------------------------


def test_a_long_reader_does_not_stop_the_crawl(
    server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    """WAL: a read transaction held for the whole crawl blocks no write (only checkpoints)."""
    db_path = tmp_path / "news.db"
    open_db(db_path).close()
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("begin")
    assert reader.execute("select count(*) from articles").fetchone() == (0,)
    try:
        stats = crawl(db_path, server.url, *SHORT_WAITS, "-s", "INGEST_DB_LOCK_TIMEOUT=2")
        assert reader.execute("select count(*) from articles").fetchone() == (0,)  # its snapshot
    finally:
        reader.close()
    assert stats["finish_reason"] == "finished"
    assert stats.get("ingest/db/lock_retries", 0) == 0
    assert assert_consistent(db_path, reference) == reference


def test_a_write_lock_shorter_than_the_lock_timeout_is_waited_out(
    server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    db_path = tmp_path / "news.db"
    process = start(
        crawl_command(db_path, server.url, *SLOW, *SHORT_WAITS, "-s", "INGEST_DB_LOCK_TIMEOUT=20")
    )
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        wait_for(lambda: stored_count(db_path) >= FIRST, process, "articles stored")
        holder.execute("begin immediate")  # what a VACUUM or a second writer does
        time.sleep(2.0)  # ten busy timeouts of the crawl: several downloads and a batch
        holder.execute("rollback")
    finally:
        holder.close()
        done = finish(process)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = last_run(db_path)["stats"]
    assert stats["finish_reason"] == "finished"
    assert stats["ingest/db/lock_retries"] >= 1
    assert "ingest/db/db_locked" not in stats
    assert not [k for k in stats if k.startswith("ingest/dropped/db_")]
    assert assert_consistent(db_path, reference) == reference


def test_a_write_lock_longer_than_the_lock_timeout_stops_the_crawl_cleanly(
    server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    db_path = tmp_path / "news.db"
    process = start(
        crawl_command(db_path, server.url, *SLOW, *SHORT_WAITS, "-s", "INGEST_DB_LOCK_TIMEOUT=1")
    )
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        wait_for(lambda: stored_count(db_path) >= FIRST, process, "articles stored")
        holder.execute("begin immediate")
        before = content(db_path)  # a reader still sees the last commit
        started = time.monotonic()
        done = finish(process)  # the lock is held until the crawl has given up
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "finish reason db_locked" in done.stdout
    assert "could not be written (db_locked)" in done.stderr
    assert "without --resume" in done.stderr
    assert "Traceback" not in done.stderr
    assert waited < 30  # the lock timeout (1 s) plus one busy wait per component, not forever
    assert logged_stat(done.stderr, "ingest/db/db_locked") >= 1
    assert logged_stat(done.stderr, "ingest/db/lock_retries") >= 1
    # Nothing was written once the lock was taken: the crawl's half-batch is not in the file.
    after = assert_consistent(db_path, reference)
    assert after == before
    # The end of the run could not be recorded (the lock was still held): counted and logged.
    assert last_run(db_path)["finish_reason"] is None
    assert "could not record the end of run" in done.stderr
    assert not job_dirs(db_path, ["rbc"])["rbc"].exists()  # a resume would skip unstored pages
    rerun_completes(db_path, server, reference)


# --- a full disk ----------------------------------------------------------------------------


def page_count(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("pragma page_count").fetchone()[0])
    finally:
        conn.close()


def test_a_full_disk_stops_the_crawl_and_keeps_what_was_stored(
    server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    db_path = tmp_path / "news.db"
    crawl(db_path, server.url, "-a", "limit=8")
    earlier = content(db_path)
    assert 0 < len(earlier["bodies"]) < len(reference["bodies"])
    # Room for a few `seen` rows, not for a batch of articles with their FTS entries.
    cap = page_count(db_path) + 6
    command = crawl_command(db_path, server.url, "-s", "INGEST_BATCH_SIZE=5")
    capped = [sys.executable, "-m", "tests.capped_crawl", str(cap), *command[3:]]
    process = start(capped)
    done = finish(process)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "finish reason disk_full" in done.stdout
    assert "could not be written (disk_full)" in done.stderr
    assert "database or disk is full" in done.stderr
    assert "Traceback" not in done.stderr
    assert logged_stat(done.stderr, "ingest/db/disk_full") >= 1
    assert logged_stat(done.stderr, "ingest/dropped/disk_full") >= 1
    assert page_count(db_path) <= cap
    # What was stored before is intact; nothing of the failed batch is in the file.
    after = assert_consistent(db_path, reference)
    assert set(after["bodies"]) >= set(earlier["bodies"])
    for url in earlier["bodies"]:
        assert after["images"].get(url, []) == earlier["images"].get(url, [])
    assert last_run(db_path)["finish_reason"] in ("disk_full", None)  # None: no page for it
    rerun_completes(db_path, server, reference)


# --- SIGKILL in the middle of a write ------------------------------------------------------


# SQLite's unix VFS takes the WAL write lock as a POSIX lock on this byte of the -shm file
# (UNIX_SHM_BASE = (22 + SQLITE_SHM_NLOCK) * 4, WAL_WRITE_LOCK = 0); another process can see it
# held with F_GETLK without taking it.
WAL_WRITE_LOCK_BYTE = 120
FLOCK = "hhqqi4x"  # struct flock on Linux x86-64/aarch64: type, whence, start, len, pid


def writing(shm_fd: int) -> bool:
    """True while some connection holds the database's write lock (is inside a write)."""
    probe = struct.pack(FLOCK, fcntl.F_WRLCK, os.SEEK_SET, WAL_WRITE_LOCK_BYTE, 1, 0)
    answer = struct.unpack(FLOCK, fcntl.fcntl(shm_fd, fcntl.F_GETLK, probe))
    return bool(answer[0] != fcntl.F_UNLCK)


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (the crawl's worker pool), from /proc."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_sigkill_in_a_batch_then_resume(
    server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    """Killed while it holds the write lock for longer than a ``seen`` row takes (so inside a
    batch's transaction), the crawl leaves a sound file with whole batches of whole articles;
    ``--resume`` sees that the state was never saved and crawls from the start, completing the
    set with every article once."""
    db_path = tmp_path / "news.db"
    batch = ["-s", "CONCURRENT_REQUESTS=1", "-s", "DOWNLOAD_DELAY=0.1"]
    batch += ["-s", f"INGEST_BATCH_SIZE={KILL_BATCH}"]
    process = start(crawl_command(db_path, server.url, *batch))
    workers: list[int] = []
    try:
        wait_for(lambda: stored_count(db_path) >= 1, process, "a first batch")
        workers = children(process.pid)
        shm = os.open(f"{db_path}-shm", os.O_RDONLY)
        try:
            held_since: float | None = None
            deadline = time.monotonic() + CRAWL_TIMEOUT
            while True:
                assert process.poll() is None, "the crawl ended before it could be killed"
                assert time.monotonic() < deadline
                now = time.monotonic()
                if not writing(shm):
                    held_since = None
                elif held_since is None:
                    held_since = now
                elif now - held_since >= 0.001:
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.0002)
        finally:
            os.close(shm)
        killed = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert killed.returncode == -signal.SIGKILL
    # The worker processes notice their parent is gone and exit.
    deadline = time.monotonic() + 15
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = [p for p in workers if alive(p)]
    for pid in leftover:  # ours to clean up, by pid, before failing
        os.kill(pid, signal.SIGKILL)
    assert not leftover, f"worker processes outlived the killed crawl: {leftover}"

    partial = assert_consistent(db_path, reference)
    assert 1 <= len(partial["bodies"]) < len(reference["bodies"])
    assert len(partial["bodies"]) % KILL_BATCH == 0  # whole batches only
    assert last_run(db_path)["finished_at"] is None
    jobdir = job_dirs(db_path, ["rbc"])["rbc"]
    assert (jobdir / "requests.seen").is_file()

    result = subprocess.run(
        crawl_command(db_path, server.url, "--resume"),
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "was killed before it saved its state" in result.stderr
    stats = last_run(db_path)["stats"]
    assert stats["finish_reason"] == "finished"
    assert assert_consistent(db_path, reference) == reference
    assert stats["ingest/stored/new"] == len(reference["bodies"]) - len(partial["bodies"])
    assert stats.get("ingest/skipped/unchanged", 0) >= 1  # the stored ones were not fetched


def test_a_job_dir_tells_a_killed_crawl_from_a_stopped_one(tmp_path: Path) -> None:
    """Only a crawl that closed writes ``spider.state``, after ``requests.seen``. (The mirror
    crawl above is too small for the dupefilter's write buffer to reach the disk before the
    kill, so there a resume would have worked by luck; on a real crawl it would skip pages.)"""
    job = tmp_path / "rbc"
    job.mkdir()
    assert not was_killed(job)  # nothing yet
    (job / "requests.seen").write_text("fp1\n")
    assert was_killed(job)  # running, or killed: no saved state
    time.sleep(0.01)
    (job / "spider.state").write_bytes(b"state")
    assert not was_killed(job)  # stopped by a signal: state saved after the fingerprints
    time.sleep(0.01)
    with (job / "requests.seen").open("a") as seen:
        seen.write("fp2\n")
    assert was_killed(job)  # resumed, then killed: fingerprints newer than the state


# --- another connection holds the write lock when a writer transaction starts ---------------
# sqlite-utils probes ON CONFLICT support by writing on a connection's first upsert, and caches
# "no" on any OperationalError. In a deferred transaction (db.atomic()) that has read, the probe
# meets another connection's write lock at once ("database is locked", no busy timeout), and
# from then on the connection upserts by INSERT OR IGNORE + UPDATE, which skips every new row
# with a NOT NULL column: the demo's three crawls lost seen rows and whole batches that way.
# Each test runs the real writer code with our BEGIN IMMEDIATE helper (nothing lost), and with
# the helper replaced by db.atomic() (rows lost), which shows that the scenario does reproduce.

LOCK_HELD = 0.5  # seconds the other connection keeps the write lock


def deferred_transaction(db: Database) -> AbstractContextManager[Database]:
    """What the writer used before: sqlite-utils' atomic(), a deferred BEGIN."""
    return db.atomic()


@contextmanager
def write_lock_held(db_path: Path) -> Iterator[None]:
    """Another connection holds the write lock (BEGIN IMMEDIATE) from now until LOCK_HELD
    seconds later, then commits (in a timer thread)."""
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(LOCK_HELD, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        other.close()


def migrated(db_path: Path) -> None:
    """The database exists and is migrated, so the writer's connection has upserted nothing
    (a migration run may) when its first transaction starts."""
    open_db(db_path).close()


def locked_writer_crawler(db_path: Path) -> Crawler:
    crawler = get_crawler(
        RbcSpider, {"INGEST_DB": str(db_path), "INGEST_DB_BUSY_TIMEOUT": 5 * LOCK_HELD}
    )
    crawler.spider = crawler._create_spider()
    return crawler


def locked_items() -> list[ArticleItem]:
    return [
        ArticleItem(
            url=f"https://www.rbc.ua/rus/news/locked-{n}.html",
            fetched_url=f"https://www.rbc.ua/rus/news/locked-{n}.html",
            site="rbc",
            fetched_at="2025-07-04T16:00:00+00:00",
            title=f"Article {n}",
            body=f"Body of article {n}.",
            body_hash=f"hash-{n}",
            images=[Image(src=f"https://www.rbc.ua/static/img/{n}.jpg")],
        )
        for n in range(3)
    ]


@pytest.mark.parametrize("helper", ["immediate", "atomic"])
def test_a_batch_that_starts_under_another_write_lock_is_stored_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    if helper == "atomic":
        monkeypatch.setattr(storage_module, "immediate_transaction", deferred_transaction)
    db_path = tmp_path / "news.db"
    migrated(db_path)
    crawler = locked_writer_crawler(db_path)
    pipeline = SQLitePipeline.from_crawler(crawler)
    pipeline.open_spider()
    with write_lock_held(db_path):
        for item in locked_items():
            pipeline.process_item(item)
        pipeline.close_spider()  # the batch meets the lock
    db = pipeline.db
    assert db is not None
    stored = db.table("articles").count, db.table("images").count
    probed = db._supports_on_conflict  # the answer sqlite-utils cached on the connection
    assert crawler.spider is not None
    pipeline.spider_closed(crawler.spider, "finished")
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    if helper == "immediate":
        assert stored == (3, 3)
        assert probed is True
        assert stats["ingest/stored/new"] == 3
        assert "ingest/dropped/pipeline_error" not in stats
        assert "ingest/db/lock_retries" not in stats  # the busy timeout waited the lock out
    else:  # the bug, reproduced: the articles skipped, the images' FOREIGN KEY failed
        assert stored == (0, 0)
        assert probed is False
        assert stats["ingest/dropped/pipeline_error"] == 3


@pytest.mark.parametrize("helper", ["immediate", "atomic"])
def test_seen_rows_written_under_another_write_lock_are_all_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    if helper == "atomic":
        monkeypatch.setattr(incremental_module, "immediate_transaction", deferred_transaction)
    db_path = tmp_path / "news.db"
    migrated(db_path)
    crawler = locked_writer_crawler(db_path)
    middleware = IncrementalMiddleware.from_crawler(crawler)
    writer = DbWriter.of(crawler, db_path)
    writer.acquire()
    rows = [
        {"url": f"https://www.rbc.ua/rus/news/seen-{n}.html", "site": "rbc", "status": 200,
         "checked_at": "2025-07-04T16:00:00+00:00"}
        for n in range(3)
    ]  # fmt: skip
    try:
        with write_lock_held(db_path):
            middleware.write_seen(writer, rows)  # waits: no reactor
    finally:
        writer.release().result()
    assert crawler.stats is not None
    assert crawler.stats.get_value(HALTED_STAT) is None  # no error either way
    db = open_db(db_path, read_only=True)
    try:
        kept = db.table("seen").count
    finally:
        db.close()
    assert kept == (3 if helper == "immediate" else 0)


def test_a_connection_that_lost_the_probe_refuses_to_upsert(tmp_path: Path) -> None:
    """Should sqlite-utils ever have cached "no ON CONFLICT", the helper raises instead of
    letting the fallback skip rows."""
    db_path = tmp_path / "news.db"
    db = open_db(db_path)
    try:
        db._supports_on_conflict = False
        with pytest.raises(RuntimeError, match="ON CONFLICT"), immediate_transaction(db):
            db.table("seen").upsert({"url": "u", "checked_at": "now"}, pk="url")
        assert not db.conn.in_transaction
        assert db.table("seen").count == 0
    finally:
        db.close()


# --- the order in which the writer's users close ---------------------------------------------


@pytest.mark.parametrize("wait", [True, False])
def test_the_run_is_recorded_after_the_last_seen_rows_whatever_the_handler_order(
    tmp_path: Path, server: MirrorServer, wait: bool
) -> None:
    """Storage's record of the run is the writer's last job, after the incremental check's
    last seen rows, even when storage's ``spider_closed`` runs first (tests/closing_order.py
    delays the other); every downloaded URL has its seen row. Without storage waiting for the
    writer's other users (``--no-wait``), the run is recorded before those rows."""
    db_path = tmp_path / "news.db"
    command = crawl_command(db_path, server.url)
    helper = [sys.executable, "-m", "tests.closing_order", *([] if wait else ["--no-wait"])]
    result = subprocess.run(
        [*helper, *command[3:]],
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [
        line.split(" ", 1)[1]
        for line in result.stderr.splitlines()
        if line.startswith(("JOB ", "CLOSE "))
    ]
    assert events.count("seen") == 1, events  # every seen row, written at the close
    assert events.index("incremental") < events.index("seen"), events
    stats = last_run(db_path)["stats"]
    db = open_db(db_path, read_only=True)
    try:
        seen = db.table("seen").count
    finally:
        db.close()
    assert seen == stats["ingest/incremental/downloaded"]
    assert events.count("run-end") == 1, events
    if wait:
        assert events[-1] == "run-end", events
    else:  # what the test catches: the run recorded while seen rows were still to come
        assert events.index("run-end") < events.index("seen"), events
