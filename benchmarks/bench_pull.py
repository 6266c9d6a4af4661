"""Benchmark: pulling a job's sources from a local Akeneo-compatible server with a set latency
per page, side by side with a plain loop that fetches the same data page after page.

    python benchmarks/bench_pull.py [--products 20000] [--latency 0.05] [--concurrency 4]
                                    [--family-filter-latency 0.5]

`--family-filter-latency` adds that many seconds to each page filtered by family (a PIM whose
search back end makes such filters dear): the pull measures one page of each and does not split.

The server (tests/fake_akeneo.py) serves a synthetic catalog on 127.0.0.1 and sleeps
`--latency` seconds before each list page, like a remote PIM. Both sides read what
`full-import-master` declares; ours also writes every page to the store. Not part of the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_akeneo import FakeAkeneo  # noqa: E402
from transformer.cli import demo_snapshot  # noqa: E402
from transformer.config import load_config  # noqa: E402
from transformer.sources.akeneo import AkeneoClient, Connection  # noqa: E402
from transformer.sources.pull import pull  # noqa: E402
from transformer.store import Store  # noqa: E402
from transformer.synth import generate  # noqa: E402

JOB = "full-import-master"


def ours(server: FakeAkeneo, store_path: Path, concurrency: int) -> tuple[int, float]:
    client = AkeneoClient(Connection(server.url, "client", "s3cret", "user", "pass"), concurrency=concurrency)
    started = time.perf_counter()
    with Store(store_path) as store:
        report = pull(client, store, load_config(ROOT).jobs[JOB].sources)
    return sum(report.items.values()), time.perf_counter() - started


def plain_loop(server: FakeAkeneo) -> tuple[int, float]:
    """What a straightforward script does: one request at a time, following `next`."""
    session = requests.Session()
    started = time.perf_counter()
    token = session.post(f"{server.url}/api/oauth/v1/token", auth=("client", "s3cret"),
                         json={"grant_type": "password", "username": "user", "password": "pass"}).json()["access_token"]
    session.headers.update(Authorization=f"Bearer {token}", Accept="application/json")

    def read(path: str, **params: str) -> list[dict]:
        items, url = [], f"{server.url}/api/rest/v1/{path}"
        while url:
            page = session.get(url, params=params).json()
            params = {}
            items += page["_embedded"]["items"]
            url = page["_links"].get("next", {}).get("href")
        return items

    attributes = read("attributes", limit="100")
    families = read("families", limit="100")
    count = len(attributes) + len(families)
    for attribute in attributes:
        if attribute["type"] in ("pim_catalog_simpleselect", "pim_catalog_multiselect"):
            count += len(read(f"attributes/{attribute['code']}/options", limit="100"))
    for family in families:
        count += len(read(f"families/{family['code']}/variants", limit="100"))
    for path in ("product-models", "products"):
        count += len(read(path, pagination_type="search_after", limit="100"))
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the server waits before each list page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--family-filter-latency", type=float, default=0.0,
                        help="extra seconds before each page filtered by family")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-bench-") as scratch:
        generate(demo_snapshot(), Path(scratch, "snap"), args.products)
        with FakeAkeneo(Path(scratch, "snap"), page_latency=args.latency,
                        family_filter_latency=args.family_filter_latency) as server:
            plain_items, plain_seconds = plain_loop(server)
            our_items, our_seconds = ours(server, Path(scratch, "store.sqlite"), args.concurrency)
    print(f"{args.products} products, {args.latency * 1000:.0f} ms per page (+{args.family_filter_latency * 1000:.0f} ms "
          f"filtered by family), {args.concurrency} connections")
    print(f"{'':<12} {'entities':>9} {'seconds':>8} {'entities/s':>11}")
    print(f"{'plain loop':<12} {plain_items:>9} {plain_seconds:>8.2f} {plain_items / plain_seconds:>11,.0f}")
    print(f"{'pull':<12} {our_items:>9} {our_seconds:>8.2f} {our_items / our_seconds:>11,.0f}")
    print(f"ratio: {plain_seconds / our_seconds:.2f}x faster (pull also writes every page to the store)")


if __name__ == "__main__":
    main()
