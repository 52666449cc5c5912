"""Provenance counts and the drift check: the pipeline alone on mirror pages and crafted runs,
then two real crawls of the mirror, the second after the site's body class was renamed."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from ingest.cli import cli
from ingest.demo import mirror_root, serve
from ingest.extract import extract_clean
from ingest.items import ArticleItem
from ingest.query import run_rows
from ingest.store.db import open_db
from pipelines.provenance import ProvenancePipeline, previous_baseline

from .crawl_helpers import CRAWL_TIMEOUT, clean_env, copy_mirror, crawl_command, last_run

RBC_PAGES = sorted((mirror_root("rbc") / "newsukraine.rbc.ua" / "news").glob("*.html"))
RENAMED = ('class="txt"', 'class="text-body"')  # what a redesign does to the body's container


def pipeline(db_path: Path, spider: str = "rbc") -> tuple[ProvenancePipeline, Crawler]:
    crawler = get_crawler(Spider, {"INGEST_DB": str(db_path)})
    crawler.spider = Spider(name=spider)
    return ProvenancePipeline.from_crawler(crawler), crawler


def mirror_item(path: Path, *, renamed: bool = False) -> ArticleItem:
    """The item a crawl makes of one mirror page (optionally after the redesign)."""
    html = path.read_text("utf-8")
    if renamed:
        html = html.replace(*RENAMED)
    return extract_clean(html, f"https://newsukraine.rbc.ua/news/{path.name}")


def crafted(n: int, source: str, site: str = "rbc") -> ArticleItem:
    url = f"https://newsukraine.rbc.ua/news/story-{1751600000 + n}.html"
    if site == "pravda":
        url = f"https://www.pravda.com.ua/news/2025/07/03/{7519000 + n}/"
    return ArticleItem(
        url=url,
        fetched_url=url,
        site=site,
        fetched_at="2025-07-04T16:00:00+00:00",
        body_source=source,
        title_source="site",
    )


def record_run(db_path: Path, run_id: str, stats: dict[str, Any], spider: str = "rbc") -> None:
    """A finished run as storage records it (its stats as JSON)."""
    db = open_db(db_path)
    db.table("runs").insert(
        {
            "id": run_id,
            "spider": spider,
            "trigger": "scheduled",
            "args": "{}",
            "started_at": f"2025-07-0{len(list(db.table('runs').rows)) + 1}T06:00:00+00:00",
            "finished_at": "2025-07-01T06:05:00+00:00",
            "finish_reason": "finished",
            "stats": json.dumps(stats),
        }
    )
    db.close()


def site_run(pages: int, site_bodies: int, site: str = "rbc") -> dict[str, Any]:
    """The stats a run that kept ``pages`` of ``site`` records."""
    prefix = f"ingest/extraction/site/{site}"
    stats = {f"{prefix}/pages": pages, f"{prefix}/body/site": site_bodies}
    if pages > site_bodies:
        stats[f"{prefix}/body/generic"] = pages - site_bodies
    return stats


def run_pipeline(db_path: Path, sources: list[str], spider: str = "rbc") -> dict[str, Any]:
    """Feed one item per source through the pipeline, close it; the crawl's stats."""
    pipe, crawler = pipeline(db_path, spider)
    for n, source in enumerate(sources):
        assert pipe.process_item(crafted(n, source)) is not None
    pipe.close_spider()
    assert crawler.stats is not None
    return crawler.stats.get_stats()


def test_counts_how_bodies_and_titles_of_mirror_pages_were_found(tmp_path: Path) -> None:
    pipe, crawler = pipeline(tmp_path / "news.db")
    assert len(RBC_PAGES) == 10
    for n, path in enumerate(RBC_PAGES):
        pipe.process_item(mirror_item(path, renamed=n < 3))
    pipe.close_spider()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["ingest/extraction/body/site"] == 7
    assert stats["ingest/extraction/body/generic"] == 3
    assert stats["ingest/extraction/title/site"] == 10
    assert stats["ingest/extraction/site/rbc/pages"] == 10
    assert stats["ingest/extraction/site/rbc/body/generic"] == 3
    assert stats["ingest/extraction/site/rbc/share"] == 0.7
    assert not [k for k in stats if k.startswith("ingest/drift/")]


def test_undeclared_sites_count_in_the_split_but_have_no_share(tmp_path: Path) -> None:
    pipe, crawler = pipeline(tmp_path / "news.db", spider="feed")
    item = extract_clean(
        "<html><head><title>Ein Titel</title></head><body><article><h1>Ein Titel</h1>"
        + "<p>Ein Absatz mit genug Text, um als Artikel zu gelten.</p>" * 8
        + "</article></body></html>",
        "https://news.example.org/2025/07/03/ein-titel",
    )
    pipe.process_item(item)
    pipe.close_spider()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    assert stats["ingest/extraction/body/generic"] == 1
    assert stats["ingest/extraction/title/h1"] == 1
    assert not [k for k in stats if k.startswith("ingest/extraction/site/")]


def test_drift_after_a_good_run_is_a_warning_and_a_stat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_path = tmp_path / "news.db"
    record_run(db_path, "run-1", site_run(pages=40, site_bodies=38))
    with caplog.at_level(logging.WARNING, logger="pipelines.provenance"):
        stats = run_pipeline(db_path, ["generic"] * 9 + ["site"] * 3)
    assert stats["ingest/drift/rbc"] == 1
    assert stats["ingest/drift/rbc/share"] == 0.25
    assert stats["ingest/drift/rbc/previous_share"] == 0.95
    assert stats["ingest/drift/rbc/previous_run"] == "run-1"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "extraction drift on rbc" in message
    assert "3 of 12 bodies (25%), after 95% of 40 in run run-1" in message
    assert "article div.txt" in message  # says which selectors to look at


@pytest.mark.parametrize(
    ("earlier", "sources", "why"),
    [
        ([site_run(40, 40)], ["generic"] * 9, "9 pages are too few for a share"),
        ([site_run(40, 30)], ["generic"] * 12, "the previous run was already under 80%"),
        ([site_run(40, 40)], ["generic"] * 5 + ["site"] * 7, "58% is not under 50%"),
        ([], ["generic"] * 12, "no earlier run to compare with"),
        ([site_run(40, 40, site="pravda")], ["generic"] * 12, "only another site ran before"),
    ],
)
def test_no_drift_warning(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    earlier: list[dict[str, Any]],
    sources: list[str],
    why: str,
) -> None:
    db_path = tmp_path / "news.db"
    open_db(db_path).close()
    for n, stats in enumerate(earlier):
        record_run(db_path, f"run-{n}", stats)
    with caplog.at_level(logging.WARNING, logger="pipelines.provenance"):
        stats = run_pipeline(db_path, sources)
    assert not caplog.records, why
    assert "ingest/drift/rbc" not in stats, why
    assert stats["ingest/extraction/site/rbc/pages"] == len(sources)


def test_no_warning_from_another_spiders_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_path = tmp_path / "news.db"
    record_run(db_path, "warc-1", site_run(40, 40), spider="warc")
    with caplog.at_level(logging.WARNING, logger="pipelines.provenance"):
        stats = run_pipeline(db_path, ["generic"] * 12)
    assert "ingest/drift/rbc" not in stats
    assert not caplog.records


def test_the_baseline_is_the_last_run_with_enough_pages(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    record_run(db_path, "big", site_run(pages=50, site_bodies=49))
    record_run(db_path, "small", site_run(pages=3, site_bodies=1))  # a quiet half hour
    baseline = previous_baseline(db_path, "rbc", "rbc", min_pages=10)
    assert baseline is not None
    assert (baseline.run_id, baseline.pages, baseline.share) == ("big", 50, 0.98)
    stats = run_pipeline(db_path, ["generic"] * 12)
    assert stats["ingest/drift/rbc/previous_run"] == "big"


def test_drift_warns_once_then_the_low_share_is_the_baseline(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    record_run(db_path, "before", site_run(40, 40))
    first = run_pipeline(db_path, ["generic"] * 12)
    assert first["ingest/drift/rbc"] == 1
    record_run(db_path, "after", site_run(12, 0))  # what storage recorded for that run
    assert "ingest/drift/rbc" not in run_pipeline(db_path, ["generic"] * 12)


# --- end to end: two crawls of the mirror -------------------------------------------------------


def crawl_logged(db_path: Path, mirror_url: str, *extra: str) -> tuple[dict[str, Any], str]:
    """One crawl to its end: the stats its run recorded and its log."""
    result = subprocess.run(
        crawl_command(db_path, mirror_url, *extra),
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats: dict[str, Any] = last_run(db_path)["stats"]
    return stats, result.stderr


def test_a_redesign_between_two_crawls_is_noticed(tmp_path: Path) -> None:
    root = copy_mirror(tmp_path)
    db_path = tmp_path / "news.db"
    with serve(root) as server:
        first, first_log = crawl_logged(db_path, server.url)
        # The site renames its body container on every article page overnight.
        for page in root.rglob("*.html"):
            html = page.read_text("utf-8")
            if RENAMED[0] in html:
                page.write_text(html.replace(*RENAMED), "utf-8")
        second, second_log = crawl_logged(db_path, server.url, "--full")
    pages = first["ingest/extraction/site/rbc/pages"]
    assert pages >= 30
    assert first["ingest/extraction/body/site"] == pages
    assert first["ingest/extraction/site/rbc/share"] == 1.0
    assert "ingest/drift/rbc" not in first
    assert "extraction drift" not in first_log
    # Stored or kept unchanged: every item that reached storage, counted once.
    kept = first["ingest/stored"] + first.get("ingest/unchanged", 0)
    assert sum(v for k, v in first.items() if k.startswith("ingest/extraction/body/")) == kept

    assert second["ingest/extraction/site/rbc/pages"] >= 30
    assert second["ingest/extraction/site/rbc/share"] < 0.5
    assert second["ingest/extraction/body/generic"] >= 30
    assert second["ingest/drift/rbc"] == 1
    assert second["ingest/drift/rbc/previous_share"] == 1.0
    assert "WARNING: extraction drift on rbc" in second_log

    newest, oldest = run_rows(open_db(db_path, read_only=True), limit=2)
    assert oldest["extraction"] == {"site": pages}
    assert oldest["drift"] == []
    assert newest["drift"] == ["rbc"]
    assert newest["site_share"]["rbc"] < 0.5


# --- ingest runs --------------------------------------------------------------------------------


def test_ingest_runs_shows_the_split_shares_and_drift_in_every_format(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    stats = {
        "ingest/stored": 39,
        "ingest/extraction/body/generic": 8,
        "ingest/extraction/body/json-ld": 1,
        "ingest/extraction/body/site": 30,
        "ingest/extraction/title/site": 38,
        "ingest/extraction/title/og": 1,
        **site_run(pages=39, site_bodies=30),
        "ingest/extraction/site/rbc/share": 0.769,
        "ingest/drift/rbc": 1,
        "ingest/drift/rbc/share": 0.769,
        "ingest/drift/rbc/previous_run": "run-0",
    }
    record_run(db_path, "run-1", stats)
    runner = CliRunner()

    def ingest_runs(*flags: str) -> str:
        result = runner.invoke(cli, ["runs", "--db", str(db_path), *flags])
        assert result.exit_code == 0, result.output
        return result.output

    header, _, row = ingest_runs().splitlines()
    assert header.split()[-4:] == ["extraction", "titles", "site_share", "drift"]
    cells = re.split(r"\s{2,}", row)
    assert cells[-4:] == ["site 30, generic 8, json-ld 1", "site 38, og 1", "rbc 0.769", "rbc"]
    [line] = ingest_runs("--json").splitlines()
    got = json.loads(line)
    assert got["extraction"] == {"site": 30, "generic": 8, "json-ld": 1}
    assert list(got["extraction"]) == ["site", "generic", "json-ld"]
    assert got["titles"] == {"site": 38, "og": 1}
    assert got["site_share"] == {"rbc": 0.769}
    assert got["drift"] == ["rbc"]
    [csv_row] = list(csv.DictReader(io.StringIO(ingest_runs("--csv"))))
    assert json.loads(csv_row["extraction"]) == {"site": 30, "generic": 8, "json-ld": 1}
    assert json.loads(csv_row["drift"]) == ["rbc"]


def test_runs_before_provenance_show_empty_columns(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    record_run(db_path, "old", {"ingest/stored": 5})
    [row] = run_rows(open_db(db_path, read_only=True))
    assert (row["extraction"], row["titles"], row["site_share"], row["drift"]) == ({}, {}, {}, [])
