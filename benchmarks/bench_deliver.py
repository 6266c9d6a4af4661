"""Benchmark: what delivery adds to a run, against the local servers of the tests.

    pip install -e '.[test]'    # WsgiDAV and cheroot, for the local SFCC
    python benchmarks/bench_deliver.py [--products 100000] [--images-mib 250]

Starts tests/fake_sfcc.py (a real WsgiDAV server, a fake Account Manager and OCAPI jobs API whose
import opens each uploaded zip and validates its XML against the XSDs) on 127.0.0.1, then times:

1. the demo: `run full --demo` with and without `--deliver`;
2. N synthetic products: `run full` from a store, then `deliver` of that run (default part size);
3. the same run with `--images-mib` MiB of incompressible image files added to its archive (a
   catalog with product photos: about 300 MB zipped at the defaults), delivered in parts.

Each `deliver` is a child process whose peak memory is sampled. The time the fake instance spends
importing (reading, validating and counting the XML: SFCC's own work on a real instance) is
measured apart, so "ours" is what the tool adds: cutting parts, uploads, polls, reading the logs.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_catalog import tree_memory_kib  # noqa: E402
from fake_sfcc import FakeSfcc  # noqa: E402
from transformer.cli import demo_snapshot  # noqa: E402
from transformer.package import zip_archive  # noqa: E402
from transformer.synth import generate  # noqa: E402

CLI = [sys.executable, "-m", "transformer.cli"]
MiB = 1 << 20


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, the process tree) of a command that must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_memory_kib(process.pid)[0])
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(argv[2:])} exited {process.returncode}: {process.stderr.read()[-2000:]}")
    return elapsed, peak / 1024


class ImportClock:
    """The seconds the fake instance spends importing: its work, SFCC's on a real instance."""

    def __init__(self, fake: FakeSfcc):
        self.seconds, finish = 0.0, fake._finish

        def timed_finish(execution):
            started = time.perf_counter()
            finish(execution)
            self.seconds += time.perf_counter() - started
        fake._finish = timed_finish

    def lap(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def deliver(run: Path, env: dict[str, str], clock: ImportClock, fake: FakeSfcc, poll: str) -> dict:
    before = len(fake.imports)
    wall, peak = timed(CLI + ["deliver", str(run), "--config", str(ROOT), "--poll-interval", poll], env)
    imported = fake.imports[before:]
    parts = json.loads((run / "parts" / "parts.json").read_text())
    assert [i["file"] for i in imported] == [p["file"] for p in parts], "parts imported out of order"
    assert all(i["exit"] == "OK" and i["dataerrors"] == 0 for i in imported), imported
    sfcc = clock.lap()
    return {"wall_s": wall, "sfcc_import_s": sfcc, "ours_s": wall - sfcc, "peak_mib": peak, "parts": len(parts),
            "largest_part_mib": max(p["bytes"] for p in parts) / MiB,
            "archive_mib": sum(p["bytes"] for p in parts) / MiB}


def add_images(run: Path, mib: int) -> None:
    """Incompressible files under the master catalog's static folder, as product photos are, and the
    run's zip written again with them."""
    static = run / "site-import/catalogs/akeneo-master/static/default/bench"
    static.mkdir(parents=True, exist_ok=True)
    for number in range(mib * 4):  # 256 KiB each
        (static / f"photo-{number:05d}.jpg").write_bytes(os.urandom(256 * 1024))
    zip_archive(run / "site-import", run / f"{run.name}.zip")


def report(label: str, r: dict) -> None:
    print(f"{label:<34} {r['wall_s']:>8.1f} {r['sfcc_import_s']:>9.1f} {r['ours_s']:>8.1f} {r['peak_mib']:>9.0f} "
          f"{r['parts']:>6} {r['largest_part_mib']:>9.1f} {r['archive_mib']:>9.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--images-mib", type=int, default=250)
    parser.add_argument("--poll-interval", default="0.2", help="the first wait between polls (the CLI's default is 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-bench-") as scratch, FakeSfcc(Path(scratch) / "sfcc") as fake:
        scratch = Path(scratch)
        clock = ImportClock(fake)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SFCC_") or k == "SFCC_XSD_DIR"} | {
            "SFCC_SERVER": fake.url, "SFCC_ACCOUNT_MANAGER_HOST": fake.url, "SFCC_CLIENT_ID": fake.client_id,
            "SFCC_CLIENT_SECRET": "s3cr+t%"}
        poll = ["--poll-interval", args.poll_interval]
        print(f"{os.cpu_count()} cores; first poll after {args.poll_interval} s; times in seconds")
        built, _ = timed(CLI + ["run", "full", "--demo", "--out", str(scratch / "demo-a"), "--config", str(ROOT)], env)
        with_delivery, _ = timed(CLI + ["run", "full", "--demo", "--out", str(scratch / "demo-b"), "--config", str(ROOT),
                                        "--deliver", *poll], env)
        sfcc = clock.lap()
        print(f"demo: run full {built:.2f} s; with --deliver {with_delivery:.2f} s: delivery adds "
              f"{with_delivery - built:.2f} s, of which the fake import {sfcc:.2f} s")
        print(f"{'':<34} {'wall':>8} {'import':>9} {'ours':>8} {'peak MiB':>9} {'parts':>6} {'max MiB':>9} "
              f"{'sum MiB':>9}")
        snapshot, store, out = scratch / "snap", scratch / "store.sqlite", scratch / "out"
        generate(demo_snapshot(), snapshot, args.products)
        timed(CLI + ["load", str(snapshot), "--store", str(store)], env)
        shutil.rmtree(snapshot)
        run_s, run_peak = timed(CLI + ["run", "full", "--offline", "--store", str(store), "--out", str(out),
                                       "--config", str(ROOT)], env)
        run = (out / "latest").resolve()
        xml = sum(p.stat().st_size for p in (run / "site-import").rglob("*.xml")) / MiB
        print(f"{args.products:,} products: run full {run_s:.1f} s (peak {run_peak:.0f} MiB), {xml:.0f} MiB of XML, "
              f"zip {(run / f'{run.name}.zip').stat().st_size / MiB:.1f} MiB")
        report(f"deliver {args.products:,} products", deliver(run, env, clock, fake, args.poll_interval))
        add_images(run, args.images_mib)
        report(f"  + {args.images_mib} MiB of images, 90 MiB parts", deliver(run, env, clock, fake, args.poll_interval))
        with zipfile.ZipFile(run / f"{run.name}.zip") as whole:
            print(f"  (the archive with images: {(run / f'{run.name}.zip').stat().st_size / 1e6:.0f} MB zipped, "
                  f"{len(whole.infolist()):,} files)")


if __name__ == "__main__":
    main()
