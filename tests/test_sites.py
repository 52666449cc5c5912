"""Every declared site, one parametrized test: its saved pages through ``extract_article`` give
the expected fields. Adding a site = its entry + ``tests/fixtures/<name>/`` (source.json, pages,
expected JSON), no test code."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from ingest.dates import parse_local, to_utc_iso
from ingest.extract import extract_article
from ingest.sites import load_entries, registry, site_from_entry

from .conftest import FIXTURES, token_f1


def cases() -> list[tuple[str, Path, str, Path]]:
    """(site, page, url, expected JSON) for every page listed in a site's source.json."""
    out = []
    for name in sorted(registry()):
        source = FIXTURES / name / "source.json"
        if not source.exists():
            continue
        for fname, entry in json.loads(source.read_text("utf-8"))["files"].items():
            expected = FIXTURES / name / f"{Path(fname).stem}.json"
            if entry.get("kind") == "article" and expected.exists():
                page = (source.parent / entry.get("path", fname)).resolve()
                out.append((name, page, entry["url"], expected))
    return out


def test_every_declared_site_has_a_fixture_with_expected_json() -> None:
    covered = {site for site, *_ in cases()}
    assert covered == set(registry()), f"sites without fixtures: {set(registry()) - covered}"


@pytest.mark.parametrize(
    ("site", "page", "url", "expected_path"), cases(), ids=lambda v: getattr(v, "name", v)
)
def test_declared_site_page(site: str, page: Path, url: str, expected_path: Path) -> None:
    expected: dict[str, Any] = json.loads(expected_path.read_text("utf-8"))
    item = extract_article(page.read_text("utf-8"), url)
    got = asdict(item)
    got["body"] = (item.body or "").split("\n\n")
    assert item.site == site
    min_f1 = expected.get("_min_body_f1")
    for key, value in expected.items():
        if key.startswith("_"):
            continue
        if key == "body" and min_f1 is not None:
            assert token_f1(item.body or "", "\n".join(value)) >= min_f1
        else:
            assert got[key] == value, key


def test_entries_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown key\(s\) feed, selectors.titel"):
        site_from_entry(
            {"name": "x", "domains": ["x.com"], "languages": ["en"], "feed": [],
             "selectors": {"titel": "h1"}}
        )  # fmt: skip


def test_entries_reject_a_date_format_without_the_date_groups() -> None:
    with pytest.raises(ValueError, match=r"lacks group\(s\) \['mo'\]"):
        site_from_entry(
            {"name": "x", "domains": ["x.com"], "languages": ["en"],
             "date_formats": [r"(?P<d>\d+)/(?P<y>\d{4}) (?P<h>\d+):(?P<m>\d+)"]}
        )  # fmt: skip


def test_a_sites_date_format_is_its_own() -> None:
    """RBC prints the time first ("17:56 04.07.2025 Пт"): its entry says so, the generic
    parser reads only day-first dates."""
    text = "17:56 04.07.2025 Пт"
    rbc = registry()["rbc"]
    value = parse_local(text, rbc.timezone, rbc.date_formats)
    assert value is not None
    assert to_utc_iso(value) == "2025-07-04T14:56:00+00:00"
    assert parse_local(text, rbc.timezone) is None


def test_toml_entries_load_as_sites() -> None:
    names = [site.name for site in load_entries()]
    assert names == ["euronews", "pravda", "rbc"]
    assert set(registry()) == set(names)  # every site is an entry, rbc included
    pravda = registry()["pravda"]
    assert pravda.owns("https://epravda.com.ua/x")
    assert not pravda.owns("https://notpravda.com.ua/")
    assert pravda.timezone == "Europe/Kyiv"
