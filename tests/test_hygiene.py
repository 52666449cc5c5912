"""Process hygiene and clean edges (issue 10, cases 6-9 and 11): job state per database, workers
that die with their crawl, bounded queries, safe first opens, clear errors instead of tracebacks.

Real child processes throughout (a crawl killed with SIGKILL, a query sent SIGINT, a Datasette
server asked for a huge result), each bounded in time."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from scrapy import Spider
from scrapy.utils.test import get_crawler

from ingest.cli import cli
from ingest.crawl.jobs import job_dirs
from ingest.crawl.logformatter import IngestLogFormatter
from ingest.demo import MirrorServer, mirror_root, serve
from ingest.items import ArticleItem
from ingest.store.db import open_db

from .crawl_helpers import clean_env, crawl, crawl_command

ENDLESS = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
CHILD_TIMEOUT = 60  # seconds any child process of these tests may take


def ingest(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ingest_child(*args: str | Path, **env: str) -> subprocess.Popen[str]:
    """``python -m ingest ARGS`` as a child process, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean_env(), **env},
    )


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "news.db"
    open_db(path).close()
    return path


# 8. Runaway queries


def test_a_query_stops_at_its_time_limit(empty_db: Path) -> None:
    started = time.monotonic()
    child = ingest_child("query", "--db", empty_db, "--time-limit", "1", ENDLESS)
    _, err = child.communicate(timeout=CHILD_TIMEOUT)
    assert child.returncode == 1, err
    assert time.monotonic() - started < 15
    assert "time limit (1 s" in err
    assert "Traceback" not in err


def test_ctrl_c_stops_a_running_query_at_once(empty_db: Path) -> None:
    child = ingest_child("query", "--db", empty_db, "--time-limit", "0", ENDLESS)
    try:
        time.sleep(2)  # Python started and SQLite is counting
        assert child.poll() is None, child.communicate()
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
        assert time.monotonic() - sent < 2
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err


# ``python -m ingest`` that writes its peak RSS (VmHWM, KiB) to argv[1] as it exits. Not wait4's
# ru_maxrss: that includes the forked copy of this (large) pytest process before its exec.
PEAK_REPORTING = """
import atexit, runpy, sys
from pathlib import Path
report = Path(sys.argv.pop(1))
def peak():
    status = Path("/proc/self/status").read_text().splitlines()
    report.write_text(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
atexit.register(peak)
sys.argv[0] = "ingest"
runpy.run_module("ingest", run_name="__main__", alter_sys=True)
"""


def run_measured(tmp_path: Path, *args: str | Path, **env: str) -> tuple[int, str, int]:
    """``python -m ingest ARGS`` to its end: exit status, stderr, peak RSS in KiB."""
    peak = tmp_path / "peak.txt"
    result = subprocess.run(
        [sys.executable, "-c", PEAK_REPORTING, str(peak), *(str(a) for a in args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
        env={**clean_env(), **env},
    )
    return result.returncode, result.stderr, int(peak.read_text())


def test_a_huge_value_is_refused_not_allocated(empty_db: Path, tmp_path: Path) -> None:
    code, err, peak = run_measured(
        tmp_path, "query", "--db", empty_db, "select length(randomblob(900000000))"
    )
    assert code == 1, err
    assert "string or blob too big" in err
    assert peak < 300 * 1024, "KiB: the blob was built"


def test_rows_kept_for_a_table_are_bounded_by_the_memory_limit(
    empty_db: Path, tmp_path: Path
) -> None:
    endless_rows = "with recursive c(x) as (select 1 union all select x + 1 from c) select x from c"
    code, err, peak = run_measured(
        tmp_path,
        *("query", "--db", empty_db, "--time-limit", "0", endless_rows),
        INGEST_QUERY_MEMORY_LIMIT=str(64 * 2**20),
    )
    assert code == 1, err
    assert "memory limit (64 MiB" in err
    assert peak < 400 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_hwm_kib(pid: int) -> int:
    """Peak resident memory of a live process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_serve_bounds_what_one_query_can_take(empty_db: Path) -> None:
    port = free_port()
    child = ingest_child("serve", "--db", empty_db, "--port", str(port))
    base = f"http://127.0.0.1:{port}/{empty_db.stem}.json?sql="
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT
        while True:
            assert child.poll() is None, child.communicate()
            try:
                if get_json(base + "select+1")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "ingest serve did not start"
            time.sleep(0.2)
        status, body = get_json(base + urllib.parse.quote("select length(randomblob(900000000))"))
        assert status == 400
        assert "too big" in str(body.get("error"))
        # Every value under the length limit, but a thousand of them: Python's copies.
        many = ENDLESS.replace("count(*)", "zeroblob(30000000)") + " limit 1000"
        status, _ = get_json(base + urllib.parse.quote(many))
        assert status >= 400
        status, _ = get_json(base + urllib.parse.quote(ENDLESS))
        assert status == 400  # Datasette's own time limit, set from INGEST_QUERY_SERVE_TIME_LIMIT
        assert vm_hwm_kib(child.pid) < 900 * 1024
        assert get_json(base + "select+1")[0] == 200  # and it still serves
    finally:
        child.terminate()
        try:
            child.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()


# 11. Unclean edges


def test_plain_search_words_are_never_fts5_syntax(empty_db: Path) -> None:
    for query in ['"', '""', 'a"b', "-", "NEAR(", "*", "   "]:
        result = ingest("search", query, "--db", empty_db)
        assert result.exit_code == 0, (query, result.output)


def test_a_moment_out_of_range_is_a_usage_error(empty_db: Path) -> None:
    for flag in ("--since", "--until"):
        for value in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"):
            result = ingest("search", "x", "--db", empty_db, flag, value)
            assert result.exit_code == 2, result.output
            assert "out of range" in result.output
    # The last day itself is fine: "until" then has no upper bound.
    assert ingest("export", "--db", empty_db, "--until", "9999-12-31").exit_code == 0


@pytest.mark.parametrize(
    "command",
    [["search", "x"], ["query", "select 1"], ["export"], ["db", "stats"], ["seen", "stats"]],
)
def test_a_database_of_random_bytes_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(100_000))
    result = ingest(*command, "--db", path)
    assert result.exit_code == 1, result.output
    assert "is not a database" in result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_export_keeps_an_existing_file_unless_forced(empty_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    result = ingest("export", "--db", empty_db, "-o", out)
    assert result.exit_code == 1
    assert "--force" in result.output
    assert out.read_text() == "precious\n"
    assert ingest("export", "--db", empty_db, "-o", out, "--force").exit_code == 0
    assert out.read_text() == ""


def test_export_into_a_missing_folder_is_a_clear_error(empty_db: Path, tmp_path: Path) -> None:
    result = ingest("export", "--db", empty_db, "-o", tmp_path / "nowhere" / "out.jsonl")
    assert result.exit_code == 1
    assert "no folder" in result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_remote_control_is_off_like_telnet() -> None:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "ingest.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    assert not settings.getbool("TELNETCONSOLE_ENABLED")
    assert not settings.getbool("REMOTE_CONTROL_ENABLED")


def test_an_item_error_names_the_url_and_exception_not_the_page() -> None:
    spider = get_crawler(Spider)._create_spider("t")
    url = "https://example.com/a.html"
    page = ArticleItem(  # as a spider yields it: the whole page in ``html``
        url=url,
        fetched_url=url,
        site="example.com",
        fetched_at="2025-07-04",
        html="<p>page</p>" * 10_000,
    )
    result = IngestLogFormatter().item_error(page, ValueError("x" * 5000), None, spider)
    line = result["msg"] % result["args"]
    assert line.startswith("Error processing https://example.com/a.html: ValueError: xxx")
    assert len(line) < 400
    assert "<p>" not in line
    assert result["level"] == logging.ERROR


# 9. First-open races

OPEN_AT = """
import sys, time
from ingest.store.db import open_db
start = float(sys.argv[2])
while time.time() < start:
    pass
open_db(sys.argv[1]).close()
"""


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    for attempt in range(3):  # the race is timing: several rounds, fresh databases
        path = tmp_path / f"new{attempt}.db"
        start = time.time() + 3  # every child has imported and is spinning by then
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(path), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        errors = [child.communicate(timeout=CHILD_TIMEOUT)[1] for child in children]
        assert [c.returncode for c in children] == [0] * 4, "\n".join(errors)[-3000:]
        db = open_db(path, read_only=True)
        assert db.table("articles").exists()
        db.close()


def test_a_crawl_into_random_bytes_says_so_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(100_000))
    before = path.read_bytes()
    result = ingest("crawl", "rbc", "--db", path)
    assert result.exit_code == 1, result.output
    assert "is not a news-ingest database (file is not a database)" in result.output
    assert "--resume" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_a_crawl_into_a_read_only_database_says_so(empty_db: Path) -> None:
    empty_db.chmod(0o444)
    result = ingest("crawl", "rbc", "--db", empty_db)
    assert result.exit_code == 1, result.output
    assert "readonly" in result.output
    assert "--resume" not in result.output


# 6. Two databases, one folder: job state per database and spider


def test_job_state_is_per_database_and_spider(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert job_dirs(a, ["rbc"])["rbc"] != job_dirs(b, ["rbc"])["rbc"]
    assert job_dirs(a, ["rbc"])["rbc"].parent.parent == tmp_path / "jobs"
    # An explicit --jobdir may be shared by databases of the same name in other folders.
    other = tmp_path / "elsewhere" / "a.db"
    base = tmp_path / "state"
    assert job_dirs(a, ["rbc"], base)["rbc"] != job_dirs(other, ["rbc"], base)["rbc"]
    assert job_dirs(a, ["rbc", "feed"])["rbc"].parent == job_dirs(a, ["feed"])["feed"].parent


@pytest.fixture(scope="module")
def server() -> Iterator[MirrorServer]:
    with serve(mirror_root("rbc")) as running:
        yield running


def test_a_crawl_of_one_database_leaves_anothers_state_alone(
    server: MirrorServer, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    a_state = job_dirs(a, ["rbc"])["rbc"]
    a_state.mkdir(parents=True)
    for name in ("requests.seen", "spider.state"):  # as a crawl stopped by Ctrl+C leaves it
        (a_state / name).write_bytes(b"a's crawl\n")
    crawl(b, server.url, "-a", "limit=3")
    assert (a_state / "requests.seen").read_bytes() == b"a's crawl\n"
    assert not job_dirs(b, ["rbc"])["rbc"].exists()  # b finished: its own state is gone


# 7. Orphaned workers


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (workers and the resource tracker), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_workers_exit_when_their_crawl_is_killed(server: MirrorServer, tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    slow = ["-s", "CONCURRENT_REQUESTS=1", "-s", "DOWNLOAD_DELAY=0.3", "-s", "INGEST_BATCH_SIZE=1"]
    process = subprocess.Popen(
        crawl_command(db, server.url, "--full", *slow),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**clean_env(), "INGEST_WORKERS": "2", "INGEST_POOL_AFTER": "0"},
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT
        # Two workers and the resource tracker, and pages going through them.
        while len(workers := descendants(process.pid)) < 3 or stored(db) < 2:
            assert process.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, f"no pool in time: {workers}"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftover = sorted(p for p in workers if alive(p))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in workers:  # ours to clean up, by pid, before failing
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert not leftover, f"outlived the killed crawl: {leftover}"


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        database = open_db(db, read_only=True)
    except sqlite3.Error:
        return 0
    try:
        return database.table("articles").count if database.table("articles").exists() else 0
    finally:
        database.close()
