"""Images (3-2-3): image groups per view type from image attributes and asset collections, in
PIM order, pointing at the files the pull downloaded; masters also per level-1 model and per variant."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from transformer.cli import demo_snapshot, main

from conftest import ROOT, without_xsd_notes
from fake_akeneo import FakeAkeneo

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
IMAGES = Path("latest/site-import/catalogs/akeneo-master/images.xml")
MASTER_CATALOG = Path("latest/site-import/catalogs/akeneo-master/catalog.xml")
STATIC = Path("latest/site-import/catalogs/akeneo-master/static/default")


def test_every_image_path_is_a_file_the_pull_downloaded(tmp_path: Path, monkeypatch) -> None:
    with FakeAkeneo(demo_snapshot()) as pim:
        for name, value in {"AKENEO_URL": pim.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}.items():
            monkeypatch.setenv(name, value)
        assert main(["run", "full-master-image", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
                     "--config", str(ROOT)]) == 0
    root = etree.parse(str(tmp_path / "out" / IMAGES)).getroot()
    paths = {image.get("path") for image in root.iterfind(".//c:image", NS)}
    assert paths and all((tmp_path / "out" / STATIC / path).is_file() for path in paths)
    declared = [v.text for v in root.iterfind("c:header/c:image-settings/c:view-types/c:view-type", NS)]
    assert declared[:3] == ["large", "medium", "small"] and "small_de-DE" in declared  # per language: localized images


def test_a_failed_download_leaves_its_image_out_shows_on_the_console_and_fails_strict(tmp_path: Path, monkeypatch,
                                                                                      capsys) -> None:
    from fake_akeneo import ServerError

    with FakeAkeneo(demo_snapshot()) as pim:
        for name, value in {"AKENEO_URL": pim.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}.items():
            monkeypatch.setenv(name, value)
        pim.fail(r"^/api/rest/v1/media-files/.+_oslo_lounge_chair\.png/download$", ServerError(404))  # one image
        assert main(["run", "full-master-image", "--strict", "--store", str(tmp_path / "s.sqlite"),
                     "--out", str(tmp_path / "out"), "--config", str(ROOT)]) == 3
    out = capsys.readouterr().out
    assert "1 download(s) failed: their files are not in the archive" in out
    root = etree.parse(str(tmp_path / "out" / IMAGES)).getroot()
    assert all((tmp_path / "out" / STATIC / path).is_file() for path in root.xpath("//c:image/@path", namespaces=NS))
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-master-image.json").read_text())
    missing = [e for e in report["errors"] if "is not in the store's media folder" in e["message"]]
    assert missing and all(e["field"] == "images" for e in missing)
    assert report["status"] == "succeeded_with_errors" and len(report["pull"]["download_errors"]) == 1


def test_groups_per_view_type_and_per_colour_on_masters(tmp_path: Path) -> None:
    assert main(["run", "full-master-image", "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    root = etree.parse(str(tmp_path / IMAGES)).getroot()
    master = root.find("c:product[@product-id='ts_classic']", NS)
    groups = [(g.get("view-type"), [(v.get("attribute-id"), v.get("value")) for v in g.iterfind("c:variation", NS)])
              for g in master.iterfind(".//c:image-group", NS)]
    colours = sorted({tuple(variation) for view_type, variation in groups if len(variation) == 1})
    assert colours == [(("color", "navy"),), (("color", "red"),), (("color", "white"),)]
    variants = {tuple(variation) for view_type, variation in groups if len(variation) == 2}
    assert (("color", "red"), ("size", "m")) in variants  # one group per variant, with all its axis values
    assert {view_type for view_type, _ in groups} == {"large", "medium", "small"}
    product = root.find("c:product[@product-id='AC-BACKPACK-ALPINE-28L']", NS)
    large = product.find("c:images/c:image-group[@view-type='large']", NS)
    paths = [image.get("path") for image in large.iterfind("c:image", NS)]
    assert paths[0].endswith(".jpg") or paths[0].endswith(".png")  # image attributes first, then assets
    assert any(path.startswith("assets/") for path in paths)


def test_linked_images_with_locale_suffixed_view_types(tmp_path: Path, config_dir: Path) -> None:
    settings = config_dir / "mappings" / "assets.yaml"
    settings.write_text(settings.read_text().replace("import_type: media_file", "import_type: media_link"))
    assert main(["run", "full-master-image", "--demo", "--out", str(tmp_path), "--config", str(config_dir)]) == 0
    root = etree.parse(str(tmp_path / IMAGES)).getroot()
    assert root.findtext("c:header/c:image-settings/c:external-location/c:http-url", namespaces=NS) == "https://cdn.example.com/"
    french = root.xpath("//c:image-group[@view-type='large_fr-FR']/c:image/@path", namespaces=NS)
    assert french and all(path.startswith("lifestyle/") and path.endswith("-fr.jpg?w=1600") for path in french)
    assert not root.xpath("//c:image[starts-with(@path, 'assets/')]", namespaces=NS)  # no files in link mode
    declared = {v.text for v in root.iterfind("c:header/c:image-settings/c:view-types/c:view-type", NS)}
    assert {g.get("view-type") for g in root.iterfind(".//c:image-group", NS)} <= declared
    report = json.loads((tmp_path / "latest" / "reports" / "full-master-image.json").read_text())
    assert without_xsd_notes(report["warnings"]) == ["image attributes main_image, gallery_image are left out: with import_type media_link "
                                  "every image is a link under external_location, and image attribute files are no links"]


def test_a_malformed_image_value_is_reported_and_the_other_images_kept(tmp_path: Path) -> None:
    import shutil

    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    products = json.loads((snap / "products.json").read_text())
    product = next(p for p in products if p["values"].get("main_image") and p["values"].get("packshots"))
    product["values"]["main_image"] = "not a list"
    (snap / "products.json").write_text(json.dumps(products))
    assert main(["run", "full-master-image", "--snapshot", str(snap), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT)]) == 0
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-master-image.json").read_text())
    assert [(e["id"], e["field"]) for e in report["errors"]] == [(product["identifier"], "values.main_image")]
    root = etree.parse(str(tmp_path / "out" / IMAGES)).getroot()
    paths = root.xpath(f"//c:product[@product-id='{product['identifier']}']//c:image/@path", namespaces=NS)
    assert paths and all(path.startswith("assets/") for path in paths)  # its packshots are still there


def product_attributes(catalog: Path, product_id: str) -> dict[tuple[str, str | None], str]:
    root = etree.parse(str(catalog)).getroot()
    product = root.find(f"c:product[@product-id='{product_id}']", NS)
    return {(a.get("attribute-id"), a.get("{http://www.w3.org/XML/1998/namespace}lang")): a.text
            for a in product.iterfind(".//c:custom-attribute", NS)}


def test_non_image_assets_become_custom_attributes_of_the_products_using_them(tmp_path: Path, config_dir: Path) -> None:
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "files"), "--config", str(ROOT)]) == 0
    found = product_attributes(tmp_path / "files" / MASTER_CATALOG, "FU-LOUNGE-CHAIR-OSLO")
    assert found[("akeneo_noticeLoungeChair_document", "de-DE")].endswith("_notice_lounge_chair_de_DE.pdf?$staticlink$")
    video = product_attributes(tmp_path / "files" / MASTER_CATALOG, "FU-OAK-TABLE-160")
    assert video[("akeneo_videoOakTableAssembly_youtubeId", None)].startswith("https://www.youtube.com/watch?v=")
    assert not any(key[0].endswith("_imageUrl") for key in found)  # linked images: only with import_type both
    settings = config_dir / "mappings" / "assets.yaml"
    settings.write_text(settings.read_text().replace("import_type: media_file", "import_type: both"))
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "both"), "--config", str(config_dir)]) == 0
    users = [p for p in json.loads((demo_snapshot() / "products.json").read_text()) if p["values"].get("lifestyle")]
    both = product_attributes(tmp_path / "both" / MASTER_CATALOG, users[0]["identifier"])
    assert any(key[0].endswith("_imageUrl") and value.startswith("https://cdn.example.com/lifestyle/")
               for key, value in both.items())


def test_an_asset_collection_holding_no_codes_reports_them_and_keeps_the_rest(tmp_path) -> None:
    """A PIM's asset collection may hold lists or objects among its codes: those are reported, the
    images of the codes that are text are still written (found by the bad-input property)."""
    import json as _json
    from transformer.cli import demo_snapshot
    from transformer.config import load_config
    from transformer.pipeline import run_jobs
    from transformer.sources.snapshot import load_snapshot
    from transformer.store import Store
    from conftest import ROOT
    import shutil
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    models = _json.loads((snap / "product-models.json").read_text())
    model = next(m for m in models if m["values"].get("packshots"))
    model["values"]["packshots"][0]["data"] = [[False], {}] + model["values"]["packshots"][0]["data"]
    (snap / "product-models.json").write_text(_json.dumps(models))
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(snap, store)
        run_jobs(load_config(ROOT), "full-master-image", store, tmp_path / "out", workers=1)
    report = _json.loads((tmp_path / "out" / "latest" / "reports" / "full-master-image.json").read_text())
    assert report["status"] == "succeeded_with_errors"
    # Said by every record that reads the value (the model, or its variants when it is a sub-model).
    assert {e["message"] for e in report["errors"]} == {"asset code [false] is no text: left out",
                                                         "asset code {} is no text: left out"}
    assert report["counts"]["products_with_images"] > 0
