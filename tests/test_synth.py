"""The synthetic catalog's shapes: the light one as it always was, the heavy one a retail product."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from transformer import synth
from transformer.cli import demo_snapshot
from transformer.synth import generate

TOOL = Path(sys.executable).with_name("akeneo-sfcc")
HEAVY_CODES = synth._Heavy.codes()
LOCALES = ["en_US", "fr_FR", "de_DE"]  # the demo's `ecommerce` channel, the one mappings/site.yaml exports


def lines(folder: Path, name: str = "products.jsonl") -> list[dict]:
    return [json.loads(line) for line in (folder / name).open(encoding="utf-8")]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shapes")
    for shape in synth.SHAPES:
        generate(demo_snapshot(), folder / shape, 120, shape=shape)
    return {shape: folder / shape for shape in synth.SHAPES}


# sha256 of the light shape's files for 120 products, as every benchmark figure before the heavy
# shape was measured on: a change to it makes old and new figures incomparable.
LIGHT_120 = "987a420a22564e3c11842a26b07245f64a54988ca78923d004681cfb14e5fc0a"


def test_the_light_shape_writes_what_it_always_wrote(shapes) -> None:
    digest = hashlib.sha256()
    for name in ("products.jsonl", "product-models.jsonl", "attributes.json", "families.json"):
        digest.update((shapes["light"] / name).read_bytes())
    assert digest.hexdigest() == LIGHT_120


def test_heavy_products_are_light_ones_with_60_more_attributes(shapes) -> None:
    light, heavy = lines(shapes["light"]), lines(shapes["heavy"])
    assert [p["uuid"] for p in light] == [p["uuid"] for p in heavy]  # the same draws, plus the values
    for thin, thick in zip(light, heavy):
        assert set(thin["values"]) <= set(thick["values"])
        assert len(thick["values"]) - len(thin["values"]) >= 60
        assert set(HEAVY_CODES) <= set(thick["values"])
    roots = [m for m in lines(shapes["heavy"], "product-models.jsonl") if not m["parent"]]
    assert roots and all(set(HEAVY_CODES) <= set(m["values"]) for m in roots)


def test_heavy_texts_and_descriptions_are_in_every_channel_locale(shapes) -> None:
    items = lines(shapes["heavy"]) + [m for m in lines(shapes["heavy"], "product-models.jsonl") if not m["parent"]]
    for item in items:
        values = item["values"]
        for code in synth.LOCALIZED:
            assert sorted(e["locale"] for e in values[code]) == sorted(LOCALES), (item.get("identifier"), code)
        for code, scope in (("description", "ecommerce"), ("short_description", None), ("meta_description", None)):
            present = {e["locale"] for e in values[code] if e["scope"] == scope and e["data"]}
            assert set(LOCALES) <= present, (item.get("identifier") or item["code"], code)
        for code in HEAVY_CODES:
            if code not in synth.LOCALIZED:
                assert [e["locale"] for e in values[code]] == [None]


def test_heavy_lines_are_plain_json_dumps(shapes) -> None:
    for name in ("products.jsonl", "product-models.jsonl"):
        for line in (shapes["heavy"] / name).open(encoding="utf-8"):
            assert json.dumps(json.loads(line), ensure_ascii=False) + "\n" == line


def test_the_heavy_attributes_are_declared_with_their_options_and_families(shapes) -> None:
    folder = shapes["heavy"]
    attributes = {a["code"]: a for a in json.loads((folder / "attributes.json").read_text(encoding="utf-8"))}
    assert set(HEAVY_CODES) <= set(attributes) and len(HEAVY_CODES) == 60
    assert sum(attributes[c]["localizable"] for c in HEAVY_CODES) == 20
    for family in json.loads((folder / "families.json").read_text(encoding="utf-8")):
        assert set(HEAVY_CODES) <= set(family["attributes"])
    used = {(code, p["values"][code][0]["data"]) for p in lines(folder) for code in synth.SELECTS}
    for code in synth.SELECTS:
        assert attributes[code]["type"] == "pim_catalog_simpleselect"
        options = json.loads((folder / "attributes" / code / "options.json").read_text(encoding="utf-8"))
        assert {(code, o["code"]) for o in options} >= {pair for pair in used if pair[0] == code}


def test_the_heavy_shape_is_deterministic_for_a_seed(tmp_path: Path, shapes) -> None:
    generate(demo_snapshot(), tmp_path / "again", 120, shape="heavy")
    generate(demo_snapshot(), tmp_path / "other", 120, seed=8, shape="heavy")
    written = sorted(p.relative_to(shapes["heavy"]) for p in shapes["heavy"].rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    for name in written:
        assert (shapes["heavy"] / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert (tmp_path / "other" / "products.jsonl").read_bytes() != (shapes["heavy"] / "products.jsonl").read_bytes()


def test_an_unknown_shape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown shape 'medium'"):
        generate(demo_snapshot(), tmp_path, 1, shape="medium")


@pytest.mark.xsd
def test_a_heavy_snapshot_loads_and_its_master_catalog_validates(tmp_path: Path) -> None:
    generate(demo_snapshot(), tmp_path / "snap", 50, shape="heavy")
    store, out = tmp_path / "store.sqlite", tmp_path / "out"
    env = os.environ | {"NO_COLOR": "1"}
    for argv in (["load", tmp_path / "snap", "--store", store],
                 ["run", "full-import-master", "--offline", "--store", store, "--out", out]):
        done = subprocess.run([TOOL, *map(str, argv)], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "0 record errors" in done.stdout and "0 warnings" in done.stdout, done.stdout
    catalog = next((out / "latest" / "site-import" / "catalogs").glob("*/catalog.xml")).read_text(encoding="utf-8")
    assert catalog.count('attribute-id="akeneo_careInstructions" xml:lang="de-DE"') >= 50
    assert catalog.count('attribute-id="akeneo_countryOfOrigin"') >= 50
