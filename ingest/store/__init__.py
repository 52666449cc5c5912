"""Storage: the schema, its migrations, the one writer and the search index."""
