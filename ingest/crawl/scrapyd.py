"""Crawls on scrapyd nodes: its HTTP API (schedule.json, listjobs.json) and sites sharded by node.

A unit of work is a spider, or ``spider:site`` for a generic spider and one declared site
(``feed:pravda`` = ``ingest crawl feed -a site=pravda``). Politeness is per domain, so a unit
always goes to one node: rendezvous hashing picks it (the node with the highest hash of
node + unit), so adding a node moves only the units it wins, and every scheduler given the same
node list agrees without talking to the others. A unit with a job pending or running on its
node is skipped for the round, as a local crawl whose lock is held is (job ids start with the
unit: ``feed.pravda--<hex>``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import urlopen

logger = logging.getLogger(__name__)

PROJECT = "ingest"  # scrapy.cfg [deploy] project
TIMEOUT = 30.0  # seconds per API call
JOB_SEPARATOR = "--"


class ScrapydError(Exception):
    """A scrapyd node that cannot be reached or refuses a call (its message kept)."""


@dataclass(frozen=True)
class Unit:
    """One spider, with the declared site it crawls when it is a generic spider."""

    spider: str
    site: str = ""

    @classmethod
    def parse(cls, text: str) -> Unit:
        spider, _, site = text.partition(":")
        return cls(spider, site)

    @property
    def key(self) -> str:
        """``rbc`` or ``feed.pravda``: the job id prefix (scrapyd ids are file names)."""
        return f"{self.spider}.{self.site}" if self.site else self.spider

    def __str__(self) -> str:
        return f"{self.spider}:{self.site}" if self.site else self.spider


def _endpoint(node: str, name: str) -> str:
    split = urlsplit(node)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ScrapydError(f"not a scrapyd URL: {node!r} (expected http://HOST:PORT)")
    return node.rstrip("/") + "/" + name


def call(node: str, name: str, data: Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
    """POST ``data`` to (or, without data, GET) ``node``/``name``; its JSON, status ``ok``."""
    url = _endpoint(node, name)
    body = urlencode(list(data)).encode() if data is not None else None
    try:
        with urlopen(url, data=body, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) checked)
            answer: dict[str, Any] = json.loads(response.read())
    except (URLError, OSError, ValueError) as exc:
        raise ScrapydError(f"{url}: {exc}") from exc
    if answer.get("status") != "ok":
        raise ScrapydError(f"{url}: {answer.get('message') or answer}")
    return answer


def schedule(
    node: str,
    unit: Unit,
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    project: str = PROJECT,
) -> str:
    """Queue ``unit`` on ``node`` (schedule.json); the job id."""
    job = f"{unit.key}{JOB_SEPARATOR}{uuid.uuid4().hex[:12]}"
    data = [("project", project), ("spider", unit.spider), ("jobid", job)]
    spider_args = {**(args or {}), **({"site": unit.site} if unit.site else {})}
    data += list(spider_args.items())
    every = {"INGEST_TRIGGER": "scrapyd", **(settings or {})}
    data += [("setting", f"{name}={value}") for name, value in every.items()]
    return str(call(node, "schedule.json", data)["jobid"])


def jobs(node: str, project: str = PROJECT) -> dict[str, list[dict[str, Any]]]:
    """listjobs.json of ``project``: ``pending``, ``running`` and ``finished`` jobs."""
    answer = call(node, f"listjobs.json?{urlencode({'project': project})}")
    return {state: list(answer.get(state, [])) for state in ("pending", "running", "finished")}


def busy_units(node: str, project: str = PROJECT) -> set[str]:
    """Unit keys with a job pending or running on ``node``."""
    listed = jobs(node, project)
    return {
        str(job["id"]).partition(JOB_SEPARATOR)[0]
        for state in ("pending", "running")
        for job in listed[state]
    }


def node_for(unit: Unit, nodes: Sequence[str]) -> str:
    """The node ``unit`` goes to: rendezvous (highest random weight) hashing."""
    if not nodes:
        raise ScrapydError("no scrapyd node given")
    return max(nodes, key=lambda node: hashlib.sha256(f"{node}|{unit.key}".encode()).digest())


def shard(units: Iterable[Unit], nodes: Sequence[str]) -> dict[str, list[Unit]]:
    """Every unit on exactly one node (whole sites per node); nodes in the order given."""
    out: dict[str, list[Unit]] = {node: [] for node in nodes}
    for unit in units:
        out[node_for(unit, nodes)].append(unit)
    return out


def dispatch(
    units: Sequence[Unit],
    nodes: Sequence[str],
    *,
    args: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
) -> list[tuple[Unit, str, str | None]]:
    """One round: each unit scheduled on its node unless a job of it is pending or running
    there. (unit, node, job id or None when skipped); a node that cannot be reached is logged
    and its units count as not scheduled."""
    done: list[tuple[Unit, str, str | None]] = []
    for node, mine in shard(units, nodes).items():
        if not mine:
            continue
        try:
            busy = busy_units(node)
        except ScrapydError as exc:
            logger.warning("%s: %s; not scheduling %s", node, exc, ", ".join(map(str, mine)))
            done += [(unit, node, None) for unit in mine]
            continue
        for unit in mine:
            if unit.key in busy:
                logger.info("%s: %s still pending or running there; skipped", node, unit)
                done.append((unit, node, None))
                continue
            job = schedule(node, unit, args=args, settings=settings)
            logger.info("%s: scheduled %s as job %s", node, unit, job)
            done.append((unit, node, job))
    return done
