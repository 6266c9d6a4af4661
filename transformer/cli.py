"""The `akeneo-sfcc` command line."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from importlib import resources
from pathlib import Path

import jinja2

from .config import load_config
from .deliver.auth import SfccConnection
from .deliver.delivery import DeliverySettings, business_manager_config, deliver_target
from .deliver.parts import MiB
from .engines import ENGINES
from .errors import ConfigError, TransformerError
from .pipeline import run_jobs
from .report import RunReport
from .rules import DEFAULT_RULE_BY_TYPE, RULES
from .sources.akeneo import AkeneoClient, Connection
from .sources.pull import JobPuller
from .sources.snapshot import load_snapshot
from .store import Store
from .synth import generate

DEFAULT_STORE = ".akeneo-sfcc/store.sqlite"
# Exit codes (README): 0 success, 1 permanent failure, 2 usage (argparse), 3 problems under --strict,
# 75 retryable (network or 5xx after retries, a lock held, an import still running at --timeout), 130 interrupted.
EXIT_FAILURE, EXIT_STRICT, EXIT_RETRYABLE, EXIT_INTERRUPTED = 1, 3, 75, 130
CONFIG_OPTION = {"type": Path, "default": Path("."), "help": "the config folder (default: .)"}
STORE_OPTION = {"type": Path, "help": f"the store file (default: {DEFAULT_STORE} in the config folder)"}


def demo_snapshot() -> Path:
    return Path(str(resources.files("transformer").joinpath("demo", "pim")))


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="akeneo-sfcc", description="Akeneo PIM to Salesforce Commerce Cloud import files.")
    main.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check jobs.yaml, settings and mappings; print every problem")
    validate.add_argument("dir", nargs="?", default=".", type=Path, help="the config folder (default: .)")

    run = commands.add_parser("run", help="run a job (id or number) or a chain")
    run.add_argument("name", metavar="JOB|NUMBER|CHAIN")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--demo", action="store_true", help="run on the embedded demo PIM")
    source.add_argument("--store", **STORE_OPTION)
    source.add_argument("--snapshot", type=Path, help="load this snapshot folder into a fresh store first (no pull)")
    run.add_argument("--out", type=Path, default=Path("out"), help="where each run writes its folder out/<run id>/; out/latest names the last one (default: out)")
    run.add_argument("--config", **CONFIG_OPTION)
    run.add_argument("--strict", action="store_true",
                     help="exit 3 when a record had errors, a download failed or SFCC reported data errors")
    run.add_argument("--workers", type=int, default=None, help="processes that map and render (default: one per core)")
    run.add_argument("--offline", action="store_true", help="use the store as it is: do not pull from the PIM first")
    run.add_argument("--concurrency", type=int, default=4, help="connections to the PIM (default: 4, Akeneo's advice)")
    run.add_argument("--deliver", action="store_true",
                     help="then upload and import the archive into SFCC (SFCC_* variables); state moves only once imported")
    delivery_options(run)

    deliver = commands.add_parser("deliver", help="upload and import a built run (default: out/latest) or a site-import zip")
    deliver.add_argument("target", nargs="?", type=Path, metavar="RUN-or-ARCHIVE",
                         help="a run's folder out/<run id>, or a site-import zip (default: OUT/latest)")
    deliver.add_argument("--out", type=Path, default=Path("out"), help="where the runs are (default: out)")
    deliver.add_argument("--store", type=Path, help=f"the store whose run state moves once imported (default: {DEFAULT_STORE})")
    deliver.add_argument("--config", **CONFIG_OPTION)
    deliver.add_argument("--strict", action="store_true", help="exit 3 when SFCC reported data errors")
    deliver.add_argument("--print-bm-config", action="store_true",
                         help="print the OCAPI and WebDAV permissions to paste into Business Manager, and exit")
    delivery_options(deliver)

    pull = commands.add_parser("pull", help="sync the store from the PIM (AKENEO_* environment variables or .env)")
    pull.add_argument("name", nargs="?", default=None, metavar="JOB|NUMBER|CHAIN",
                      help="pull what these jobs read (default: every job)")
    pull.add_argument("--store", **STORE_OPTION)
    pull.add_argument("--config", **CONFIG_OPTION)
    pull.add_argument("--concurrency", type=int, default=4, help="connections to the PIM (default: 4)")

    load = commands.add_parser("load", help="load a snapshot folder (Akeneo API JSON) into the store")
    load.add_argument("snapshot", type=Path)
    load.add_argument("--store", **STORE_OPTION)
    load.add_argument("--config", **CONFIG_OPTION)

    synth = commands.add_parser("synth", help="write a deterministic synthetic snapshot of N products (demo attribute mix)")
    synth.add_argument("--products", type=int, required=True, metavar="N")
    synth.add_argument("--out", type=Path, required=True, help="snapshot folder to write")
    synth.add_argument("--seed", type=int, default=7)

    commands.add_parser("rules", help="list the mapping rules")
    jobs = commands.add_parser("jobs", help="list the declared jobs and chains")
    jobs.add_argument("--config", **CONFIG_OPTION)
    return main


def delivery_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--timeout", type=float, default=6 * 3600.0, metavar="SECONDS",
                         help="the longest one SFCC import may take (default: 6 hours)")
    command.add_argument("--keep-archive", action="store_true", help="leave the uploaded zips on the instance")
    command.add_argument("--api", choices=("auto", "scapi", "ocapi"), default="auto",
                         help="the job API: SCAPI when SFCC_SHORTCODE and SFCC_TENANT_ID are set (auto), or OCAPI")
    command.add_argument("--ocapi-version", default="v25_6", help="the OCAPI Data API version (default: v25_6)")
    command.add_argument("--part-size", type=float, default=90.0, metavar="MiB",
                         help="the largest archive part to upload (default: 90 MiB; SFCC takes 100 MB)")
    command.add_argument("--poll-interval", type=float, default=3.0, metavar="SECONDS",
                         help="the first wait between two polls of an import; it grows to 30 s (default: 3)")
    command.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} configuration problem(s)", file=sys.stderr)
        return _failed(args, EXIT_FAILURE, str(exc))
    except TransformerError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return _failed(args, EXIT_RETRYABLE if exc.retryable else EXIT_FAILURE, str(exc))
    except OSError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except jinja2.TemplateError as exc:
        if args.debug:
            traceback.print_exc()
        where = f"templates/{exc.name}:{exc.lineno}: " if getattr(exc, "lineno", None) else ""
        print(f"error: {where}template: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was half-written; run again to redo the job", file=sys.stderr)
        return _failed(args, EXIT_INTERRUPTED, "interrupted")
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def cmd_validate(args) -> int:
    config = load_config(args.dir)
    print(f"{args.dir}: configuration OK ({len(config.jobs)} jobs, {len(config.chains)} chains)")
    return 0


def cmd_run(args) -> int:
    config = load_config(args.config)
    local = args.demo or args.snapshot
    puller = None if local or args.offline else JobPuller(client(args))
    connection = SfccConnection.from_env(folder=args.config) if args.deliver else None  # before any work
    delivery = None
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-") as scratch:
        if local:
            store_path = Path(scratch, "store.sqlite")
        else:
            store_path = args.store or args.config / DEFAULT_STORE
            if args.offline and not store_path.is_file():
                raise TransformerError(f"no store at {store_path}: fill one with `akeneo-sfcc pull` or "
                                       "`akeneo-sfcc load SNAPSHOT`, or run with --demo or --snapshot")
        with Store(store_path) as store:
            if local:
                for warning in load_snapshot(demo_snapshot() if args.demo else args.snapshot, store).warnings:
                    say(args, f"warning: {warning}", error=True)
            reports = run_jobs(config, args.name, store, args.out, args.workers, puller, commit=not args.deliver)
            folder = args.out / reports[0].run
            if args.deliver:
                delivery = deliver_target(folder, connection, delivery_settings(args), config.site.master_catalog,
                                          lambda line: say(args, f"deliver: {line}"))
                store.commit_run(reports[0].run)  # imported: only now does the run's state move
    problems = summarize(args, reports, folder)
    if delivery is not None:
        problems += delivery.dataerrors
        say(args, f"delivered in {delivery.seconds:.1f}s through {delivery.api}: {len(delivery.parts)} part(s)"
            + (f", {delivery.dataerrors} SFCC data error(s), see {folder / 'delivery.json'}" if delivery.dataerrors else ""))
    return finish(args, problems, folder, reports, delivery)


def summarize(args, reports: list[RunReport], folder: Path) -> int:
    """One line per job (errors and failed downloads pointed at); returns how many problems."""
    problems = 0
    for report in reports:
        failed_downloads = len((report.pull or {}).get("download_errors", []))
        problems += len(report.errors) + failed_downloads
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts.items()))
        files = ", ".join(str(folder / "site-import" / o["path"]) for o in report.outputs)
        if report.status == "skipped":
            say(args, f"{report.job}: {report.warnings[-1]}")
            continue
        say(args, f"{report.job}: {report.status} in {report.timings['total']:.2f}s: {counts}" + (f" -> {files}" if files else ""))
        where = folder / "reports" / f"{report.job}.json"
        if report.errors:
            say(args, f"  {len(report.errors)} record error(s), see {where}")
        if failed_downloads:
            say(args, f"  {failed_downloads} download(s) failed: their files are not in the archive, see {where}")
    if (folder / f"{folder.name}.zip").is_file():
        say(args, f"site-import archive: {folder / (folder.name + '.zip')}")
    return problems


def finish(args, problems: int, folder: Path | None, reports: list[RunReport], delivery) -> int:
    code = EXIT_STRICT if args.strict and problems else 0
    if args.json:
        print(json.dumps({"status": "succeeded", "exit_code": code, "problems": problems,
                          "run": folder.name if folder else None, "folder": str(folder) if folder else None,
                          "reports": [str(folder / "reports" / f"{r.job}.json") for r in reports],
                          "jobs": {r.job: {"status": r.status, "counts": dict(r.counts), "errors": len(r.errors)}
                                   for r in reports},
                          "delivery": delivery.as_dict() if delivery else None}, indent=2))
    return code


def _failed(args, code: int, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"status": "failed", "exit_code": code, "error": message}, indent=2))
    return code


def say(args, line: str, error: bool = False) -> None:
    """A line for people: on stdout, or on stderr when stdout carries the --json summary."""
    print(line, file=sys.stderr if error or getattr(args, "json", False) else sys.stdout)


def delivery_settings(args) -> DeliverySettings:
    return DeliverySettings(int(args.part_size * MiB), args.timeout, args.keep_archive, args.api, args.ocapi_version,
                            args.poll_interval)


def cmd_deliver(args) -> int:
    if args.print_bm_config:
        try:
            client_id = SfccConnection.from_env(folder=args.config).client_id
        except TransformerError:
            client_id = "<your API client id>"
        print(business_manager_config(client_id))
        return 0
    target = args.target or args.out / "latest"
    try:
        master_catalog = load_config(args.config).site.master_catalog
    except ConfigError:
        master_catalog = None  # a foreign archive: catalogs in name order
    delivery = deliver_target(target, SfccConnection.from_env(folder=args.config), delivery_settings(args), master_catalog,
                              lambda line: say(args, f"deliver: {line}"))
    store_path = args.store or args.config / DEFAULT_STORE
    if target.is_dir() and store_path.is_file():
        with Store(store_path) as store:
            status = store.run_status(delivery.run)
            if status == "built":
                store.commit_run(delivery.run)  # imported: the run's state moves now
                say(args, f"run {delivery.run}: state committed in {store_path}")
            elif status == "superseded":  # a later run was built from the same state and holds this delta too
                say(args, f"run {delivery.run} was superseded by a later run: its state stays; deliver the latest",
                    error=True)
    say(args, f"delivered in {delivery.seconds:.1f}s through {delivery.api}: {len(delivery.parts)} part(s)"
        + (f", {delivery.dataerrors} SFCC data error(s)" if delivery.dataerrors else ""))
    return finish(args, delivery.dataerrors, target if target.is_dir() else None, [], delivery)


def client(args) -> AkeneoClient:
    return AkeneoClient(Connection.from_env(dotenv=args.config / ".env"), concurrency=args.concurrency)


def cmd_pull(args) -> int:
    config = load_config(args.config)
    job_ids = config.resolve(args.name) if args.name else tuple(config.jobs)
    puller = JobPuller(client(args))
    with Store(args.store or args.config / DEFAULT_STORE) as store:
        for job_id in job_ids:
            job = config.jobs[job_id]
            pulled = puller(job, store)
            items = ", ".join(f"{n} {kind}" for kind, n in pulled["items"].items())
            print(f"{job.id}: {items or 'nothing new'}"
                  + (f"; {pulled['downloaded']} files downloaded, {pulled['unchanged']} unchanged" if pulled["downloaded"] or pulled["unchanged"] else "")
                  + (f"; {len(pulled['download_errors'])} downloads failed" if pulled["download_errors"] else ""))
    return 0


def cmd_load(args) -> int:
    store_path = args.store or args.config / DEFAULT_STORE
    with Store(store_path) as store:
        loaded = load_snapshot(args.snapshot, store)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{store_path}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(loaded.items.items())))
    return 0


def cmd_synth(args) -> int:
    counts = generate(demo_snapshot(), args.out, args.products, args.seed)
    print(f"{args.out}: {counts['products']} products ({counts['variants']} variants), {counts['product-models']} product models")
    return 0


def cmd_rules(args) -> int:
    width = max(map(len, RULES))
    for rule in RULES.values():
        params = f" (args: {', '.join(rule.params)})" if rule.params else ""
        print(f"{rule.name:<{width}}  {rule.summary}{params}")
    print("\nDefault rule per PIM attribute type:")
    for attribute_type, rule_name in DEFAULT_RULE_BY_TYPE.items():
        print(f"  {attribute_type}: {rule_name}")
    return 0


def cmd_jobs(args) -> int:
    config = load_config(args.config)
    for job in config.jobs.values():
        print(f"{job.alias or '':>6}  {job.id:<36} {job.title}")
    for name, members in config.chains.items():
        print(f"chain {name}: {' -> '.join(members)}")
    print("\nEngines:")
    for engine in ENGINES.values():
        print(f"  {engine.name}: {engine.description} (modes: {', '.join(engine.modes)}; "
              f"outputs: {', '.join(engine.outputs) or 'none'})")
    return 0


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "deliver": cmd_deliver, "pull": cmd_pull, "load": cmd_load,
            "synth": cmd_synth, "rules": cmd_rules, "jobs": cmd_jobs}

if __name__ == "__main__":
    sys.exit(main())
