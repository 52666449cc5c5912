"""Helpers for tests that run ``python -m ingest crawl`` against a loopback mirror: the command,
the rows it left and the stats of its run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlite_utils import Database

from ingest.demo import mirror_root
from ingest.store.db import open_db

CRAWL_TIMEOUT = 120  # seconds; a crawl of the mirror takes a few
# The demo's archive days, and the politeness that only real sites need switched off.
MIRROR_ARGS = ["-a", "since=2025-07-02", "-a", "until=2025-07-04"]
LOOPBACK = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
LOOPBACK += ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
TABLES = {"articles": "url", "images": "article_url, position", "translations": "story_id, lang"}


def clean_env() -> dict[str, str]:
    """The environment without INGEST_* variables, so a developer's settings cannot leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}


def crawl_command(db: Path, mirror_url: str, *extra: str) -> list[str]:
    """``ingest crawl rbc`` over the mirror's archive days into ``db``."""
    return [
        sys.executable,
        "-m",
        "ingest",
        "crawl",
        "rbc",
        "--db",
        str(db),
        *MIRROR_ARGS,
        *LOOPBACK,
        "-s",
        f"INGEST_MIRROR={mirror_url}",
        *extra,
    ]


def run_demo(db: Path, **env: str) -> str:
    """``ingest demo`` into ``db`` in a child process (``env`` adds variables); its output."""
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "demo", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env={**clean_env(), **env},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def crawl(db: Path, mirror_url: str, *extra: str) -> dict[str, Any]:
    """Run one crawl to its end; return the stats of the run it recorded."""
    result = subprocess.run(
        crawl_command(db, mirror_url, *extra),
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats: dict[str, Any] = last_run(db)["stats"]
    return stats


def last_run(db_path: Path, spider: str | None = None) -> dict[str, Any]:
    """The latest row of ``runs`` (of one spider, if given), its stats decoded."""
    db = open_db(db_path, read_only=True)
    where, params = ("where spider = ?", [spider]) if spider else ("", [])
    cursor = db.execute(f"select * from runs {where} order by rowid desc limit 1", params)  # noqa: S608
    run = dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))
    db.close()
    run["stats"] = json.loads(run["stats"]) if run["stats"] else {}
    return run


def demo_stats(db_path: Path) -> dict[str, Any]:
    """The counting stats of the last demo: its runs (rbc, feed, sitemap) added up."""
    totals: dict[str, Any] = {}
    for spider in ("rbc", "feed", "sitemap"):
        for key, value in last_run(db_path, spider)["stats"].items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals


def every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of articles, images and translations, every column (fetched_at, run_id too)."""
    return {
        table: [dict(r) for r in db.table(table).rows_where(order_by=key)]
        for table, key in TABLES.items()
    }


def copy_mirror(tmp_path: Path) -> Path:
    """A private copy of the bundled RBC mirror that a test may edit."""
    root = tmp_path / "mirror"
    shutil.copytree(mirror_root("rbc"), root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur exactly once) in a mirror file."""
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), "utf-8")


def urlset(urls: Iterable[str], lastmod: str | None = None) -> bytes:
    """A sitemap listing ``urls`` (XML-escaped), each with ``lastmod`` when given."""
    date = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    entries = "".join(f"<url><loc>{escape(url)}</loc>{date}</url>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


class LoopbackHandler(BaseHTTPRequestHandler):
    """A test's own loopback server: keep-alive like a real one, quiet, one call to answer."""

    protocol_version = "HTTP/1.1"

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read what they need from the server's own records."""
