"""Benchmark: store -> validated master catalog XML for N synthetic products, against the two-core limit.

    python benchmarks/bench_catalog.py --products 10000 100000 [--shape heavy|light] [--workers 2]
                                       [--job full-import-master] [--keep DIR]
    python benchmarks/bench_catalog.py --products 10000 --delta 5     # a daily delta: 5 % of the products edited

For each N: generate a deterministic synthetic snapshot (`--shape heavy`, the default: a retail
product with 60 more attributes, see transformer/synth.py; `light`: the demo's attribute mix),
load it into a store (timed apart), then time `akeneo-sfcc run` from that store in a child
process while sampling the resident memory of the run's whole process tree (main process plus
workers) and counting its CPU (user + sys, from getrusage(RUSAGE_CHILDREN) deltas).

Then the two-core physical limit of what the run does to the same output, measured in this
process on one core: the written master catalog (`OUT/latest/site-import/catalogs/*/catalog.xml`)
is (a) rendered again by bare Jinja, its products parsed beforehand (untimed) into plain
(tag, attributes, text, children, tail) tuples and written by one minimal macro that escapes
the data (attribute values, texts) as autoescape does and writes names and whitespace as a
template's literal text (the output is the file's bytes; a few products are also checked to
canonicalize, lxml c14n, as the tool's), and (b) validated by lxml streaming: an
`XMLPullParser(schema=...)` fed 64 KiB at a time that raises an event only per product, each
freed when it ends (the cheapest flat-memory validation lxml offers; keeping the whole tree
instead costs more CPU, and about 7 × the file in memory). Both stages split perfectly across cores, so the limit
is 2 × products / (CPU s render + CPU s validate), both timed on one core of this process.
Printed: the tool's products/s (wall, and CPU-normalised: products / tree CPU s × 2), the limit,
their ratio, peak tree RSS and PSS (RSS counts the pages a worker shares with its parent in both;
PSS once). `products` there are the <product> elements of the catalog (masters of product models
included), for the tool and the limit alike.

`--delta PERCENT`: a first run, then PERCENT % of the products renamed, loaded as a snapshot of
changes (`load --changes`, what a differential pull stores) and the job run again (0.1: 1,000 of 1,000,000).
`--keep DIR`: work in DIR (snapshots, stores, outputs stay there) instead of a temporary folder; a
store kept there (`store-N.sqlite`) is used again, without generating or loading.
`--limit-sample N`: the limit is measured on the catalog's first N products (default 100,000).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Iterator

import jinja2
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformer.cli import demo_snapshot  # noqa: E402
from transformer.store import Store  # noqa: E402
from transformer.synth import SHAPES, generate  # noqa: E402

FEED = 1 << 16  # bytes fed to the validator at once: cheaper than 1 MiB feeds (fewer records built before freed)
BATCH = 1000  # products parsed (untimed), then rendered (timed), at a time: memory stays flat
CHECKED = 8  # products whose rendering is compared (c14n) with the tool's
XML_NS = "http://www.w3.org/XML/1998/namespace"
SEPARATOR = "\n    "  # between two products (iterparse has not always read a product's tail when it ends)
# One element and its children: leaves inline, elements with children by recursion. Data (attribute
# values, texts) is escaped (`|e`, markupsafe, as autoescape does); names and whitespace are the
# markup a real template holds as literal text, so they are not.
ELEMENT_TEMPLATE = (
    "{%- macro element(tag, attributes, text, children, tail) -%}"
    "<{{ tag }}{% for name, value in attributes %} {{ name }}=\"{{ value|e }}\"{% endfor %}>{{ text|e }}"
    "{%- for c_tag, c_attributes, c_text, c_children, c_tail in children -%}"
    "{%- if c_children %}{{ element(c_tag, c_attributes, c_text, c_children, c_tail) }}{% else -%}"
    "<{{ c_tag }}{% for name, value in c_attributes %} {{ name }}=\"{{ value|e }}\"{% endfor %}>{{ c_text|e }}"
    "</{{ c_tag }}>{{ c_tail }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "</{{ tag }}>{{ tail }}"
    "{%- endmacro -%}"
    "{% for tag, attributes, text, children, tail in products %}"
    "{{ element(tag, attributes, text, children, tail) }}{% endfor %}"
)


def tree_memory_kib(pid: int) -> tuple[int, int, int]:
    """(sum, largest) VmRSS and the sum of PSS, in KiB, over `pid` and its descendants. RSS counts
    the pages a forked worker shares with its parent in both; PSS shares them out, so the tree's
    PSS is what the tree takes from the machine."""
    sizes, pss = [], 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            sizes.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))))
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            pss += int(next(line.split()[1] for line in rollup.splitlines() if line.startswith("Pss:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration, PermissionError):
            continue
    return sum(sizes), max(sizes, default=0), pss


def children_cpu() -> float:
    """User + sys CPU seconds of the children (and their reaped descendants) waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(argv: list[str]) -> tuple[float, int, int, float, int]:
    """Wall seconds, peak tree RSS and peak single-process RSS (KiB), the CPU seconds of the whole
    process tree, and its peak PSS (KiB), of a command."""
    cpu = children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak_sum = peak_one = peak_pss = 0
    while process.poll() is None:
        total, largest, pss = tree_memory_kib(process.pid)
        peak_sum, peak_one, peak_pss = max(peak_sum, total), max(peak_one, largest), max(peak_pss, pss)
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {process.returncode}")
    return elapsed, peak_sum, peak_one, children_cpu() - cpu, peak_pss


def change_products(snapshot: Path, every: int, changes: Path) -> int:
    """Write every `every`-th product of the snapshot, renamed (a PIM edit), into the snapshot of
    changes `changes` (what a differential pull would read); returns how many."""
    changes.mkdir(parents=True, exist_ok=True)
    changed, edit = 0, time.strftime("%H:%M:%S")  # another text each time: every edit is a change
    with open(snapshot / "products.jsonl", encoding="utf-8") as source, \
            open(changes / "products.jsonl", "w", encoding="utf-8") as target:
        for index, line in enumerate(source):
            if index % every == 0:
                product = json.loads(line)
                product["values"]["name"] = [{"locale": "en_US", "scope": None, "data": f"Edited {index} at {edit}"}]
                target.write(json.dumps(product, ensure_ascii=False) + "\n")
                changed += 1
    return changed


def bench_delta(products: int, workers: int, job: str, percent: float, shape: str, scratch: Path) -> None:
    """A first run of a (differential) job or chain, then `percent` % of the products edited and
    loaded as a snapshot of changes, and the job run again: what a daily delta costs."""
    snapshot, store, out = scratch / f"snap-{products}", scratch / f"store-{products}.sqlite", scratch / "out-delta"
    cli = [sys.executable, "-m", "transformer.cli"]
    if not store.is_file():
        generate(demo_snapshot(), snapshot, products, shape=shape)
        timed_run(cli + ["load", str(snapshot), "--store", str(store)])
    run = cli + ["run", job, "--offline", "--store", str(store), "--out", str(out), "--workers", str(workers)]
    first = timed_run(run)[0]
    changed = change_products(snapshot, max(1, round(100 / percent)), scratch / "changes")
    reload_seconds = timed_run(cli + ["load", "--changes", str(scratch / "changes"), "--store", str(store)])[0]
    seconds, peak, _, cpu, pss = timed_run(run)
    jobs = {p.stem: json.loads(p.read_text())["timings_seconds"]["total"] for p in (out / "latest" / "reports").glob("*.json")}
    print(f"{products} products ({shape}): first run {first:.1f} s; {changed} edited, loaded as changes in "
          f"{reload_seconds:.1f} s; delta run {seconds:.1f} s ({cpu:.1f} s CPU), peak tree RSS {peak / 1024:.0f} MiB, "
          f"PSS {pss / 1024:.0f} MiB")
    print("  jobs: " + ", ".join(f"{name} {total:.2f} s" for name, total in sorted(jobs.items())))


def bench(products: int, workers: int, job: str, shape: str, scratch: Path) -> dict:
    snapshot, store, out = scratch / f"snap-{products}", scratch / f"store-{products}.sqlite", scratch / f"out-{products}"
    cli = [sys.executable, "-m", "transformer.cli"]
    generated = load_seconds = 0.0  # a store kept from an earlier run (--keep) is used as it is
    if not store.is_file():
        started = time.perf_counter()
        generate(demo_snapshot(), snapshot, products, shape=shape)
        generated = time.perf_counter() - started
        load_seconds = timed_run(cli + ["load", str(snapshot), "--store", str(store)])[0]
    with Store(store, read_only=True) as stored:
        counts = {kind: stored.count(kind) for kind in ("products", "product-models")}
    seconds, peak_sum, peak_one, cpu, peak_pss = timed_run(
        cli + ["run", job, "--offline", "--store", str(store), "--out", str(out), "--workers", str(workers)])
    records = counts["products"] + counts["product-models"]
    # The jobs' own time (store -> validated files, as each job's report times it): the command's
    # less its start-up and the zip of the archive.
    reports = [json.loads(p.read_text()) for p in (out / "latest" / "reports").glob("*.json")]
    job_seconds = sum(report["timings_seconds"]["total"] for report in reports)
    written = sum(report["counts"].get(kind, 0) for report in reports for kind in ("products", "product_models"))
    xml = sum(p.stat().st_size for p in (out / "latest" / "site-import").rglob("*.xml"))
    return {"products": products, "models": counts["product-models"], "generate_s": generated, "load_s": load_seconds,
            "run_s": seconds, "job_s": job_seconds, "written": written, "run_cpu_s": cpu,
            "records_per_s": records / seconds, "products_per_s": products / seconds,
            "peak_rss_mib": peak_sum / 1024, "peak_process_rss_mib": peak_one / 1024, "peak_pss_mib": peak_pss / 1024, "xml_mib": xml / 2**20,
            "catalog": master_catalog(out)}


def master_catalog(out: Path) -> Path:
    """The run's master catalog: of the catalogs written, the one holding products (the largest)."""
    found = sorted((out / "latest" / "site-import" / "catalogs").glob("*/catalog.xml"), key=lambda p: p.stat().st_size)
    if not found:
        raise SystemExit(f"{out}: the run wrote no catalog (a job without the master catalog?)")
    return found[-1]


# -- the two-core limit ----------------------------------------------------------------------


@contextmanager
def clocks(into: dict, stage: str):
    """Add the wall and CPU (this process: one core) seconds of the block to into[stage]."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    walls, cpus = into.get(stage, (0.0, 0.0))
    into[stage] = (walls + time.perf_counter() - wall, cpus + time.process_time() - cpu)


def _name(qualified: str) -> str:
    """lxml's {namespace}name as the document spells it (the catalog namespace is the default)."""
    if not qualified.startswith("{"):
        return qualified
    namespace, local = qualified[1:].split("}", 1)
    return f"xml:{local}" if namespace == XML_NS else local


def plain(element: etree._Element) -> tuple:
    """(tag, [(attribute, value)], text, [children], tail) of an element, texts never None."""
    return (_name(element.tag), [(_name(k), v) for k, v in element.attrib.items()], element.text or "",
            [plain(child) for child in element], element.tail or "")


def product_batches(catalog: Path, samples: list) -> Iterator[list[tuple]]:
    """The catalog's products as plain tuples, BATCH at a time; the first CHECKED also go to
    `samples` with their canonical XML."""
    events = etree.iterparse(str(catalog), tag="{*}product", huge_tree=True)
    products = (_plain_freed(element, samples) for _, element in events)
    while batch := list(islice(products, BATCH)):
        yield batch


def _plain_freed(element: etree._Element, samples: list) -> tuple:
    node = plain(element)[:4] + (SEPARATOR,)
    if len(samples) < CHECKED:
        samples.append((node, etree.tostring(element, method="c14n", with_tail=False)))
    element.clear()
    while element.getprevious() is not None:
        del element.getparent()[0]
    return node


def canonical(template: jinja2.Template, node: tuple, namespace: str) -> bytes:
    """The c14n of one product as the bare template writes it (in a catalog root for its namespace)."""
    wrapped = f'<catalog xmlns="{namespace}">{template.render(products=[node[:4] + ("",)])}</catalog>'
    return etree.tostring(etree.fromstring(wrapped.encode())[0], method="c14n", with_tail=False)


def bare_render(catalog: Path) -> tuple[int, int, dict, int]:
    """Render the catalog's products with bare Jinja: (products, bytes written, timings, products
    whose c14n matched the tool's). Only the rendering is timed."""
    env = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, auto_reload=False)
    template = env.from_string(ELEMENT_TEMPLATE)
    timings: dict = {}
    samples: list = []
    count = size = 0
    for batch in product_batches(catalog, samples):
        with clocks(timings, "render"):
            text = template.render(products=batch)
        count += len(batch)
        size += len(text.encode())
    namespace = etree.QName(next(etree.iterparse(str(catalog), events=("start",)))[1]).namespace
    matched = sum(canonical(template, node, namespace) == expected for node, expected in samples)
    return count, size, timings, matched


def stream_validate(catalog: Path, xsd_dir: Path) -> dict:
    """Validate the catalog with lxml in FEED-byte feeds (the schema compiled beforehand, untimed)."""
    timings: dict = {}
    with clocks(timings, "schema"):
        schema = etree.XMLSchema(file=str(xsd_dir / "catalog.xsd"))
    with clocks(timings, "validate"):  # one Python event per record, each freed: memory stays flat
        parser = etree.XMLPullParser(events=("end",), tag=["{*}product", "{*}category"], schema=schema,
                                     huge_tree=True)
        with open(catalog, "rb") as handle:
            while chunk := handle.read(FEED):
                parser.feed(chunk)
                for _, element in parser.read_events():
                    element.clear()
                    while element.getprevious() is not None:
                        del element.getparent()[0]
        parser.close()  # raises XMLSyntaxError when the file does not validate
    return timings


def sample_of(catalog: Path, products: int | None, folder: Path) -> Path:
    """The catalog cut after its first `products` products (all of them when None or fewer): the
    limit is a cost per product, which does not depend on the catalog's length, and measuring it
    on 1,000,000 products would take longer than the run."""
    if products is None:
        return catalog
    sample, seen = folder / f"sample-{products}.xml", 0
    with open(catalog, "rb") as source, open(sample, "wb") as target:
        for line in source:
            target.write(line)
            stripped = line.strip()
            seen += stripped == b"</product>" or (stripped.startswith(b"<product ") and stripped.endswith(b"/>"))
            if seen == products:
                target.write(b"</catalog>\n")
                return sample
    sample.unlink()
    return catalog


def limit_report(result: dict, xsd_dir: Path, sample: int | None, scratch: Path) -> None:
    catalog = sample_of(result["catalog"], sample, scratch)
    products, size, render, matched = bare_render(catalog)
    validate = stream_validate(catalog, xsd_dir)
    (render_wall, render_cpu), (validate_wall, validate_cpu) = render["render"], validate["validate"]
    limit = 2 * products / (render_cpu + validate_cpu)
    written = result["written"]  # <product> elements: the tool's rate counts all it wrote, the limit's those of its file
    tool = written / result["run_s"]
    job = written / result["job_s"]
    tool_cpu = 2 * written / result["run_cpu_s"]
    where = "a sample: the first" if catalog != result["catalog"] else "all"
    print(f"  two-core limit of render + XSD validation, {result['catalog'].relative_to(result['catalog'].parents[4])}, "
          f"{where} {products} <product> elements, {catalog.stat().st_size / 2**20:.1f} MiB "
          f"({catalog.stat().st_size / products / 1024:.1f} KiB a product)")
    print(f"    bare Jinja render:      {render_cpu:7.2f} s CPU ({render_wall:.2f} s wall), one core; "
          f"{size / 2**20:.1f} MiB written; c14n equal to the tool's for {matched} of {min(products, CHECKED)} products")
    print(f"    lxml streaming XSD:     {validate_cpu:7.2f} s CPU ({validate_wall:.2f} s wall), one core; "
          f"64 KiB feeds, products freed (schema compiled apart: {validate['schema'][1]:.2f} s)")
    print(f"    limit = 2 × {products} / ({render_cpu:.2f} + {validate_cpu:.2f}) s CPU = {limit:,.0f} products/s on two cores")
    print(f"  tool: {tool:,.0f} products/s wall ({result['run_s']:.2f} s); CPU-normalised {tool_cpu:,.0f} products/s "
          f"(2 × products / {result['run_cpu_s']:.2f} s user+sys CPU of the process tree)")
    print(f"  the job alone (store -> validated catalog, as its report times it: without the command's start-up "
          f"and the archive's zip): {job:,.0f} products/s ({result['job_s']:.2f} s)")
    print(f"  ratio tool / limit: job {job / limit:.2f}; command {tool / limit:.2f} wall, {tool_cpu / limit:.2f} CPU-normalised; "
          f"peak tree RSS {result['peak_rss_mib']:.0f} MiB (largest process {result['peak_process_rss_mib']:.0f} MiB), "
          f"peak tree PSS {result['peak_pss_mib']:.0f} MiB (pages a worker shares with its parent counted once)",
          flush=True)


# -- main ------------------------------------------------------------------------------------


@contextmanager
def scratch_folder(keep: Path | None):
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-bench-") as scratch:
        yield Path(scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--job", default="full-import-master")
    parser.add_argument("--shape", choices=SHAPES, default="heavy", help="synthetic product shape (default: heavy)")
    parser.add_argument("--delta", type=float, metavar="PERCENT",
                        help="time a differential run after editing this share of the products")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (default: a temporary folder); "
                        "a store kept there is used again")
    parser.add_argument("--limit-sample", type=int, default=100_000, metavar="N",
                        help="measure the limit on the catalog's first N products (default: 100,000; 0: all)")
    args = parser.parse_args()
    with scratch_folder(args.keep) as scratch:
        if args.delta:
            for products in args.products:
                bench_delta(products, args.workers, args.job, args.delta, args.shape, scratch)
            return
        run_benchmarks(args, scratch)


def run_benchmarks(args, scratch: Path) -> None:
    xsd_dir = Path(os.environ["SFCC_XSD_DIR"]) if os.environ.get("SFCC_XSD_DIR") else None
    print(f"{args.job}, {args.shape} shape, {args.workers} worker(s), {os.cpu_count()} cores")
    if xsd_dir is None:
        print("SFCC_XSD_DIR not set: the run does not validate, and the two-core limit is not measured")
    for products in args.products:
        r = bench(products, args.workers, args.job, args.shape, scratch)
        print(f"{'products':>9} {'models':>7} {'run s':>7} {'CPU s':>7} {'records/s':>10} {'products/s':>11} "
              f"{'peak RSS MiB':>13} {'largest proc MiB':>17} {'XML MiB':>8} {'gen s':>6} {'load s':>7}")
        print(f"{r['products']:>9} {r['models']:>7} {r['run_s']:>7.2f} {r['run_cpu_s']:>7.2f} {r['records_per_s']:>10,.0f} "
              f"{r['products_per_s']:>11,.0f} {r['peak_rss_mib']:>13.1f} {r['peak_process_rss_mib']:>17.1f} "
              f"{r['xml_mib']:>8.1f} {r['generate_s']:>6.1f} {r['load_s']:>7.2f}", flush=True)
        if xsd_dir is not None:
            limit_report(r, xsd_dir, args.limit_sample or None, scratch)


if __name__ == "__main__":
    main()
