"""`akeneo-sfcc check`: is everything in place for a run? One line per thing, OK or the fix.

Like `dbt debug` or an Airbyte connector's `check`: it reads the config, the XSDs, the PIM, the
store, the output folder and the SFCC connection, and writes nothing anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import requests

from . import xsd
from .config import load_config
from .deliver.auth import AccountManager, SfccConnection
from .engines.read import attributes_from
from .errors import ConfigError, SourceError, StoreError, TransformerError, hint
from .http import RetryPolicy
from .map.categories import CategoryTree
from .map.images import missing_image_attributes
from .map.products import missing_sources
from .settings import Config
from .sources.akeneo import AkeneoClient, Connection
from .store import Store

OK, WARN, FAILED = "ok", "warning", "FAILED"


def quick() -> RetryPolicy:
    """A check answers in seconds; a run may wait minutes."""
    return RetryPolicy(attempts=2, cap=5.0, budget=10.0)


@dataclass(frozen=True)
class Line:
    what: str
    status: str  # OK, WARN (runs, with less) or FAILED (the fix is in `detail`)
    detail: str

    def __str__(self) -> str:
        return f"{self.status:>7}  {self.what}: {self.detail}"


@dataclass(frozen=True)
class Options:
    config: Path
    store: Path
    out: Path
    xsd: Path | None = None
    require_xsd: bool = False
    strict: bool = False  # the mapping naming what the PIM lacks fails the check


def check(options: Options) -> list[Line]:
    """Every line; a step that needs an earlier one (the store's attributes need the config) says so."""
    lines: list[Line] = []
    config = _step(lines, "config", lambda: _config(options))
    _step(lines, "SFCC XSDs", lambda: _schemas(options, config))
    _step(lines, "PIM", lambda: _pim(options, config), many=True)
    _step(lines, "store", lambda: _store(options, config), many=True)
    _step(lines, "output folder", lambda: _output(options.out))
    _step(lines, "SFCC", lambda: _sfcc(options.config))
    return lines


def _step(lines: list[Line], what: str, probe: Callable, many: bool = False):
    """Run one probe: its lines (a TransformerError is a FAILED line with its message); returns what
    the probe found for later steps."""
    try:
        found, result = probe()
    except ConfigError as exc:
        lines.append(Line(what, FAILED, f"{len(exc.problems)} problem(s), first: {exc.problems[0]} "
                                        "(`akeneo-sfcc validate` lists them all)"))
        return None
    except TransformerError as exc:
        lines.append(Line(what, FAILED, str(exc)))
        return None
    lines.extend(found if many else [found])
    return result


def _config(options: Options) -> tuple[Line, Config]:
    config = load_config(options.config)
    return Line("config", OK, f"{options.config.resolve()}: {len(config.jobs)} jobs, {len(config.chains)} chains"), config


def _schemas(options: Options, config: Config | None) -> tuple[Line, None]:
    schemas = xsd.find_schemas(options.xsd, config.xsd_dir if config else None, options.config)
    xsd.use(schemas)
    if schemas.folder is None:
        required = options.require_xsd or (config is not None and config.require_xsd)
        return Line("SFCC XSDs", FAILED if required else WARN, schemas.not_found()), None
    compiled = xsd.check_schemas()
    return Line("SFCC XSDs", OK, f"{schemas.folder} ({schemas.origin}): {', '.join(compiled)} compile"), None


def _pim(options: Options, config: Config | None) -> tuple[list[Line], None]:
    client = AkeneoClient(Connection.from_env(dotenv=options.config / ".env"), concurrency=1, retry=quick())
    where = client.connection.url
    try:
        info = client.get_json("system-information")
    except SourceError as exc:
        if exc.status not in (404, 405):
            raise
        info = None  # a PIM older than 6.0: the channels read checks the credentials
    channels = {c.get("code"): c for page, _ in client.pages("channels", {"limit": "100"}) for c in page}
    said = (f"edition {info.get('edition') or '?'} version {info.get('version') or '?'}" if isinstance(info, dict)
            else "edition not said (a PIM older than 6.0)")
    lines = [Line("PIM", OK, f"{where}: credentials accepted, {said}")]
    return lines + ([] if config is None else _site_fits(config, channels, options.strict)), None


def _site_fits(config: Config, channels: dict[str, dict], strict: bool) -> list[Line]:
    """The site settings' channel and locales, against the PIM's channels."""
    site, status = config.site, FAILED if strict else WARN
    channel = channels.get(site.channel)
    if channel is None:
        return [Line("site", status, f"the PIM has no channel '{site.channel}'{hint(site.channel, channels)} "
                                     f"(it has {', '.join(sorted(channels))}): set `channel` in the site settings, "
                                     "or write them with `akeneo-sfcc init --from-pim`")]
    lacking = [locale for locale in site.locales if locale not in (channel.get("locales") or [])]
    if lacking:
        return [Line("site", status, f"channel '{site.channel}' has no locale {', '.join(lacking)}: their values are "
                                     "never exported; map the channel's locales in the site settings")]
    return [Line("site", OK, f"channel '{site.channel}' has the locales {', '.join(site.locales)}")]


def _store(options: Options, config: Config | None) -> tuple[list[Line], None]:
    if not options.store.is_file():
        return [Line("store", WARN, f"no store at {options.store} yet: `akeneo-sfcc pull` fills it "
                                    "(`run` pulls first too)")], None
    with Store(options.store, read_only=True) as store:
        counts = {kind: store.count(kind) for kind in ("products", "product-models", "attributes", "categories")}
        last = store.last_run()
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        ran = f"; last run {last[0]} ({last[1]}): {last[2]}" if last else "; no run yet"
        try:
            store.ensure_attributes()
        except StoreError as exc:
            return [Line("store", WARN, str(exc))], None
        lines = [Line("store", OK, f"{options.store}: {summary}{ran}")]
        if config is not None:
            lines += [Line("mapping", FAILED if options.strict else WARN, problem) for problem in lacking(config, store)]
    return lines, None


def lacking(config: Config, store: Store) -> list[str]:
    """What the jobs' mappings name that the PIM (as the store holds it) lacks, each once."""
    attributes, categories = attributes_from(store), [item for _, item in store.rows("categories")]
    site = config.site
    found: dict[str, None] = {}
    for job in config.jobs.values():
        problems = []
        if job.mappings.products is not None:
            problems += missing_sources(job.mappings.products, attributes)
        if job.mappings.assets is not None and job.engine.name == "images":
            problems += missing_image_attributes(job.mappings.assets, attributes)
        if job.mappings.categories is not None and categories:
            problems += CategoryTree(categories, job.mappings.categories, site.locales, site.default_locale,
                                     site.storefront_catalog).missing
        found |= dict.fromkeys(map(str, problems))
    return list(found)


def _output(out: Path) -> tuple[Line, None]:
    existing = next(folder for folder in (out, *out.resolve().parents) if folder.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TransformerError(f"{out}: {existing} is not writable: choose another with --out")
    return Line("output folder", OK, f"{out.resolve()} is writable" + ("" if out.exists() else " (created by the first run)")), None


def _sfcc(folder: Path) -> tuple[Line, None]:
    configured = any(name.startswith("SFCC_") and name != "SFCC_XSD_DIR" for name in os.environ) or any(
        (folder / name).is_file() for name in ("dw.json", ".env"))
    try:
        connection = SfccConnection.from_env(folder=folder)
    except TransformerError as exc:
        if not configured:
            return Line("SFCC", WARN, "not configured: only `--deliver` and `deliver` need it "
                                      "(README: Delivering to SFCC)"), None
        raise exc
    AccountManager(connection, requests.Session(), quick()).token()
    return Line("SFCC", OK, f"{connection.server}: Account Manager accepted client {connection.client_id}"), None


def failed(lines: Iterator[Line] | list[Line]) -> bool:
    return any(line.status == FAILED for line in lines)
