"""End to end: the hand-made pages of every failure class (tests/handmade_pages.py), listed in a
sitemap on a loopback mirror and crawled by the real ``sitemap`` spider with every pipeline.
Each article is stored with its whole body; the pages that are no articles are counted drops."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from ingest.demo import serve

from .crawl_helpers import LOOPBACK, clean_env, urlset
from .handmade_pages import HOST, pages

SITEMAP = f"https://{HOST}/sitemap.xml"


def build(root: Path) -> None:
    """The mirror: every page under its path, and a sitemap listing them."""
    for page in pages():
        path = root / HOST / page.url.split(HOST + "/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page.html, "utf-8")
    listed = urlset((page.url for page in pages()), lastmod="2026-03-04")
    (root / HOST / "sitemap.xml").write_bytes(listed)


def test_every_handmade_article_is_stored_whole(tmp_path: Path) -> None:
    build(tmp_path / "mirror")
    db = tmp_path / "crawl.db"
    with serve(tmp_path / "mirror") as server:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ingest",
                "crawl",
                "sitemap",
                "-a",
                f"url={SITEMAP}",
                "-a",
                f"domains={HOST}",
                "--db",
                str(db),
                *LOOPBACK,
                "-s",
                f"INGEST_MIRROR={server.url}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=clean_env(),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        stored = {r["url"]: dict(r) for r in conn.execute("select * from articles")}
        (stats_json,) = conn.execute("select stats from runs").fetchone()
    stats: dict[str, Any] = json.loads(stats_json)
    articles = [p for p in pages() if p.is_article]
    for page in articles:
        assert page.url in stored, page.name
        row = stored[page.url]
        assert row["body"].split("\n\n") == page.paragraphs, page.name
        assert row["title"] == page.title, page.name
        assert row["body_source"] in ("generic", "fallback", "json-ld"), page.name
    assert len(stored) == len(articles)
    assert stats["ingest/dropped/not_article"] == len(pages()) - len(articles)
    assert stored[articles[0].url]["source"] == SITEMAP
