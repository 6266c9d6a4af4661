"""Load a directory of JSON files in Akeneo REST API format into the store.

The directory mirrors the API paths below /api/rest/v1: `products.json`,
`attributes/color/options.json`, `families/shirts/variants.json`, ... Each file holds
the items of that endpoint as a JSON array, a list page (`_embedded.items`), a single
object, or JSON Lines (`.jsonl`, one item per line, for catalogs too big for one array).
Other files (media binaries, README) are left alone.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Iterator

from ..endpoints import Endpoint, endpoint_for_path
from ..errors import SourceError
from ..store import Store

BATCH = 1000


def load_snapshot(directory: Path, store: Store) -> dict[str, int]:
    """Replace the store's entities with the snapshot's; returns items loaded per endpoint."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(f"snapshot directory not found: {directory}")
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
    found = [(path, endpoint_for_path(path.relative_to(directory).with_suffix("").as_posix())) for path in files]
    unknown = [str(path.relative_to(directory)) for path, match in found if match is None]
    if unknown:
        raise SourceError(f"snapshot {directory}: files match no Akeneo endpoint: {', '.join(unknown)}")
    loaded: dict[str, int] = {}
    for endpoint in {match[0].name: match[0] for _, match in found}.values():
        store.clear(endpoint.name)
    for path, (endpoint, parent) in found:
        rows = ((parent, _code(item, endpoint, path), item) for item in _items(path))
        while batch := list(islice(rows, BATCH)):
            loaded[endpoint.name] = loaded.get(endpoint.name, 0) + store.put_many(endpoint.name, batch)
    return loaded


def _items(path: Path) -> Iterator[dict]:
    try:
        with path.open(encoding="utf-8") as handle:
            if path.suffix == ".jsonl":
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield _object(json.loads(line), path, number)
                return
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict) and "_embedded" in data:
        data = data["_embedded"].get("items", [])
    for number, item in enumerate(data if isinstance(data, list) else [data], 1):
        yield _object(item, path, number)


def _object(item: object, path: Path, number: int) -> dict:
    if not isinstance(item, dict):
        raise SourceError(f"{path}: item {number} is not a JSON object")
    return item


def _code(item: dict, endpoint: Endpoint, path: Path) -> str:
    code = item.get(endpoint.key)
    if not isinstance(code, str) or not code:
        raise SourceError(f"{path}: an item has no '{endpoint.key}'")
    return code
