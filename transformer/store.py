"""The local PIM store: one SQLite file mirroring the PIM entities the jobs need, plus run state.

Entities are kept as the JSON the API returned, by endpoint name (`kind`), owning codes
(`parent`, '' for top-level entities) and code. Readers stream rows in code order so a
catalog of any size is never held in memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import sqlite3
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from . import jsontext
from .errors import StoreError
from .pim import references
from .shapes import DROPPED, safe_item

FORMAT = 3  # bumped whenever the tables change

# Values of the PIM types whose items an item refers to, indexed so that a change of the asset or
# the appearance of the associated product brings the item into the next differential run.
ASSET_COLLECTION = "pim_catalog_asset_collection"
REFERRING = ("products", "product-models")

_SCHEMA = """
-- The store version counts writes; an item carries the version that last changed its content.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 0);
CREATE TABLE IF NOT EXISTS entities (
    kind    TEXT NOT NULL,
    parent  TEXT NOT NULL DEFAULT '',
    code    TEXT NOT NULL,
    updated TEXT,
    data    TEXT NOT NULL,
    pulled  INTEGER,  -- the complete read that last saw the item; older ones are gone from the PIM
    hash    TEXT NOT NULL,
    version INTEGER NOT NULL,  -- the store version that last changed its content (a re-read changes nothing)
    created INTEGER NOT NULL,  -- the store version that first stored it
    PRIMARY KEY (kind, parent, code)
);
CREATE INDEX IF NOT EXISTS entities_by_version ON entities (kind, version);
CREATE INDEX IF NOT EXISTS entities_by_creation ON entities (kind, created);
-- Products and models by the model they belong to (variations read them model by model).
CREATE INDEX IF NOT EXISTS entities_by_model ON entities (kind, json_extract(data, '$.parent'));
-- What a product or model refers to: the assets of its asset collections ('assets', family, code)
-- and the products and models it is associated with ('products', '', id).
CREATE TABLE IF NOT EXISTS refs (
    kind       TEXT NOT NULL,
    code       TEXT NOT NULL,
    ref_kind   TEXT NOT NULL,
    ref_parent TEXT NOT NULL,
    ref_code   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_by_item ON refs (kind, code);
CREATE INDEX IF NOT EXISTS refs_by_target ON refs (ref_kind, ref_parent, ref_code);
CREATE TABLE IF NOT EXISTS gone (  -- items a complete read no longer found: deleted in the PIM
    kind    TEXT NOT NULL,
    parent  TEXT NOT NULL,
    code    TEXT NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL  -- as it was last stored
);
CREATE INDEX IF NOT EXISTS gone_by_version ON gone (kind, version);
-- Where products, models and categories were before their parent or categories changed: the former
-- master of a moved variant is written again, an item that left the site's trees goes offline.
CREATE TABLE IF NOT EXISTS relinked (
    kind       TEXT NOT NULL,
    code       TEXT NOT NULL,
    parent     TEXT,  -- the former parent
    categories TEXT,  -- the former categories (JSON)
    version    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS relinked_by_version ON relinked (version);
CREATE TRIGGER IF NOT EXISTS relinking AFTER UPDATE OF data ON entities
WHEN old.hash <> new.hash AND new.kind IN ('products', 'product-models', 'categories')
 AND (json_extract(old.data, '$.parent') IS NOT json_extract(new.data, '$.parent')
      OR json_extract(old.data, '$.categories') IS NOT json_extract(new.data, '$.categories'))
BEGIN
    INSERT INTO relinked (kind, code, parent, categories, version) VALUES
        (old.kind, old.code, json_extract(old.data, '$.parent'), json_extract(old.data, '$.categories'), new.version);
END;
-- What each output file last wrote: the store version it wrote everything up to, and the
-- fingerprint of the configuration it was written with. Staged per run, committed together.
CREATE TABLE IF NOT EXISTS outputs (
    output      TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    run         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_outputs (
    run         TEXT NOT NULL,
    output      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
);
-- Category assignments as the storefront catalog has them after the last committed run, and
-- those of a running run, which replace them per product when it is committed.
CREATE TABLE IF NOT EXISTS assignments (
    catalog  TEXT NOT NULL,
    product  TEXT NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (catalog, product, category)
);
CREATE TABLE IF NOT EXISTS pending_assignments (
    run      TEXT NOT NULL,
    catalog  TEXT NOT NULL,
    product  TEXT NOT NULL,
    category TEXT  -- NULL: the product has no assignment any more
);
CREATE INDEX IF NOT EXISTS pending_by_run ON pending_assignments (run, catalog, product);
CREATE TABLE IF NOT EXISTS refinements (  -- refinement definitions saved from a catalog export (job 6)
    catalog  TEXT NOT NULL,
    category TEXT NOT NULL,
    xml      TEXT NOT NULL,
    PRIMARY KEY (catalog, category)
);
CREATE TABLE IF NOT EXISTS cursors (
    stream   TEXT PRIMARY KEY,  -- endpoint, parent and query of one paged read
    kind     TEXT NOT NULL,
    next_url TEXT NOT NULL,
    pull     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reads (  -- when each source was last read completely (differential reads start there)
    source  TEXT PRIMARY KEY,
    started TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media (  -- binaries in the media folder beside the store
    source  TEXT NOT NULL,  -- the endpoint whose items hold it
    code    TEXT NOT NULL,
    path    TEXT NOT NULL,  -- in the media folder, and in the archive's static folder
    sha256  TEXT NOT NULL,
    size    INTEGER NOT NULL,
    version INTEGER NOT NULL,  -- the store version at which its content last changed
    PRIMARY KEY (source, code)
);
CREATE TABLE IF NOT EXISTS runs (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL  -- running | built (archive complete, awaiting delivery) | committed | failed | interrupted | superseded
);
"""


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _stored_json(item: dict) -> str:
    """The item as the store keeps it: what SQLite can hold and its JSON functions read. A lone
    surrogate (a broken UTF-16 text) becomes U+FFFD; NaN and infinities, which JSON lacks, null."""
    try:
        data = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        data = json.dumps(_finite(item), ensure_ascii=False, separators=(",", ":"))
    return _LONE_SURROGATE.sub("\ufffd", data)


def _in_cycle(code: str, parents: dict[str, str | None]) -> bool:
    """Whether following the parents from `code` comes back to it."""
    seen, current = set(), parents.get(code)
    while current is not None and current in parents and current not in seen:
        if current == code:
            return True
        seen.add(current)
        current = parents[current]
    return current == code


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class StoreLock:
    """One command at a time per store: an exclusive `flock` on `<store>.lock`, which the system
    releases however the holder ends (a killed process's lock is free at once: no stale lock). The
    file says who holds it, for the message a second command gives."""

    def __init__(self, store_path: Path, command: str, wait: bool = False):
        self.path = Path(f"{store_path}.lock")
        self.command, self.wait = command, wait
        self.handle = None

    def __enter__(self) -> "StoreLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another command"
            self.handle.close()
            raise StoreError(f"store {self.path.with_suffix('')} is in use by {holder}: try again when it ends, "
                             "or pass --wait", retryable=True) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"`{self.command}` (pid {os.getpid()}, since {utc_now()})")
        self.handle.flush()
        return self

    @staticmethod
    def held(store_path: Path) -> bool:
        """Whether a command holds the store now (without waiting, without taking it)."""
        path = Path(f"{store_path}.lock")
        if not path.is_file():
            return False
        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def __exit__(self, *exc) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


# Cursors of the reads of a pull not finished yet, besides the next page's URL: a read that reached
# its last page (resumed, it is not read again), and one that has not stored a page yet.
FINISHED, NOT_BEGUN = "", "-"


class Store:
    """A connection to the store file; use as a context manager."""

    def __init__(self, path: Path, read_only: bool = False):
        """`read_only`: look without changing anything (the file must exist, in this format)."""
        self.path = Path(path)
        self._depth = 0  # nested transactions
        self.reshaped: dict[str, list[tuple[str, list[str]]]] = {}  # kind -> (code, what was dropped) put so far
        if read_only:
            return self._open_read_only()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'entities'").fetchone():
                version = 1  # written before formats were numbered
            if version not in (0, FORMAT):
                raise StoreError(f"store {self.path} was written by another version of akeneo-sfcc (format {version}, "
                                 f"this one reads {FORMAT}): delete it and pull again")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {FORMAT}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")

    def _open_read_only(self) -> None:
        if not self.path.is_file():
            raise StoreError(f"no store at {self.path}: fill one with `akeneo-sfcc pull` (or `akeneo-sfcc load SNAPSHOT`)")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        if version != FORMAT:
            raise StoreError(f"store {self.path} was written by another version of akeneo-sfcc (format {version}, "
                             f"this one reads {FORMAT}): delete it and pull again")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: nested ones join the outermost, which commits (or rolls back) them all."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.db:
                yield
        finally:
            self._depth = 0

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- entities ---------------------------------------------------------------------

    def version(self) -> int:
        """The store's current version: every change of an item has a version up to this one."""
        return self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]

    def _next_version(self) -> int:
        return self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version' RETURNING value").fetchone()[0]

    def put_many(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int | None = None) -> int:
        """Insert or replace `(parent, code, item)` rows of one kind in one transaction."""
        with self.transaction():
            return self._put(kind, items, pulled)

    def _put(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int | None) -> int:
        version = self._next_version()
        rows, refs = [], []
        collections = self._asset_collections() if kind in REFERRING else None
        for parent, code, item in items:
            # Links change with paging, not with the item; what has not the API's shape is dropped.
            item = safe_item(kind, {k: v for k, v in item.items() if k != "_links"})
            if DROPPED in item:
                self.reshaped.setdefault(kind, []).append((code, item[DROPPED]))
            data = _stored_json(item)
            updated = item.get("updated") if isinstance(item.get("updated"), str) else None
            code, parent, updated = (_LONE_SURROGATE.sub("\ufffd", t) if t else t for t in (code, parent, updated))
            rows.append((kind, parent, code, updated, data, pulled,
                         hashlib.sha1(data.encode()).hexdigest(), version, version))
            if collections is not None:
                refs += [(kind, code, *ref) for ref in references(item, collections)]
        # An item keeps its version while its content stays the same: a re-read changes nothing.
        count = self.db.executemany(
            "INSERT INTO entities (kind, parent, code, updated, data, pulled, hash, version, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, parent, code) DO UPDATE SET"
            " updated = excluded.updated, data = excluded.data, pulled = excluded.pulled,"
            " version = CASE WHEN hash = excluded.hash THEN version ELSE excluded.version END, hash = excluded.hash",
            rows).rowcount
        if collections is not None:
            self.db.execute("DELETE FROM refs WHERE kind = ? AND code IN (SELECT value FROM json_each(?))",
                            (kind, json.dumps([row[2] for row in rows])))
            self.db.executemany("INSERT INTO refs (kind, code, ref_kind, ref_parent, ref_code) VALUES (?, ?, ?, ?, ?)",
                                refs)
        return count

    def _asset_collections(self) -> dict[str, str]:
        """Asset collection attributes and the asset family of each."""
        return dict(self.db.execute(
            "SELECT code, json_extract(data, '$.reference_data_name') FROM entities WHERE kind = 'attributes'"
            " AND json_extract(data, '$.type') = ?", (ASSET_COLLECTION,)))

    def put_page(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int, stream: str,
                 next_url: str | None) -> int:
        """Store one page and where the read goes next, together: a killed pull resumes after it."""
        with self.transaction():
            count = self._put(kind, items, pulled)
            self._cursor(kind, pulled, stream, next_url, keep_finished=True)
        return count

    def see_page(self, kind: str, seen: list[tuple[str, str, str | None]], pulled: int, stream: str,
                 next_url: str | None) -> list[tuple[str, str]]:
        """Mark the (parent, code, updated) that an identifier-only read saw as seen by read `pulled`,
        without touching their content; returns the (parent, code) it saw that the store lacks or
        holds with another `updated` (to be read again in full)."""
        with self.transaction():
            stored = {}
            for parent in {parent for parent, _, _ in seen}:  # by parent: the primary key serves
                stored |= {(parent, code): updated for code, updated in self.db.execute(
                    "SELECT code, updated FROM entities WHERE kind = ? AND parent = ? AND code IN"
                    " (SELECT value FROM json_each(?))", (kind, parent, json.dumps([c for p, c, _ in seen if p == parent])))}
            self.db.executemany("UPDATE entities SET pulled = ? WHERE kind = ? AND parent = ? AND code = ?",
                                [(pulled, kind, parent, code) for parent, code, updated in seen
                                 if updated is not None and stored.get((parent, code), "missing") == updated])
            self._cursor(kind, pulled, stream, next_url)  # what a listing finds lives in memory: resumed, it reads again
        # No `updated` to compare (a PIM that does not send it): read again, to be sure.
        return [(parent, code) for parent, code, updated in seen
                if updated is None or stored.get((parent, code), "missing") != updated]

    def _cursor(self, kind: str, pulled: int, stream: str, next_url: str | None, keep_finished: bool = False) -> None:
        if next_url is None and not keep_finished:
            self.db.execute("DELETE FROM cursors WHERE stream = ?", (stream,))
        else:  # a finished read keeps FINISHED until its whole pull is done: resumed, it is not read again
            self.db.execute("INSERT OR REPLACE INTO cursors (stream, kind, next_url, pull) VALUES (?, ?, ?, ?)",
                            (stream, kind, next_url or FINISHED, pulled))

    def cursor(self, stream: str) -> tuple[str, int] | None:
        """(next URL, or FINISHED, and pull) of a read of `stream` in an interrupted pull."""
        row = self.db.execute("SELECT next_url, pull FROM cursors WHERE stream = ?", (stream,)).fetchone()
        return (row[0], row[1]) if row else None

    def forget_unseen(self, kind: str, pulled: int) -> int:
        """After a complete read of `kind`: drop the items it did not see (gone from the PIM),
        remembering them under a new version, so the next runs of every output write their deletion."""
        unseen = "FROM entities WHERE kind = ? AND (pulled IS NULL OR pulled <> ?)"
        with self.transaction():
            if not self.db.execute(f"SELECT 1 {unseen} LIMIT 1", (kind, pulled)).fetchone():
                return 0
            version = self._next_version()
            self.db.execute(f"INSERT INTO gone (kind, parent, code, version, data) SELECT kind, parent, code, ?, data"
                            f" {unseen}", (version, kind, pulled))
            self.db.execute(f"DELETE FROM refs WHERE kind = ? AND code IN (SELECT code {unseen})", (kind, kind, pulled))
            return self.db.execute(f"DELETE {unseen}", (kind, pulled)).rowcount

    def gone_since(self, kind: str, since: int) -> list[tuple[str, dict]]:
        """(code, last stored item) of the items of `kind` that disappeared after version `since` and
        have not come back, in code order."""
        return [(code, item) for _, code, item in self.gone_rows(kind, since)]

    def gone_rows(self, kind: str, since: int) -> list[tuple[str, str, dict]]:
        """(parent, code, last stored item) of what `gone_since` gives."""
        return [(parent, code, jsontext.loads(data)) for parent, code, data in self.db.execute(
            "SELECT parent, code, data FROM gone g WHERE kind = ? AND version > ? AND NOT EXISTS"
            " (SELECT 1 FROM entities e WHERE e.kind = g.kind AND e.parent = g.parent AND e.code = g.code)"
            " GROUP BY parent, code HAVING version = MAX(version) ORDER BY parent, code", (kind, since))]

    def changed_raw(self, kind: str, since: int, parents: Iterable[str] = (), codes: Iterable[str] = ()
                    ) -> Iterator[tuple[str, str]]:
        """(code, JSON) of the items of `kind` whose content changed after version `since`, whose
        parent is one of `parents`, or whose code is one of `codes`, in code order."""
        # A union of three indexed selects: one OR of them would read every row.
        yield from self.db.execute(
            "SELECT code, data FROM entities WHERE rowid IN ("
            " SELECT rowid FROM entities WHERE kind = :kind AND version > :since"
            " UNION SELECT rowid FROM entities WHERE kind = :kind AND json_extract(data, '$.parent') IN"
            "  (SELECT value FROM json_each(:parents))"
            " UNION SELECT rowid FROM entities WHERE kind = :kind AND parent = '' AND code IN"
            "  (SELECT value FROM json_each(:codes))) ORDER BY parent, code",
            {"kind": kind, "since": since, "parents": json.dumps(sorted(parents)), "codes": json.dumps(sorted(codes))})

    def changed_codes(self, kind: str, since: int) -> set[str]:
        """Codes of the items of `kind` whose content changed after version `since`."""
        return {code for (code,) in self.db.execute("SELECT code FROM entities WHERE kind = ? AND version > ?",
                                                    (kind, since))}

    def referring(self, kind: str, since: int, ref_kind: str) -> set[str]:
        """Codes of the items of `kind` whose references of `ref_kind` changed after version `since`:
        an asset they use changed or went ('assets'), or a product or model they are associated with
        appeared or went ('products')."""
        return {code for (code,) in self.db.execute(
            "SELECT DISTINCT r.code FROM refs r JOIN ("
            " SELECT 'assets' AS k, parent AS p, code AS c FROM entities WHERE kind = 'assets' AND version > :since"
            " UNION SELECT 'products', '', code FROM entities WHERE kind IN ('products', 'product-models')"
            "  AND parent = '' AND created > :since"
            " UNION SELECT 'assets', parent, code FROM gone WHERE kind = 'assets' AND version > :since"
            " UNION SELECT 'products', '', code FROM gone WHERE kind IN ('products', 'product-models')"
            "  AND version > :since"
            ") t ON r.ref_kind = t.k AND r.ref_parent = t.p AND r.ref_code = t.c WHERE r.kind = :kind"
            " AND r.ref_kind = :ref_kind", {"since": since, "kind": kind, "ref_kind": ref_kind})}

    def referrers(self, kind: str, codes: Iterable[str]) -> set[str]:
        """Codes of the items of `kind` associated with a product or model of these ids."""
        return {code for (code,) in self.db.execute(
            "SELECT DISTINCT code FROM refs WHERE kind = ? AND ref_kind = 'products' AND ref_parent = ''"
            " AND ref_code IN (SELECT value FROM json_each(?))", (kind, json.dumps(sorted(codes))))}

    def ancestors(self, kind: str, codes: Iterable[str]) -> set[str]:
        """The product models above the items of `kind` with these codes: their parents, and those
        parents' parents."""
        parent = "json_extract(data, '$.parent')"
        direct = {code for (code,) in self.db.execute(
            f"SELECT DISTINCT {parent} FROM entities WHERE kind = ? AND parent = '' AND code IN"
            f" (SELECT value FROM json_each(?)) AND {parent} IS NOT NULL", (kind, json.dumps(sorted(codes))))}
        return direct | (self.ancestors("product-models", direct) if kind == "products" else set())

    def former_parents(self, since: int) -> set[str]:
        """The product models that lost a child after version `since` (deleted, or moved to another
        parent), and the models above them."""
        found = {parent for (parent,) in self.db.execute(
            "SELECT json_extract(data, '$.parent') FROM gone WHERE kind IN ('products', 'product-models')"
            " AND version > ? UNION SELECT parent FROM relinked WHERE kind IN ('products', 'product-models')"
            " AND version > ?", (since, since)) if parent}
        return found | self.ancestors("product-models", found)

    def relinked_since(self, since: int) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
        """(kind, code) -> (parent, categories) as they were at version `since`, for the products,
        models and categories whose parent or categories changed after it."""
        return {(kind, code): (parent, jsontext.loads(categories) if categories else []) for kind, code, parent, categories
                in self.db.execute("SELECT kind, code, parent, categories FROM relinked WHERE version > ?"
                                   " GROUP BY kind, code HAVING version = MIN(version)", (since,))}

    def count_pulled(self, kind: str, pulled: int) -> int:
        """Items of `kind` that pull number `pulled` stored (each once, however often it was read)."""
        return self.db.execute("SELECT COUNT(*) FROM entities WHERE kind = ? AND pulled = ?", (kind, pulled)).fetchone()[0]

    def begin_reads(self, reads: list[tuple[str, str, int]]) -> None:
        """(stream, kind, pull) of the reads a pull is about to make, NOT_BEGUN unless they have begun:
        a pull that fails before a read stored its first page is still unfinished."""
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO cursors (stream, kind, next_url, pull) VALUES (?, ?, ?, ?)",
                                [(stream, kind, NOT_BEGUN, pull) for stream, kind, pull in reads])

    def cursor_streams(self, kind: str) -> set[str]:
        """The reads of `kind` that an interrupted pull had begun (finished or not)."""
        return {stream for (stream,) in self.db.execute("SELECT stream FROM cursors WHERE kind = ?", (kind,))}

    def forget_cursors(self, kind: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM cursors WHERE kind = ?", (kind,))

    def unfinished_pulls(self) -> list[str]:
        """The kinds whose last pull stopped part-way (the next pull resumes it)."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT kind FROM cursors WHERE next_url <> ? ORDER BY kind",
                                                  (FINISHED,))]

    def interrupted_pull(self, kind: str) -> int | None:
        """The pull of `kind` that was interrupted (its cursors remain), to resume under the same number."""
        row = self.db.execute("SELECT pull FROM cursors WHERE kind = ? LIMIT 1", (kind,)).fetchone()
        return row[0] if row else None

    def rows(self, kind: str) -> list[tuple[str, dict]]:
        """(parent, item) of every item of a (small, structural) kind."""
        return [(parent, jsontext.loads(data)) for parent, data in
                self.db.execute("SELECT parent, data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))]

    @property
    def media_root(self) -> Path:
        """The folder of the binaries the store's items hold, beside the store file."""
        return self.path.with_name(self.path.name + ".media")

    def media(self, source: str, code: str) -> tuple[str, str] | None:
        """(path, sha256) of a binary kept before."""
        row = self.db.execute("SELECT path, sha256 FROM media WHERE source = ? AND code = ?", (source, code)).fetchone()
        return (row[0], row[1]) if row else None

    def put_media(self, source: str, code: str, path: str, sha256: str, size: int) -> None:
        with self.transaction():
            known = self.db.execute("SELECT path, sha256 FROM media WHERE source = ? AND code = ?",
                                    (source, code)).fetchone()
            if known != (path, sha256):
                self.db.execute("INSERT OR REPLACE INTO media (source, code, path, sha256, size, version)"
                                " VALUES (?, ?, ?, ?, ?, ?)", (source, code, path, sha256, size, self._next_version()))

    def prune_media(self, source: str, keep: set[str]) -> list[str]:
        """Forget the binaries of `source` whose code is not in `keep`; returns their paths."""
        with self.transaction():
            gone = [(code, path) for code, path in self.db.execute("SELECT code, path FROM media WHERE source = ?",
                                                                    (source,)) if code not in keep]
            self.db.executemany("DELETE FROM media WHERE source = ? AND code = ?", [(source, c) for c, _ in gone])
        return [path for _, path in gone]

    def media_paths(self, since: int | None = None) -> list[str]:
        """Paths of the binaries kept: all of them, or those that changed after version `since`."""
        return [path for (path,) in self.db.execute("SELECT DISTINCT path FROM media WHERE version > ? ORDER BY path",
                                                    (-1 if since is None else since,))]

    def iter(self, kind: str, parent: str | None = None) -> Iterator[dict]:
        """Stream the items of one kind (optionally of one parent) in code order."""
        if parent is None:
            rows = self.db.execute("SELECT data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))
        else:
            rows = self.db.execute("SELECT data FROM entities WHERE kind = ? AND parent = ? ORDER BY code", (kind, parent))
        for (data,) in rows:
            yield jsontext.loads(data)

    def iter_raw(self, kind: str) -> Iterator[tuple[str, str]]:
        """Stream (code, stored JSON text) of one kind in code order (workers parse it themselves)."""
        return self._stream("SELECT code, data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))

    def iter_codes(self, kind: str) -> Iterator[tuple[str, None]]:
        """(code, None) of one kind in the order of `iter_raw`, from the key alone (no item is read)."""
        return self._stream("SELECT code, NULL FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))

    def _stream(self, sql: str, params: tuple) -> Iterator[tuple]:
        rows = self.db.execute(sql, params)
        try:
            for row in rows:  # not `yield from`: that closes the cursor on GeneratorExit, unguarded
                yield row
        finally:  # a run stopped mid-stream closes the store before this generator is collected
            with suppress(sqlite3.ProgrammingError):
                rows.close()

    def value_texts(self, kind: str, attributes: Iterable[str]) -> set[str]:
        """The non-empty string data of the values of `attributes` in the items of `kind` (malformed
        values skipped). SQLite reads them from the stored JSON: four times faster than decoding
        every item here (a daily pull asks which media a million products use)."""
        return {text for (text,) in self.db.execute(
            "SELECT DISTINCT json_extract(entry.value, '$.data') FROM entities,"
            " json_each(entities.data, '$.values') AS value, json_each(value.value) AS entry"
            " WHERE entities.kind = ? AND value.key IN (SELECT value FROM json_each(?)) AND value.type = 'array'"
            " AND entry.type = 'object' AND json_type(entry.value, '$.data') = 'text'"
            " AND json_extract(entry.value, '$.data') <> ''", (kind, json.dumps(sorted(attributes))))}

    def children(self, kind: str, model: str) -> list[dict]:
        """The items of `kind` (products, product models) whose parent is the product model `model`."""
        return [jsontext.loads(data) for (data,) in self.db.execute(
            "SELECT data FROM entities WHERE kind = ? AND json_extract(data, '$.parent') = ? ORDER BY code", (kind, model))]

    def model(self, code: str) -> dict | None:
        """The product model with this code."""
        return self.get("product-models", code)

    def exists(self, code: str) -> bool:
        """Whether a product or product model has this id."""
        return self.db.execute("SELECT 1 FROM entities WHERE kind IN ('products', 'product-models') AND parent = ''"
                               " AND code = ? LIMIT 1", (code,)).fetchone() is not None

    def enabled_below(self, model: str) -> bool:
        """Whether an enabled product sits below the product model (directly or under a sub-model)."""
        by_parent = "SELECT {} FROM entities WHERE kind = ? AND json_extract(data, '$.parent') = ?"  # indexed
        subs = [code for (code,) in self.db.execute(by_parent.format("code"), ("product-models", model))]
        return any(self.db.execute(by_parent.format("1") + " AND json_extract(data, '$.enabled') = 1 LIMIT 1",
                                   ("products", code)).fetchone() for code in [model, *subs])

    def repair_model_tree(self) -> None:
        """Akeneo models have two levels: a model whose parent is not a root model in the store
        (itself, a model of a cycle, a sub-model, or none at all) becomes a root, its parent dropped
        as a value of another shape is (`reshaped`), so that no job walks a cycle."""
        parents = dict(self.db.execute("SELECT code, json_extract(data, '$.parent') FROM entities"
                                       " WHERE kind = 'product-models'"))
        roots = {code for code, parent in parents.items() if parent is None or parent not in parents
                 or _in_cycle(code, parents)}
        roots |= {code for code, parent in parents.items() if parent not in roots}  # below a sub-model
        broken = [code for code in roots if parents[code] is not None]
        if not broken:
            return
        with self.transaction():
            for parent, code, data, pulled in self.db.execute(
                    "SELECT parent, code, data, pulled FROM entities WHERE kind = 'product-models' AND code IN"
                    " (SELECT value FROM json_each(?)) ORDER BY code", (json.dumps(broken),)).fetchall():
                item = jsontext.loads(data)
                problem = f"parent: {item['parent']!r} is not a root product model (Akeneo models have two levels)"
                item["parent"], item[DROPPED] = None, [*item.get(DROPPED, ()), problem]
                self._put("product-models", [(parent, code, item)], pulled)

    def sub_model_codes(self) -> set[str]:
        """Codes of the level-1 product models (those with a parent)."""
        return {code for (code,) in self.db.execute(
            "SELECT code FROM entities WHERE kind = 'product-models' AND json_extract(data, '$.parent') IS NOT NULL")}

    def shared_codes(self, kind: str, other: str) -> list[str]:
        """Codes that items of both kinds use (a product model named like a product)."""
        return [code for (code,) in self.db.execute(
            "SELECT code FROM entities WHERE kind = ? INTERSECT SELECT code FROM entities WHERE kind = ? ORDER BY 1",
            (kind, other))]

    def raw_by_code(self, kind: str, codes: Iterable[str]) -> dict[str, str]:
        """Code -> stored JSON text of the items of `kind` (products, models) among `codes`: what a
        worker reads itself, so that only codes, not whole items, travel between processes."""
        return dict(self.db.execute("SELECT code, data FROM entities WHERE kind = ? AND parent = '' AND code IN "
                                    "(SELECT value FROM json_each(?))", (kind, json.dumps(list(codes)))))

    def get(self, kind: str, code: str, parent: str = "") -> dict | None:
        row = self.db.execute("SELECT data FROM entities WHERE kind = ? AND parent = ? AND code = ?",
                              (kind, parent, code)).fetchone()
        return jsontext.loads(row[0]) if row else None

    def identifier_attribute(self) -> str | None:
        """The code of the PIM's identifier attribute (`sku` in most PIMs)."""
        row = self.db.execute("SELECT code FROM entities WHERE kind = 'attributes'"
                              " AND json_extract(data, '$.type') = 'pim_catalog_identifier' ORDER BY code LIMIT 1").fetchone()
        return row[0] if row else None

    def ensure_attributes(self) -> None:
        """A store with no attributes was never pulled into (or its pull failed): say what to do."""
        if not self.count("attributes"):
            raise StoreError(f"the store holds no attributes: run `akeneo-sfcc pull` first ({self.path})")

    def count(self, kind: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM entities WHERE kind = ?", (kind,)).fetchone()[0]

    # -- category assignments -------------------------------------------------------------

    def assigned(self, catalog: str, product: str) -> set[str]:
        """Categories `product` was assigned to in `catalog` by the last run that succeeded."""
        return {c for (c,) in self.db.execute("SELECT category FROM assignments WHERE catalog = ? AND product = ?",
                                              (catalog, product))}

    def stage_assignments(self, run: str, rows: list[tuple[str, str, str | None]]) -> None:
        """(catalog, product, category or None) written by run `run`, kept apart until it is committed."""
        with self.transaction():
            self.db.executemany("INSERT INTO pending_assignments (run, catalog, product, category) VALUES (?, ?, ?, ?)",
                                [(run, *row) for row in rows])

    # -- saved refinements ---------------------------------------------------------------

    def save_refinements(self, catalog: str, fragments: dict[str, str]) -> None:
        """Replace the saved `<refinement-definitions>` of a catalog, by category."""
        with self.transaction():
            self.db.execute("DELETE FROM refinements WHERE catalog = ?", (catalog,))
            self.db.executemany("INSERT INTO refinements (catalog, category, xml) VALUES (?, ?, ?)",
                                [(catalog, category, xml) for category, xml in fragments.items()])

    def refinements(self, catalog: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT category, xml FROM refinements WHERE catalog = ?", (catalog,)))

    # -- run state: what the outputs last wrote, moved forward only with a committed run -----------

    def output_state(self, output: str) -> tuple[int, str] | None:
        """(store version, fingerprint) that the last committed run writing `output` wrote it with."""
        row = self.db.execute("SELECT version, fingerprint FROM outputs WHERE output = ?", (output,)).fetchone()
        return (row[0], row[1]) if row else None

    def stage_output(self, run: str, output: str, version: int, fingerprint: str) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO pending_outputs (run, output, version, fingerprint) VALUES (?, ?, ?, ?)",
                            (run, output, version, fingerprint))

    def begin_run(self, run: str, name: str) -> list[str]:
        """Record a run. What earlier runs that never finished staged is forgotten, and so is what
        built runs still awaiting delivery staged: this run writes their delta again. Returns the runs
        left `running` (under the store's lock, only a process that died leaves one): now `interrupted`."""
        with self.transaction():
            stale = [row[0] for row in self.db.execute("SELECT id FROM runs WHERE status = 'running'")]
            for status, becomes in (("running", "interrupted"), ("built", "superseded")):
                earlier = f"(SELECT id FROM runs WHERE status = '{status}')"
                self.db.execute(f"DELETE FROM pending_outputs WHERE run IN {earlier}")
                self.db.execute(f"DELETE FROM pending_assignments WHERE run IN {earlier}")
                self.db.execute(f"UPDATE runs SET status = '{becomes}' WHERE id IN {earlier}")
            self.db.execute("INSERT INTO runs (id, name, started, status) VALUES (?, ?, ?, 'running')", (run, name, utc_now()))
        return stale

    def build_run(self, run: str) -> None:
        """The run's archive is complete but not delivered yet: what it staged waits for `commit_run`."""
        with self.transaction():
            self.db.execute("UPDATE runs SET status = 'built' WHERE id = ? AND status = 'running'", (run,))

    def commit_run(self, run: str) -> None:
        """The run's archive is complete (and, when delivered, imported): every output it staged, and
        its category assignments, become what the outputs last wrote, together."""
        status = self.run_status(run)
        if status not in ("running", "built"):
            raise StoreError(f"run {run} is {status or 'unknown to this store'}: its state cannot be committed")
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO outputs (output, version, fingerprint, run) SELECT output, version,"
                            " fingerprint, run FROM pending_outputs WHERE run = ?", (run,))
            self.db.execute("DELETE FROM assignments WHERE (catalog, product) IN"
                            " (SELECT catalog, product FROM pending_assignments WHERE run = ?)", (run,))
            self.db.execute("INSERT OR IGNORE INTO assignments (catalog, product, category) SELECT catalog, product,"
                            " category FROM pending_assignments WHERE run = ? AND category IS NOT NULL", (run,))
            self._end_run(run, "committed")

    def fail_run(self, run: str, status: str = "failed") -> None:
        """The run did not complete (`failed`, or `interrupted` by a signal): nothing it staged counts."""
        with self.transaction():
            self._end_run(run, status)

    def _end_run(self, run: str, status: str) -> None:
        self.db.execute("DELETE FROM pending_outputs WHERE run = ?", (run,))
        self.db.execute("DELETE FROM pending_assignments WHERE run = ?", (run,))
        self.db.execute("UPDATE runs SET finished = ?, status = ? WHERE id = ?", (utc_now(), status, run))

    def runs(self, limit: int) -> list[tuple[str, str, str, str | None]]:
        """(id, name, status, finished) of the latest runs, newest first."""
        return self.db.execute("SELECT id, name, status, finished FROM runs ORDER BY started DESC, id DESC LIMIT ?",
                               (limit,)).fetchall()

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT kind, COUNT(*) FROM entities GROUP BY kind ORDER BY kind"))

    def reads(self) -> list[tuple[str, str]]:
        """(source, start of its last complete read), the latest first."""
        return self.db.execute("SELECT source, started FROM reads ORDER BY started DESC").fetchall()

    def outputs(self) -> list[tuple[str, int, str]]:
        """(output, the store version it was last written up to, the run that wrote it)."""
        return self.db.execute("SELECT output, version, run FROM outputs ORDER BY output").fetchall()

    def last_run(self) -> tuple[str, str, str, str | None] | None:
        """(id, name, status, finished) of the latest run started on this store."""
        return self.db.execute("SELECT id, name, status, finished FROM runs ORDER BY started DESC, id DESC LIMIT 1").fetchone()

    def run_status(self, run: str) -> str | None:
        row = self.db.execute("SELECT status FROM runs WHERE id = ?", (run,)).fetchone()
        return row[0] if row else None

    # -- reads ------------------------------------------------------------------------------

    def last_read(self, source: str) -> str | None:
        """When (UTC ISO 8601) the last complete read of `source` started."""
        row = self.db.execute("SELECT started FROM reads WHERE source = ?", (source,)).fetchone()
        return row[0] if row else None

    def record_read(self, source: str, started: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO reads (source, started) VALUES (?, ?)", (source, started))
