"""The local PIM store: one SQLite file mirroring the PIM entities the jobs need, plus run state.

Entities are kept as the JSON the API returned, by endpoint name (`kind`), owning codes
(`parent`, '' for top-level entities) and code. Readers stream rows in code order so a
catalog of any size is never held in memory.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from .errors import StoreError

FORMAT = 2  # bumped whenever the tables change

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind    TEXT NOT NULL,
    parent  TEXT NOT NULL DEFAULT '',
    code    TEXT NOT NULL,
    updated TEXT,
    data    TEXT NOT NULL,
    pulled  INTEGER,  -- the full pull that last saw the item; older ones are gone from the PIM
    hash    TEXT NOT NULL,
    changed TEXT NOT NULL,  -- when the content last changed (UTC ISO 8601): what differential runs write
    PRIMARY KEY (kind, parent, code)
);
-- Products and models by the model they belong to (variations read them model by model).
CREATE INDEX IF NOT EXISTS entities_by_model ON entities (kind, json_extract(data, '$.parent'));
-- Category assignments as the storefront catalog has them after the last successful run, and
-- those of the running job, which replace them per product when it succeeds.
CREATE TABLE IF NOT EXISTS assignments (
    catalog  TEXT NOT NULL,
    product  TEXT NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (catalog, product, category)
);
CREATE TABLE IF NOT EXISTS pending_assignments (
    catalog  TEXT NOT NULL,
    product  TEXT NOT NULL,
    category TEXT  -- NULL: the product has no assignment any more
);
CREATE INDEX IF NOT EXISTS pending_by_catalog ON pending_assignments (catalog, product);
CREATE TABLE IF NOT EXISTS refinements (  -- refinement definitions saved from a catalog export (job 6)
    catalog  TEXT NOT NULL,
    category TEXT NOT NULL,
    xml      TEXT NOT NULL,
    PRIMARY KEY (catalog, category)
);
CREATE TABLE IF NOT EXISTS gone (  -- items a full read no longer found: deleted in the PIM
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    stream   TEXT PRIMARY KEY,  -- endpoint, parent and query of one paged read
    kind     TEXT NOT NULL,
    next_url TEXT NOT NULL,
    pull     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    code   TEXT PRIMARY KEY,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS job_state (
    job                TEXT PRIMARY KEY,
    last_success_start TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id       INTEGER PRIMARY KEY,
    job      TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL
);
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Store:
    """A connection to the store file; use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
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

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- entities ---------------------------------------------------------------------

    def put_many(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int | None = None) -> int:
        """Insert or replace `(parent, code, item)` rows of one kind in one transaction."""
        with self.db:
            return self._put(kind, items, pulled)

    def _put(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int | None) -> int:
        now = utc_now()
        rows = []
        for parent, code, item in items:
            item = {k: v for k, v in item.items() if k != "_links"}  # links change with paging, not with the item
            data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            rows.append((kind, parent, code, item.get("updated"), data, pulled,
                         hashlib.sha1(data.encode()).hexdigest(), now))
        # An item keeps its `changed` time while its content stays the same.
        return self.db.executemany(
            "INSERT INTO entities (kind, parent, code, updated, data, pulled, hash, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, parent, code) DO UPDATE SET updated = excluded.updated, data = excluded.data,"
            " pulled = excluded.pulled, changed = CASE WHEN hash = excluded.hash THEN changed ELSE excluded.changed END,"
            " hash = excluded.hash", rows).rowcount

    def put_page(self, kind: str, items: Iterable[tuple[str, str, dict]], pulled: int, stream: str,
                 next_url: str | None) -> int:
        """Store one page and where the read goes next, together: a killed pull resumes after it."""
        with self.db:
            count = self._put(kind, items, pulled)
            if next_url is None:
                self.db.execute("DELETE FROM cursors WHERE stream = ?", (stream,))
            else:
                self.db.execute("INSERT OR REPLACE INTO cursors (stream, kind, next_url, pull) VALUES (?, ?, ?, ?)",
                                (stream, kind, next_url, pulled))
        return count

    def cursor(self, stream: str) -> tuple[str, int] | None:
        """(next URL, pull) of an interrupted read of `stream`."""
        row = self.db.execute("SELECT next_url, pull FROM cursors WHERE stream = ?", (stream,)).fetchone()
        return (row[0], row[1]) if row else None

    def forget_unseen(self, kind: str, pulled: int) -> int:
        """After a complete full read of `kind`: drop the items it did not see (gone from the PIM),
        remembering when, so the next runs can take them offline."""
        unseen = "FROM entities WHERE kind = ? AND (pulled IS NULL OR pulled <> ?)"
        with self.db:
            self.db.execute(f"INSERT INTO gone (kind, code, at) SELECT kind, code, ? {unseen}", (utc_now(), kind, pulled))
            return self.db.execute(f"DELETE {unseen}", (kind, pulled)).rowcount

    def gone_since(self, kind: str, since: str) -> list[str]:
        """Codes of `kind` that disappeared after `since` and have not come back."""
        return [code for (code,) in self.db.execute(
            "SELECT DISTINCT code FROM gone g WHERE kind = ? AND at > ? AND NOT EXISTS"
            " (SELECT 1 FROM entities e WHERE e.kind = g.kind AND e.code = g.code) ORDER BY code", (kind, since))]

    def changed_raw(self, kind: str, since: str, parents: Iterable[str] = (), codes: Iterable[str] = ()
                    ) -> Iterator[tuple[str, str]]:
        """(code, JSON) of the items of `kind` whose content changed after `since`, whose parent is
        one of `parents`, or whose code is one of `codes`, in code order."""
        rows = self.db.execute(
            "SELECT code, data FROM entities WHERE kind = ? AND (changed > ? OR json_extract(data, '$.parent') IN"
            " (SELECT value FROM json_each(?)) OR code IN (SELECT value FROM json_each(?))) ORDER BY parent, code",
            (kind, since, json.dumps(sorted(parents)), json.dumps(sorted(codes))))
        yield from rows

    def touch(self, kind: str, codes: Iterable[str]) -> int:
        """Mark items as changed now (their content did not change, what they show did: an asset)."""
        with self.db:
            return self.db.executemany("UPDATE entities SET changed = ? WHERE kind = ? AND code = ?",
                                       [(utc_now(), kind, code) for code in codes]).rowcount

    def models_above_changed_products(self, since: str) -> set[str]:
        """The product models (parents and their parents) of products changed after `since`."""
        parent = "json_extract(data, '$.parent')"
        direct = {code for (code,) in self.db.execute(
            f"SELECT DISTINCT {parent} FROM entities WHERE kind = 'products' AND changed > ? AND {parent} IS NOT NULL",
            (since,))}
        upper = {code for (code,) in self.db.execute(
            f"SELECT DISTINCT {parent} FROM entities WHERE kind = 'product-models' AND {parent} IS NOT NULL"
            " AND code IN (SELECT value FROM json_each(?))", (json.dumps(sorted(direct)),))}
        return direct | upper

    def count_pulled(self, kind: str, pulled: int) -> int:
        """Items of `kind` that pull number `pulled` stored (each once, however often it was read)."""
        return self.db.execute("SELECT COUNT(*) FROM entities WHERE kind = ? AND pulled = ?", (kind, pulled)).fetchone()[0]

    def forget_cursors(self, kind: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM cursors WHERE kind = ?", (kind,))

    def interrupted_pull(self, kind: str) -> int | None:
        """The pull of `kind` that was interrupted (its cursors remain), to resume under the same number."""
        row = self.db.execute("SELECT pull FROM cursors WHERE kind = ? LIMIT 1", (kind,)).fetchone()
        return row[0] if row else None

    def rows(self, kind: str) -> list[tuple[str, dict]]:
        """(parent, item) of every item of a (small, structural) kind."""
        return [(parent, json.loads(data)) for parent, data in
                self.db.execute("SELECT parent, data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))]

    def media(self, code: str) -> tuple[str, str] | None:
        """(path, sha256) of a binary downloaded before."""
        row = self.db.execute("SELECT path, sha256 FROM media WHERE code = ?", (code,)).fetchone()
        return (row[0], row[1]) if row else None

    def put_media(self, code: str, path: str, sha256: str, size: int) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO media (code, path, sha256, size) VALUES (?, ?, ?, ?)",
                            (code, path, sha256, size))

    def iter(self, kind: str, parent: str | None = None) -> Iterator[dict]:
        """Stream the items of one kind (optionally of one parent) in code order."""
        if parent is None:
            rows = self.db.execute("SELECT data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))
        else:
            rows = self.db.execute("SELECT data FROM entities WHERE kind = ? AND parent = ? ORDER BY code", (kind, parent))
        for (data,) in rows:
            yield json.loads(data)

    def iter_raw(self, kind: str) -> Iterator[tuple[str, str]]:
        """Stream (code, stored JSON text) of one kind in code order (workers parse it themselves)."""
        yield from self.db.execute("SELECT code, data FROM entities WHERE kind = ? ORDER BY parent, code", (kind,))

    def children(self, kind: str, model: str) -> list[dict]:
        """The items of `kind` (products, product models) whose parent is the product model `model`."""
        return [json.loads(data) for (data,) in self.db.execute(
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

    def sub_model_codes(self) -> set[str]:
        """Codes of the level-1 product models (those with a parent)."""
        return {code for (code,) in self.db.execute(
            "SELECT code FROM entities WHERE kind = 'product-models' AND json_extract(data, '$.parent') IS NOT NULL")}

    def shared_codes(self, kind: str, other: str) -> list[str]:
        """Codes that items of both kinds use (a product model named like a product)."""
        return [code for (code,) in self.db.execute(
            "SELECT code FROM entities WHERE kind = ? INTERSECT SELECT code FROM entities WHERE kind = ? ORDER BY 1",
            (kind, other))]

    def get(self, kind: str, code: str, parent: str = "") -> dict | None:
        row = self.db.execute("SELECT data FROM entities WHERE kind = ? AND parent = ? AND code = ?",
                              (kind, parent, code)).fetchone()
        return json.loads(row[0]) if row else None

    def count(self, kind: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM entities WHERE kind = ?", (kind,)).fetchone()[0]

    # -- category assignments -------------------------------------------------------------

    def assigned(self, catalog: str, product: str) -> set[str]:
        """Categories `product` was assigned to in `catalog` by the last run that succeeded."""
        return {c for (c,) in self.db.execute("SELECT category FROM assignments WHERE catalog = ? AND product = ?",
                                              (catalog, product))}

    def stage_assignments(self, rows: list[tuple[str, str, str | None]]) -> None:
        """(catalog, product, category or None) written by the running job, kept apart until it succeeds."""
        with self.db:
            self.db.executemany("INSERT INTO pending_assignments (catalog, product, category) VALUES (?, ?, ?)", rows)

    def commit_assignments(self, catalog: str) -> None:
        """The running job succeeded: its assignments replace the earlier ones of the same products."""
        with self.db:
            self.db.execute("DELETE FROM assignments WHERE catalog = ? AND product IN"
                            " (SELECT product FROM pending_assignments WHERE catalog = ?)", (catalog, catalog))
            self.db.execute("INSERT OR IGNORE INTO assignments (catalog, product, category) SELECT catalog, product,"
                            " category FROM pending_assignments WHERE catalog = ? AND category IS NOT NULL", (catalog,))
            self.db.execute("DELETE FROM pending_assignments WHERE catalog = ?", (catalog,))

    def drop_pending_assignments(self, catalog: str) -> None:
        """Forget what a failed (or killed) run staged."""
        with self.db:
            self.db.execute("DELETE FROM pending_assignments WHERE catalog = ?", (catalog,))

    # -- saved refinements ---------------------------------------------------------------

    def save_refinements(self, catalog: str, fragments: dict[str, str]) -> None:
        """Replace the saved `<refinement-definitions>` of a catalog, by category."""
        with self.db:
            self.db.execute("DELETE FROM refinements WHERE catalog = ?", (catalog,))
            self.db.executemany("INSERT INTO refinements (catalog, category, xml) VALUES (?, ?, ?)",
                                [(catalog, category, xml) for category, xml in fragments.items()])

    def refinements(self, catalog: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT category, xml FROM refinements WHERE catalog = ?", (catalog,)))

    # -- run state ----------------------------------------------------------------------

    def last_success(self, job: str) -> str | None:
        """Start time (UTC ISO 8601) of the job's last successful run."""
        row = self.db.execute("SELECT last_success_start FROM job_state WHERE job = ?", (job,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def run(self, job: str) -> Iterator[str]:
        """Record a run of `job`; its start time becomes the job's watermark only if the block succeeds."""
        started = utc_now()
        with self.db:
            run_id = self.db.execute("INSERT INTO runs (job, started, status) VALUES (?, ?, 'running')",
                                     (job, started)).lastrowid
        try:
            yield started
        except BaseException:
            with self.db:
                self.db.execute("UPDATE runs SET finished = ?, status = 'failed' WHERE id = ?", (utc_now(), run_id))
            raise
        with self.db:
            self.db.execute("UPDATE runs SET finished = ?, status = 'succeeded' WHERE id = ?", (utc_now(), run_id))
            self.db.execute("INSERT OR REPLACE INTO job_state (job, last_success_start) VALUES (?, ?)", (job, started))
