"""Dates as news pages print them, turned into timezone-aware UTC ISO 8601 strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

# "17:56 13.04.2026 Пн" (rbc.ua) or "13.04.2026 17:56": day-first with a dot, as in uk/ru pages.
_TIME_DAY_RE = re.compile(
    r"(?P<h>\d{1,2}):(?P<m>\d{2})\D{0,5}(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})"
)
_DAY_TIME_RE = re.compile(
    r"(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})\D{0,5}(?P<h>\d{1,2}):(?P<m>\d{2})"
)


def to_utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with an explicit offset, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None, default_tz: str = "UTC") -> datetime | None:
    """An ISO 8601 date-time (JSON-LD, meta, <time datetime>); naive values get ``default_tz``."""
    if not text:
        return None
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return value


def parse_local(text: str | None, tz: str) -> datetime | None:
    """A day-first local date with a time ("17:56 13.04.2026 Пн"), in the site's time zone."""
    if not text:
        return None
    match = _TIME_DAY_RE.search(text) or _DAY_TIME_RE.search(text)
    if match is None:
        return None
    try:
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["m"]),
            tzinfo=ZoneInfo(tz),
        )
    except ValueError:
        return None


def parse_rfc822(text: str | None) -> datetime | None:
    """An RSS ``pubDate``."""
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_now_iso() -> str:
    """Now, as stored in ``fetched_at``."""
    return to_utc_iso(datetime.now(UTC))
