"""Dates: Kyiv local time on the page becomes timezone-aware UTC, across summer and winter."""

from __future__ import annotations

import pytest

from ingest.dates import parse_iso, parse_local, parse_rfc822, to_utc_iso
from ingest.sites import registry

# rbc.ua prints the time first; the format is its entry's (ingest/site_entries/rbc.toml).
RBC_FORMATS = registry()["rbc"].date_formats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17:56 04.07.2025 Пт", "2025-07-04T14:56:00+00:00"),  # summer, UTC+3
        ("17:56 13.01.2026 Вт", "2026-01-13T15:56:00+00:00"),  # winter, UTC+2
        ("04.07.2025, 09:05", "2025-07-04T06:05:00+00:00"),  # day first, then time
    ],
)
def test_kyiv_local_time_to_utc(text: str, expected: str) -> None:
    value = parse_local(text, "Europe/Kyiv", RBC_FORMATS)
    assert value is not None
    assert to_utc_iso(value) == expected


@pytest.mark.parametrize("text", ["", "вчора", "31.02.2025 10:00", None])
def test_unparseable_local_dates_give_none(text: str | None) -> None:
    assert parse_local(text, "Europe/Kyiv", RBC_FORMATS) is None


def test_iso_with_offset_and_z_and_naive() -> None:
    assert to_utc_iso(parse_iso("2025-07-04T17:56:00+03:00")) == "2025-07-04T14:56:00+00:00"  # type: ignore[arg-type]
    assert to_utc_iso(parse_iso("2025-07-04T14:56:00Z")) == "2025-07-04T14:56:00+00:00"  # type: ignore[arg-type]
    naive = parse_iso("2025-07-04T17:56:00", "Europe/Kyiv")
    assert naive is not None
    assert to_utc_iso(naive) == "2025-07-04T14:56:00+00:00"
    assert parse_iso("not a date") is None


def test_rss_pubdate() -> None:
    value = parse_rfc822("Fri, 04 Jul 2025 17:56:00 +0300")
    assert value is not None
    assert to_utc_iso(value) == "2025-07-04T14:56:00+00:00"
    assert parse_rfc822("garbage") is None
