"""Dates as news pages print them, turned into timezone-aware UTC ISO 8601 strings.

Every date a page, feed or sitemap gives is parsed here and passes one range check
(``clamp``): a value outside ``EARLIEST``..``LATEST``, or one whose offset pushes it past what
``datetime`` can hold (``9999-12-31T23:00-05:00``), is no date at all (None), like a malformed
or oddly typed one (a JSON-LD number or list). Callers count a present value that gave None
(``ingest/fields/bad_date``); no date ever raises and ends a page, a feed or a sitemap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

# "13.04.2026 17:56": day-first with a dot, as in uk/ru pages. A site printing another order
# declares it in its entry (``Site.date_formats``), tried first.
_DAY_TIME_RE = re.compile(
    r"(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})\D{0,5}(?P<h>\d{1,2}):(?P<m>\d{2})"
)
# The dates a news item can carry: earlier ones are typos or placeholders (0001-01-01), later
# ones would overflow once an offset is applied. Far outside what any real page says.
EARLIEST = datetime(1800, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_DATE_CHARS = 100  # a longer "date" is not one (and is not worth a parser's time)


def clamp(value: datetime) -> datetime | None:
    """The one range check: ``value`` if it lies in ``EARLIEST``..``LATEST`` once in UTC, else
    None (``astimezone`` overflows near the ends of ``datetime``'s range)."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return value if EARLIEST <= utc < LATEST else None


def to_utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with an explicit offset, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: object, default_tz: str = "UTC") -> datetime | None:
    """An ISO 8601 date-time (JSON-LD, meta, <time datetime>); naive values get ``default_tz``.
    Anything but a string (JSON-LD gives numbers and lists) is None."""
    if not isinstance(text, str) or not text or len(text) > MAX_DATE_CHARS:
        return None
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return clamp(value)


def parse_local(text: object, tz: str, formats: Sequence[str] = ()) -> datetime | None:
    """A local date with a time, in the site's time zone: the site's ``formats`` (regexes with
    groups y, mo, d, h, m), then the generic day-first one ("13.04.2026 17:56")."""
    if not isinstance(text, str) or not text:
        return None
    patterns = (*(re.compile(f) for f in formats), _DAY_TIME_RE)  # re caches the compiled
    match = next((m for p in patterns if (m := p.search(text))), None)
    if match is None:
        return None
    try:
        value = datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["m"]),
            tzinfo=ZoneInfo(tz),
        )
    except ValueError:
        return None
    return clamp(value)


def parse_rfc822(text: object) -> datetime | None:
    """An RSS ``pubDate``."""
    if not isinstance(text, str) or not text or len(text) > MAX_DATE_CHARS:
        return None
    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):  # IndexError: Python < 3.13
        return None
    return clamp(value if value.tzinfo else value.replace(tzinfo=UTC))


def parse_any(raw: object) -> datetime | None:
    """A feed or sitemap date: RSS dates are RFC 822, Atom / sitemap / Dublin Core ones
    ISO 8601 (a W3C date may have no time: "2025-07-04"); either is accepted."""
    if not isinstance(raw, str) or not raw:
        return None
    value = parse_iso(raw)
    if value is None and len(raw) == 10:
        value = parse_iso(raw + "T00:00:00")
    return value or parse_rfc822(raw)


def is_bad(raw: object, parsed: datetime | None) -> bool:
    """Whether a date value was given (not blank) but gave no date: the counted case."""
    blank = raw is None or (isinstance(raw, str) and not raw.strip())
    return parsed is None and not blank


def utc_now_iso() -> str:
    """Now, as stored in ``fetched_at``."""
    return to_utc_iso(datetime.now(UTC))
