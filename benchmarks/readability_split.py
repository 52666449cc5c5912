"""Split Readability's test pages (../shared/data/readability-test-pages) into a tuning part and
a validation part that share no site, so that a gain can be checked on pages nobody tuned on.

Sites are grouped by registrable host (pages without a URL by their name stem); groups are
ordered by the SHA-1 of their key and taken into validation until it holds a third of the
pages. The split is fixed by the keys alone, so it never moves when code changes. Writes
``eval-data/readability-{tune,validation}/`` (a ``truth.json`` subset and links to the pages)
for the shared harness: ``BENCH_READABILITY_DIR=eval-data/readability-validation python
../shared/eval/extract_bench.py --dataset readability ...``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "readability-test-pages"
OUT = ROOT / "eval-data"
_STRIP_RE = re.compile(r"^(?:www|m|en|blog|blogs)\.")


def site_key(name: str, url: str) -> str:
    """The site a page belongs to: its registrable host, or its name without a number."""
    if url:
        host = _STRIP_RE.sub("", urlsplit(url).hostname or "")
        parts = host.split(".")
        if len(parts) > 2 and parts[-2] in ("co", "com", "org"):
            return ".".join(parts[-3:])
        return ".".join(parts[-2:])
    return re.sub(r"-(?:\d+|post-comment-load|working)$", "", name)


def split(pages: dict[str, dict[str, str]]) -> tuple[list[str], list[str]]:
    """(tune, validation) page names; validation is about a third, whole sites only."""
    groups: dict[str, list[str]] = {}
    for name, page in pages.items():
        groups.setdefault(site_key(name, page.get("url") or ""), []).append(name)
    order = sorted(groups, key=lambda k: hashlib.sha1(k.encode(), usedforsecurity=False).digest())
    validation: list[str] = []
    for key in order:
        if len(validation) >= len(pages) / 3:
            break
        validation.extend(groups[key])
    tune = [n for n in pages if n not in validation]
    return sorted(tune), sorted(validation)


def main() -> int:
    truth_path = SOURCE / "truth.json"
    if not truth_path.is_file():
        print(f"no readability test pages at {SOURCE} (../shared is not part of a clone)")
        return 1
    truth = json.loads(truth_path.read_text("utf-8"))
    pages = truth["pages"]
    for part, names in zip(("tune", "validation"), split(pages), strict=True):
        folder = OUT / f"readability-{part}"
        (folder / "pages").mkdir(parents=True, exist_ok=True)
        subset = {**truth, "pages": {n: pages[n] for n in names}}
        (folder / "truth.json").write_text(json.dumps(subset, ensure_ascii=False), "utf-8")
        for name in names:
            link = folder / "pages" / f"{name}.html.gz"
            if not link.exists():
                link.symlink_to(SOURCE / "pages" / f"{name}.html.gz")
        print(f"{part}: {len(names)} pages -> {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
