"""The browser half of issue 12, used as a person would in headless Chromium: ``ingest serve``'s
search page finds a Ukrainian word in another case, a hit opens the readable article view, and
that lists the story's Russian and English versions. Also: tooltips instead of a wall of column
descriptions, truncated long cells, the ``ingest_match`` SQL function, and plain Datasette
(without our plugin) still searching the exact words."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from parsel import Selector

from .crawl_helpers import run_demo
from .test_serve import dump_dom, fetch, serving

QUERY = "Україною"  # the instrumental case; the articles mostly write Україна, України, Україні
UKRAINE_UK = re.compile(r"^україн(а|и|і|у|ою|о)$")
STORY_URL = "https://www.rbc.ua/rus/news/zelenskyy-trump-air-defense-1751640540.html"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``ingest serve`` (with our plugin) on a free loopback port over one demo crawl."""
    folder = tmp_path_factory.mktemp("search-browser")
    db = folder / "demo.db"
    run_demo(db)
    with serving(db, folder / "serve.log") as base:
        yield {"base": base, "db": db, "folder": folder}


def _articles(db: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = {r["url"]: dict(r) for r in conn.execute("select * from articles")}
    conn.close()
    return rows


def _names_ukraine(article: dict[str, Any]) -> bool:
    text = " ".join(article[c] or "" for c in ("title", "lead", "body")).lower()
    return any(UKRAINE_UK.match(word) for word in re.findall(r"\w+", text))


def _submit(page_url: str, dom: str, **typed: str) -> str:
    """The URL the page's search form goes to (GET) with ``typed`` filled in, as a browser
    builds it: every field in document order, its value or what was typed into it."""
    form = Selector(text=dom).css("form.ingest-form")
    assert form, "the search page has a search form"
    assert (form.attrib.get("method") or "get").lower() == "get"
    fields: list[tuple[str, str]] = []
    for field in form.css("input[name], select[name]"):
        name = field.attrib["name"]
        if field.root.tag == "select":
            value = field.css("option[selected]::attr(value)").get() or ""
        else:
            value = field.attrib.get("value", "")
        fields.append((name, typed.pop(name, value)))
    assert not typed, f"no such fields in the form: {typed}"
    return urljoin(page_url, form.attrib["action"]) + "?" + urlencode(fields)


def _article_url(href: str) -> str:
    (url,) = parse_qs(urlsplit(href).query)["url"]
    return url


def test_a_person_searches_a_ukrainian_word_in_another_case_and_opens_a_hit(
    server: dict[str, Any],
) -> None:
    base, profile = server["base"], server["folder"] / "chromium-profile"
    articles = _articles(server["db"])

    # The search page, from the menu of any Datasette page.
    start = Selector(text=dump_dom(f"{base}/demo/articles", profile))
    menu = {a.css("::text").get("").strip(): a.attrib.get("href", "") for a in start.css("nav a")}
    search_page = urljoin(base, menu["Search articles"])
    results_url = _submit(search_page, dump_dom(search_page, profile), q=QUERY)

    results = Selector(text=dump_dom(results_url, profile))
    hits = results.css("li.ingest-hit")
    assert hits, results.css("section.content").get()
    found = {_article_url(hit.css("h3 a::attr(href)").get("")): hit for hit in hits}
    # Every Ukrainian article naming Ukraine, in whichever case it does: none missing.
    naming = {url for url, a in articles.items() if a["lang"] == "uk" and _names_ukraine(a)}
    assert naming
    assert naming <= set(found)
    for url, hit in found.items():
        article = articles[url]
        assert hit.css("h3 a::text").get() == article["title"]
        meta = " ".join(hit.css(".ingest-meta ::text").getall())
        assert article["site"] in meta
        assert article["lang"] in meta
        assert article["published"][:10] in meta
    # The snippets highlight the article's own words: other cases than the one typed.
    marked = {w.lower() for w in results.css(".ingest-snippet mark::text").getall()}
    assert marked
    assert all(UKRAINE_UK.match(w) for w in marked), marked
    assert marked - {QUERY.lower()}, marked

    # A person opens a hit: the readable article view.
    story = found[STORY_URL]
    article_url = urljoin(results_url, story.css("h3 a::attr(href)").get(""))
    view = Selector(text=dump_dom(article_url, profile))
    article = articles[STORY_URL]
    assert view.css("article h1::text").get() == article["title"]
    assert view.css("p.ingest-lead::text").get() == article["lead"]
    shown = view.css("article > p:not([class])::text").getall()
    body = [p.strip() for p in article["body"].split("\n\n") if p.strip()]
    assert shown
    assert shown == [p for p in body if p != article["lead"]]
    assert "<p>" not in " ".join(shown)  # from body, not body_html
    captions = [c.strip() for c in view.css("figure figcaption::text").getall()]
    assert captions
    assert all(captions)
    # Its other language versions, each a link to its own article view.
    versions = {v.attrib["data-lang"]: v for v in view.css(".ingest-versions li.ingest-version")}
    assert set(versions) == {"ru", "en"}
    for lang, version in versions.items():
        href = version.css("a::attr(href)").get("")
        other = articles[_article_url(href)]
        assert other["lang"] == lang
        assert other["story_id"] == article["story_id"]
        assert version.css("a::text").get() == other["title"]

    # ...and follows the Russian one.
    russian_url = urljoin(article_url, versions["ru"].css("a::attr(href)").get(""))
    russian = Selector(text=dump_dom(russian_url, profile))
    ru_article = articles[_article_url(russian_url)]
    assert russian.css("article h1::text").get() == ru_article["title"]
    assert russian.css("article::attr(lang)").get() == "ru"
    back = {v.attrib["data-lang"] for v in russian.css(".ingest-versions li.ingest-version")}
    assert back == {"uk", "en"}


def test_the_search_page_keeps_the_query_and_filters_by_language(server: dict[str, Any]) -> None:
    page = Selector(text=fetch(f"{server['base']}/-/search?" + urlencode({"q": QUERY})))
    assert page.css("input[name=q]::attr(value)").get() == QUERY
    langs = page.css("select[name=lang] option::attr(value)").getall()
    assert set(langs) == {"", "uk", "ru", "en"}
    # Russian articles, searched in Russian: the Russian forms.
    url = f"{server['base']}/-/search?" + urlencode({"q": "Украиной", "lang": "ru"})
    hits = Selector(text=fetch(url))
    metas = hits.css(".ingest-hit .ingest-lang::text").getall()
    assert metas
    assert set(metas) == {"ru"}
    marked = {w.lower() for w in hits.css(".ingest-snippet mark::text").getall()}
    assert marked
    assert marked <= {"украина", "украины", "украине", "украину", "украиной"}


def test_table_pages_show_descriptions_as_tooltips_and_cut_long_cells(
    server: dict[str, Any],
) -> None:
    page = Selector(text=fetch(f"{server['base']}/demo/articles"))
    assert not page.css("dl.column-descriptions"), "no wall of column descriptions"
    assert page.css("th[data-column=title]::attr(title)").get() == "Headline"
    assert page.css("th[data-column=body]::attr(title)").get("").startswith("Clean article text")
    bodies = page.css("td.col-body::text").getall()
    assert bodies
    assert all(len(b.strip()) <= 201 for b in bodies)
    longest = max(len(a["body"]) for a in _articles(server["db"]).values())
    assert longest > 1000  # so the cut is what keeps the rows short
    # The title links to the readable view.
    href = page.css("td.col-title a::attr(href)").get("")
    assert href.startswith("/-/article?")


def test_ingest_match_is_a_sql_function_of_the_served_database(server: dict[str, Any]) -> None:
    sql = (
        "select count(*) as n from articles_search "
        "where articles_search match ingest_match(:q, 'uk')"
    )
    url = f"{server['base']}/demo.json?" + urlencode({"sql": sql, "q": QUERY, "_shape": "array"})
    (row,) = json.loads(fetch(url))
    naming = [
        a for a in _articles(server["db"]).values() if a["lang"] == "uk" and _names_ukraine(a)
    ]
    assert row["n"] == len(naming)


def test_plain_datasette_without_our_code_searches_the_exact_words(tmp_path: Path) -> None:
    """Datasette as anyone installs it: the file opens, its search is by the exact words, and
    there is no search page or ``ingest_match``."""
    from datasette.app import Datasette
    from datasette.plugins import get_plugins

    assert not any(p["name"].startswith("ingest") for p in get_plugins())
    db = tmp_path / "demo.db"
    run_demo(db)

    async def ask() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
        datasette = Datasette(immutables=[str(db)])
        await datasette.invoke_startup()
        client = datasette.client
        exact = await client.get("/demo/articles.json?_search=Україна&_shape=array&_col=lang")
        other = await client.get("/demo/articles.json?_search=Україною&_shape=array&_col=lang")
        page = await client.get("/-/search?q=Україна")
        function = await client.get(
            "/demo.json?" + urlencode({"sql": "select ingest_match('Україна')"})
        )
        return exact.json(), other.json(), page.status_code, function.status_code

    exact, other, page_status, function_status = asyncio.run(ask())
    assert exact
    assert {r["lang"] for r in exact} == {"uk"}
    assert len(other) < len(exact)  # the typed form only
    assert page_status == 404
    assert function_status == 400  # no such function
