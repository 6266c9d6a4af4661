"""The binaries the PIM's items reference, kept in the store's media folder: the media files of the
image and file attributes of products and models, and the media files of assets.

Only what the stored items reference is fetched (no media list is read: a PIM may not serve one,
and it lists binaries nothing uses), each code once, through its own download URL, from the PIM or
from a snapshot. A file kept before whose SHA-256 is still the recorded one is not fetched again.
Each is recorded with the store version at which its content last changed, so a differential
archive carries only what changed; those no item references any more are removed. A code that
cannot be fetched or stored is one failure in the result, never the end of the sync."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import quote

from ..errors import SourceError
from ..package import sha256_of as sha256
from ..sfcc import asset_path, safe_path
from ..store import Store

MEDIA_TYPES = frozenset({"pim_catalog_image", "pim_catalog_file"})  # product attributes holding media codes


@dataclass(frozen=True)
class Binaries:
    """One kind of binary: its name in the store's media table, the endpoints whose items reference
    it, its download path (`{code}` percent-encoded), the snapshot folder holding it at its codes,
    and where one goes in the media folder (the same path in the archive's static folder)."""

    name: str
    holders: tuple[str, ...]
    download: str
    folder: str
    path: Callable[[str], str]


MEDIA_FILES = Binaries("media-files", ("products", "products-uuid", "product-models"), "media-files/{code}/download",
                       "media-files", safe_path)
ASSET_FILES = Binaries("assets", ("assets",), "asset-media-files/{code}", "asset-media-files", asset_path)
KINDS = (MEDIA_FILES, ASSET_FILES)
HOLDERS = {holder: kind for kind in KINDS for holder in kind.holders}
DOWNLOADABLE = tuple(HOLDERS)  # the endpoints whose sources may say `download`

# `fetch(kind, code, target)` writes one binary to `target` and returns its SHA-256.
Fetch = Callable[[Binaries, str, Path], str]


def api_path(kind: Binaries, code: str) -> str:
    """The API path that downloads one binary, built so that the request stays below the kind's
    endpoint: an Akeneo code (`7/5/8/e/758e_shirt.jpg`) keeps its slashes, as the PIM serves it;
    a code with an empty, `.` or `..` segment goes as one segment (`a%2F..%2Fx`), which no client
    or server resolves. `.` and `..` alone cannot go at all: HTTP clients decode `%2E` and resolve them."""
    if code in ("", ".", ".."):
        raise SourceError(f"media code {code!r} cannot be requested: HTTP clients resolve it as a path segment")
    segments = code.split("/")
    if all(part not in ("", ".", "..") for part in segments):
        return kind.download.format(code="/".join(quote(part, safe="") for part in segments))
    return kind.download.format(code=quote(code, safe=""))


def referenced(store: Store, endpoint: str) -> set[str]:
    """The media codes the stored items of `endpoint` reference: the values of image and file
    attributes for products and models, of media_file attributes for assets."""
    if endpoint == "assets":
        media = {(family, item["code"]) for family, item in store.rows("asset-family-attributes")
                 if item.get("type") == "media_file"}
        return {code for family, asset in store.rows("assets")
                for code in _codes(asset, lambda attribute: (family, attribute) in media)}
    media = {item["code"] for _, item in store.rows("attributes") if item.get("type") in MEDIA_TYPES}
    return store.value_texts(endpoint, media) if media else set()


def _codes(item: dict, holds_media: Callable[[str], bool]) -> Iterator[str]:
    """The non-empty string data of the item's values whose attribute holds media (malformed values skipped)."""
    values = item.get("values")
    for attribute, entries in values.items() if isinstance(values, dict) else ():
        if holds_media(attribute) and isinstance(entries, list):
            yield from (entry["data"] for entry in entries
                        if isinstance(entry, dict) and isinstance(entry.get("data"), str) and entry["data"])


def sync_binaries(store: Store, kind: Binaries, holders: Iterable[str], fetch: Fetch, workers: int = 1
                  ) -> tuple[int, int, list[dict]]:
    """Fetch the binaries of `kind` that the items of `holders` reference and the media folder
    lacks (or holds with another SHA-256); remove those no stored item of any holder references.
    Returns (fetched, unchanged, failures: one {code, message} per binary not fetched)."""
    for debris in store.media_root.rglob(".*.part"):  # of a killed process (the lock is ours)
        debris.unlink(missing_ok=True)
    references = {holder: referenced(store, holder) for holder in kind.holders}
    wanted = sorted(set().union(*(references[holder] for holder in holders)))
    todo = [code for code in wanted if not _kept(store, kind, code)]
    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="binaries") as pool:
        results = list(pool.map(lambda code: _fetch(store.media_root, kind, code, fetch), todo))
    failures = []
    for code, (digest, error) in zip(todo, results):
        if error is not None:
            failures.append({"code": code, "message": error})
        else:
            path = kind.path(code)
            store.put_media(kind.name, code, path, digest, (store.media_root / path).stat().st_size)
    for path in store.prune_media(kind.name, set().union(*references.values())):
        (store.media_root / path).unlink(missing_ok=True)
    return len(todo) - len(failures), len(wanted) - len(todo), failures


def _kept(store: Store, kind: Binaries, code: str) -> bool:
    """Whether the media folder holds the binary at its path with the SHA-256 recorded for it."""
    known, path = store.media(kind.name, code), kind.path(code)
    target = store.media_root / path
    return known is not None and known[0] == path and target.is_file() and sha256(target) == known[1]


def _fetch(root: Path, kind: Binaries, code: str, fetch: Fetch) -> tuple[str | None, str | None]:
    """(SHA-256, None) of one binary fetched into the media folder, or (None, why it was not)."""
    target = root / kind.path(code)
    try:
        if not target.resolve().is_relative_to(root.resolve()):
            return None, f"media code {code!r} would be written outside {root}"
        return fetch(kind, code, target), None
    except (SourceError, OSError, ValueError) as exc:  # this file only: a refused name, a full disk, a 404
        return None, str(exc)


def downloader(download: Callable[[str, Path], str]) -> Fetch:
    """A `fetch` that downloads through the PIM client's `download(API path, target)`."""
    return lambda kind, code, target: download(api_path(kind, code), target)


def copier(snapshot: Path) -> Fetch:
    """A `fetch` that copies binaries from a snapshot folder, which holds them at their codes in the
    kind's folder (`media-files/<code>`, `asset-media-files/<code>`)."""
    def fetch(kind: Binaries, code: str, target: Path) -> str:
        folder = (snapshot / kind.folder).resolve()
        source = folder / code
        if not source.resolve().is_relative_to(folder) or not source.is_file():
            raise SourceError(f"the snapshot has no file {kind.folder}/{code}")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)  # a new file: archives that link the old one keep it
        return sha256(target)
    return fetch
