# Every target works on a fresh clone: it builds .venv first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo crawl test live-check lint bench bench-extract bench-langid bench-pages bench-scale soak clean

$(BIN)/ingest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/ingest ## build .venv with the package and its dev tools

demo: $(BIN)/ingest ## crawl the bundled offline mirror into data/demo.db and print a summary
	$(BIN)/ingest demo --db data/demo.db

crawl: $(BIN)/ingest ## the live crawl of RBC-Ukraine into the default database (ingest db path)
	$(BIN)/ingest crawl rbc

lint: $(BIN)/ingest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## ruff, mypy and pytest, offline
	$(BIN)/python -m pytest

live-check: $(BIN)/ingest ## each declared site's feed and two real articles: do its selectors still match? (network)
	$(BIN)/python -m pytest -m live

bench: $(BIN)/ingest ## the whole pipeline end to end on 127.0.0.1, N=1,000 and 10,000, vs trafilatura
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/pipeline_bench.py --n 1000 --n 10000

bench-extract: $(BIN)/ingest ## each extraction layer vs trafilatura on ../shared/data (dev sets)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/extraction_layers.py

bench-langid: $(BIN)/ingest ## detect_language vs plain langdetect on ../shared/data/langid
	$(BIN)/python benchmarks/langid_bench.py

bench-pages: $(BIN)/ingest ## body F1 and language of the real pages in tests/fixtures/news_pages
	$(BIN)/python benchmarks/news_pages.py

bench-crawl: $(BIN)/ingest ## every real page of ../shared/data crawled by the sitemap spider on 127.0.0.1; losses by reason
	$(BIN)/python benchmarks/crawl_real_pages.py

bench-scale: $(BIN)/ingest ## 1,000 loopback pages: one process vs 1-3 Redis frontier workers + writer; Redis bytes/request; writer alone
	$(BIN)/pip install --quiet -e '.[scale]'
	$(BIN)/python benchmarks/scale_bench.py --n 1000

soak: $(BIN)/ingest ## 3,000 mirror pages with injected faults on 127.0.0.1; every good one stored once
	$(BIN)/python benchmarks/soak.py --n 3000

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache
