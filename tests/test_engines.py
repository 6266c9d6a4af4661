"""The engine table: jobs.schema.json enumerates it (for editors), and every engine passes one
standard suite, generated from the table and the jobs that jobs.yaml declares for it: on the demo
PIM each job writes XSD-valid files, the same bytes on a second run, a report listing each file,
and a second differential run with no change in the PIM writes no product."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.config import load_config
from transformer.engines import ENGINES
from transformer.settings import Engine
from transformer.xsd import validate_file

from conftest import ROOT, copy_config

pytestmark = pytest.mark.xsd  # every job's output is checked against the SFCC XSDs

SCHEMA = resources.files("transformer").joinpath("schemas", "jobs.schema.json")
JOBS = load_config(ROOT).jobs
# Elements a run writes per changed product: none may be left after a differential run with no change.
PER_PRODUCT = ("product", "category-assignment", "recommendation", "price-table")
EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="http://www.demandware.com/xml/impex/catalog/2006-10-31" catalog-id="akeneo-storefront">
    <category category-id="tshirts">
        <refinement-definitions>
            <refinement-definition type="attribute" attribute-id="color" bucket-type="none">
                <display-name xml:lang="x-default">Colour</display-name>
            </refinement-definition>
        </refinement-definitions>
    </category>
</catalog>
"""


def engine_rules(engine: Engine) -> dict:
    """What jobs.schema.json says of the jobs naming `engine`, from its row in the table."""
    roles = engine.roles + engine.optional_roles

    def names(allowed) -> dict:
        return {"propertyNames": {"enum": list(allowed)}} if allowed else {"maxProperties": 0}

    outputs = {name: {"description": f"Output '{name}': its record templates by kind ({', '.join(kinds)}).",
                      "properties": {"record_templates": {
                          "description": f"One template per kind of record: {', '.join(kinds)}.",
                          "required": list(kinds), **names(kinds)}}}
               for name, kinds in engine.outputs.items()}
    return {"if": {"properties": {"engine": {"description": f"Engine {engine.name}.", "const": engine.name}},
                   "required": ["engine"]},
            "then": {"description": f"Engine {engine.name}: {engine.description}.", "properties": {
                "mode": {"description": f"Modes of engine {engine.name}: {', '.join(engine.modes)}.",
                         "enum": list(engine.modes)},
                "mappings": {"description": f"Mapping roles of engine {engine.name}: {', '.join(roles)}"
                                            f" ({', '.join(engine.roles)} required).",
                             "required": list(engine.roles), **names(roles)},
                "outputs": {"description": f"Outputs of engine {engine.name}: {', '.join(engine.outputs) or 'none'}.",
                            "required": list(engine.outputs), **names(engine.outputs),
                            "properties": outputs}}}}


def test_the_jobs_schema_enumerates_the_engine_table() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    job = schema["$defs"]["job"]
    expected_enum, expected_rules = sorted(ENGINES), [engine_rules(e) for e in ENGINES.values()]
    if os.environ.get("UPDATE_SCHEMA"):
        job["properties"]["engine"]["enum"], job["allOf"] = expected_enum, expected_rules
        Path(str(SCHEMA)).write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert job["properties"]["engine"]["enum"] == expected_enum, "regenerate with UPDATE_SCHEMA=1"
    assert job["allOf"] == expected_rules, "regenerate with UPDATE_SCHEMA=1"


def test_every_engine_has_a_job_in_jobs_yaml() -> None:
    assert {job.engine.name for job in JOBS.values()} == set(ENGINES)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """The shipped config, with a catalog export for the refinements engine to read."""
    root = copy_config(tmp_path_factory.mktemp("config"))
    (root / "export.xml").write_text(EXPORT)
    settings = root / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text() + "refinements_export: export.xml\n")
    return root


def run(config: Path, job: str, out: Path, *source: str) -> dict:
    assert main(["run", job, *(source or ("--demo",)), "--out", str(out), "--config", str(config)]) == 0
    return json.loads((out / "latest" / "reports" / f"{job}.json").read_text())


def written(out: Path) -> dict[str, bytes]:
    root = out / "latest" / "site-import"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.xml"))} if root.is_dir() else {}


@pytest.mark.parametrize("job", sorted(JOBS), ids=lambda j: f"{JOBS[j].engine.name}:{j}")
def test_standard_suite(job: str, config: Path, tmp_path: Path) -> None:
    engine = JOBS[job].engine
    report = run(config, job, tmp_path / "first")
    files = written(tmp_path / "first")
    for name in files:
        validate_file(tmp_path / "first" / "latest" / "site-import" / name)
    assert all(o["output"] in engine.outputs for o in report["outputs"])
    assert sorted(o["path"] for o in report["outputs"]) == sorted(files)
    assert all(o["xsd_valid"] and o["bytes"] == len(files[o["path"]]) for o in report["outputs"])
    assert bool(files) == bool(engine.outputs), "an engine with outputs writes a file"

    run(config, job, tmp_path / "second")
    assert written(tmp_path / "second") == files, "a second run on the same PIM writes other bytes"

    if JOBS[job].mode == "differential":
        store = tmp_path / "store.sqlite"
        assert main(["load", str(demo_snapshot()), "--store", str(store)]) == 0
        run(config, job, tmp_path / "delta-1", "--offline", "--store", str(store))
        again = run(config, job, tmp_path / "delta-2", "--offline", "--store", str(store))
        for name, xml in written(tmp_path / "delta-2").items():
            tags = {etree.QName(e).localname for e in etree.fromstring(xml).iter() if isinstance(e.tag, str)}
            assert not tags & set(PER_PRODUCT), f"{name}: a differential run with no change wrote {tags & set(PER_PRODUCT)}"
        assert again["counts"].get("products_to_write_again", 0) == 0
