"""``ingest serve``: Datasette on loopback over a demo crawl, checked over HTTP and in headless
Chromium; the metadata describes every table and column of the schema."""

from __future__ import annotations

import hashlib
import html
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.query.datasette_metadata import datasette_metadata
from ingest.store.db import open_db

from .browser import chromium
from .crawl_helpers import run_demo
from .test_e2e import SEED

START_TIMEOUT = 60  # seconds for Datasette to answer
BROWSER_TIMEOUT = 90  # seconds for one headless Chromium page dump
SEED_BODY_START = "During a phone call, Ukrainian President"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body.decode("utf-8")


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"ingest serve exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            fetch(url, timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
        else:
            return
    pytest.fail(f"ingest serve did not answer within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@contextmanager
def serving(db: Path, log: Path) -> Iterator[str]:
    """``ingest serve`` of ``db`` on a free loopback port (default host) until the block ends;
    yields its base URL, its output going to ``log``."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "serve", "--db", str(db), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/-/versions.json", process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``ingest serve`` on a free loopback port (default host) over one demo crawl."""
    folder = tmp_path_factory.mktemp("serve")
    db = folder / "demo.db"
    run_demo(db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    log = folder / "serve.log"
    with serving(db, log) as base:
        yield {"base": base, "db": db, "digest": digest, "folder": folder, "log": log}


def test_search_page_finds_the_seed(server: dict[str, Any]) -> None:
    page = fetch(f"{server['base']}/demo/articles?_search=Hegseth")
    assert SEED["title"] in html.unescape(page)
    assert "1 row where search matches" in html.unescape(page)


def test_articles_have_facets_and_sort_newest_first(server: dict[str, Any]) -> None:
    page = fetch(f"{server['base']}/demo/articles")
    for column in ("site", "lang", "section"):
        assert f'data-column="{column}"' in page, column
    assert "sorted by published descending" in page
    data = json.loads(fetch(f"{server['base']}/demo/articles.json?_facet_size=10"))
    langs = {r["value"]: r["count"] for r in data["facet_results"]["lang"]["results"]}
    assert set(langs) == {"uk", "ru", "en"}
    assert sum(langs.values()) == data["filtered_table_rows_count"]


def test_body_html_is_shown_as_text_not_rendered(server: dict[str, Any]) -> None:
    page = fetch(f"{server['base']}/demo/articles?_search=Hegseth&_col=title&_col=body_html")
    assert f"&lt;p&gt;{SEED_BODY_START}" in page
    assert f"<p>{SEED_BODY_START}" not in page


def test_metadata_is_served(server: dict[str, Any]) -> None:
    served = json.loads(fetch(f"{server['base']}/-/metadata.json"))["databases"]["demo"]
    for name, table in datasette_metadata("demo")["databases"]["demo"]["tables"].items():
        assert served["tables"][name]["description"] == table["description"]
        assert served["tables"][name]["columns"] == table["columns"]
    page = fetch(f"{server['base']}/demo/articles")
    assert "One row per canonical article URL" in page


def test_serving_leaves_the_database_unchanged(server: dict[str, Any]) -> None:
    fetch(f"{server['base']}/demo/articles?_search=Trump")
    fetch(f"{server['base']}/demo.json?sql=select+count(*)+from+articles")
    assert hashlib.sha256(server["db"].read_bytes()).hexdigest() == server["digest"]
    assert "Uvicorn running on http://127.0.0.1:" in server["log"].read_text()


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after scripts ran, from headless Chromium."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_headless_chromium_shows_the_seed_and_body_html_as_text(server: dict[str, Any]) -> None:
    url = f"{server['base']}/demo/articles?_search=Hegseth&_col=title&_col=body_html"
    dom = dump_dom(url, server["folder"] / "chromium-profile")
    assert SEED["title"] in dom
    assert f"&lt;p&gt;{SEED_BODY_START}" in dom  # the markup is text in the page
    assert f"<p>{SEED_BODY_START}" not in dom  # not an element


def test_metadata_describes_every_table_and_column(tmp_path: Path) -> None:
    db = open_db(tmp_path / "schema.db")
    tables = datasette_metadata("schema")["databases"]["schema"]["tables"]
    # FTS5 keeps its index in shadow tables that Datasette hides; the rest must be described
    shadow = {
        f"{fts}_{s}"
        for fts in ("articles_fts", "articles_search")
        for s in ("data", "idx", "docsize", "config", "content")
    }
    for table in sorted(set(db.table_names()) - shadow):
        assert table in tables, f"describe table {table} in ingest/query/datasette_metadata.py"
        assert tables[table]["description"]
        columns = [c.name for c in db.table(table).columns]
        assert sorted(tables[table]["columns"]) == sorted(columns), (
            f"describe the columns of {table} in ingest/query/datasette_metadata.py"
        )
        assert all(tables[table]["columns"].values())
    db.close()


def test_serve_listens_on_loopback_unless_told_otherwise() -> None:
    serve = cli.commands["serve"]
    options = {p.name: p for p in serve.params}
    assert options["host"].default == "127.0.0.1"
    assert options["port"].default == 8001


def test_serve_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "run a crawl first" in result.output
