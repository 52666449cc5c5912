"""Nothing of storage blocks the crawl (issue 11): while another connection holds the database's
write lock for 20 s, the crawl keeps downloading (the writer thread waits, not the reactor), and
once the lock is gone every article is stored, each once, whole.

The real ``ingest crawl rbc`` runs in a subprocess against the bundled mirror on 127.0.0.1,
served slowly (every answer 0.3 s late, one request at a time), so the crawl is still
downloading when the lock is taken and for its 20 s.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from ingest.demo import MirrorServer, mirror_root

from .crawl_helpers import crawl, crawl_command, last_run
from .test_storage_faults import assert_consistent, content, finish, start, stored_count, wait_for

LATENCY = 0.3  # seconds before the server answers each request
LOCK_SECONDS = 20.0
FIRST = 4  # articles stored before the lock is taken
SLOW = ["-s", "CONCURRENT_REQUESTS=1", "-s", "INGEST_BATCH_SIZE=2"]


class SlowMirror:
    """The mirror, each answer ``LATENCY`` late; ``answered`` holds when each was sent."""

    def __init__(self) -> None:
        self.server = MirrorServer(mirror_root("rbc"))
        self.answered: list[float] = []
        lock = threading.Lock()
        answered = self.answered
        base: type[BaseHTTPRequestHandler] = self.server.httpd.RequestHandlerClass  # type: ignore[assignment]

        class Slow(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                time.sleep(LATENCY)
                super().do_GET()
                with lock:
                    answered.append(time.monotonic())

        self.server.httpd.RequestHandlerClass = Slow
        self.url = self.server.url

    def between(self, start: float, end: float) -> int:
        return sum(start <= t <= end for t in self.answered)


@pytest.fixture(scope="module")
def mirror() -> Iterator[SlowMirror]:
    slow = SlowMirror()
    slow.server.start()
    try:
        yield slow
    finally:
        slow.server.stop()


@pytest.fixture(scope="module")
def reference(mirror: SlowMirror, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An undisturbed crawl's articles, images and translations."""
    db_path = tmp_path_factory.mktemp("reference") / "news.db"
    crawl(db_path, mirror.url)
    return content(db_path)


def test_downloads_go_on_while_the_database_is_locked(
    mirror: SlowMirror, reference: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    db_path = tmp_path_factory.mktemp("locked") / "news.db"
    process = start(crawl_command(db_path, mirror.url, *SLOW))
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        wait_for(lambda: stored_count(db_path) >= FIRST, process, "articles stored")
        holder.execute("begin immediate")  # what a VACUUM or a second writer does
        locked_at = time.monotonic()
        held = content(db_path)
        time.sleep(LOCK_SECONDS)
        during = mirror.between(locked_at, time.monotonic())
        assert process.poll() is None, "the crawl ended while the database was locked"
        assert stored_count(db_path) == len(held["bodies"])  # nothing written meanwhile
        holder.execute("rollback")
    finally:
        holder.close()
        done = finish(process)
    assert done.returncode == 0, done.stderr[-3000:]
    # At one request at a time, LATENCY each: a crawl thread waiting on the lock would have
    # let at most one download finish; this one went on.
    assert during >= 20, f"only {during} responses while the database was locked"
    stats = last_run(db_path)["stats"]
    assert stats["finish_reason"] == "finished"
    assert stats["ingest/db/lock_retries"] >= 1
    assert not [k for k in stats if k.startswith("ingest/dropped/db_")]
    assert assert_consistent(db_path, reference) == reference  # every article, whole
    assert stats["ingest/stored/new"] == len(reference["bodies"])  # each once
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("select count(*) from revisions").fetchone() == (0,)
    finally:
        conn.close()


def test_the_storage_cap_pauses_the_crawl_and_drops_nothing(
    mirror: SlowMirror, reference: dict[str, Any], tmp_path: Path
) -> None:
    """At ``INGEST_STORAGE_MAX_PENDING`` articles waiting for a locked database, new items
    wait too (``ingest/storage/waited``); nothing is dropped, and everything is stored."""
    db_path = tmp_path / "news.db"
    cap = ["-s", "INGEST_STORAGE_MAX_PENDING=4"]
    process = start(crawl_command(db_path, mirror.url, *SLOW, *cap))
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        wait_for(lambda: stored_count(db_path) >= FIRST, process, "articles stored")
        holder.execute("begin immediate")
        time.sleep(8)
        holder.execute("rollback")
    finally:
        holder.close()
        done = finish(process)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = last_run(db_path)["stats"]
    assert stats["finish_reason"] == "finished"
    assert stats["ingest/storage/waited"] >= 1
    assert not [k for k in stats if k.startswith(("ingest/dropped/db_", "ingest/dropped/pip"))]
    assert assert_consistent(db_path, reference) == reference
    assert stats["ingest/stored/new"] == len(reference["bodies"])
