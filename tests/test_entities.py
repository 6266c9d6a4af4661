"""Reference entities (4) as library content assets with record JSON, and the full and
differential chains writing one complete site-import archive in which every XML validates."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import main
from transformer.xsd import StreamValidator, validate_file

from conftest import ROOT, archive_of

NS = {"l": "http://www.demandware.com/xml/impex/library/2006-10-31"}


def test_each_entity_is_a_content_asset_and_each_record_a_json_attribute(tmp_path: Path) -> None:
    assert main(["run", "4", "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    root = etree.parse(str(tmp_path / "latest" / "site-import/libraries/akeneo-shared-library/library.xml")).getroot()
    assert root.get("library-id") == "akeneo-shared-library"
    brand = root.find("l:content[@content-id='akeneo_entity_brand']", NS)
    record = json.loads(brand.find("l:custom-attributes/l:custom-attribute[@attribute-id='akeneo_entity_brand_nordvik']",
                                   NS).text)
    assert record["code"] == "nordvik" and {e["locale"] for e in record["values"]["label"]} <= {"en_US", "fr_FR", "de_DE"}
    assert (tmp_path / "latest" / "site-import/meta/content-attributes.xml").is_file()


def test_a_malformed_record_value_is_reported_and_the_record_kept(tmp_path: Path) -> None:
    import shutil

    from transformer.cli import demo_snapshot

    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    path = snap / "reference-entities" / "brand" / "records.json"
    records = json.loads(path.read_text())
    records[0]["values"]["broken"] = "not a list"
    path.write_text(json.dumps(records))
    assert main(["run", "4", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--config", str(ROOT)]) == 0
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "entity-import.json").read_text())
    record_id = f"akeneo_entity_brand_{records[0]['code']}"
    assert [(e["id"], e["field"]) for e in report["errors"]] == [(record_id, "values.broken")]
    root = etree.parse(str(tmp_path / "out" / "latest" / "site-import/libraries/akeneo-shared-library/library.xml")).getroot()
    text = root.find(f".//l:custom-attribute[@attribute-id='{record_id}']", NS).text
    assert json.loads(text)["values"]["label"] and "broken" not in json.loads(text)["values"]


def test_a_private_library_goes_to_the_site_folder_without_an_id(tmp_path: Path, config_dir: Path) -> None:
    content = config_dir / "mappings" / "content.yaml"
    content.write_text(content.read_text().replace("shared_library: true", "shared_library: false"))
    assert main(["run", "4", "--demo", "--out", str(tmp_path), "--config", str(config_dir)]) == 0
    library = tmp_path / "latest" / "site-import/sites/RefArch/library/library.xml"
    validate_file(library)
    assert etree.parse(str(library)).getroot().get("library-id") is None  # a site's private library has no id
    assert not (tmp_path / "latest" / "site-import/libraries").exists()
    report = json.loads((tmp_path / "latest" / "reports" / "entity-import.json").read_text())
    assert [o["output"] for o in report["outputs"]] == ["site_library", "metadata"]


@pytest.mark.parametrize("chain", ["full", "differential"])
def test_the_chains_write_one_archive_in_which_every_xml_validates(chain: str, tmp_path: Path) -> None:
    assert main(["run", chain, "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    top = archive_of(tmp_path).stem
    with zipfile.ZipFile(archive_of(tmp_path)) as archive:
        xml = [name for name in archive.namelist() if name.endswith(".xml")]
        assert f"{top}/meta/system-objecttype-extensions.xml" in xml
        assert f"{top}/libraries/akeneo-shared-library/library.xml" in xml
        assert f"{top}/catalogs/akeneo-master/catalog.xml" in xml
        for name in xml:
            validator = StreamValidator(name)
            validator.feed(archive.read(name))
            validator.close()


def test_a_record_deleted_in_the_pim_is_cleared_from_its_content_asset(tmp_path: Path) -> None:
    import shutil

    from transformer.cli import demo_snapshot

    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    store = tmp_path / "s.sqlite"
    args = ["run", "4", "--offline", "--store", str(store), "--config", str(ROOT)]
    assert main(["load", str(snap), "--store", str(store)]) == 0
    assert main(args + ["--out", str(tmp_path / "first")]) == 0
    path = snap / "reference-entities" / "brand" / "records.json"
    records = json.loads(path.read_text())
    path.write_text(json.dumps(records[1:]))
    assert main(["load", str(snap), "--store", str(store)]) == 0
    assert main(args + ["--out", str(tmp_path / "second")]) == 0
    root = etree.parse(str(tmp_path / "second" / "latest" / "site-import/libraries/akeneo-shared-library/library.xml"))
    cleared = root.find(f".//l:custom-attribute[@attribute-id='akeneo_entity_brand_{records[0]['code']}']", NS)
    assert cleared is not None and not (cleared.text or "").strip()
