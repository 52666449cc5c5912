"""Article URLs: the key a page is stored under, and the rule that a page speaks only for its site.

A page names its canonical URL (``<link rel=canonical>``, ``og:url``), and the row is keyed by
that name; without a limit, a page on any host could name another site's stored article and
rewrite its row. A name is used only when it is on the page's own site: a declared
site's ``domains`` (``ingest/sites.py``), otherwise the host the page was fetched from, after the
redirects the crawl allowed. ``www.``, ``m.``, ``amp.`` and ``mobile.`` in front of a host are
the same site (one publisher's web, mobile and AMP pages).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from ingest.sites import Site, site_for_url

TRACKING_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "fbclid",
    "gclid",
    "yclid",
    "ref",
    "from",
)
# Labels a publisher puts in front of its own host for the same pages (web, mobile, AMP).
SAME_SITE_PREFIXES = ("www.", "m.", "amp.", "mobile.")
WEB_SCHEMES = frozenset({"http", "https"})


def canonical_url(url: str) -> str:
    """The key an article is stored under: tracking parameters and fragment dropped (w3lib)."""
    return canonicalize_url(url_query_cleaner(url, TRACKING_PARAMS, remove=True))


def host_of(url: str) -> str:
    """The URL's host, lower case, without port, userinfo or a trailing dot ('' if none)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:  # an unparsable netloc (bad IPv6 literal, bad port) has no host
        return ""


def site_host(host: str) -> str:
    """The host without one web/mobile/AMP label in front (``m.example.com`` → ``example.com``)."""
    for prefix in SAME_SITE_PREFIXES:
        rest = host.removeprefix(prefix)
        if rest != host and "." in rest:
            return rest
    return host


def on_site(url: str, page_url: str, site: Site | None = None) -> bool:
    """Whether ``url`` is on the site of the page fetched from ``page_url``: a domain of
    ``site`` (default: the declared site owning ``page_url``), or the page's own host."""
    host = host_of(url)
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return False
    if not host or scheme not in WEB_SCHEMES:
        return False
    site = site or site_for_url(page_url)
    if site is not None and site.owns(url):
        return True
    return site_host(host) == site_host(host_of(page_url))


def page_key(named: str | None, page_url: str, site: Site | None = None) -> tuple[str, str | None]:
    """The URL a page is stored under, and the canonical it named if that was refused.

    ``named`` is what the page declares (rel=canonical, else og:url). An absolute http(s) URL
    on the page's site is the key (canonicalised); one elsewhere is refused and returned as the
    second value, the page keyed by its own fetched URL. Anything else (relative, other
    schemes) is ignored as before: the page's own URL.
    """
    own = canonical_url(page_url)
    named = (named or "").strip()
    if not named.startswith("http"):
        return own, None
    key = canonical_url(named)
    if on_site(key, page_url, site):
        return key, None
    return own, key
