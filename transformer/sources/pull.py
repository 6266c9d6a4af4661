"""Pull what a job declares from a live PIM into the store.

Endpoints are read owners first (attributes before their options, asset families before
their assets), each level's reads running concurrently on the client's connections while
this thread writes every page to the store together with the link to the next page. A
killed pull therefore resumes at the page it stopped on, and does not read again what it had
read to the end. A full read replaces what the store
held of that kind (items the PIM no longer has are dropped once the read is complete). A
differential read of products and models asks only for what changed since the last complete
read of the same source, then lists every item under the same filters with no values (a cheap
identifier-only read): what the PIM no longer lists is gone, and an item it lists with another
`updated` than the store holds (missed by the first read: a clock or time zone apart) is read again.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from ..endpoints import ENDPOINTS, Endpoint
from ..errors import JobSkipped, SourceError
from ..report import Progress
from ..shapes import dropped_warnings
from ..settings import Job, Source
from ..store import FINISHED, NOT_BEGUN, Store, utc_now
from .akeneo import AkeneoClient
from .media import HOLDERS, KINDS, MEDIA_FILES, downloader, sync_binaries

# Past this many families the `NOT IN` part would make URLs longer than servers accept.
MAX_SPLIT_FAMILIES = 150
# A filtered page this much dearer than a plain one, at least, before a read is not split (seconds):
# below it the difference is noise, and the parts read side by side win anyway.
MIN_FILTER_COST = 0.1
# Date formats of the `updated` filter (akeneo-api.md §7): products and models, then assets and records.
PRODUCT_DATE = "%Y-%m-%d %H:%M:%S"
ASSET_DATE = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class PullReport:
    items: dict[str, int] = field(default_factory=dict)  # read in full, per endpoint
    gone: dict[str, int] = field(default_factory=dict)  # no longer in the PIM, per endpoint
    read_again: int = 0  # listed with another `updated` than the differential read gave
    pages: int = 0
    downloaded: int = 0
    unchanged: int = 0
    download_errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the reads were done (no action needed)

    def as_dict(self) -> dict:
        return {"items": dict(sorted(self.items.items())), "gone": dict(sorted(self.gone.items())),
                "read_again": self.read_again, "pages": self.pages, "downloaded": self.downloaded,
                "unchanged": self.unchanged, "download_errors": self.download_errors, "warnings": self.warnings,
                "notes": self.notes}


@dataclass(frozen=True)
class _Read:
    """One paged read: an endpoint, the owner it lists the items of, and its query."""

    endpoint: Endpoint
    parent: str
    params: tuple[tuple[str, str], ...]
    identifiers_only: bool = False  # lists the items without their values, to see which exist

    @property
    def key(self) -> str:
        query = hashlib.sha1(json.dumps([self.params, self.identifiers_only]).encode()).hexdigest()[:16]
        return f"{self.endpoint.name}|{self.parent}|{query}"


def pull(client: AkeneoClient, store: Store, sources: tuple[Source, ...], *, since: str | None = None,
         downloads: tuple[Source, ...] | None = None, report: PullReport | None = None) -> PullReport:
    """Sync the store with the declared sources, then download the binaries the items of `downloads`
    reference (default: the sources that say `download`); `since` (UTC ISO 8601) makes product and
    model reads differential."""
    report = report or PullReport()
    downloads = tuple(s for s in sources if s.download) if downloads is None else tuple(downloads)
    wanted = _with_owners(sources)
    if client.concurrency > 1 and any(e.paging == "search_after" for e in wanted):
        wanted.setdefault(ENDPOINTS["families"], None)  # to split product reads by family
    if any(HOLDERS.get(s.endpoint.name) is MEDIA_FILES for s in downloads) and not store.count("attributes"):
        wanted.setdefault(ENDPOINTS["attributes"], None)  # their types say which values are media codes
    # A full read finds about what the last one found: the estimate of the total.
    expected = sum(store.count(endpoint.name) for endpoint in wanted)
    progress = Progress("pull", None if since is not None else expected or None, unit="items", estimated=True)
    try:
        for depth in sorted({_depth(e) for e in wanted}):
            level = [(endpoint, source) for endpoint, source in wanted.items() if _depth(endpoint) == depth]
            _pull_level(client, store, level, since, report, progress)
    finally:
        progress.close()
    store.repair_model_tree()
    report.warnings += dropped_warnings(store.reshaped)
    store.reshaped.clear()
    _download_all(client, store, downloads, report)
    return report


def _with_owners(sources: tuple[Source, ...]) -> dict[Endpoint, Source | None]:
    """The declared endpoints plus the owners their reads need (read with no filter)."""
    wanted: dict[Endpoint, Source | None] = {s.endpoint: s for s in sources}
    for endpoint in list(wanted):
        while endpoint.owner is not None:
            endpoint = ENDPOINTS[endpoint.owner]
            wanted.setdefault(endpoint, None)
    return wanted


def _depth(endpoint: Endpoint) -> int:
    if endpoint.paging == "search_after":
        return 1  # after the families, which split the read
    return 0 if endpoint.owner is None else 1 + _depth(ENDPOINTS[endpoint.owner])


def _pull_level(client: AkeneoClient, store: Store, level, since: str | None, report: PullReport,
                progress: Progress) -> None:
    reads, listings, generations, complete = [], [], {}, set()
    identifier = store.identifier_attribute()
    for endpoint, source in level:
        differential = since is not None and endpoint.paging == "search_after"
        if not differential or identifier:
            complete.add(endpoint)  # what the reads of the level do not see is gone from the PIM
        else:
            report.warnings.append(f"{endpoint.name}: the PIM lists no identifier attribute, so deletions are not "
                                   "seen by differential reads; a full pull sees them")
        generations[endpoint] = store.interrupted_pull(endpoint.name) or time.time_ns()
        parents = [""] if endpoint.owner is None else endpoint.owner_keys(store.rows(endpoint.owner))
        splits = _family_splits(store, client.concurrency) if endpoint.paging == "search_after" else [None]
        read_since = since if differential else None
        if len(splits) > 1 and parents == [""] and not _splits_pay(client, store, endpoint, source, read_since,
                                                                   splits[0], report):
            splits = [None]
        for split in splits:
            params = _params(endpoint, source, read_since, split)
            reads += [_Read(endpoint, parent, tuple(sorted(params.items()))) for parent in parents]
            if differential and identifier:
                listing = _params(endpoint, source, None, split) | {"attributes": identifier}
                listings += [_Read(endpoint, parent, tuple(sorted(listing.items())), True) for parent in parents]
    _run_reads(client, store, reads, generations, report, progress)
    for endpoint, _ in level:
        report.items[endpoint.name] = store.count_pulled(endpoint.name, generations[endpoint])
    sources = {endpoint: source for endpoint, source in level}
    changed = _run_reads(client, store, listings, generations, report, progress)
    _read_again(client, store, changed, sources, generations, report)
    for endpoint, _ in level:
        store.forget_cursors(endpoint.name)  # every read of the level is complete
        if endpoint in complete and (gone := store.forget_unseen(endpoint.name, generations[endpoint])):
            report.gone[endpoint.name] = gone


def _read_again(client: AkeneoClient, store: Store, items: list[tuple[Endpoint, str, str]],
                sources: dict[Endpoint, Source | None], generations: dict, report: PullReport) -> None:
    """Read one by one the items a listing showed changed or new but the differential read missed."""
    if not items:
        return
    with ThreadPoolExecutor(client.concurrency, thread_name_prefix="read-again") as pool:
        found = list(pool.map(lambda one: client.get_json(f"{one[0].list_path(one[1])}/{quote(one[2], safe='')}"),
                              items))
    for (endpoint, parent, code), item in zip(items, found):
        if isinstance(item, dict):
            store.put_many(endpoint.name, [(parent, code, _as_listed(item, sources.get(endpoint)))], generations[endpoint])
            report.read_again += 1


def _as_listed(item: dict, source: Source | None) -> dict:
    """An item read alone with the values a list read with the source's `scope`, `locales` and
    `attributes` gives (a single item's read takes none of them): stored the same either way."""
    if source is None or not isinstance(item.get("values"), dict) or not (source.scope or source.locales or source.attributes):
        return item
    def kept(entry: object) -> bool:
        return not isinstance(entry, dict) or (
            (not source.locales or entry.get("locale") is None or entry.get("locale") in source.locales)
            and (not source.scope or entry.get("scope") is None or entry.get("scope") == source.scope))
    values = {code: [e for e in entries if kept(e)] if isinstance(entries, list) else entries
              for code, entries in item["values"].items() if not source.attributes or code in source.attributes}
    return item | {"values": {code: entries for code, entries in values.items() if entries}}


def _family_splits(store: Store, concurrency: int) -> list[list[dict] | None]:
    """`family` criteria that split a product read into parts read side by side (a cursor read is
    one request at a time): the known families in up to 4 groups per connection (small parts
    balance uneven families), then any other family and none. Parts may overlap (a product read
    twice is stored once); together they miss nothing."""
    families = sorted(item["code"] for _, item in store.rows("families"))
    if concurrency < 2 or not families or len(families) > MAX_SPLIT_FAMILIES:
        return [None]
    parts = min(len(families), 4 * concurrency)
    groups = [families[i::parts] for i in range(parts)]
    return [[{"operator": "IN", "value": group}] for group in groups] + [
        [{"operator": "NOT IN", "value": families}], [{"operator": "EMPTY"}]]


def _splits_pay(client: AkeneoClient, store: Store, endpoint: Endpoint, source: Source | None, since: str | None,
                split: list[dict], report: PullReport) -> bool:
    """Whether to split a read by family: as the interrupted pull being resumed chose (its reads go
    on where they stopped), else as the PIM's pages tell."""
    plain = _params(endpoint, source, since)
    begun = store.cursor_streams(endpoint.name)
    if begun:
        return _Read(endpoint, "", tuple(sorted(plain.items()))).key not in begun
    return _split_pays(client, endpoint, plain, _params(endpoint, source, since, split), report)


def _split_pays(client: AkeneoClient, endpoint: Endpoint, plain: dict, filtered: dict, report: PullReport) -> bool:
    """Whether to split a read by family: parts read side by side win when a filtered page costs
    less than about half the connections' worth of plain pages. On some PIMs (large catalogs, search
    back ends) a filtered page costs many times a plain one: there one plain read is faster."""
    path = endpoint.list_path("")

    def seconds(params: dict) -> float:
        began = time.perf_counter()
        client.get_json(path, params)
        return time.perf_counter() - began

    # The plain page twice, the quicker kept (the first also warms the connection); the filtered one
    # once, as it may be dear. A hiccup below MIN_FILTER_COST cannot decide the read.
    plain_seconds = min(seconds(plain), seconds(plain))
    filtered_seconds = seconds(filtered)
    slowdown = filtered_seconds / max(plain_seconds, 1e-3)
    if slowdown <= client.concurrency / 2 or filtered_seconds - plain_seconds < MIN_FILTER_COST:
        return True
    report.notes.append(f"{endpoint.name}: a page filtered by family took {slowdown:.1f}x a plain one: read in "
                        "one pass, not split by family")
    return False


def _params(endpoint: Endpoint, source: Source | None, since: str | None, family: list[dict] | None = None
            ) -> dict[str, str]:
    """The query of a read: paging, the declared filters, the engine's `updated` criterion and
    the family split."""
    params: dict[str, str] = {}
    if endpoint.paging == "search_after":
        params.update(pagination_type="search_after", limit="100")
    elif endpoint.paging == "offset":
        params["limit"] = "100"
    params.update(endpoint.query)
    if not endpoint.filtered:
        return params
    search = {k: v for k, v in (source.search or {} if source else {}).items() if k != "updated" or since is None}
    if family is not None:
        search["family"] = search.get("family", []) + family  # criteria on one property are ANDed
    if since is not None:
        moment = datetime.fromisoformat(since).astimezone(timezone.utc)
        fmt = PRODUCT_DATE if endpoint.paging == "search_after" else ASSET_DATE
        search["updated"] = [{"operator": ">", "value": moment.strftime(fmt)}]
    if search:
        params["search"] = json.dumps(search, separators=(",", ":"), sort_keys=True)
    if source is None:
        return params
    if source.scope:
        params["scope" if endpoint.paging == "search_after" else "channel"] = source.scope
    if source.locales:
        params["locales"] = ",".join(source.locales)
    if source.attributes and endpoint.paging == "search_after":
        params["attributes"] = ",".join(source.attributes)
    return params


def _run_reads(client: AkeneoClient, store: Store, reads: list[_Read], generations: dict, report: PullReport,
               progress: Progress) -> list[tuple[Endpoint, str, str]]:
    """Read concurrently, write here: SQLite stays on this thread, pages flow through a bounded queue.
    Returns (endpoint, parent, code) of the items identifier-only reads showed changed or new."""
    pages: queue.Queue = queue.Queue(maxsize=2 * client.concurrency)
    stop = threading.Event()
    resume = {one.key: cursor[0] for one in reads if (cursor := store.cursor(one.key)) and cursor[0] != NOT_BEGUN}
    store.begin_reads([(one.key, one.endpoint.name, generations[one.endpoint]) for one in reads if one.key not in resume])

    def hand_over(message: tuple) -> None:
        while not stop.is_set():  # never block forever on a writer that has given up
            try:
                return pages.put(message, timeout=0.2)
            except queue.Full:
                continue

    def read(one: _Read) -> None:
        try:
            start, params = (resume[one.key], None) if one.key in resume else (one.endpoint.list_path(one.parent),
                                                                               dict(one.params))
            for items, next_url in client.pages(start, params):
                if stop.is_set():
                    return
                hand_over((one, items, next_url))
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
            hand_over((one, exc, None))

    failure: BaseException | None = None
    changed: list[tuple[Endpoint, str, str]] = []
    pool = ThreadPoolExecutor(client.concurrency, thread_name_prefix="pull")
    readers = [pool.submit(read, one) for one in reads if resume.get(one.key) != FINISHED]  # resumed: done already
    try:
        while True:
            try:
                one, items, next_url = pages.get(timeout=0.1)
            except queue.Empty:
                if all(r.done() for r in readers) and pages.empty():
                    break
                continue
            if isinstance(items, BaseException):
                failure = failure or items
                stop.set()
            elif failure is None:
                changed += _write_page(store, one, items, next_url, generations[one.endpoint], report)
                progress.advance(len(items), one.endpoint.name)
    except BaseException:
        # Ctrl-C or SIGTERM: readers stop at their next page; one waiting on a silent PIM is left behind.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    stop.set()
    pool.shutdown()
    if failure is not None:
        raise failure if isinstance(failure, SourceError) else SourceError(f"pull failed: {failure!r}") from failure
    return sorted(set(changed), key=lambda found: (found[0].name, found[1], found[2]))


def _write_page(store: Store, one: _Read, items: list, next_url: str | None, pulled: int, report: PullReport
                ) -> list[tuple[Endpoint, str, str]]:
    key = one.endpoint.key
    items = [item for item in items if isinstance(item, dict) and isinstance(item.get(key), str) and item[key]]
    report.pages += 1
    if one.identifiers_only:
        seen = [(one.parent, item[key], item.get("updated")) for item in items]
        return [(one.endpoint, parent, code)
                for parent, code in store.see_page(one.endpoint.name, seen, pulled, one.key, next_url)]
    store.put_page(one.endpoint.name, [(one.parent, item[key], item) for item in items], pulled, one.key, next_url)
    return []


# -- media ------------------------------------------------------------------------------

def _download_all(client: AkeneoClient, store: Store, sources: tuple[Source, ...], report: PullReport) -> None:
    """Download what the sources' items reference into the store's media folder, each binary once
    (unchanged files skipped). A failed file is one entry of `download_errors`; the pull fails only
    when a source of that kind of binary says `download_errors: fail`."""
    fatal: list[dict] = []
    for kind in KINDS:
        holders = [s for s in sources if HOLDERS.get(s.endpoint.name) is kind]
        if not holders:
            continue
        fetched, unchanged, failures = sync_binaries(store, kind, [s.endpoint.name for s in holders],
                                                     downloader(client.download), client.concurrency)
        report.downloaded += fetched
        report.unchanged += unchanged
        report.download_errors += failures
        fatal += failures if any(s.download_errors == "fail" for s in holders) else []
    if fatal:
        raise SourceError(f"{len(fatal)} download(s) failed, first: {fatal[0]['code']}: {fatal[0]['message']}")


# What Community and Growth Editions lack (akeneo-api.md §4): these reads are left out, and jobs
# whose engine needs an Enterprise feature (the engine table says which) are skipped.
EE_ENDPOINTS = frozenset(name for name in ENDPOINTS if name.startswith(("asset", "reference-entit")))


class JobPuller:
    """Pulls the sources a job declares before it runs: in full for a full job, differentially
    (since the last complete read of the same source) for a differential one. A source read once in
    this process, by an earlier job of a chain, is not read again."""

    def __init__(self, client: AkeneoClient):
        self.client = client
        self.done: dict[str, str] = {}  # source -> mode of the read this process made of it
        self.downloaded: set[str] = set()  # endpoints whose binaries this process downloaded
        self._edition: str | None = None

    def edition(self) -> str:
        """The PIM's edition (CE, GE, EE, Serenity); PIMs older than 6.0 do not say: assume EE."""
        if self._edition is None:
            try:
                self._edition = str(self.client.get_json("system-information").get("edition") or "EE")
            except (SourceError, AttributeError):
                self._edition = "EE"
        return self._edition

    def __call__(self, job: Job, store: Store) -> dict:
        sources = job.sources
        if self.edition().upper() in ("CE", "GE"):
            if job.engine.enterprise:
                raise JobSkipped(f"job '{job.id}' needs {job.engine.enterprise}, which this {self.edition()} "
                                 "PIM does not have: skipped")
            sources = tuple(s for s in sources if s.endpoint.name not in EE_ENDPOINTS)
        differential = job.mode == "differential"
        # A full read serves every later job; a differential one, the differential jobs.
        fresh = [s for s in sources if self.done.get(_source_key(s)) not in ("full", job.mode)]
        since = None
        if differential:
            starts = [store.last_read(_source_key(s)) for s in fresh if s.endpoint.paging == "search_after"]
            since = min(starts) if starts and None not in starts else None  # a source never read: read in full
        started = utc_now()
        downloads = tuple({s.endpoint.name: s for s in sources if s.download
                           and s.endpoint.name not in self.downloaded}.values())
        report = pull(self.client, store, tuple(fresh), since=since, downloads=downloads)
        for source in fresh:
            store.record_read(_source_key(source), started)
            self.done[_source_key(source)] = "differential" if since is not None else "full"
        self.downloaded |= {source.endpoint.name for source in downloads}
        return report.as_dict()


def _source_key(source: Source) -> str:
    """A source by what decides which items its read sees."""
    return json.dumps([source.endpoint.name, source.search, source.scope, source.locales, source.attributes],
                      sort_keys=True)
