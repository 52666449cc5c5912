"""Declared sites: what the project knows about a publisher, as data.

A site is one entry: a TOML file in ``ingest/site_entries/``, crawled by the generic ``feed``
and ``sitemap`` spiders, or by a spider of its own that reads the same entry (``rbc``) and adds
only what the site's URLs need. Extraction (``ingest.extract``) and the pipelines look sites up
here by URL, so a site's selectors, drop rules and date formats live in exactly one place.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENTRIES_DIR = Path(__file__).resolve().parent / "site_entries"


@dataclass(frozen=True, kw_only=True)
class SiteSelectors:
    """CSS selectors for one site's pages; empty means "use structured data / generic"."""

    article_root: str = ""  # must match on an article page
    title: str = ""
    lead: str = ""
    body: str = ""  # the element(s) holding the article text
    published: str = ""  # text with the local publication time, when JSON-LD lacks it
    authors: str = ""
    tags: str = ""
    images: str = ""  # picture containers outside the body (e.g. the top photo)
    image_caption: str = ""  # inside an image container
    image_credit: str = ""  # inside an image container or its caption
    listing_links: str = ""  # article links on archive / all-news pages
    next_page: str = ""


@dataclass(frozen=True, kw_only=True)
class Site:
    """One publisher: domains, languages, discovery URLs, selectors, extra boilerplate rules."""

    name: str
    domains: tuple[str, ...]
    languages: tuple[str, ...]
    title: str = ""  # the publisher's name as readers know it
    feeds: tuple[str, ...] = ()  # RSS/Atom URLs the ``feed`` spider starts from
    sitemaps: tuple[str, ...] = ()  # sitemap (index) URLs the ``sitemap`` spider starts from
    timezone: str = "UTC"  # for dates printed on the page without an offset
    selectors: SiteSelectors = field(default_factory=SiteSelectors)
    drop: tuple[
        str, ...
    ] = ()  # CSS selectors removed with their content, on top of the generic set
    drop_text: tuple[str, ...] = ()  # paragraph prefixes that mark a boilerplate block
    article_url_pattern: str = ""  # regex a URL must match to be fetched as an article
    story_id_pattern: str = ""  # regex over the URL; group 1 is the id shared by translations
    title_suffixes: tuple[str, ...] = ()  # " | Site name" endings to cut from <title>
    # Regexes for the local date the ``published`` selector finds, tried before the generic
    # day-first one (``ingest.dates.parse_local``); named groups y, mo, d, h, m.
    date_formats: tuple[str, ...] = ()

    def owns(self, url: str) -> bool:
        """True when the URL's host is one of the site's domains or their sub-domains."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)


DATE_GROUPS = frozenset({"y", "mo", "d", "h", "m"})


def site_from_entry(data: dict[str, Any], source: str = "<entry>") -> Site:
    """A Site from one declared entry (parsed TOML); unknown keys are an error, not ignored."""
    data = dict(data)
    selectors = data.pop("selectors", {})
    known = {f.name for f in fields(Site)}
    unknown = sorted(set(data) - known) + [
        f"selectors.{k}" for k in sorted(set(selectors) - {f.name for f in fields(SiteSelectors)})
    ]
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    for pattern in values.get("date_formats", ()):
        groups = set(re.compile(pattern).groupindex)
        if missing := DATE_GROUPS - groups:
            raise ValueError(f"{source}: date format {pattern!r} lacks group(s) {sorted(missing)}")
    return Site(selectors=SiteSelectors(**selectors), **values)


def load_entries(directory: Path | Traversable | None = None) -> list[Site]:
    """Every ``*.toml`` site entry in ``directory``, sorted by file name. By default the
    package's own, read through ``importlib.resources``: scrapyd runs the project from a zipped
    egg, where ``ENTRIES_DIR`` is no directory."""
    root = directory if directory is not None else resources.files("ingest") / "site_entries"
    paths = sorted((p for p in root.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return [site_from_entry(tomllib.loads(path.read_text("utf-8")), str(path)) for path in paths]


@cache
def registry() -> dict[str, Site]:
    """Every declared site by name."""
    sites: dict[str, Site] = {}
    for site in load_entries():
        if site.name in sites:
            raise ValueError(f"site {site.name!r} is declared twice")
        sites[site.name] = site
    return sites


def site_for_url(url: str) -> Site | None:
    """The declared site that owns this URL, if any."""
    return next((s for s in registry().values() if s.owns(url)), None)


def site_name(url: str, site: Site | None) -> str:
    """The ``site`` a row is filed under: the declared site's name, else the URL's host
    without ``www.`` (an undeclared site is its host)."""
    if site is not None:
        return site.name
    host = urlsplit(url).netloc
    return host.removeprefix("www.") if host else "unknown"


def get_site(name: str) -> Site | None:
    """The declared site with this name, if any."""
    return registry().get(name)


def require_site(name: str) -> Site:
    """The declared site with this name; a spider of its own cannot run without its entry."""
    if (site := get_site(name)) is None:
        raise LookupError(f"no site entry {name!r} in ingest/site_entries/")
    return site
