"""The `akeneo-sfcc` command line."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Callable

import jinja2

from . import __version__, check, xsd
from .config import load_config
from .deliver.auth import SfccConnection
from .deliver.delivery import DeliverySettings, business_manager_config, deliver_target
from .deliver.parts import MiB
from .discover import discover, fit_config, format_facts
from .engines import ENGINES
from .errors import ConfigError, Terminated, TransformerError
from .http import RetryPolicy
from .pipeline import run_jobs
from .report import Progress, RunReport
from .rules import DEFAULT_RULE_BY_TYPE, RULES
from .scaffold import init
from .sources.akeneo import AkeneoClient, Connection
from .sources.pull import JobPuller
from .sources.snapshot import load_snapshot
from .status import status_lines
from .store import Store, StoreLock
from .synth import SHAPES, generate

DEFAULT_STORE = ".akeneo-sfcc/store.sqlite"
# Exit codes (README): 0 success, 1 permanent failure, 2 usage (argparse), 3 problems under --strict,
# 75 retryable (network or 5xx after retries, a lock held, an import still running at --timeout), 130 Ctrl-C, 143 SIGTERM.
EXIT_FAILURE, EXIT_STRICT, EXIT_RETRYABLE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 3, 75, 130, 143
CONFIG_OPTION = {"type": Path, "default": Path("."), "help": "the config folder (default: .)"}
STORE_OPTION = {"type": Path, "help": f"the store file (default: {DEFAULT_STORE} in the config folder)"}
WAIT_OPTION = {"action": "store_true", "help": "wait for another command using the store to end"}


def demo_snapshot() -> Path:
    return Path(str(resources.files("transformer").joinpath("demo", "pim")))


def positive(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def names_list(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def chosen_jobs(config, args) -> tuple[str, ...]:
    """The jobs of every name given, in order and once each, then --select and --exclude (by id or number)."""
    found = tuple(dict.fromkeys(job for name in args.names for job in config.resolve(name)))
    select = {job for name in args.select for job in config.resolve(name)}
    exclude = {job for name in args.exclude for job in config.resolve(name)}
    chosen = tuple(job for job in found if (not select or job in select) and job not in exclude)
    if not chosen:
        raise TransformerError(f"no job left to run of {', '.join(args.names)} after --select and --exclude")
    return chosen


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="akeneo-sfcc", description="Akeneo PIM to Salesforce Commerce Cloud import files.")
    main.add_argument("--debug", action="store_true", help="show tracebacks")
    main.add_argument("--version", action="version", version=f"akeneo-sfcc {__version__}")
    # --debug is taken after the command too (the parent's default must not overwrite the main one's).
    anywhere = argparse.ArgumentParser(add_help=False)
    anywhere.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    subparsers = main.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, parents=[anywhere], help=help, description=help)

    initializing = command("init", "write a config folder of your own (jobs.yaml, mappings/, templates/, schemas/, .env.example)")
    initializing.add_argument("dir", nargs="?", type=Path, default=Path("."), help="the folder to write (default: .)")
    initializing.add_argument("--force", action="store_true", help="write into a folder that is not empty (overwrites the config files)")
    initializing.add_argument("--from-pim", action="store_true",
                      help="fit the mappings to the PIM (AKENEO_* variables, or a .env in DIR): channel, locales, "
                           "currencies, trees, system attributes")
    initializing.add_argument("--channel", help="with --from-pim: the PIM channel to export (default: the PIM's first)")
    pim_options(initializing)

    discovering = command("discover", "print the PIM's channels, locales, currencies, trees, families and attributes")
    discovering.add_argument("--config", **CONFIG_OPTION)
    pim_options(discovering)

    checking = command("check", "check config, XSDs, PIM, store, output folder and SFCC: each OK or the fix; writes nothing")
    checking.add_argument("--config", **CONFIG_OPTION)
    checking.add_argument("--store", **STORE_OPTION)
    checking.add_argument("--out", type=Path, default=Path("out"), help="the output folder (default: out)")
    checking.add_argument("--strict", action="store_true", help="fail when the mapping names attributes the PIM lacks")
    xsd_options(checking)

    validate = command("validate", "check jobs.yaml, settings and mappings; print every problem")
    validate.add_argument("dir", nargs="?", type=Path, help="the config folder (default: . or --config)")
    validate.add_argument("--config", **CONFIG_OPTION)
    validate.add_argument("--against-store", action="store_true",
                          help="also report what the mappings name that the PIM lacks (as the store holds it)")
    validate.add_argument("--store", **STORE_OPTION)
    validate.add_argument("--strict", action="store_true", help="with --against-store: what the PIM lacks is an error")
    xsd_options(validate)

    run = command("run", "run a job (id or number) or a chain")
    run.add_argument("names", nargs="+", metavar="JOB|NUMBER|CHAIN", help="one or more, run in the order given")
    run.add_argument("--select", type=names_list, default=(), metavar="JOB,...", help="of those, only these jobs")
    run.add_argument("--exclude", type=names_list, default=(), metavar="JOB,...", help="of those, not these jobs")
    run.add_argument("--full-refresh", action="store_true", help="differential jobs write everything (as a full run)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--demo", action="store_true", help="run on the embedded demo PIM")
    source.add_argument("--store", **STORE_OPTION)
    source.add_argument("--snapshot", type=Path, help="load this snapshot folder into a fresh store first (no pull)")
    run.add_argument("--out", type=Path, default=Path("out"), help="where each run writes its folder out/<run id>/; out/latest names the last one (default: out)")
    run.add_argument("--config", **CONFIG_OPTION)
    pim_options(run)
    run.add_argument("--wait", **WAIT_OPTION)
    run.add_argument("--strict", action="store_true",
                     help="exit 3 when a record had errors, a download failed, the mapping names attributes the PIM "
                          "lacks or SFCC reported data errors")
    run.add_argument("--workers", type=positive, default=None, help="processes that map and render (default: one per core)")
    run.add_argument("--offline", action="store_true", help="use the store as it is: do not pull from the PIM first")
    run.add_argument("--concurrency", type=positive, default=4, help="connections to the PIM (default: 4, Akeneo's advice)")
    run.add_argument("--quiet", action="store_true", help="print only warnings and errors (for cron)")
    run.add_argument("--deliver", action="store_true",
                     help="then upload and import the archive into SFCC (SFCC_* variables); state moves only once imported")
    xsd_options(run)
    delivery_options(run)

    deliver = command("deliver", "upload and import a built run (default: out/latest) or a site-import zip")
    deliver.add_argument("target", nargs="?", type=Path, metavar="RUN-or-ARCHIVE",
                         help="a run's folder out/<run id>, or a site-import zip (default: OUT/latest)")
    deliver.add_argument("--out", type=Path, default=Path("out"), help="where the runs are (default: out)")
    deliver.add_argument("--store", type=Path, help=f"the store whose run state moves once imported (default: {DEFAULT_STORE})")
    deliver.add_argument("--config", **CONFIG_OPTION)
    deliver.add_argument("--wait", **WAIT_OPTION)
    deliver.add_argument("--strict", action="store_true", help="exit 3 when SFCC reported data errors")
    deliver.add_argument("--print-bm-config", action="store_true",
                         help="print the OCAPI and WebDAV permissions to paste into Business Manager, and exit")
    xsd_options(deliver)
    delivery_options(deliver)

    pull = command("pull", "sync the store from the PIM (AKENEO_* environment variables or .env)")
    pull.add_argument("name", nargs="?", default=None, metavar="JOB|NUMBER|CHAIN",
                      help="pull what these jobs read (default: every job)")
    pull.add_argument("--store", **STORE_OPTION)
    pull.add_argument("--config", **CONFIG_OPTION)
    pim_options(pull)
    pull.add_argument("--wait", **WAIT_OPTION)
    pull.add_argument("--concurrency", type=positive, default=4, help="connections to the PIM (default: 4)")

    load = command("load", "load a snapshot folder (Akeneo API JSON) into the store")
    load.add_argument("snapshot", type=Path)
    load.add_argument("--changes", action="store_true",
                      help="the snapshot holds only what changed: add and update its items, delete none")
    load.add_argument("--store", **STORE_OPTION)
    load.add_argument("--config", **CONFIG_OPTION)
    load.add_argument("--wait", **WAIT_OPTION)

    synth = command("synth", "write a deterministic synthetic snapshot of N products (demo attribute mix)")
    synth.add_argument("--products", type=positive, required=True, metavar="N")
    synth.add_argument("--out", type=Path, required=True, help="snapshot folder to write (new or empty)")
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--shape", choices=SHAPES, default="light",
                       help="light: the demo's attribute mix; heavy: a retail product with 60 more attributes "
                            "(20 localized), about 20 KB of catalog XML")

    showing = command("status", "what the store holds, where each output stands, the last runs and stuck ones")
    showing.add_argument("--store", **STORE_OPTION)
    showing.add_argument("--config", **CONFIG_OPTION)
    showing.add_argument("--runs", type=positive, default=10, help="how many of the last runs to list (default: 10)")

    command("rules", "list the mapping rules")
    jobs = command("jobs", "list the declared jobs and chains")
    jobs.add_argument("--config", **CONFIG_OPTION)
    return main


def pim_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--retry-budget", type=float, default=RetryPolicy.budget, metavar="SECONDS",
                         help="the most the command spends on failed PIM requests and waits between tries, over all "
                              "its connections (default: 300)")
    command.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                         help="no PIM request, nor retry, after this long: a PIM that never answers ends the command "
                              "here (default: none)")
    command.add_argument("--read-timeout", type=float, default=60.0, metavar="SECONDS",
                         help="how long one PIM request may wait for the next bytes of its answer before it is tried "
                              "again (default: 60)")


def xsd_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--xsd", type=Path, metavar="DIR",
                         help="the folder of the SFCC XSDs (else SFCC_XSD_DIR, xsd_dir in the site settings, "
                              "then node_modules and ../shared/sfcc-xsd)")
    command.add_argument("--require-xsd", action="store_true",
                         help="fail when no SFCC XSDs are found, instead of checking files for well-formedness only")


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


def console() -> None:
    """The `akeneo-sfcc` script. After an interrupt, the process ends at once: a thread still
    waiting on a PIM that does not answer must not hold it (its work is abandoned, nothing is half-written)."""
    code = main()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class _Stderr(logging.Handler):
    """Lines for people on whatever stderr is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def say_retries() -> None:
    """Every retry is one line on stderr (`products: HTTP 503, retrying in 4 s (attempt 2/6)`)."""
    logger = logging.getLogger("akeneo_sfcc")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return 0
    say_retries()
    Progress.silent = getattr(args, "quiet", False)
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals go to the main thread only
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None  # stop as for Ctrl-C
    previous_int = signal.getsignal(signal.SIGINT)  # ignored under nohup or `cmd &` in a script: stays so
    thresholds = gc.get_threshold()
    # Items are trees of thousands of small objects, freed by reference counting: at the default
    # thresholds, cycle collections scanning them took 40 % of a snapshot load.
    gc.set_threshold(100_000, 50, 1000)
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
    except KeyboardInterrupt as exc:
        if in_main_thread:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        code, name = (EXIT_TERMINATED, "SIGTERM") if isinstance(exc, Terminated) else (EXIT_INTERRUPTED, "Ctrl-C")
        print(f"interrupted ({name}): nothing was half-written; run again to redo the job", file=sys.stderr)
        return _failed(args, code, "interrupted")
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        xsd.use(None)  # a command's choice of XSDs ends with it (main() also runs in-process, in tests)
        gc.set_threshold(*thresholds)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def use_schemas(args, config) -> xsd.Schemas:
    """Choose the XSDs for this command once; without them, say so in one line (or stop, if required)."""
    schemas = xsd.find_schemas(args.xsd, config.xsd_dir if config else None, args.config)
    if schemas.folder is None and (args.require_xsd or (config is not None and config.require_xsd)):
        raise TransformerError(schemas.not_found().replace(": files are checked", ", and they are required "
                               "(--require-xsd or require_xsd): files would be checked", 1))
    xsd.use(schemas)
    if schemas.folder is None:
        print(f"warning: {schemas.not_found()}", file=sys.stderr)
    return schemas


def cmd_validate(args) -> int:
    args.config = args.dir or args.config
    config = load_config(args.config)
    print(f"{args.config.resolve()}: configuration OK ({len(config.jobs)} jobs, {len(config.chains)} chains)")
    schemas = use_schemas(args, config)
    if schemas.folder is not None:
        print(f"SFCC XSDs: {schemas.folder} ({schemas.origin}): {', '.join(xsd.check_schemas())} compile")
    if not args.against_store:
        return 0
    store_path = args.store or args.config / DEFAULT_STORE
    with Store(store_path, read_only=True) as store:
        store.ensure_attributes()
        attributes = store.count("attributes")
        lacking = check.lacking(config, store)
    for problem in lacking:
        print(f"{'error' if args.strict else 'warning'}: {problem}", file=sys.stderr)
    print(f"{store_path}: {attributes} attributes; the mappings name {len(lacking)} the PIM lacks"
          + (" (skipped by runs)" if lacking else ""))
    return EXIT_FAILURE if lacking and args.strict else 0


def cmd_check(args) -> int:
    lines = check.check(check.Options(args.config, args.store or args.config / DEFAULT_STORE, args.out, args.xsd,
                                      args.require_xsd, args.strict))
    for line in lines:
        print(line)
    return EXIT_FAILURE if check.failed(lines) else 0


def cmd_init(args) -> int:
    written = init(args.dir, args.force)
    print(f"{args.dir}: wrote {', '.join(p.name for p in written)}")
    if args.from_pim:
        facts = discover(client(args, dotenv=args.dir / ".env"))
        for guess in fit_config(args.dir, facts, args.channel):
            print(f"  {guess}")
        print(f"fitted to {facts.url}: check the `# guessed` lines, then `akeneo-sfcc check` and `akeneo-sfcc run full`")
    else:
        print(f"next: cd {args.dir}, copy .env.example to .env and fill it in (or `init --from-pim` to fit the "
              "mappings to your PIM), then `akeneo-sfcc check`; or try `akeneo-sfcc run full --demo`")
    return 0


def cmd_discover(args) -> int:
    print(format_facts(discover(client(args))))
    return 0


def cmd_run(args) -> int:
    began = time.monotonic()
    config = load_config(args.config)
    jobs = chosen_jobs(config, args)  # an unknown name stops here, before any work
    use_schemas(args, config)
    local = args.demo or args.snapshot
    puller = None if local or args.offline else JobPuller(client(args))
    connection = SfccConnection.from_env(folder=args.config) if args.deliver else None  # before any work
    delivery = None
    sweep_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH}{os.getpid()}-") as scratch, ExitStack() as held:
        if local:
            store_path = Path(scratch, "store.sqlite")
        else:
            store_path = args.store or args.config / DEFAULT_STORE
            if args.offline and not store_path.is_file():
                raise TransformerError(f"no store at {store_path}: fill one with `akeneo-sfcc pull` or "
                                       "`akeneo-sfcc load SNAPSHOT`, or run with --demo or --snapshot")
            held.enter_context(StoreLock(store_path, f"run {' '.join(args.names)}", args.wait))
        with Store(store_path) as store:
            if args.offline and (unfinished := store.unfinished_pulls()):
                say(args, f"warning: the store's last pull of {', '.join(unfinished)} did not finish: this run "
                          "writes what the store holds, which may be part of the PIM; `akeneo-sfcc pull` completes it",
                    error=True)
            if local:
                for warning in load_snapshot(demo_snapshot() if args.demo else args.snapshot, store).warnings:
                    say(args, f"warning: {warning}", error=True)
            context = {"command": ["akeneo-sfcc", *sys.argv[1:]], "config": str(args.config.resolve()),
                       "store": None if local else str(store_path), "pim": puller.client.connection.url if puller else
                       ("demo" if args.demo else f"snapshot {args.snapshot}")}
            reports = run_jobs(config, " ".join(args.names), store, args.out, args.workers, puller,
                               commit=not args.deliver, progress=job_progress(args), context=context,
                               jobs=jobs, full_refresh=args.full_refresh)
            folder = args.out / reports[0].run
            if args.deliver:
                delivery = deliver_target(folder, connection, delivery_settings(args), config.site.master_catalog,
                                          lambda line: say(args, f"deliver: {line}"))
                store.commit_run(reports[0].run)  # imported: only now does the run's state move
    problems = summarize(args, reports, folder, time.monotonic() - began)
    if delivery is not None:
        problems += delivery.dataerrors
        say(args, f"delivered in {delivery.seconds:.1f}s through {delivery.api}: {len(delivery.parts)} part(s)"
            + (f", {delivery.dataerrors} SFCC data error(s), see {folder / 'delivery.json'}" if delivery.dataerrors else ""))
    return finish(args, problems, folder, reports, delivery)


SCRATCH = "akeneo-sfcc-"  # the scratch folders of --demo and --snapshot runs: akeneo-sfcc-<pid>-...


def sweep_scratch() -> None:
    """Remove the scratch folders of runs that were killed (their process is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH}*-*"):
        pid = folder.name[len(SCRATCH):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def job_progress(args) -> Callable[[int, int, str, RunReport | None], None]:
    """A line as each job starts (on a terminal) and as it ends (`[3/8] full-import-master: ...`)."""
    def told(number: int, total: int, job_id: str, report: RunReport | None) -> None:
        if args.quiet:
            return
        if report is None:
            if sys.stdout.isatty():
                say(args, f"[{number}/{total}] {job_id} ...")
        else:
            say_job(args, report, args.out / report.run, f"[{number}/{total}] ")
    return told


def say_job(args, report: RunReport, folder: Path, prefix: str) -> None:
    if report.status == "skipped":
        say(args, f"{prefix}{report.job}: {report.warnings[-1]}")
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts.items()))
    files = ", ".join(str(folder / "site-import" / o["path"]) for o in report.outputs)
    say(args, f"{prefix}{report.job}: {report.status} in {report.timings['total']:.2f}s: {counts}"
        + (f" -> {files}" if files else ""))
    where = folder / "reports" / f"{report.job}.json"
    if report.errors:
        say(args, f"  {len(report.errors)} record error(s), see {where}")
    for warning in (report.pull or {}).get("warnings", []):
        say(args, f"  warning: {warning}", error=True)
    if failed_downloads := len((report.pull or {}).get("download_errors", [])):
        say(args, f"  {failed_downloads} download(s) failed: their files are not in the archive, see {where}")


def summarize(args, reports: list[RunReport], folder: Path, seconds: float) -> int:
    """What the mappings lack (once), the archive and a summary line; returns how many problems."""
    lacking = list(dict.fromkeys(line for report in reports for line in report.mapping_warnings))
    for line in lacking:  # the same mapping serves several jobs: each line once
        say(args, f"warning: {line}", error=True)
    errors = sum(len(report.errors) for report in reports)
    downloads = sum(len((report.pull or {}).get("download_errors", [])) for report in reports)
    warnings = sum(len(report.warnings) for report in reports) + len(lacking)
    archive = folder / f"{folder.name}.zip"
    if not args.quiet:
        skipped = sum(report.status == "skipped" for report in reports)
        say(args, f"Done: {len(reports)} jobs, {len(reports) - skipped} ok, {skipped} skipped, {errors} record "
                  f"errors, {downloads} failed downloads, {warnings} warnings in {seconds:.0f} s"
                  + (f" -> {archive}" if archive.is_file() else ""))
    return errors + downloads + len(lacking)


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
    print(line, file=sys.stderr if error or getattr(args, "json", False) else sys.stdout, flush=True)


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
        config = load_config(args.config)
    except TransformerError:
        config = None  # a foreign archive: catalogs in name order
    use_schemas(args, config)
    master_catalog = config.site.master_catalog if config else None
    delivery = deliver_target(target, SfccConnection.from_env(folder=args.config), delivery_settings(args), master_catalog,
                              lambda line: say(args, f"deliver: {line}"))
    store_path = args.store or args.config / DEFAULT_STORE
    if target.is_dir() and store_path.is_file():
        with StoreLock(store_path, f"deliver {target}", args.wait), Store(store_path) as store:
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


def client(args, dotenv: Path | None = None) -> AkeneoClient:
    """The command's PIM client: one token, one retry budget and one deadline for all its connections."""
    deadline = getattr(args, "deadline", None)
    policy = RetryPolicy(budget=getattr(args, "retry_budget", RetryPolicy.budget),
                         deadline=time.monotonic() + deadline if deadline else None)
    return AkeneoClient(Connection.from_env(dotenv=dotenv or args.config / ".env"),
                        concurrency=getattr(args, "concurrency", 4), retry=policy,
                        timeout=(10.0, getattr(args, "read_timeout", 60.0)))


def cmd_pull(args) -> int:
    config = load_config(args.config)
    job_ids = config.resolve(args.name) if args.name else tuple(config.jobs)
    puller = JobPuller(client(args))
    store_path = args.store or args.config / DEFAULT_STORE
    with StoreLock(store_path, f"pull {args.name or ''}".strip(), args.wait), Store(store_path) as store:
        for job_id in job_ids:
            job = config.jobs[job_id]
            pulled = puller(job, store)
            items = ", ".join(f"{n} {kind}" for kind, n in pulled["items"].items())
            print(f"{job.id}: {items or 'nothing new'}"
                  + (f"; {pulled['downloaded']} files downloaded, {pulled['unchanged']} unchanged" if pulled["downloaded"] or pulled["unchanged"] else "")
                  + (f"; {len(pulled['download_errors'])} downloads failed" if pulled["download_errors"] else ""))
            for warning in pulled["warnings"]:
                print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_load(args) -> int:
    store_path = args.store or args.config / DEFAULT_STORE
    with StoreLock(store_path, f"load {args.snapshot}", args.wait), Store(store_path) as store:
        loaded = load_snapshot(args.snapshot, store, changes=args.changes)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{store_path}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(loaded.items.items())))
    return 0


def cmd_synth(args) -> int:
    if args.out.is_dir() and any(args.out.iterdir()):
        raise TransformerError(f"{args.out} is not empty: synth writes a new snapshot into a new or empty folder")
    counts = generate(demo_snapshot(), args.out, args.products, args.seed, args.shape)
    print(f"{args.out}: {counts['products']} products ({counts['variants']} variants), {counts['product-models']} product models")
    return 0


def cmd_status(args) -> int:
    for line in status_lines(args.store or args.config / DEFAULT_STORE, args.runs):
        print(line)
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


COMMANDS = {"status": cmd_status, "init": cmd_init, "discover": cmd_discover, "check": cmd_check, "validate": cmd_validate, "run": cmd_run, "deliver": cmd_deliver, "pull": cmd_pull, "load": cmd_load,
            "synth": cmd_synth, "rules": cmd_rules, "jobs": cmd_jobs}

if __name__ == "__main__":
    console()
