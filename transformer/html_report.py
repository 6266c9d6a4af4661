"""`report.html`: one run as a page an operator or a merchandiser opens in a browser.

One self-contained file beside `run.json` in the run's folder: inline CSS, no script, nothing
fetched (its Content-Security-Policy forbids it too). It shows what `run.json` says (the run, how it
ended and why, every job), then per job what went wrong: the record errors grouped by field and
message with the mapping line that produced the value, the full list folded in a `<details>`
(capped: the JSON report keeps every entry), warnings and what the pull read.

Whatever a PIM holds (markup, quotes, control characters, lone surrogates) is shown as text: every
value goes through `shown()`, which escapes it and spells control characters out.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from . import render
from .package import write_atomic
from .report import RunReport, RunSummary

LISTED = 1000  # entries of a long list (errors, warnings, downloads) on the page; the JSON report has them all
GROUPS = 200  # error groups per job on the page
CLIPPED = 1000  # characters of one value on the page

STATUS_LABELS = {"succeeded": "Succeeded", "succeeded_with_errors": "Succeeded with errors", "built": "Built, awaiting delivery",
                 "skipped": "Skipped", "failed": "Failed", "interrupted": "Interrupted", "running": "Running"}

# Characters a page should not carry raw: C0 controls but tab, newline and carriage return, DEL, C1
# controls, and lone surrogates (which UTF-8 cannot encode).
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _spelled(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object) -> Markup:
    """`value` as escaped text, control characters spelled out (`\\x01`): safe in an attribute too."""
    if isinstance(value, Markup):
        return value
    return Markup(_UNSHOWABLE.sub(lambda m: _spelled(m.group()), str(escape("" if value is None else value))))


def shown(value: object) -> Markup:
    """What every `{{ }}` prints: `value` escaped, None as nothing, control characters spelled out
    and marked, so that `id\\x01` does not look like `id`."""
    if isinstance(value, Markup):
        return value
    return Markup(_UNSHOWABLE.sub(lambda m: f'<span class="ctl">{_spelled(m.group())}</span>',
                                  str(escape("" if value is None else value))))


def path(value: object) -> Markup:
    """A file path, shown with a line-break opportunity after each `/`."""
    return Markup("/<wbr>").join(shown(part) for part in ("" if value is None else str(value)).split("/"))


def clip(value: object, limit: int = CLIPPED) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def environment() -> jinja2.Environment:
    """The catalog's Jinja setup, with the page's template from the package, every `{{ }}` through `shown`."""
    env = render.environment(jinja2.PackageLoader("transformer", "html"))
    env.finalize = shown  # read when templates compile: set before any is loaded
    env.filters.update(plain=plain, path=path, clip=clip, size=_size, seconds=_seconds, when=_when)
    return env


def write_html(summary: RunSummary, path: Path) -> None:
    """Write the run's page to `path` (atomically, UTF-8; anything UTF-8 cannot carry is replaced)."""
    text = environment().get_template("run.html.j2").render(page=_page(summary, path.parent))
    write_atomic(path, text.encode("utf-8", "replace").decode("utf-8"))


def _page(summary: RunSummary, folder: Path) -> dict:
    run = summary.as_dict()  # what run.json says, to the same numbers
    mapping_lines = _MappingLines(run.get("config"))
    jobs = [_job(number, entry, report, mapping_lines)
            for number, (entry, report) in enumerate(zip(run["jobs"], summary.reports), 1)]
    command = run.get("command")
    return {
        "run": run["run"], "name": run["name"], "status": run["status"], "label": _label(run["status"]),
        "reason": run.get("reason"), "tool_version": run["tool_version"],
        "command": shlex.join(map(str, command)) if isinstance(command, (list, tuple)) else command,
        "config": run.get("config"), "store": run.get("store"), "pim": run.get("pim"),
        "started": run["started"], "finished": run["finished"], "took": _took(run["started"], run["finished"]),
        "archive": run.get("archive"), "folder": str(folder),
        "jobs": jobs,
        "totals": {
            "jobs": len(jobs),
            "ok": sum(job["status"] in ("succeeded", "succeeded_with_errors") for job in jobs),
            "skipped": sum(job["status"] == "skipped" for job in jobs),
            "failed": sum(job["status"] in ("failed", "interrupted") for job in jobs),
            "record_errors": sum(job["record_errors"] for job in jobs),
            "warnings": sum(job["warnings"] for job in jobs),
            "downloads_failed": sum(job["downloads_failed"] for job in jobs),
        },
    }


def _job(number: int, entry: dict, report: RunReport, mapping_lines: _MappingLines) -> dict:
    groups = report.error_groups()
    for group in groups:
        group["actions"] = [group["action"]] if group["action"] else []
        group["mapping"] = group.get("mapping")
        group["source"] = mapping_lines.text(group["mapping"])
    pull = report.pull or {}
    download_errors = [{"code": failure.get("code"), "message": failure.get("message")}
                       for failure in pull.get("download_errors") or []]
    warnings = list(report.warnings)
    job = {
        "number": number, "job": entry["job"], "title": report.title, "mode": report.mode, "engine": report.engine,
        "status": entry["status"], "label": _label(entry["status"]), "reason": entry.get("reason"),
        "counts": list(entry["counts"].items()), "record_errors": entry["record_errors"], "warnings": entry["warnings"],
        "seconds": entry["seconds"], "watermark_used": entry["watermark_used"], "watermark_set": entry["watermark_set"],
        "outputs": [{"path": o.get("path"), "bytes": o.get("bytes"), "xsd_valid": o.get("xsd_valid")} for o in report.outputs],
        "report": entry["report"],
        "timings": [(stage, seconds) for stage, seconds in report.timings.items() if stage != "total"],
        "groups": groups[:GROUPS], "groups_more": max(len(groups) - GROUPS, 0),
        "errors": [{key: error.get(key) for key in ("id", "field", "message", "action", "mapping")}
                   for error in report.errors[:LISTED]], "errors_more": max(len(report.errors) - LISTED, 0),
        "any_action": any("action" in error for error in report.errors[:LISTED]),
        "any_mapping": any(error.get("mapping") for error in report.errors[:LISTED]),
        "warning_list": warnings[:LISTED], "warnings_more": max(len(warnings) - LISTED, 0),
        "mapping_warnings": report.mapping_warnings[:LISTED],
        "mapping_warnings_more": max(len(report.mapping_warnings) - LISTED, 0),
        "pull": _pull(pull, download_errors) if report.pull is not None else None,
        "downloads_failed": len(download_errors),
    }
    job["detailed"] = bool(job["reason"] or groups or warnings or report.mapping_warnings or download_errors
                           or job["pull"] is not None)
    return job


def _pull(pull: dict, download_errors: list) -> dict:
    return {
        "read": sorted((pull.get("items") or {}).items()), "gone": sorted((pull.get("gone") or {}).items()),
        "read_again": pull.get("read_again", 0), "pages": pull.get("pages", 0),
        "downloaded": pull.get("downloaded", 0), "unchanged": pull.get("unchanged", 0),
        "download_errors": download_errors[:LISTED], "download_errors_more": max(len(download_errors) - LISTED, 0),
        "download_count": len(download_errors),
        "warnings": list(pull.get("warnings") or [])[:LISTED],
    }


class _MappingLines:
    """The text of a mapping line (`mappings/products.yaml:20:9` -> `EAN: {from: ean}`), read from
    the run's config folder; nothing when it cannot be read."""

    def __init__(self, config: str | None):
        self.config = Path(config) if config else None
        self.files: dict[str, list[str] | None] = {}

    def text(self, location: str | None) -> str | None:
        if not location or self.config is None:
            return None
        match = re.fullmatch(r"(.+?):(\d+)(?::\d+)?", location)
        if not match:
            return None
        name, line = match.group(1), int(match.group(2))
        if name not in self.files:
            self.files[name] = None
            if not Path(name).is_absolute() and ".." not in Path(name).parts:  # a file of the config folder
                try:
                    self.files[name] = (self.config / name).read_text(encoding="utf-8", errors="replace").splitlines()
                except (OSError, ValueError):
                    pass
        lines = self.files[name]
        return lines[line - 1].strip() if lines and 0 < line <= len(lines) else None


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, str(status))


def _took(started: str, finished: str) -> float | None:
    try:
        return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None


def _when(stamp: object) -> str:
    """An ISO 8601 UTC time as `2026-03-02 06:45:31 UTC`."""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    zone = moment.strftime("%Z").replace("UTC+00:00", "UTC") or ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f" {zone}" if zone else "")


def _seconds(value: object) -> str:
    if value is None:
        return "—"
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _size(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)
