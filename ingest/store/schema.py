"""The schema's knowledge in one place: every table and column with its description, the
columns stored as JSON text, and the default database path. Migrations (``ingest/store/db.py``)
create the tables; storage, export, query and Datasette read what they mean from here, and
``tests/test_serve.py`` checks that every column of a migrated database is described."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = Path("data") / "news.db"
DB_ENVVAR = "INGEST_DB"


@dataclass(frozen=True)
class Table:
    """A table's description, its columns' (in order), and which of them hold JSON text."""

    description: str
    columns: dict[str, str]
    json: tuple[str, ...] = ()


TABLES: dict[str, Table] = {
    "articles": Table(
        "One row per canonical article URL: clean text, language, dates, the run that stored it.",
        {
            "url": "Canonical URL (primary key); re-crawls update the row in place",
            "site": "Site the article comes from (the spider's site name)",
            "lang": "Language detected from the text (uk, ru, en...)",
            "lang_confidence": "Detector's probability for lang, 0-1",
            "lang_declared": "Language the page declares (html lang / og:locale), kept to compare",
            "title": "Headline",
            "lead": "Standfirst / summary paragraph, when the page has one",
            "body": "Clean article text, paragraphs separated by a blank line",
            "body_html": "Body rebuilt from escaped text with <p>/<h2>... only; shown as text",
            "body_hash": "Hash of the body, to spot the same text under two URLs",
            "published": "Publication time, ISO 8601 UTC",
            "published_raw": "Publication time exactly as the page gave it",
            "published_source": "Where published came from (JSON-LD, meta, page text)",
            "modified_source": "Where modified came from (JSON-LD, meta)",
            "body_source": "How the body was found: site, json-ld, generic, fallback",
            "title_source": "How the title was found: site, json-ld, og, h1, title",
            "modified": "Last modification time, ISO 8601 UTC",
            "modified_raw": "Modification time exactly as the page gave it",
            "authors": "Authors, JSON list",
            "section": "Site section (rubric) the article is filed under",
            "tags": "Tags, JSON list",
            "story_id": "Identifier shared by the language versions of one story",
            "alternates": "Language versions the page links to: JSON object hreflang -> URL",
            "fetched_url": "URL actually fetched (a mirror or a redirect source), if not url",
            "canonical_declared": "Canonical URL the page named but is not stored under "
            "(another site's, or another article's)",
            "fetched_at": "When the page was fetched, ISO 8601 UTC",
            "run_id": "The crawl run that last stored the article (runs.id)",
            "source": "Feed, sitemap or WARC file that listed the article",
            "feed_title": "Title the feed or sitemap gave (RSS/Atom title, news:title)",
            "feed_published_raw": "Publication date exactly as the feed or sitemap gave it",
            "feed_published": "Publication date the feed or sitemap gave, ISO 8601 UTC",
            "feed_language": "Language the feed or sitemap declared (news:language)",
            "replacement_chars": "U+FFFD characters left in the text after decoding and repairs",
            "flags": "What text normalisation found or fixed, JSON list (mojibake_fixed, ...)",
        },
        json=("authors", "tags", "alternates", "flags"),
    ),
    "articles_fts": Table(
        "SQLite FTS5 index over articles' title, lead and body, kept in sync by triggers.",
        {
            "title": "Indexed headline",
            "lead": "Indexed lead",
            "body": "Indexed body text",
        },
    ),
    "articles_search": Table(
        "The morphology-aware index `ingest search` uses: per article, its words as lemmas (uk, "
        "ru) or stems, in order; written by news-ingest as it stores articles. Searching it "
        "needs the query analysed the same way (ingest search); articles_fts has the words as "
        "written.",
        {
            "lang": "Analysis the row got: uk, ru, a Snowball language, or xx (lower case only)",
            "title": "Headline as index terms",
            "lead": "Lead as index terms",
            "body": "Body as index terms",
        },
    ),
    "images": Table(
        "Images of an article in page order; captions are kept here, never in the body.",
        {
            "article_url": "The article (articles.url)",
            "position": "Order of the image in the article, from 0",
            "src": "Image URL",
            "caption": "Caption text",
            "credit": "Photo credit",
        },
    ),
    "translations": Table(
        "The language versions of one story: one row per story and language.",
        {
            "story_id": "The story (articles.story_id)",
            "lang": "Language of this version",
            "url": "URL of this version; it may not have been crawled yet",
        },
    ),
    "runs": Table(
        "One row per crawl: how it was started, how it ended and its Scrapy stats.",
        {
            "id": "Run identifier: start time plus a random suffix",
            "spider": "Spider that ran",
            "trigger": "What started it: manual, scheduled, scrapyd or demo",
            "args": "Spider arguments, JSON object",
            "started_at": "Start time, ISO 8601 UTC",
            "finished_at": "End time, ISO 8601 UTC",
            "finish_reason": "Scrapy's finish reason (finished, shutdown, ...)",
            "crawl_id": "The crawl this run belongs to: the frontier workers' runs and the "
            "writer's of one crawl shared through Redis (--frontier) have the same id",
            "stats": (
                "The crawl's Scrapy stats as JSON; drops are ingest/dropped/<reason>, body and "
                "title sources ingest/extraction/body|title/<source>, a site's share of bodies "
                "from its own selectors ingest/extraction/site/<site>/share, drift "
                "ingest/drift/<site>"
            ),
        },
        json=("args", "stats"),
    ),
    "seen": Table(
        "What the last fetch of each URL returned, so incremental crawls can skip unchanged pages.",
        {
            "url": "URL as requested (articles.url or articles.fetched_url)",
            "site": "Site the URL belongs to",
            "status": "HTTP status of the last check (304 = unchanged)",
            "etag": "ETag header of the last response",
            "last_modified": "Last-Modified header of the last response, verbatim",
            "lastmod": "Newest change date a feed or sitemap gave, ISO 8601 UTC",
            "body_hash": "sha256 of the last downloaded bytes",
            "fetched_at": "Last download of a body, ISO 8601 UTC",
            "checked_at": "Last question to the server (200 or 304), ISO 8601 UTC",
        },
    ),
    "revisions": Table(
        "Earlier versions of an article, kept when a re-crawl found its text changed.",
        {
            "id": "Row id",
            "article_url": "The article (articles.url)",
            "body_hash": "Hash of this version's body",
            "title": "Headline of this version",
            "body": "Clean text of this version",
            "body_html": "Rebuilt HTML of this version; shown as text",
            "modified": "Modification time the page gave for this version, ISO 8601 UTC",
            "fetched_at": "When this version was fetched",
            "run_id": "The run that fetched this version (runs.id)",
            "revised_at": "When a newer version replaced it",
        },
    ),
    "_sqlite_migrations": Table(
        "Schema migrations applied to this database (sqlite-utils).",
        {
            "id": "Row id",
            "migration_set": "Set the migration belongs to",
            "name": "Migration function name",
            "applied_at": "When it was applied",
        },
    ),
}

# The articles table: what storage writes from each item (its other fields are images, or
# inputs of the pipelines), and its columns holding JSON lists or objects.
ARTICLE_COLUMNS = tuple(TABLES["articles"].columns)
ARTICLE_JSON_COLUMNS = TABLES["articles"].json
