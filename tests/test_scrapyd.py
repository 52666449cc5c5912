"""The project on a real scrapyd (issue 13): deployed with scrapyd-deploy from scrapy.cfg's
[deploy] target, ``rbc`` scheduled through schedule.json against the demo mirror, its articles
and its ``scrapyd`` run found in the SQLite file its settings name. Sharding is checked offline."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.crawl import scrapyd
from ingest.demo import mirror_root, serve
from ingest.store.db import open_db
from tests.crawl_helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".venv", ".git", "data", "jobs", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".hypothesis", "tests", "benchmarks", "eval-*",
)  # fmt: skip
DEPLOY = Path(sys.executable).parent / "scrapyd-deploy"
RBC_DEMO_ARTICLES = 39  # the demo's rbc share (tests/test_wheel.py)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def node(tmp_path: Path) -> Iterator[str]:
    """A scrapyd on 127.0.0.1 with its own config, eggs, logs and dbs in ``tmp_path``."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.5\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
    )
    with (home / "scrapyd.err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"], cwd=home, env=clean_env(),
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scrapyd.call(url, "daemonstatus.json")
                break
            except scrapyd.ScrapydError:
                assert process.poll() is None, (home / "scrapyd.err").read_text()[-3000:]
                assert time.monotonic() < deadline, "scrapyd did not start in 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def deploy(tmp_path: Path, url: str) -> None:
    """scrapyd-deploy from a copy of this checkout whose [deploy] url names the test's node
    (building the egg writes build/ and setup files into the project directory)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    cfg = source / "scrapy.cfg"
    cfg.write_text(cfg.read_text().replace("http://127.0.0.1:6800/", url + "/"))
    result = subprocess.run(
        [str(DEPLOY), "--version", "1"],
        cwd=source, capture_output=True, text=True, timeout=300, check=False, env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status": "ok"' in result.stdout, result.stdout + result.stderr


def test_rbc_runs_on_scrapyd_from_the_deployed_egg(tmp_path: Path, node: str) -> None:
    if not DEPLOY.is_file():
        pytest.skip("scrapyd-deploy missing: pip install -e '.[dev]'")
    db = tmp_path / "scrapyd.db"
    url = node
    with serve(mirror_root("rbc")) as mirror:
        deploy(tmp_path, url)
        assert "rbc" in scrapyd.call(url, "listspiders.json?project=ingest")["spiders"]
        job = scrapyd.schedule(
            url,
            scrapyd.Unit("rbc"),
            args={"since": "2025-07-02", "until": "2025-07-04"},
            settings={
                "INGEST_DB": str(db),
                "INGEST_MIRROR": mirror.url,
                "DOWNLOAD_DELAY": "0",
                "AUTOTHROTTLE_ENABLED": "False",
                "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
            },
        )
        deadline = time.monotonic() + 180
        while not any(j["id"] == job for j in scrapyd.jobs(url)["finished"]):
            assert time.monotonic() < deadline, scrapyd.jobs(url)
            time.sleep(0.5)
        assert scrapyd.busy_units(url) == set()
        # The same through `ingest schedule --scrapyd` (one round), as cron would run it.
        result = subprocess.run(
            [sys.executable, "-m", "ingest", "schedule", "rbc", "--rounds", "1", "--scrapyd", url,
             "--db", str(db), "-a", "since=2025-07-02", "-a", "until=2025-07-04",
             "-s", f"INGEST_MIRROR={mirror.url}", "-s", "DOWNLOAD_DELAY=0"],
            capture_output=True, text=True, timeout=60, check=False, env=clean_env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        while len(scrapyd.jobs(url)["finished"]) < 2:
            assert time.monotonic() < deadline + 120, scrapyd.jobs(url)
            time.sleep(0.5)
    store = open_db(db, read_only=True)
    sites = store.execute("select site, count(*) from articles group by site").fetchall()
    assert sites == [("rbc", RBC_DEMO_ARTICLES)]
    runs = store.execute("select spider, trigger, finish_reason from runs").fetchall()
    assert runs == [("rbc", "scrapyd", "finished")] * 2


def test_sharding_keeps_whole_sites_on_one_node_and_moves_little() -> None:
    units = [scrapyd.Unit("rbc"), *(scrapyd.Unit("feed", f"site{n}") for n in range(50))]
    nodes = ["http://a:6800", "http://b:6800", "http://c:6800"]
    shards = scrapyd.shard(units, nodes)
    placed = [u for mine in shards.values() for u in mine]
    assert sorted(placed, key=str) == sorted(units, key=str)  # each unit on exactly one node
    assert all(len(mine) >= 8 for mine in shards.values())  # roughly even
    assert scrapyd.shard(units, list(reversed(nodes)))["http://a:6800"] == shards["http://a:6800"]
    grown = scrapyd.shard(units, [*nodes, "http://d:6800"])
    moved = [u for n in nodes for u in shards[n] if u not in grown[n]]
    assert all(u in grown["http://d:6800"] for u in moved)  # only to the new node


def test_unit_names() -> None:
    unit = scrapyd.Unit.parse("feed:pravda")
    assert (unit.spider, unit.site, unit.key, str(unit)) == (
        "feed",
        "pravda",
        "feed.pravda",
        "feed:pravda",
    )
    with pytest.raises(scrapyd.ScrapydError, match="not a scrapyd URL"):
        scrapyd.call("file:///etc/passwd", "daemonstatus.json")
