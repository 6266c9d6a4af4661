"""Benchmark: store -> validated master catalog XML for N synthetic products.

    python benchmarks/bench_catalog.py --products 10000 100000 [--workers 2] [--job full-import-master]

For each N: generate a deterministic synthetic snapshot (the demo's attribute mix, a third
of the products variants), load it into a store (timed apart), then time `akeneo-sfcc run`
from that store in a child process while sampling the resident memory of the run's whole
process tree (main process plus workers). Prints records per second (products and the
product models written as masters) and peak RSS. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformer.cli import demo_snapshot  # noqa: E402
from transformer.synth import generate  # noqa: E402


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """(sum, largest) VmRSS in KiB over `pid` and its descendants."""
    sizes = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            sizes.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration, PermissionError):
            continue
    return sum(sizes), max(sizes, default=0)


def timed_run(argv: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak tree RSS and peak single-process RSS (KiB) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak_sum = peak_one = 0
    while process.poll() is None:
        total, largest = tree_rss_kib(process.pid)
        peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {process.returncode}")
    return elapsed, peak_sum, peak_one


def change_products(snapshot: Path, every: int) -> int:
    """Rename every `every`-th product of the snapshot (a PIM edit); returns how many changed."""
    path = snapshot / "products.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = 0
    for index in range(0, len(lines), every):
        product = json.loads(lines[index])
        product["values"]["name"] = [{"locale": "en_US", "scope": None, "data": f"Edited {index}"}]
        lines[index] = json.dumps(product, ensure_ascii=False)
        changed += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def bench_delta(products: int, workers: int, job: str, percent: float, scratch: Path) -> None:
    """A first run of a (differential) job or chain, then `percent` % of the products edited,
    reloaded, and the job run again: what a daily delta costs."""
    snapshot, store, out = scratch / f"snap-{products}", scratch / f"store-{products}.sqlite", scratch / "out-delta"
    generate(demo_snapshot(), snapshot, products)
    cli = [sys.executable, "-m", "transformer.cli"]
    timed_run(cli + ["load", str(snapshot), "--store", str(store)])
    run = cli + ["run", job, "--offline", "--store", str(store), "--out", str(out), "--workers", str(workers)]
    first, _, _ = timed_run(run)
    changed = change_products(snapshot, max(1, round(100 / percent)))
    reload_seconds, _, _ = timed_run(cli + ["load", str(snapshot), "--store", str(store)])
    seconds, peak, _ = timed_run(run)
    print(f"{products} products: first run {first:.1f} s; {changed} edited, reload {reload_seconds:.1f} s, "
          f"delta run {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB")


def bench(products: int, workers: int, job: str, scratch: Path) -> dict:
    snapshot, store, out = scratch / f"snap-{products}", scratch / f"store-{products}.sqlite", scratch / f"out-{products}"
    started = time.perf_counter()
    counts = generate(demo_snapshot(), snapshot, products)
    generated = time.perf_counter() - started
    cli = [sys.executable, "-m", "transformer.cli"]
    load_seconds, _, _ = timed_run(cli + ["load", str(snapshot), "--store", str(store)])
    seconds, peak_sum, peak_one = timed_run(cli + ["run", job, "--offline", "--store", str(store), "--out", str(out), "--workers", str(workers)])
    records = counts["products"] + counts["product-models"]
    xml = sum(p.stat().st_size for p in (out / "latest" / "site-import").rglob("*.xml"))
    return {"products": products, "models": counts["product-models"], "generate_s": generated, "load_s": load_seconds,
            "run_s": seconds, "records_per_s": records / seconds, "products_per_s": products / seconds,
            "peak_rss_mib": peak_sum / 1024, "peak_process_rss_mib": peak_one / 1024, "xml_mib": xml / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--job", default="full-import-master")
    parser.add_argument("--delta", type=float, metavar="PERCENT",
                        help="time a differential run after editing this share of the products")
    args = parser.parse_args()
    if args.delta:
        with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-bench-") as scratch:
            for products in args.products:
                bench_delta(products, args.workers, args.job, args.delta, Path(scratch))
        return
    print(f"{args.job}, {args.workers} worker(s), {os.cpu_count()} cores")
    print(f"{'products':>9} {'models':>7} {'run s':>7} {'records/s':>10} {'products/s':>11} "
          f"{'peak RSS MiB':>13} {'largest proc MiB':>17} {'XML MiB':>8} {'load s':>7}")
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-bench-") as scratch:
        for products in args.products:
            r = bench(products, args.workers, args.job, Path(scratch))
            print(f"{r['products']:>9} {r['models']:>7} {r['run_s']:>7.2f} {r['records_per_s']:>10,.0f} "
                  f"{r['products_per_s']:>11,.0f} {r['peak_rss_mib']:>13.1f} {r['peak_process_rss_mib']:>17.1f} "
                  f"{r['xml_mib']:>8.1f} {r['load_s']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
