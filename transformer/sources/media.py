"""The binaries a PIM's items hold (media files of image and file attributes, the media files of
assets), kept in the store's media folder: downloaded from the PIM or copied from a snapshot. Each
is recorded with the store version at which its content last changed, so a differential archive
carries only what changed; those no item holds any more are removed."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ..errors import SourceError
from ..package import sha256_of as sha256
from ..sfcc import safe_path
from ..store import Store

DOWNLOADABLE = ("media-files", "assets")


def binaries(store: Store, endpoint: str) -> list[tuple[str, str, str]]:
    """(media code, API path, path in the archive's static folder) of every binary the items of
    `endpoint` hold: media files as their safe path, asset media files under `assets/`."""
    if endpoint == "media-files":
        return [(item["code"], f"media-files/{item['code']}/download", safe_path(item["code"]))
                for _, item in store.rows("media-files")]
    if endpoint == "assets":
        media_attributes = {(parent, item["code"]) for parent, item in store.rows("asset-family-attributes")
                            if item.get("type") == "media_file"}
        found = {value["data"] for family, asset in store.rows("assets")
                 for attribute, values in (asset.get("values") or {}).items() if (family, attribute) in media_attributes
                 for value in values if isinstance(value, dict) and isinstance(value.get("data"), str) and value["data"]}
        return [(code, f"asset-media-files/{code}", "assets/" + safe_path(code)) for code in sorted(found)]
    raise SourceError(f"endpoint '{endpoint}' has no binaries to download")


def sync_binaries(store: Store, endpoint: str, fetch: Callable[[str, Path], str], workers: int = 1
                  ) -> tuple[int, int, list[dict]]:
    """Bring the media folder in line with the binaries of `endpoint`: `fetch(API path, target)`
    writes one and returns its SHA-256 (raising SourceError when it cannot). Unchanged files are
    left alone, files no item holds any more are removed. Returns (fetched, unchanged, failures)."""
    root = store.media_root
    wanted = binaries(store, endpoint)
    todo, unchanged = [], 0
    for code, api_path, relative in wanted:
        target = root / relative
        if not target.resolve().is_relative_to(root.resolve()):
            raise SourceError(f"media code {code!r} would be written outside {root}")
        known = store.media(endpoint, code)
        if known and known[0] == relative and target.is_file() and sha256(target) == known[1]:
            unchanged += 1
        else:
            todo.append((code, api_path, relative, target))

    def one(job: tuple) -> tuple[str | None, str | None]:
        try:
            return fetch(job[1], job[3]), None
        except SourceError as exc:
            return None, str(exc)

    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="binaries") as pool:
        results = list(pool.map(one, todo))
    failures = []
    for (code, _, relative, target), (digest, error) in zip(todo, results):
        if error is not None:
            failures.append({"code": code, "message": error})
        else:
            store.put_media(endpoint, code, relative, digest, target.stat().st_size)
    for relative in store.prune_media(endpoint, {code for code, _, _ in wanted}):
        (root / relative).unlink(missing_ok=True)
    return len(todo) - len(failures), unchanged, failures


def copier(snapshot: Path) -> Callable[[str, Path], str]:
    """A `fetch` for `sync_binaries` that copies binaries from a snapshot folder, which holds them
    at their API paths (`media-files/<code>`, `asset-media-files/<code>`)."""
    def fetch(api_path: str, target: Path) -> str:
        source = snapshot / api_path.removesuffix("/download")
        if not source.is_file():
            raise SourceError(f"the snapshot has no file {api_path.removesuffix('/download')}")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)  # a new file: archives that link the old one keep it
        return sha256(target)
    return fetch
