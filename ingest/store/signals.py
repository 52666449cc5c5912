"""Signals the storage pipeline answers, sent by other components of the same crawl."""

from __future__ import annotations

# Sent by a component that must know when what the pipelines took so far is in the database:
# the frontier writer (ingest/crawl/frontier.py) takes a batch out of Redis only then. Storage
# hands its buffered articles to the writer thread; the Deferred its handler returns fires once
# the writer is done with every batch it holds, each article counted as stored, unchanged or
# not stored (the stats of pipelines/storage.py), so the sender reads the outcome there.
storage_flush = object()
