"""Deliver a run's parts into an SFCC instance, each exactly once, in order.

Under a lock (an exclusive MKCOL on `Impex/akeneo-sfcc/lock/`, the only conditional WebDAV
operation SFCC enforces), for each part: skip it when its receipt exists; else upload it to
`Impex/src/instance/`, note the started execution (so that a run killed while SFCC imports finds
that import again instead of starting a second one), wait for the end, read the import log, and
on success write the receipt and delete the upload. The first failure stops: later parts depend
on earlier ones.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import requests

from ..http import RetryPolicy
from .auth import AccountManager, DeliveryError, SfccConnection
from .importlog import parse
from .jobs import Execution, JobBusy, Jobs, Ocapi, Scapi, wait
from .parts import MiB, Part, write_parts
from .webdav import WebDav

HOME = "Impex/akeneo-sfcc/"
LOCK = HOME + "lock/"
RECEIPTS = HOME + "receipts/"
STARTED = HOME + "started/"
INSTANCE = "Impex/src/instance/"
STALE_LOCK = 30 * 60.0  # a lock nobody refreshed for this long is taken over
HEARTBEAT = 30.0


@dataclass(frozen=True)
class DeliverySettings:
    part_size: int = 90 * MiB
    timeout: float = 6 * 3600.0  # the longest one import may take
    keep_archive: bool = False
    api: str = "auto"  # auto | scapi | ocapi
    ocapi_version: str = "v25_6"
    poll_interval: float = 3.0  # the first wait between two polls; it grows to 30 s


@dataclass
class DeliveryReport:
    run: str
    api: str
    status: str = "running"  # running | succeeded | failed
    parts: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def dataerrors(self) -> int:
        return sum((part.get("import") or {}).get("dataerrors", 0) for part in self.parts)

    def as_dict(self) -> dict:
        return {"run": self.run, "api": self.api, "status": self.status, "dataerrors": self.dataerrors,
                "seconds": round(self.seconds, 3), "parts": self.parts}


class Delivery:
    """One instance, its clients, and the rule that delivers parts exactly once."""

    def __init__(self, connection: SfccConnection, settings: DeliverySettings, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        retry = retry or RetryPolicy()
        self.settings, self.sleep = settings, sleep
        session = requests.Session()
        account_manager = AccountManager(connection, session, retry)
        self.webdav = WebDav(connection, session, account_manager, retry, sleep=sleep)
        api = settings.api
        if api == "auto":
            api = "scapi" if connection.short_code and connection.tenant else "ocapi"
        if api == "scapi" and not (connection.short_code and connection.tenant):
            raise DeliveryError("--api scapi needs SFCC_SHORTCODE and SFCC_TENANT_ID")
        self.jobs: Jobs = Scapi(connection, session, account_manager, retry) if api == "scapi" else \
            Ocapi(connection, session, account_manager, retry, version=settings.ocapi_version)
        self._beat = 0.0

    def deliver(self, run: str, parts: list[Part], folder: Path, progress: Callable[[str], None] = lambda _: None
                ) -> DeliveryReport:
        """Import `parts` (zips in `folder`) in order; the report (also `self.report`, when this
        raises) says what happened to each."""
        report = self.report = DeliveryReport(run, self.jobs.name)
        started = time.monotonic()
        self._owner = {"run": run, "host": socket.gethostname(), "pid": os.getpid()}
        self._scratch = folder
        self._acquire()
        try:
            for part in parts:
                report.parts.append(entry := {"name": part.name, "sha256": part.sha256, "bytes": part.bytes})
                if self.webdav.exists(RECEIPTS + part.sha256 + "/"):
                    entry["status"] = "imported before"
                    progress(f"{part.name}: imported before, skipped")
                    continue
                self._import(part, folder / part.file, entry, progress)
            report.status = "succeeded"
        except BaseException:
            report.status = "failed"
            raise
        finally:
            report.seconds = time.monotonic() - started
            self._release()
        return report

    # -- one part -------------------------------------------------------------------------

    def _import(self, part: Part, zip_path: Path, entry: dict, progress: Callable[[str], None]) -> None:
        begun = time.monotonic()
        execution = self._resumed(part)
        if execution is None:
            progress(f"{part.name}: uploading {part.bytes:,} bytes")
            self.webdav.put(INSTANCE + zip_path.name, zip_path)
            execution = self._start(zip_path.name)
            self._put_json(STARTED + part.sha256 + ".json", {"execution": execution.id, "api": self.jobs.name})
        progress(f"{part.name}: import {execution.id} {execution.status}")
        execution = wait(self.jobs, execution, self.settings.timeout, self.settings.poll_interval, self._heartbeat,
                         self.sleep)
        log = parse(self.webdav.get(execution.log_path).decode("utf-8", "replace")) \
            if execution.log_path and self.webdav.exists(execution.log_path) else None
        entry.update(execution=execution.id, status=execution.status, exit_code=execution.exit_code,
                     seconds=round(time.monotonic() - begun, 3), log=execution.log_path,
                     **({"import": log.as_dict()} if log else {}))
        if not execution.succeeded:
            first = f"; first errors: {' | '.join(log.dataerrors[:3])}" if log and log.dataerrors else ""
            raise DeliveryError(f"the SFCC import of {part.name} ended {execution.status}"
                                f"{f' ({execution.exit_code})' if execution.exit_code else ''}"
                                f"{f': {execution.message}' if execution.message else ''}{first} "
                                f"(log: {execution.log_path or 'none'})")
        progress(f"{part.name}: imported" + (f", {len(log.dataerrors)} data error(s)" if log and log.dataerrors else ""))
        self.webdav.mkdirs(RECEIPTS + part.sha256 + "/")
        self.webdav.delete(STARTED + part.sha256 + ".json")
        if not self.settings.keep_archive:
            self.webdav.delete(INSTANCE + zip_path.name)

    def _resumed(self, part: Part) -> Execution | None:
        """The import an earlier, killed delivery started for this part: still going or finished
        well, it is waited for rather than started again; ended badly, the part is imported again."""
        noted = self.webdav.get(STARTED + part.sha256 + ".json")
        if noted is None:
            return None
        found = json.loads(noted)
        if found.get("api") != self.jobs.name:
            return None
        execution = self.jobs.get(str(found["execution"]))
        return None if execution.ended and not execution.succeeded else execution

    def _start(self, archive: str) -> Execution:
        """Start the import; when another import of the job runs, wait for it and try once more."""
        try:
            return self.jobs.start(archive)
        except JobBusy as busy:
            if busy.running:
                wait(self.jobs, self.jobs.get(busy.running), self.settings.timeout, self.settings.poll_interval,
                     self._heartbeat, self.sleep)
            else:
                self.sleep(self.settings.poll_interval)
        try:
            return self.jobs.start(archive)
        except JobBusy:
            raise DeliveryError("another site import runs on the instance and did not end: try again later",
                                retryable=True) from None

    # -- the lock -------------------------------------------------------------------------

    def _acquire(self) -> None:
        for folder in (STARTED, RECEIPTS, INSTANCE):
            self.webdav.mkdirs(folder)
        if not self.webdav.mkcol(LOCK):
            held = json.loads(self.webdav.get(LOCK + "owner.json") or b"{}")
            if not self._abandoned(held):
                raise DeliveryError(f"another delivery into this instance holds the lock (run {held.get('run')} on "
                                    f"{held.get('host')}, seen {held.get('heartbeat')}): try again later",
                                    retryable=True)
            self.webdav.delete(LOCK)  # its owner is gone: taken over
            if not self.webdav.mkcol(LOCK):
                raise DeliveryError("another delivery took the lock just now: try again later", retryable=True)
        self._heartbeat(force=True)

    def _abandoned(self, held: dict) -> bool:
        """Whether the lock's owner is gone: a process of this machine that no longer runs, or no
        heartbeat for half an hour."""
        if held.get("host") == socket.gethostname() and isinstance(held.get("pid"), int):
            try:
                os.kill(held["pid"], 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
        try:
            seen = datetime.fromisoformat(held["heartbeat"])
        except (KeyError, TypeError, ValueError):
            return True  # no readable owner: a lock left half made
        return (datetime.now(timezone.utc) - seen).total_seconds() > STALE_LOCK

    def _heartbeat(self, force: bool = False) -> None:
        if force or time.monotonic() - self._beat > HEARTBEAT:
            self._beat = time.monotonic()
            self._put_json(LOCK + "owner.json", self._owner | {"heartbeat": datetime.now(timezone.utc).isoformat()})

    def _release(self) -> None:
        try:
            self.webdav.delete(LOCK)
        except DeliveryError:
            pass  # a lock left behind is taken over once its owner is seen gone

    def _put_json(self, path: str, found: dict) -> None:
        scratch = self._scratch / f".{path.rsplit('/', 1)[-1]}"
        scratch.write_text(json.dumps(found), encoding="utf-8")
        self.webdav.put(path, scratch)
        scratch.unlink(missing_ok=True)


def deliver_target(target: Path, connection: SfccConnection, settings: DeliverySettings, master_catalog: str | None,
                   progress: Callable[[str], None] = lambda _: None) -> DeliveryReport:
    """Deliver a run's folder (its `site-import/`, in parts under `parts/`) or a site-import zip
    (in parts beside it); `delivery.json` beside them says what happened, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="akeneo-sfcc-deliver-") as scratch:
        if target.is_file() and target.suffix == ".zip":
            root, name, parts_folder, written = _unzipped(target, Path(scratch)), target.stem, \
                target.with_name(f"{target.stem}.parts"), target.with_name(f"{target.stem}.delivery.json")
            whole = target if root.name == target.stem else None  # SFCC wants the top folder named like the zip
        elif (target / "site-import").is_dir():
            root, name, parts_folder, written = target / "site-import", target.resolve().name, target / "parts", \
                target / "delivery.json"
            whole = target / f"{name}.zip" if (target / f"{name}.zip").is_file() else None
        else:
            raise DeliveryError(f"{target}: neither a run's folder (with site-import/) nor a site-import zip")
        parts = write_parts(root, parts_folder, name, settings.part_size, master_catalog, whole)
    progress(f"{len(parts)} part(s) of at most {settings.part_size / MiB:g} MiB: "
             + ", ".join(f"{p.name} ({p.bytes:,} bytes)" for p in parts))
    delivery = Delivery(connection, settings)
    try:
        return delivery.deliver(name, parts, parts_folder, progress)
    finally:
        if getattr(delivery, "report", None) is not None:
            written.write_text(json.dumps(delivery.report.as_dict(), indent=2) + "\n", encoding="utf-8")


def _unzipped(archive: Path, scratch: Path) -> Path:
    """The site-import folder inside a zip (its one top folder), extracted into `scratch`."""
    with zipfile.ZipFile(archive) as opened:
        tops = {name.split("/", 1)[0] for name in opened.namelist()}
        if len(tops) != 1:
            raise DeliveryError(f"{archive}: a site-import zip holds one top folder, this one {len(tops)}")
        for member in opened.infolist():
            if member.is_dir():
                continue
            path = (scratch / member.filename).resolve()
            if not path.is_relative_to(scratch.resolve()):
                raise DeliveryError(f"{archive}: {member.filename} would be extracted outside its folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(opened.read(member))
    return scratch / tops.pop()


def business_manager_config(client_id: str) -> str:
    """The OCAPI Data API and WebDAV permission documents a Business Manager admin pastes once
    (sfcc-delivery.md §1.6), with the API client's id in them."""
    resource = {"read_attributes": "(**)", "write_attributes": "(**)"}
    ocapi = {"_v": "24.5", "clients": [{"client_id": client_id, "resources": [
        {"resource_id": "/jobs/*/executions", "methods": ["post"], **resource},
        {"resource_id": "/jobs/*/executions/*", "methods": ["get"], **resource},
        {"resource_id": "/job_execution_search", "methods": ["post"], **resource}]}]}
    webdav = {"clients": [{"client_id": client_id, "permissions": [{"path": "/impex", "operations": ["read_write"]},
                                                                   {"path": "/logs", "operations": ["read_write"]}]}]}
    return ("Business Manager > Administration > Site Development > Open Commerce API Settings: type Data, context "
            f"Global:\n{json.dumps(ocapi, indent=2)}\n\nBusiness Manager > Administration > Organization > WebDAV Client "
            f"Permissions:\n{json.dumps(webdav, indent=2)}\n\nWith SCAPI (SFCC_SHORTCODE and SFCC_TENANT_ID set), the "
            "first document is not needed: give the API client the Salesforce Commerce API role for the tenant, "
            "with scope sfcc.jobs.rw, in Account Manager.")
