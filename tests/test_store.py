"""The store and the snapshot source: API-shaped JSON in, streamed entities and run state out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transformer.errors import SourceError
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


def test_snapshot_files_mirror_api_paths(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    write(snap / "attributes.json", [{"code": "color", "type": "pim_catalog_simpleselect"}])
    write(snap / "attributes" / "color" / "options.json", {"_embedded": {"items": [{"code": "red", "attribute": "color"}]}})
    write(snap / "families" / "shirts" / "variants.json", [{"code": "by_color"}])
    write(snap / "reference-entities" / "brand" / "attributes" / "style" / "options.json", [{"code": "modern"}])
    write(snap / "products.jsonl", '{"identifier": "b", "values": {}}\n\n{"identifier": "a", "values": {}}\n')
    write(snap / "system-information.json", {"version": "7.0.0", "edition": "EE"})
    write(snap / "media-files" / "1" / "a.png", "binary, ignored")
    with Store(tmp_path / "s.sqlite") as store:
        loaded = load_snapshot(snap, store)
        assert loaded.warnings == []
        assert loaded.items == {"attributes": 1, "attribute-options": 1, "family-variants": 1, "products": 2,
                          "reference-entity-attribute-options": 1, "system-information": 1}
        assert [p["identifier"] for p in store.iter("products")] == ["a", "b"]
        assert store.get("attribute-options", "red", parent="color") == {"code": "red", "attribute": "color"}
        assert store.get("reference-entity-attribute-options", "modern", parent="brand/style") == {"code": "modern"}
        assert store.get("family-variants", "by_color", parent="shirts") is not None


def test_reloading_a_snapshot_replaces_what_it_covers(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    write(snap / "products.json", [{"identifier": "a"}, {"identifier": "b"}])
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(snap, store)
        write(snap / "products.json", [{"identifier": "c"}])
        load_snapshot(snap, store)
        assert [p["identifier"] for p in store.iter("products")] == ["c"]


def test_a_snapshot_of_changes_adds_and_updates_and_deletes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "full" / "products.json", [{"identifier": "a", "enabled": True}, {"identifier": "b"}])
    write(tmp_path / "changes" / "products.json", [{"identifier": "b", "enabled": False}, {"identifier": "c"}])
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(tmp_path / "full", store)
        before = store.version()
        loaded = load_snapshot(tmp_path / "changes", store, changes=True)
        assert loaded.items == {"products": 2} and loaded.warnings == []
        assert [p["identifier"] for p in store.iter("products")] == ["a", "b", "c"]
        assert store.get("products", "b") == {"identifier": "b", "enabled": False}
        assert store.changed_codes("products", before) == {"b", "c"} and store.gone_since("products", before) == []


@pytest.mark.parametrize("name, content, message", [
    ("products.json", "[{", "products.json:1:3: invalid JSON"),
    ("products.json", "[1]", "item 1 is not a JSON object"),
    ("products.json", '{"_embedded": 5}', "expected a JSON array"),
    ("products.json", b'[{"identifier": "caf\xe9"}]', "not UTF-8"),
    ("prodcuts.json", "[]", "files match no Akeneo endpoint: prodcuts.json"),
])
def test_bad_snapshots_are_clear_errors(tmp_path: Path, name: str, content, message: str) -> None:
    if isinstance(content, bytes):
        (tmp_path / "snap").mkdir()
        (tmp_path / "snap" / name).write_bytes(content)
    else:
        write(tmp_path / "snap" / name, content)
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(SourceError, match=message.replace("[", r"\[")):
        load_snapshot(tmp_path / "snap", store)


def test_items_without_code_and_duplicates_are_warnings(tmp_path: Path) -> None:
    write(tmp_path / "snap" / "products.json", [{"identifier": "a"}, {"uuid": "u-1", "identifier": None},
                                                {"identifier": "a", "enabled": False}, {"identifier": "b"}])
    with Store(tmp_path / "s.sqlite") as store:
        loaded = load_snapshot(tmp_path / "snap", store)
        assert loaded.items == {"products": 2}
        assert loaded.warnings == ["products.json: 1 item(s) without 'identifier' skipped",
                                   "products: 1 item(s) repeat the code of another; the last one is kept"]
        assert store.get("products", "a") == {"identifier": "a", "enabled": False}


def test_output_state_moves_forward_only_with_a_committed_run(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        assert store.output_state("catalog.xml") is None
        store.begin_run("r1", "job")
        store.stage_output("r1", "catalog.xml", 7, "f1")
        store.stage_assignments("r1", [("cat", "p", "c")])
        assert store.output_state("catalog.xml") is None and store.assigned("cat", "p") == set()  # staged only
        store.commit_run("r1")
        assert store.output_state("catalog.xml") == (7, "f1") and store.assigned("cat", "p") == {"c"}
        store.begin_run("r2", "job")
        store.stage_output("r2", "catalog.xml", 9, "f2")
        store.stage_assignments("r2", [("cat", "p", None)])
        store.fail_run("r2")
        store.begin_run("r3", "job")  # a run killed without a word: the next one forgets what it staged
        store.stage_output("r3", "catalog.xml", 11, "f3")
        assert store.begin_run("r4", "job") == ["r3"]  # it says which runs it found left running
        store.commit_run("r4")
        assert store.output_state("catalog.xml") == (7, "f1") and store.assigned("cat", "p") == {"c"}
        statuses = [row[0] for row in store.db.execute("SELECT status FROM runs ORDER BY id")]
        assert statuses == ["committed", "failed", "interrupted", "committed"]


def test_a_reread_changes_no_version_and_a_deletion_gets_one(tmp_path: Path) -> None:
    write(tmp_path / "snap" / "products.json", [{"identifier": "a", "enabled": True}, {"identifier": "b"}])
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(tmp_path / "snap", store)
        loaded = store.version()
        load_snapshot(tmp_path / "snap", store)
        assert [code for code, _ in store.changed_raw("products", loaded)] == []
        write(tmp_path / "snap" / "products.json", [{"identifier": "a", "enabled": False}])
        load_snapshot(tmp_path / "snap", store)
        assert [code for code, _ in store.changed_raw("products", loaded)] == ["a"]
        assert store.gone_since("products", loaded) == [("b", {"identifier": "b"})]


def test_enabled_below_looks_through_sub_models(tmp_path: Path) -> None:
    write(tmp_path / "snap" / "product-models.json", [{"code": "root", "parent": None}, {"code": "sub", "parent": "root"},
                                                     {"code": "off", "parent": None}])
    write(tmp_path / "snap" / "products.json", [{"identifier": "a", "parent": "sub", "enabled": True},
                                                {"identifier": "b", "parent": "off", "enabled": False}])
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(tmp_path / "snap", store)
        assert store.enabled_below("root") and store.enabled_below("sub") and not store.enabled_below("off")


_data = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.lists(st.text(max_size=3), max_size=2))
_entry = st.one_of(st.fixed_dictionaries({"locale": st.none(), "scope": st.none(), "data": _data}), st.text(max_size=3),
                   st.integers())
_values = st.one_of(st.dictionaries(st.sampled_from(["image", "file", "name", 'odd"code']),
                                    st.one_of(st.lists(_entry, max_size=3), st.text(max_size=3)), max_size=4),
                    st.lists(st.integers(), max_size=2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_values, min_size=1, max_size=6))
def test_sqlite_finds_the_value_texts_a_python_walk_finds(tmp_path: Path, values: list) -> None:
    """The media a pull downloads are the texts SQLite reads from the stored JSON: the same as walking
    the decoded items, malformed values included."""
    from transformer.sources.media import _codes

    attributes = {"image", "file", 'odd"code'}
    path = tmp_path / f"s{abs(hash(json.dumps(values, sort_keys=True)))}.sqlite"
    with Store(path) as store:
        store.put_many("products", [("", f"p{i}", {"identifier": f"p{i}", "values": v}) for i, v in enumerate(values)])
        walked = {code for item in store.iter("products") for code in _codes(item, attributes.__contains__)}
        assert store.value_texts("products", attributes) == walked
