"""The crawl: middlewares, extensions, the process pool, the frontier and schedules."""
