"""``ingest schedule`` / ``ingest cron`` and the per-spider lock: intervals, rounds against the
bundled mirror on 127.0.0.1, graceful stop on SIGTERM, skipping and refusing while a lock is held,
and a lock that dies with its holder."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.crawl.locks import (
    EXIT_LOCKED,
    SpiderLocked,
    held_by,
    lock_path,
    spider_lock,
    spider_locks,
)
from ingest.crawl.schedule import (
    DurationError,
    Scheduler,
    cron_schedule,
    format_duration,
    parse_duration,
    systemd_timespan,
)
from ingest.demo import MirrorServer, mirror_root, serve

TIMEOUT = 120  # seconds: the bound on every wait for a subprocess
LOOPBACK = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
CHILD_PID = re.compile(r"crawling rbc \(pid (\d+)\)")


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2h0m5s", 7205), (" 45M ", 2700)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "30", "1.5h", "m", "0s", "0h0m", "-5m", "5x", "1h 30m", "30m1h"]
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [1, 59, 60, 90, 900, 3600, 5400, 7205, 86400])
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_systemd_timespan() -> None:
    assert systemd_timespan(5400) == "1h 30min"
    assert systemd_timespan(90) == "1min 30s"
    assert systemd_timespan(1800) == "30min"


def test_schedule_rejects_a_bad_interval_with_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["schedule", "rbc", "--every", "5x"])
    assert result.exit_code == 2
    assert "invalid duration '5x'" in result.output
    assert "1h30m" in result.output  # says what would be accepted


# --- cron ----------------------------------------------------------------------------------------


def cron_field_values(field: str, low: int, high: int) -> set[int]:
    """The values a crontab field (``*``, ``*/n``, ``n``) matches, enough for what we emit."""
    if field == "*":
        return set(range(low, high + 1))
    if field.startswith("*/"):
        return set(range(low, high + 1, int(field[2:])))
    assert field.isdigit(), field
    return {int(field)}


def cron_fire_minutes(schedule: str) -> list[int]:
    """Minutes of one week (0 = Sunday 00:00) at which a five-field schedule fires."""
    minute, hour, dom, month, dow = schedule.split()
    assert (dom, month) == ("*", "*")
    minutes = cron_field_values(minute, 0, 59)
    hours = cron_field_values(hour, 0, 23)
    days = cron_field_values(dow, 0, 6)
    return [
        d * 1440 + h * 60 + m
        for d, h, m in itertools.product(sorted(days), sorted(hours), sorted(minutes))
    ]


@pytest.mark.parametrize("seconds", [60, 300, 900, 1800, 3600, 7200, 6 * 3600, 86400, 7 * 86400])
def test_cron_schedule_fires_evenly_at_the_interval(seconds: int) -> None:
    schedule = cron_schedule(seconds)
    assert schedule is not None
    fires = cron_fire_minutes(schedule)
    week = 7 * 1440
    gaps = {b - a for a, b in itertools.pairwise([*fires, fires[0] + week])}
    assert gaps == {seconds // 60}


@pytest.mark.parametrize("seconds", [30, 90, 45 * 60, 5400, 5 * 3600, 36 * 3600])
def test_cron_schedule_refuses_intervals_cron_cannot_keep(seconds: int) -> None:
    assert cron_schedule(seconds) is None


def test_cron_prints_a_crontab_line_and_systemd_units(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    result = CliRunner().invoke(
        cli, ["cron", "rbc", "--every", "30m", "--db", str(db), "-a", "lang=uk,en"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    cron_lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    crontab = next(line for line in cron_lines if line.startswith("*/30 * * * * "))
    argv = shlex.split(crontab.removeprefix("*/30 * * * * "))
    assert argv[:3] == ["cd", str(Path.cwd()), "&&"]
    assert f"INGEST_DB={db.absolute()}" in argv
    executable = argv[argv.index(f"INGEST_DB={db.absolute()}") + 1]
    assert Path(executable).is_absolute()
    assert Path(executable).is_file()
    assert "crawl rbc -a lang=uk,en -s INGEST_TRIGGER=scheduled" in crontab
    assert "[Service]" in out
    assert f"ExecStart={executable} crawl rbc" in out
    assert f"WorkingDirectory={Path.cwd()}" in out
    assert f"Environment=INGEST_DB={db.absolute()}" in out
    assert "KillSignal=SIGINT" in out
    assert f"SuccessExitStatus={EXIT_LOCKED}" in out
    timer = out[out.index("[Timer]") :]
    assert "OnUnitActiveSec=30min" in timer
    assert "Unit=ingest-rbc.service" in timer
    assert "WantedBy=timers.target" in out


def test_cron_says_when_cron_cannot_and_keeps_the_timer(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cron", "rbc", "--every", "45m", "--db", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert "cron cannot fire evenly every 45m" in result.output
    assert not [line for line in result.output.splitlines() if re.match(r"[\d*]", line)]
    assert "OnUnitActiveSec=45min" in result.output


@pytest.mark.parametrize("command", ["cron", "schedule"])
def test_unknown_spiders_are_refused_up_front(command: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [command, "rbc", "../x", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "Unknown spider(s): ../x (known: " in result.output
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


# --- locks ---------------------------------------------------------------------------------------


def test_lock_is_per_spider_and_db(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with spider_lock(db, "rbc") as path:
        assert path == lock_path(db, "rbc") == tmp_path / "news.db.rbc.lock"
        with pytest.raises(SpiderLocked) as busy:
            spider_lock(db, "rbc").__enter__()
        assert busy.value.holder == os.getpid()
        assert held_by(tmp_path / "." / "news.db", "rbc") is not None  # same DB, other spelling
        with spider_lock(db, "other"), spider_lock(tmp_path / "other.db", "rbc"):
            pass
    assert held_by(db, "rbc") is None


def test_multi_spider_locks_are_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with spider_lock(db, "b"), pytest.raises(SpiderLocked), spider_locks(db, ["a", "b"]):
        pass
    assert held_by(db, "a") is None  # "a" was taken first, then released when "b" failed


def test_crawl_refuses_while_the_lock_is_held(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with spider_lock(db, "rbc"):
        result = CliRunner().invoke(cli, ["crawl", "rbc", "--db", str(db)])
    assert result.exit_code == EXIT_LOCKED
    assert f"rbc: a crawl is already running (pid {os.getpid()} holds" in result.output
    assert not db.exists()  # refused before touching the database


HOLDER = """
import sys, time
from ingest.crawl.locks import spider_lock
with spider_lock(sys.argv[1], "rbc"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        busy = held_by(db, "rbc")
        assert busy is not None
        assert busy.holder == holder.pid
        refused = CliRunner().invoke(cli, ["crawl", "rbc", "--db", str(db)])
        assert refused.exit_code == EXIT_LOCKED
        assert f"pid {holder.pid}" in refused.output
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs in the holder
        holder.wait(timeout=TIMEOUT)
        if holder.stdout:
            holder.stdout.close()
    assert held_by(db, "rbc") is None
    with spider_lock(db, "rbc"):
        pass


# --- the scheduler, end to end -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror() -> Iterator[MirrorServer]:
    with serve(mirror_root("rbc")) as server:
        yield server


def runs(db: Path) -> list[dict[str, Any]]:
    """The ``runs`` rows so far (the scheduler's crawls create the DB and the table)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("select * from runs order by started_at")]
    except sqlite3.OperationalError:  # no such table yet
        return []
    finally:
        conn.close()


def wait_for(condition: Any, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert proc.poll() is None, f"scheduler exited early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_scheduler(db: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: Scrapy's log would fill a pipe and block
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", "schedule", "rbc", "--db", str(db), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a shell job has
        )


def stop(proc: subprocess.Popen[bytes], log: Path, how: str = "SIGTERM") -> int:
    """Stop the scheduler, then its exit status (bounded); any crawl child left behind is killed
    and fails the test. ``Ctrl+C`` is SIGINT to the whole process group, as a terminal sends it."""
    if how == "Ctrl+C":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.Signals[how])
    try:
        return proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        left = [int(p) for p in CHILD_PID.findall(log.read_text()) if running(int(p))]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == [], "crawl children still running after the scheduler exited"


def test_scheduler_runs_rounds_and_stops_cleanly_on_sigterm(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    db, log = tmp_path / "news.db", tmp_path / "schedule.log"
    proc = start_scheduler(db, log, "--every", "2s", "-s", f"INGEST_MIRROR={mirror.url}", *LOOPBACK)
    wait_for(lambda: sum(1 for r in runs(db) if r["finished_at"]) >= 2, "two runs", proc, log)
    assert stop(proc, log) == 0
    output = log.read_text()
    rows = runs(db)
    assert len(rows) >= 2
    assert {r["trigger"] for r in rows} == {"scheduled"}
    assert all(r["finished_at"] for r in rows)  # a round cut short is recorded too
    assert [r["finish_reason"] for r in rows[:2]] == ["finished", "finished"]
    # the first round fills the DB; later ones may find nothing new (incremental crawling)
    assert json.loads(rows[0]["stats"])["item_scraped_count"] > 0
    # rounds start an interval apart, measured from the previous start
    starts = [r["started_at"] for r in rows[:2]]
    assert starts[0] < starts[1]
    assert "round 2: crawling rbc" in output
    assert "scheduler stopped (stop requested)" in output
    assert "\r" not in output  # not a terminal: progress comes as log lines, never rewritten


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl+C"])
def test_a_stop_mid_crawl_lets_the_crawl_store_what_it_has(
    tmp_path: Path, mirror: MirrorServer, how: str
) -> None:
    db, log = tmp_path / "news.db", tmp_path / "schedule.log"
    slow = ["-s", "DOWNLOAD_DELAY=0.3", "-s", "AUTOTHROTTLE_ENABLED=False"]
    proc = start_scheduler(
        db,
        log,
        "--every",
        "1h",
        "-s",
        f"INGEST_MIRROR={mirror.url}",
        *slow,
        "-s",
        "INGEST_PROGRESS_INTERVAL=1",
    )
    some_items = re.compile(r"rbc: \d+ pages, [1-9]\d* items")
    wait_for(lambda: bool(some_items.search(log.read_text())), "stored items", proc, log)
    assert stop(proc, log, how) == 0
    output = log.read_text()
    rows = runs(db)
    assert len(rows) == 1  # no new round after the stop request
    run = rows[0]
    # Scrapy's graceful stop: one SIGINT reached the crawl (two would force it, a kill leaves
    # no finish_reason)
    assert run["finish_reason"] == "shutdown"
    stats = json.loads(run["stats"])
    assert stats["item_scraped_count"] > 0
    # every item that passed the pipelines was flushed to the database on the way out
    conn = sqlite3.connect(db)
    try:
        stored = conn.execute("select count(*) from articles").fetchone()[0]
    finally:
        conn.close()
    assert stored == stats["item_scraped_count"]
    assert "stopping: asking the crawl" in output
    assert re.search(r"\[ingest\.crawl\.progress\] INFO: rbc: \d+ pages, \d+ items", output)


def test_scheduler_skips_a_spider_whose_lock_is_held(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    with spider_lock(db, "rbc"):
        result = subprocess.run(
            [sys.executable, "-m", "ingest", "schedule", "rbc", "--db", str(db), "--rounds", "1"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "round 1: rbc skipped, rbc: a crawl is already running" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "crawling" not in result.stderr
    assert runs(db) == []


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(worker.pid))
time.sleep(120)
"""


class StubbornScheduler(Scheduler):
    """A "crawl" that ignores SIGINT and has a worker process of its own."""

    def __init__(self, db: Path, pid_file: Path) -> None:
        super().__init__(spiders=["rbc"], db_path=db, interval=60, stop_timeout=0.5)
        self.pid_file = pid_file

    def command(self, spiders: Sequence[str]) -> list[str]:
        return [sys.executable, "-c", STUBBORN, str(self.pid_file)]


def test_a_crawl_that_ignores_the_stop_is_killed_with_its_workers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "worker.pid"
    scheduler = StubbornScheduler(tmp_path / "news.db", pid_file)
    wait_until = time.monotonic() + TIMEOUT

    def stop_once_the_worker_runs() -> None:
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < wait_until
            time.sleep(0.05)
        scheduler.request_stop(signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_the_worker_runs, daemon=True)
    stopper.start()
    with caplog.at_level(logging.INFO, logger="ingest.crawl.schedule"):
        status = scheduler.run_round(1)
    stopper.join(timeout=TIMEOUT)
    assert status == -signal.SIGKILL
    assert "still running 0.5s after SIGINT: killing it" in caplog.text
    worker = int(pid_file.read_text())
    while running(worker):  # orphaned by the kill; init reaps it
        assert time.monotonic() < wait_until, "the crawl's worker outlived it"
        time.sleep(0.05)
