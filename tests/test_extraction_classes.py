"""Issue 9's failure classes, each on a hand-made page (tests/handmade_pages.py): the article
is found whole, nothing of the page's chrome or of another story comes with it, and pages that
are not articles are still told apart."""

from __future__ import annotations

import pytest

from ingest.extract import extract_article, extract_page, html_selector, parse_page
from ingest.items import ArticleItem, Listing

from .handmade_pages import HandmadePage, pages

ARTICLES = [p for p in pages() if p.is_article]
NOT_ARTICLES = [p for p in pages() if not p.is_article]


@pytest.mark.parametrize("page", ARTICLES, ids=lambda p: p.name)
def test_the_whole_story_and_nothing_else(page: HandmadePage) -> None:
    item = extract_article(page.html, page.url)
    body = item.body or ""
    assert body.split("\n\n") == page.paragraphs, body
    for text in page.must_not:
        assert text not in body
    assert "Most read" not in body
    assert "All rights reserved" not in body
    assert "Reader 1" not in body
    assert "the basement there is simply not fit" not in body
    assert item.title == page.title
    assert item.lang == "en"


def test_the_hygiene_page_title_has_no_entity_and_no_site_name() -> None:
    (page,) = [p for p in ARTICLES if p.name == "hygiene"]
    item = extract_article(page.html, page.url)
    assert item.title == "Rivne's council: 51 school shelters & generators"
    assert item.title_source == "og"


def test_json_ld_intro_does_not_replace_the_story() -> None:
    (page,) = [p for p in ARTICLES if p.name == "ld_intro_only"]
    item = extract_article(page.html, page.url)
    assert item.body_source in ("generic", "fallback")
    assert "See the plans in our slideshow" not in (item.body or "")


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_a_listed_page_is_an_article_by_its_content(page: HandmadePage) -> None:
    """Reached through a sitemap, a page with a headline and paragraphs of prose is an article
    without structured data; index, tag, search and video-only pages are not."""
    listed = ArticleItem(
        url=page.url,
        fetched_url=page.url,
        site="news.example.org",
        fetched_at="2026-03-04T10:00:00+00:00",
        html=page.html,
    )
    Listing(source="https://news.example.org/sitemap.xml").apply(listed)
    assert extract_page(listed).is_article is page.is_article
    if page.name == "no_structured_data":  # without a listing, structured data decides
        assert parse_page(html_selector(page.html), page.url).is_article is False
