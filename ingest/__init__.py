"""news-ingest: Scrapy spiders and pipelines that store clean, language-tagged news in SQLite."""

__version__ = "0.1.0"
