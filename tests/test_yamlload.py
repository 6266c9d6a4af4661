"""The strict YAML loader and the schemas behind `validate`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from transformer.sfcc import SYSTEM_ATTRIBUTES
from transformer.yamlload import load_yaml


def load(tmp_path: Path, text: str):
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml(path, "x.yaml")


def test_dates_and_numbers_stay_what_they_were_written_as(tmp_path: Path) -> None:
    loaded = load(tmp_path, "since: 2024-01-02\nat: 2024-01-02 10:00:00\nid: 0123\nflag: true\nn: 1.5\nnone: null\nq: 'yes'\n")
    assert loaded.problems == []
    assert loaded.data == {"since": "2024-01-02", "at": "2024-01-02 10:00:00", "id": 123, "flag": True, "n": 1.5,
                           "none": None, "q": "yes"}


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off"])
def test_yaml11_booleans_are_refused_with_their_position(tmp_path: Path, word: str) -> None:
    loaded = load(tmp_path, f"a:\n  b: [1, {word}]\n")
    assert [str(p) for p in loaded.problems] == [
        f"x.yaml:2:10: $.a.b[1]: '{word}' is a YAML 1.1 boolean: write true or false, or quote it for a string"]


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\n")
    assert [str(p) for p in loaded.problems] == ["x.yaml:4:3: $.b.c: duplicate key 'c' (first defined on line 3)"]


def test_positions_point_at_keys_and_items(tmp_path: Path) -> None:
    loaded = load(tmp_path, "jobs:\n  one:\n    sources:\n      - endpoint: products\n")
    assert loaded.where(("jobs", "one", "sources", 0, "endpoint")) == (4, 9)
    assert loaded.where(("jobs", "one", "missing")) == (2, 3)


def test_anchors_work_and_merge_keys_are_refused(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: &x [1, 2]\nb: *x\nc:\n  <<: {d: 1}\n")
    assert loaded.data["b"] == [1, 2]
    assert [p.message for p in loaded.problems] == ["merge keys (<<) are not supported; write the keys out"]


def test_an_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    loaded = load_yaml(tmp_path / "missing.yaml", "missing.yaml")
    assert loaded.problems and loaded.problems[0].message.startswith("cannot read file")


SCHEMAS = sorted(p.name for p in resources.files("transformer").joinpath("schemas").iterdir() if p.name.endswith(".json"))


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_property_is_described(name: str) -> None:
    schema = json.loads(resources.files("transformer").joinpath("schemas", name).read_text())
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    missing.append(f"{path}.{key}")
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}[{i}]")

    walk(schema, "$")
    assert missing == []


def test_product_schema_lists_exactly_the_system_attributes() -> None:
    schema = json.loads(resources.files("transformer").joinpath("schemas", "products.schema.json").read_text())
    assert list(schema["properties"]["system"]["properties"]) == [a.name for a in SYSTEM_ATTRIBUTES]


def test_every_yaml_file_declares_its_schema() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in [root / "jobs.yaml", *sorted((root / "mappings").glob("*.yaml"))]:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        assert (path.parent / first.split("=", 1)[1]).is_file(), f"{path}: schema path does not resolve"
