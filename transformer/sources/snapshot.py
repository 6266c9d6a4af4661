"""Load a directory of JSON files in Akeneo REST API format into the store, and the binaries it holds.

The directory mirrors the API paths below /api/rest/v1: `products.json`,
`attributes/color/options.json`, `families/shirts/variants.json`, ... Each file holds
the items of that endpoint as a JSON array, a list page (`_embedded.items`), a single
object, or JSON Lines (`.jsonl`, one item per line, for catalogs too big for one array).
Binaries sit in their folders at their codes (`media-files/<code>`, `asset-media-files/<code>`);
those the items reference are copied into the store's media folder. Other files (a README) are left
alone, and so is `media-files.json`, the PIM's media list: media are found through the items.
"""

from __future__ import annotations

import json
import time
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .. import jsontext
from ..endpoints import Endpoint, endpoint_for_path
from ..errors import SourceError
from ..report import Progress
from ..shapes import dropped_warnings
from ..store import Store
from .media import KINDS, copier, sync_binaries

BATCH = 1000
BINARY_FOLDERS = frozenset({kind.folder for kind in KINDS} | {"reference-entities-media-files"})
MEDIA_LIST = frozenset({"media-files.json", "media-files.jsonl"})  # read by earlier versions; not needed


@dataclass
class Loaded:
    """Items loaded per endpoint, and what was left out (items without a code, duplicates)."""

    items: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def load_snapshot(directory: Path, store: Store, changes: bool = False) -> Loaded:
    """Replace the store's entities with the snapshot's; `changes`: the snapshot holds only what
    changed (a differential export), so its items are added or updated and none is deleted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(f"snapshot directory not found: {directory}")
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()
                   and _holds_items(p.relative_to(directory)))
    found = [(path, endpoint_for_path(path.relative_to(directory).with_suffix("").as_posix())) for path in files]
    unknown = [str(path.relative_to(directory)) for path, match in found if match is None]
    if unknown:
        raise SourceError(f"snapshot {directory}: files match no Akeneo endpoint: {', '.join(unknown)}")
    with store.transaction():  # all of the snapshot or nothing: a broken file leaves the store as it was
        return _load(directory, found, store, changes)


def _load(directory: Path, found: list, store: Store, changes: bool) -> Loaded:
    result = Loaded()
    generation = time.time_ns()
    progress = Progress(f"load {directory.name}", unit="items")
    for path, (endpoint, parent) in found:
        nameless = 0
        for batch in _batches(_items(path)):
            rows = [(parent, item[endpoint.key], item) for item in batch if _has_code(item, endpoint)]
            nameless += len(batch) - len(rows)
            store.put_many(endpoint.name, rows, generation)
            result.items[endpoint.name] = result.items.get(endpoint.name, 0) + len(rows)
            progress.advance(len(batch), endpoint.name)
        if nameless:
            result.warnings.append(f"{path.relative_to(directory)}: {nameless} item(s) without '{endpoint.key}' skipped")
    progress.close()
    store.repair_model_tree()
    result.warnings += dropped_warnings(store.reshaped)
    store.reshaped.clear()
    for kind, count in result.items.items() if not changes else ():  # like a full pull: what it lacks is gone
        store.forget_unseen(kind, generation)
        stored = store.count(kind)
        if stored < count:
            result.warnings.append(f"{kind}: {count - stored} item(s) repeat the code of another; the last one is kept")
            result.items[kind] = stored
    for kind in KINDS:
        if any(holder in result.items for holder in kind.holders):
            _, _, missing = sync_binaries(store, kind, kind.holders, copier(directory))
            if missing:
                result.warnings.append(f"{kind.name}: {len(missing)} binaries are not in the snapshot, "
                                       f"first: {missing[0]['code']}")
    return result


def _holds_items(relative: Path) -> bool:
    """Whether a JSON file of the snapshot holds items (not a binary, nor the media list)."""
    return relative.parts[0] not in BINARY_FOLDERS and relative.as_posix() not in MEDIA_LIST


def _batches(items: Iterator[dict]) -> Iterator[list[dict]]:
    while batch := list(islice(items, BATCH)):
        yield batch


def _has_code(item: dict, endpoint: Endpoint) -> bool:
    code = item.get(endpoint.key)
    return isinstance(code, str) and bool(code)


def _items(path: Path) -> Iterator[dict]:
    try:
        with path.open(encoding="utf-8") as handle:
            if path.suffix == ".jsonl":
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield _object(jsontext.loads(line), path, number)
                return
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 (byte {exc.start})") from None
    if isinstance(data, dict) and "_embedded" in data:
        data = data["_embedded"].get("items", []) if isinstance(data["_embedded"], dict) else None
    if not isinstance(data, (list, dict)):
        raise SourceError(f"{path}: expected a JSON array, an API list page or an object")
    for number, item in enumerate(data if isinstance(data, list) else [data], 1):
        yield _object(item, path, number)


def _object(item: object, path: Path, number: int) -> dict:
    if not isinstance(item, dict):
        raise SourceError(f"{path}: item {number} is not a JSON object")
    return item
