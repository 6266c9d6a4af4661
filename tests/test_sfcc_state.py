"""The SFCC state simulator on tiny hand-written archives, one test per merge rule and per problem kind."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
from lxml import etree

from sfcc_state import NS, SfccState, check_archive, xsd_dir

pytestmark = pytest.mark.xsd  # the SFCC simulator merges in the order the XSDs give

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = {"catalog": "catalog.xsd", "pricebooks": "pricebook.xsd", "library": "library.xsd",
           "metadata": "metadata.xsd"}

META = f"""<metadata xmlns="{NS['m']}">
  <type-extension type-id="Product">
    <custom-attribute-definitions>
      <attribute-definition attribute-id="color"><type>string</type></attribute-definition>
      <attribute-definition attribute-id="c"><type>string</type></attribute-definition>
      <attribute-definition attribute-id="c2"><type>string</type></attribute-definition>
    </custom-attribute-definitions>
    <group-definitions>
      <attribute-group group-id="Shop">
        <attribute attribute-id="name" system="true"/>
        <attribute attribute-id="color"/><!--group-->
      </attribute-group>
    </group-definitions>
  </type-extension>
  <type-extension type-id="Category">
    <custom-attribute-definitions>
      <attribute-definition attribute-id="banner"><type>string</type></attribute-definition>
    </custom-attribute-definitions>
  </type-extension>
  <type-extension type-id="Content">
    <custom-attribute-definitions>
      <attribute-definition attribute-id="body"><type>html</type></attribute-definition>
    </custom-attribute-definitions>
  </type-extension>
</metadata>"""

HEADER = """<header><image-settings><internal-location base-path="/images"/>
  <view-types><view-type>large</view-type></view-types></image-settings></header>"""

MASTER = f"""<catalog xmlns="{NS['c']}" catalog-id="master">
  {HEADER}
  <product product-id="M1">
    <display-name xml:lang="x-default">Shirt</display-name>
    <images><image-group view-type="large"><image path="m1.jpg"/></image-group></images>
    <custom-attributes><custom-attribute attribute-id="c">1</custom-attribute></custom-attributes>
    <variations>
      <attributes>
        <variation-attribute attribute-id="color" variation-attribute-id="color">
          <variation-attribute-values>
            <variation-attribute-value value="red"/><variation-attribute-value value="blue"/>
          </variation-attribute-values>
        </variation-attribute>
      </attributes>
      <variants><variant product-id="V1"/><variant product-id="V2"/></variants>
    </variations>
    <product-links><product-link product-id="B1" type="cross-sell"/></product-links>
  </product>
  <product product-id="V1">
    <custom-attributes><custom-attribute attribute-id="color">red</custom-attribute></custom-attributes>
  </product>
  <product product-id="V2">
    <custom-attributes><custom-attribute attribute-id="color">blue</custom-attribute></custom-attributes>
  </product>
  <product product-id="B1">
    <bundled-products><bundled-product product-id="V1"><quantity>1</quantity></bundled-product></bundled-products>
  </product>
  <product product-id="S1">
    <product-set-products><product-set-product product-id="M1"/></product-set-products>
  </product>
  <!--products-->
</catalog>"""

STOREFRONT = f"""<catalog xmlns="{NS['c']}" catalog-id="storefront">
  <category category-id="root"><display-name xml:lang="x-default">Shop</display-name></category>
  <category category-id="shirts">
    <parent>root</parent>
    <custom-attributes>
      <custom-attribute attribute-id="showInMenu">true</custom-attribute>
      <custom-attribute attribute-id="banner">Summer</custom-attribute>
    </custom-attributes>
  </category>
  <!--categories-->
  <category-assignment category-id="shirts" product-id="M1"/>
  <!--assignments-->
  <recommendation source-id="M1" source-type="product" target-id="S1" target-type="product" type="1"/>
  <!--recommendations-->
</catalog>"""

PRICES = f"""<pricebooks xmlns="{NS['p']}"><pricebook>
  <header pricebook-id="list"><currency>EUR</currency></header>
  <price-tables>
    <price-table product-id="V1"><amount quantity="1">10.00</amount></price-table>
    <!--prices-->
  </price-tables>
</pricebook></pricebooks>"""

LIBRARY = f"""<library xmlns="{NS['l']}" library-id="shared">
  <content content-id="about">
    <custom-attributes>
      <custom-attribute attribute-id="body" xml:lang="x-default">Hi</custom-attribute>
    </custom-attributes>
  </content>
</library>"""

PRIVATE_LIBRARY = f"""<library xmlns="{NS['l']}">
  <content content-id="faq"><online-flag>true</online-flag></content>
</library>"""


def clean_files() -> dict[str, str | bytes]:
    """A small whole site: every reference resolves, every attribute is defined."""
    return {"meta/extensions.xml": META, "catalogs/master/catalog.xml": MASTER,
            "catalogs/master/static/default/images/m1.jpg": b"\xff\xd8",
            "catalogs/storefront/any-name.xml": STOREFRONT, "pricebooks/list.xml": PRICES,
            "libraries/shared/library.xml": LIBRARY, "sites/site1/library/library.xml": PRIVATE_LIBRARY}


@lru_cache
def schema(root_name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(xsd_dir() / SCHEMAS[root_name])))


def archive(tmp_path: Path, files: dict[str, str | bytes], name: str = "site") -> Path:
    """Zip `files` under one top folder, after checking each XML against its XSD so the fixtures stay honest."""
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            if rel.endswith(".xml"):
                data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + data).encode()
                doc = etree.fromstring(data)
                schema(etree.QName(doc).localname).assertValid(doc)
            zf.writestr(f"{name}/{rel}", data)
    return path


def with_edit(rel: str, marker: str, xml: str, files: dict | None = None) -> dict[str, str | bytes]:
    """The clean site with `xml` put in place of the comment `marker` in file `rel`."""
    files = clean_files() if files is None else files
    assert f"<!--{marker}-->" in files[rel]
    files[rel] = files[rel].replace(f"<!--{marker}-->", xml)
    return files


def problems_of(tmp_path: Path, files: dict, complete: bool = True) -> list[str]:
    return check_archive(archive(tmp_path, files), complete=complete)


def test_clean_archive_has_no_problems(tmp_path: Path) -> None:
    state = SfccState()
    assert check_archive(archive(tmp_path, clean_files()), state) == []
    assert set(state.products) == {("master", p) for p in ("M1", "V1", "V2", "B1", "S1")}
    assert set(state.categories) == {("storefront", "root"), ("storefront", "shirts")}
    assert state.assignments == {("storefront", "shirts", "M1")}
    assert state.recommendations == {("storefront", "M1", "S1", "1")}
    assert state.prices == {("list", "V1"): "10.00"}
    assert state.files == {("master", "images/m1.jpg")}
    assert state.definitions == {"Product": {"color", "c", "c2"}, "Category": {"banner"}, "Content": {"body"}}
    assert set(state.content) == {("shared", "about"), (None, "faq")}


def test_a_variant_of_two_masters_is_reported(tmp_path: Path) -> None:
    second = """<product product-id="M2">
        <variations><variants><variant product-id="V1"/></variants></variations></product>"""
    assert problems_of(tmp_path, with_edit("catalogs/master/catalog.xml", "products", second)) == [
        "variant V1 in catalog master is listed by several masters: M1, M2"]


def test_an_assignment_needs_its_category_and_product(tmp_path: Path) -> None:
    rows = """<category-assignment category-id="shoes" product-id="V1"/>
        <category-assignment category-id="shirts" product-id="X9"/>"""
    assert problems_of(tmp_path, with_edit("catalogs/storefront/any-name.xml", "assignments", rows)) == [
        "assignment to category shirts in catalog storefront names product X9, which no catalog holds",
        "assignment of product V1 names category shoes, which catalog storefront does not hold"]


def test_a_category_parent_must_be_in_the_same_catalog(tmp_path: Path) -> None:
    orphan = '<category category-id="tees"><parent>tops</parent></category>'
    assert problems_of(tmp_path, with_edit("catalogs/storefront/any-name.xml", "categories", orphan)) == [
        "category tees in catalog storefront has parent tops, which that catalog does not hold"]


def test_custom_attributes_must_be_defined_for_their_type(tmp_path: Path) -> None:
    files = with_edit("catalogs/master/catalog.xml", "products", """<product product-id="P9">
        <custom-attributes><custom-attribute attribute-id="fabric">silk</custom-attribute></custom-attributes>
        <variations><attributes><variation-attribute attribute-id="fit" variation-attribute-id="fit"/></attributes>
        </variations></product>""")
    with_edit("catalogs/storefront/any-name.xml", "categories", """<category category-id="sale"><parent>root</parent>
        <custom-attributes><custom-attribute attribute-id="ribbon">red</custom-attribute></custom-attributes>
        </category>""", files)
    files["libraries/shared/library.xml"] = LIBRARY.replace('"body"', '"teaser"')
    assert problems_of(tmp_path, files) == [
        "product P9 in catalog master uses custom attribute fabric, which no Product definition holds",
        "product P9 in catalog master uses custom attribute fit, which no Product definition holds",
        "category sale in catalog storefront uses custom attribute ribbon, which no Category definition holds",
        "content about in library shared uses custom attribute teaser, which no Content definition holds"]


def test_a_type_without_definitions_is_not_checked(tmp_path: Path) -> None:
    files = clean_files()
    del files["meta/extensions.xml"]
    assert problems_of(tmp_path, files) == []


def test_grouped_attributes_must_be_defined(tmp_path: Path) -> None:
    files = with_edit("meta/extensions.xml", "group", '<attribute attribute-id="gone"/>')
    assert problems_of(tmp_path, files) == [
        "attribute group Shop of Product names attribute gone, which no Product definition holds"]


def test_product_references_must_resolve_in_a_complete_state(tmp_path: Path) -> None:
    files = with_edit("catalogs/master/catalog.xml", "products", """<product product-id="K1">
        <bundled-products><bundled-product product-id="X1"><quantity>2</quantity></bundled-product></bundled-products>
        <product-set-products><product-set-product product-id="X2"/></product-set-products>
        <variations><variants><variant product-id="X3"/></variants></variations>
        <product-links><product-link product-id="X4" type="up-sell"/></product-links></product>""")
    with_edit("catalogs/storefront/any-name.xml", "recommendations",
              '<recommendation source-id="M1" target-id="X5" type="2"/>', files)
    assert problems_of(tmp_path, files) == [
        "variant X3 of product K1 in catalog master is not a product",
        "bundled product X1 of product K1 in catalog master is not a product",
        "product-set product X2 of product K1 in catalog master is not a product",
        "product-link target X4 of product K1 in catalog master is not a product",
        "recommendation 2 from M1 in catalog storefront targets X5, which is not a product"]
    assert problems_of(tmp_path, files, complete=False) == []


def test_images_need_their_files_unless_external(tmp_path: Path) -> None:
    files = clean_files()
    del files["catalogs/master/static/default/images/m1.jpg"]
    assert problems_of(tmp_path, files) == [
        "image m1.jpg of product M1 in catalog master has no file catalogs/master/static/default/images/m1.jpg"]
    assert problems_of(tmp_path, files, complete=False) == []
    external = '<external-location><http-url>http://img.example.com</http-url></external-location>'
    files["catalogs/master/catalog.xml"] = MASTER.replace('<internal-location base-path="/images"/>', external)
    assert problems_of(tmp_path, files) == []


def test_prices_need_their_product(tmp_path: Path) -> None:
    files = with_edit("pricebooks/list.xml", "prices",
                      '<price-table product-id="GONE"><amount quantity="1">5.00</amount></price-table>')
    assert problems_of(tmp_path, files) == ["pricebook list prices product GONE, which no catalog holds"]
    assert problems_of(tmp_path, files, complete=False) == []


def catalog(catalog_id: str, body: str) -> str:
    return f'<catalog xmlns="{NS["c"]}" catalog-id="{catalog_id}">{body}</catalog>'


def product_archive(tmp_path: Path, name: str, product: str) -> Path:
    return archive(tmp_path, {"catalogs/master/p.xml": catalog("master", product)}, name)


def test_a_delta_merges_into_the_product(tmp_path: Path) -> None:
    older = product_archive(tmp_path, "a", """<product product-id="P">
        <display-name xml:lang="x-default">X</display-name>
        <custom-attributes><custom-attribute attribute-id="c">1</custom-attribute>
        <custom-attribute attribute-id="c2">2</custom-attribute></custom-attributes></product>""")
    delta = product_archive(tmp_path, "b", """<product product-id="P">
        <display-name xml:lang="x-default">Y</display-name>
        <custom-attributes><custom-attribute attribute-id="c">3</custom-attribute>
        <custom-attribute attribute-id="c2"/></custom-attributes></product>""")
    final = product_archive(tmp_path, "c", """<product product-id="P">
        <display-name xml:lang="x-default">Y</display-name>
        <custom-attributes><custom-attribute attribute-id="c">3</custom-attribute></custom-attributes></product>""")
    merged, single = SfccState(), SfccState()
    merged.import_archive(older)
    merged.import_archive(delta)
    single.import_archive(final)
    product = etree.fromstring(merged.products["master", "P"])
    assert product.findtext("c:display-name", namespaces=NS) == "Y"
    assert {a.get("attribute-id"): a.text for a in product.iterfind("c:custom-attributes/c:custom-attribute", NS)} == {
        "c": "3"}
    assert merged.products == single.products


def test_merge_keeps_untouched_slots_in_xsd_order(tmp_path: Path) -> None:
    state = SfccState()
    state.import_archive(product_archive(tmp_path, "a", """<product product-id="P"><ean>1</ean>
        <display-name xml:lang="de">A</display-name><brand>B</brand></product>"""))
    state.import_archive(product_archive(tmp_path, "b", """<product product-id="P">
        <display-name xml:lang="fr">F</display-name><online-flag>true</online-flag></product>"""))
    tags = [(etree.QName(el).localname, el.text) for el in etree.fromstring(state.products["master", "P"])]
    assert tags == [("ean", "1"), ("display-name", "A"), ("display-name", "F"), ("online-flag", "true"),
                    ("brand", "B")]


def test_mode_delete_removes_products_categories_and_assignments(tmp_path: Path) -> None:
    state = SfccState()
    state.import_archive(archive(tmp_path, clean_files(), "full"))
    deletes = {"catalogs/master/d.xml": catalog("master", '<product product-id="S1" mode="delete"/>'),
               "catalogs/storefront/d.xml": catalog("storefront", """<category category-id="shirts" mode="delete"/>
                   <category-assignment category-id="shirts" product-id="M1" mode="delete"/>
                   <recommendation source-id="M1" target-id="S1" type="1" mode="delete"/>""")}
    assert check_archive(archive(tmp_path, deletes, "delta"), state) == []
    assert ("master", "S1") not in state.products
    assert ("storefront", "shirts") not in state.categories
    assert state.assignments == set()
    assert state.recommendations == set()


def test_a_deleted_product_leaves_its_assignment_dangling(tmp_path: Path) -> None:
    state = SfccState()
    state.import_archive(archive(tmp_path, clean_files(), "full"))
    delete = {"catalogs/master/d.xml": catalog("master", '<product product-id="M1" mode="delete"/>')}
    assert "assignment to category shirts in catalog storefront names product M1, which no catalog holds" in (
        check_archive(archive(tmp_path, delete, "delta"), state, complete=True))  # a product missing from an assignment is a whole-catalog check


def test_an_archive_needs_one_top_folder(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a/meta/x.xml", META)
        zf.writestr("b/meta/x.xml", META)
    with pytest.raises(ValueError, match="one top folder"):
        check_archive(path)


def test_the_projects_full_demo_archive_is_consistent(tmp_path: Path) -> None:
    env = {**os.environ, "SFCC_XSD_DIR": str(xsd_dir())}
    run = subprocess.run([str(Path(sys.executable).with_name("akeneo-sfcc")), "run", "full", "--demo",
                          "--out", str(tmp_path), "--config", str(ROOT)], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    (found,) = (tmp_path / "latest").glob("*.zip")
    assert check_archive(found) == []
