"""Page-level fields from structured data: authors are people, dates carry their source."""

from __future__ import annotations

import json

import pytest

from ingest.extract import clean_authors, extract_article


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["By Jane Doe", "John Smith"], ["Jane Doe", "John Smith"]),
        (["Email the author", "Jane Doe"], ["Jane Doe"]),
        (["13.04.2026 17:56", "Автор: Ірина Сорока"], ["Ірина Сорока"]),
        (["Euronews", "Stefan Grobe"], ["Stefan Grobe"]),
        (["https://example.com/authors/jane", "jane@example.com"], []),
        (["Jane Doe", "Jane Doe"], ["Jane Doe"]),
    ],
)
def test_authors_are_peoples_names(names: list[str], expected: list[str]) -> None:
    assert clean_authors(names, publisher={"euronews"}) == expected


def page(ld: dict[str, object], meta: str = "") -> str:
    body = "<p>" + "The council approved the budget after a long debate. " * 8 + "</p>"
    return (
        f"<html><head>{meta}<script type='application/ld+json'>{json.dumps(ld)}</script></head>"
        f"<body><article><h1>Budget approved</h1>{body}</article></body></html>"
    )


def test_dates_keep_their_source_and_order() -> None:
    item = extract_article(
        page(
            {"@type": "NewsArticle", "headline": "Budget approved",
             "datePublished": "2025-07-04T17:56:00+03:00"},
            meta="<meta property='article:modified_time' content='2025-07-04T16:10:00Z'>",
        ),
        "https://example.com/a",
    )  # fmt: skip
    assert (item.published, item.published_source) == ("2025-07-04T14:56:00+00:00", "json-ld")
    assert (item.modified, item.modified_source) == ("2025-07-04T16:10:00+00:00", "meta")


def test_a_modified_date_before_publication_is_dropped() -> None:
    item = extract_article(
        page({"@type": "NewsArticle", "headline": "Budget approved",
              "datePublished": "2025-07-04T12:00:00Z", "dateModified": "2025-07-01T12:00:00Z"}),
        "https://example.com/a",
    )  # fmt: skip
    assert item.published == "2025-07-04T12:00:00+00:00"
    assert item.modified is None
    assert item.modified_source is None


def test_an_organisation_as_author_gives_way_to_the_byline() -> None:
    item = extract_article(
        page(
            {"@type": "NewsArticle", "headline": "Budget approved",
             "author": {"@type": "Organization", "name": "City Herald"}},
            meta="<meta name='author' content='By Jane Doe'>",
        ),
        "https://example.com/a",
    )  # fmt: skip
    assert item.authors == ["Jane Doe"]
