"""Catalog refinements (6): saved from an SFCC export, parsed safely, and written back by the
storefront job after each category's custom attributes (catalog.xsd order). Only what catalog.xsd
allows is kept (what is dropped is reported), the export is streamed (memory stays flat), and an
export of another catalog, or one that cannot be read to its end, leaves the saved refinements as they were."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from transformer.config import load_config
from transformer.cli import demo_snapshot, main
from transformer.engines.refinements import DEFINITIONS, XML_LANG, Allowed
from transformer.pipeline import run_jobs
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

from conftest import ROOT, SCHEMAS

CATALOG_NS = "http://www.demandware.com/xml/impex/catalog/2006-10-31"
NS = {"c": CATALOG_NS}
STOREFRONT = "akeneo-storefront"
CATALOG = "latest/site-import/catalogs/akeneo-storefront/catalog.xml"
REPORT = "latest/reports/save-catalog-refinements.json"
EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE catalog [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<catalog xmlns="http://www.demandware.com/xml/impex/catalog/2006-10-31" catalog-id="akeneo-storefront">
    <category category-id="tshirts">
        <display-name xml:lang="x-default">T-shirts</display-name>
        <refinement-definitions>
            <refinement-definition type="attribute" attribute-id="color" bucket-type="none">
                <display-name xml:lang="x-default">Colour &amp; tone &secret;</display-name>
                <sort-mode>value-name</sort-mode>
            </refinement-definition>
        </refinement-definitions>
    </category>
    <category category-id="footwear"><display-name xml:lang="x-default">Shoes</display-name></category>
</catalog>
"""
GOOD = f"""<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="{CATALOG_NS}" catalog-id="akeneo-storefront">
    <category category-id="tshirts">
        <refinement-definitions>
            <refinement-definition type="attribute" attribute-id="size" bucket-type="none">
                <display-name xml:lang="x-default">Size</display-name>
            </refinement-definition>
        </refinement-definitions>
    </category>
    <category category-id="footwear">
        <refinement-definitions>
            <refinement-definition type="price" bucket-type="thresholds">
                <display-name xml:lang="x-default">Price</display-name>
                <bucket-definitions>
                    <price-bucket currency="EUR"><threshold>50</threshold></price-bucket>
                </bucket-definitions>
            </refinement-definition>
        </refinement-definitions>
    </category>
    <product product-id="p1"><display-name xml:lang="x-default">A product</display-name></product>
</catalog>
"""


def test_refinements_are_saved_safely_and_written_back(tmp_path: Path, config_dir: Path) -> None:
    (config_dir / "export.xml").write_text(EXPORT)
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text() + "refinements_export: export.xml\n")
    config = load_config(config_dir)
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(demo_snapshot(), store)
        reports = run_jobs(config, "save-catalog-refinements", store, tmp_path / "six", workers=1)
        assert reports[0].counts["categories_with_refinements"] == 1
        assert "root:x:0" not in store.refinements("akeneo-storefront")["tshirts"]  # the entity was not expanded
        assert (": dropped 1 thing(s) catalog.xsd does not allow in <refinement-definitions>: entity reference "
                "&secret; in <display-name> (1); in 1 category (tshirts)") in reports[0].warnings[0]
        run_jobs(config, "full-import-storefront", store, tmp_path / "out", workers=1)
    root = etree.parse(str(tmp_path / "out" / "latest" / "site-import/catalogs/akeneo-storefront/catalog.xml")).getroot()
    tshirts = root.find("c:category[@category-id='tshirts']", NS)
    assert [etree.QName(child).localname for child in tshirts][-2:] == ["custom-attributes", "refinement-definitions"]
    assert tshirts.find(".//c:refinement-definition", NS).get("attribute-id") == "color"
    assert tshirts.findtext(".//c:refinement-definition/c:display-name", namespaces=NS) == "Colour & tone "
    assert root.find("c:category[@category-id='footwear']/c:refinement-definitions", NS) is None
    assert root.find("c:category[@category-id='root']/c:refinement-definitions/c:refinement-definition", NS).get("type") == "category"


# -- the command line, on a store that outlives the runs ----------------------------------------

@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """A store holding the demo PIM, loaded once: each test runs on a copy."""
    path = tmp_path_factory.mktemp("demo") / "s.sqlite"
    with Store(path) as store:
        load_snapshot(demo_snapshot(), store)
    return path


@pytest.fixture
def six(tmp_path: Path, config_dir: Path, demo_store: Path):
    """Run job 6 (or another job) through the CLI on one store, with the export written first:
    returns (exit code, stderr, report of job 6 and `out`: the run's folder, the store's refinements)."""
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text() + "refinements_export: export.xml\n")
    store = tmp_path / "s.sqlite"
    shutil.copy(demo_store, store)
    runs = iter(range(1, 100))

    def run(export: str | bytes, capsys, job: str = "6") -> tuple[int, str, dict, dict[str, str]]:
        target = config_dir / "export.xml"
        target.write_bytes(export) if isinstance(export, bytes) else target.write_text(export)
        out = tmp_path / f"out{next(runs)}"
        code = main(["run", job, "--offline", "--store", str(store), "--out", str(out), "--config", str(config_dir)])
        err = capsys.readouterr().err
        reports = out / "latest" / "reports"
        report = json.loads((reports / "save-catalog-refinements.json").read_text()) if job == "6" else {}
        with Store(store) as opened:
            return code, err, report | {"out": out}, opened.refinements(STOREFRONT)

    run.export = config_dir / "export.xml"
    return run


MESSY = f"""<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="{CATALOG_NS}" xmlns:x="urn:example:extra" catalog-id="akeneo-storefront">
    <header><x:exported-by>BM</x:exported-by></header>
    <category category-id="root">
        <refinement-definitions>
            <refinement-definition type="category" bucket-type="none">
                <display-name xml:lang="x-default">Shop by category</display-name>
                <sort-mode>category-position</sort-mode>
            </refinement-definition>
        </refinement-definitions>
    </category>
    <category category-id="tshirts">
        <refinement-definitions x:owner="merch">
            <!-- edited by hand in BM -->
            <x:note>not SFCC's</x:note>
            <refinement-definition type="attribute" attribute-id="color" bucket-type="values" colour="red">
                <cutoff-threshold>8</cutoff-threshold>
                <sort-mode>value-name</sort-mode>
                <display-name xml:lang="x-default">Colour<?marker here?> &amp; tone</display-name>
                <display-name xml:lang="de">Farbe<x:b>!</x:b></display-name>
                <fancy-widget/>
                <bucket-definitions>
                    <attribute-bucket default="false">
                        <value-list xml:lang="x-default">red|crimson</value-list>
                        <display-name xml:lang="x-default">Red</display-name>
                    </attribute-bucket>
                    <price-bucket currency="EUR"><threshold>10</threshold></price-bucket>
                    <attribute-bucket><display-name xml:lang="x-default">Blue</display-name></attribute-bucket>
                </bucket-definitions>
                <x:note>again</x:note>
            </refinement-definition>
            stray text
            <blocked-refinement-definition type="price" colour="blue"/>
        </refinement-definitions>
    </category>
    <category category-id="footwear">
        <refinement-definitions>
            <refinement-definition type="colour-picker" attribute-id="color"/>
        </refinement-definitions>
    </category>
    <category category-id="sneakers">
        <refinement-definitions>
            <refinement-definition type="price"><x:note>-</x:note></refinement-definition>
        </refinement-definitions>
    </category>
    <product product-id="p1"><display-name xml:lang="x-default">A product</display-name></product>
</catalog>
"""


@pytest.mark.xsd
def test_only_what_catalog_xsd_allows_is_kept_reported_in_one_warning_and_written_back_valid(six, capsys) -> None:
    code, _, report, saved = six(MESSY, capsys)
    assert code == 0 and report["status"] == "succeeded"
    assert report["counts"] == {"categories_with_refinements": 3, "categories_with_invalid_refinements": 1}
    dropped, invalid = report["warnings"]
    assert dropped == (
        f"{six.export}: dropped 12 thing(s) catalog.xsd does not allow in <refinement-definitions>: "
        "<x:note> in <refinement-definition> (2), attribute x:owner of <refinement-definitions> (1), "
        "comment in <refinement-definitions> (1), <x:note> in <refinement-definitions> (1), "
        "text in <refinement-definitions> (1), attribute colour of <refinement-definition> (1), "
        "<fancy-widget> in <refinement-definition> (1), processing instruction in <display-name> (1) "
        "and 3 more kind(s); in 2 categories (tshirts, sneakers)")
    assert invalid == (
        f"{six.export}: the refinement definitions of 1 category do not validate against catalog.xsd and were not "
        "saved: footwear: Element 'refinement-definition', attribute 'type': [facet 'enumeration'] The value "
        "'colour-picker' is not an element of the set {'attribute', 'category', 'price', 'promotion'}.")
    assert set(saved) == {"root", "tshirts", "sneakers"}  # footwear's would fail the storefront job: not saved
    tshirts = etree.fromstring(saved["tshirts"])
    assert tshirts.nsmap == {None: CATALOG_NS} and "urn:example:extra" not in saved["tshirts"]
    definition = tshirts.find("c:refinement-definition", NS)
    assert dict(definition.attrib) == {"type": "attribute", "attribute-id": "color", "bucket-type": "values"}
    assert [etree.QName(c).localname for c in definition] == [  # catalog.xsd's order
        "display-name", "display-name", "sort-mode", "cutoff-threshold", "bucket-definitions"]
    assert [c.text for c in definition.findall("c:display-name", NS)] == ["Colour & tone", "Farbe"]
    buckets = definition.find("c:bucket-definitions", NS)  # an xsd:choice: the first kind only
    assert [etree.QName(b).localname for b in buckets] == ["attribute-bucket", "attribute-bucket"]
    assert [etree.QName(c).localname for c in buckets[0]] == ["display-name", "value-list"]
    assert tshirts.find("c:blocked-refinement-definition", NS).attrib == {"type": "price"}
    assert (tshirts.text or "").strip() == ""

    code, _, report, _ = six(MESSY, capsys, job="full-import-storefront")  # validated by the tool as it writes
    assert code == 0
    root = etree.parse(str(report["out"] / CATALOG)).getroot()
    assert root.find("c:category[@category-id='tshirts']/c:refinement-definitions", NS) is not None
    assert root.find("c:category[@category-id='footwear']/c:refinement-definitions", NS) is None
    assert root.findtext("c:category[@category-id='root']/c:refinement-definitions/c:refinement-definition/"
                         "c:display-name", namespaces=NS) == "Shop by category"  # the saved one, not the default


@pytest.mark.xsd
def test_what_is_kept_is_what_catalog_xsd_declares() -> None:
    """The table of what is allowed under <refinement-definitions>, read from catalog.xsd itself."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema = etree.parse(str(SCHEMAS.folder / "catalog.xsd")).getroot()
    types = {t.get("name"): t for t in schema.iter(f"{xs}complexType") if t.get("name")}

    def allowed(type_name: str) -> Allowed:
        if type_name not in types:  # a simple type
            return Allowed()
        declared = types[type_name]
        attributes = frozenset(XML_LANG if a.get("ref") == "xml:lang" else a.get("name")
                               for a in declared.iter(f"{xs}attribute"))
        if declared.find(f"{xs}simpleContent") is not None:
            return Allowed(attributes)
        group = declared.find(f"{xs}sequence")
        group = declared.find(f"{xs}choice") if group is None else group
        children = () if group is None else tuple((e.get("name"), allowed(e.get("type"))) for e in group)
        return Allowed(attributes, children, group is not None and group.tag == f"{xs}choice")

    assert allowed("complexType.RefinementDefinitions") == DEFINITIONS


# -- a foreign or broken export: refused, and what was saved stays as it was --------------------

BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE catalog [<!ENTITY lol0 "lol">'
                  + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)) + "]>\n"
                  + GOOD.split("\n", 1)[1].replace(">Size<", ">Size &lol9;<").replace('attribute-id="size"',
                                                                                       'attribute-id="&lol9;"'))
FOREIGN = {
    "another namespace": (GOOD.replace(CATALOG_NS, "http://www.demandware.com/xml/impex/pricebook/2006-10-31"),
                          "is not an SFCC catalog export: its root element is <catalog> in namespace "
                          "http://www.demandware.com/xml/impex/pricebook/2006-10-31, expected <catalog> in namespace "
                          f"{CATALOG_NS}"),
    "no namespace": (GOOD.replace(f' xmlns="{CATALOG_NS}"', ""),
                     "is not an SFCC catalog export: its root element is <catalog> in no namespace"),
    "another root": (f'<pricebooks xmlns="{CATALOG_NS}"/>', "its root element is <pricebooks> in namespace"),
    "another catalog": (GOOD.replace('catalog-id="akeneo-storefront"', 'catalog-id="outlet-storefront"'),
                        "is an export of catalog 'outlet-storefront', expected the storefront catalog "
                        "'akeneo-storefront' (storefront_catalog in the site settings)"),
    "no catalog-id": (GOOD.replace(' catalog-id="akeneo-storefront"', ""),
                      "names no catalog-id, expected the storefront catalog 'akeneo-storefront'"),
    "the master catalog": (GOOD.replace('catalog-id="akeneo-storefront"', 'catalog-id="akeneo-master"'),
                           "is an export of the master catalog 'akeneo-master': job 6 reads the refinements of the "
                           "storefront catalog 'akeneo-storefront', export that one"),
    "truncated after the categories": (GOOD[:GOOD.index("A product")], "not a readable catalog export"),
    "content after the root": (GOOD + "<catalog/>", "not a readable catalog export"),
    "not XML": (b"PK\x03\x04 a zip, not the XML in it", "not a readable catalog export"),
    "empty": ("", "not a readable catalog export"),
    "billion laughs": (BILLION_LAUGHS, "not a readable catalog export"),
}


@pytest.mark.parametrize("case", FOREIGN)
def test_a_foreign_or_broken_export_fails_and_keeps_the_saved_refinements(six, capsys, case: str) -> None:
    code, _, _, good = six(GOOD, capsys)
    assert code == 0 and set(good) == {"tshirts", "footwear"}
    export, expected = FOREIGN[case]
    started = time.monotonic()
    code, err, report, saved = six(export, capsys)
    assert time.monotonic() - started < 5  # the billion laughs are not expanded
    assert code == 1 and saved == good
    assert report["status"] == "failed" and str(six.export) in report["reason"] and expected in report["reason"]
    assert "nothing was saved, the refinements saved before are kept" in report["reason"]
    assert err.strip().splitlines()[-1] == f"error: {report['reason']}"
    summary = json.loads((report["out"] / "latest" / "run.json").read_text())
    assert summary["status"] == "failed" and summary["reason"] == report["reason"]


def test_the_saved_refinements_are_replaced_all_at_once(tmp_path: Path) -> None:
    class Failing(dict):
        def items(self):
            yield "tshirts", "<refinement-definitions/>"
            raise OSError("disk gone")

    with Store(tmp_path / "s.sqlite") as store:
        store.save_refinements(STOREFRONT, {"footwear": "<a/>", "sneakers": "<b/>"})
        with pytest.raises(OSError):
            store.save_refinements(STOREFRONT, Failing())
        assert store.refinements(STOREFRONT) == {"footwear": "<a/>", "sneakers": "<b/>"}
        store.save_refinements(STOREFRONT, {"tshirts": "<c/>"})
        assert store.refinements(STOREFRONT) == {"tshirts": "<c/>"}


# -- safe against what an export from outside may hold -----------------------------------------

def test_no_external_entity_dtd_or_parameter_entity_is_fetched(six, capsys) -> None:
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY leak "LEAKED">' if self.path.endswith(".dtd") else b"LEAKED")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        export = GOOD.replace('<?xml version="1.0" encoding="UTF-8"?>\n', (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE catalog SYSTEM "{url}/catalog.dtd" [\n'
            f'  <!ENTITY % remote SYSTEM "{url}/remote.dtd"> %remote;\n'
            f'  <!ENTITY net SYSTEM "{url}/secret">\n'
            '  <!ENTITY file SYSTEM "file:///etc/hostname">\n]>\n')).replace(">Size<", ">Size &net;&file;&leak;<")
        code, _, report, saved = six(export, capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0 and asked == []
    assert "LEAKED" not in saved["tshirts"] and "&" not in saved["tshirts"]
    assert etree.fromstring(saved["tshirts"]).findtext(".//c:display-name", namespaces=NS) == "Size "
    assert ("entity reference &net; in <display-name> (1), entity reference &file; in <display-name> (1), "
            "entity reference &leak; in <display-name> (1)") in report["warnings"][0]


# -- streamed: memory stays flat whatever the size of the export --------------------------------

PEAK = """
import sys
from pathlib import Path

from lxml import etree

from transformer import xsd
from transformer.engines.refinements import read_refinements


def peak_kib() -> int:  # the process's peak resident memory: what lxml allocates in C is in it
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))


xsd.schema("catalog.xsd")  # compiled before the measure starts
before = peak_kib()
if sys.argv[1] == "stream":
    found = read_refinements(Path(sys.argv[2]), "akeneo-storefront")
    print(len(found.fragments), peak_kib() - before)
else:
    tree = etree.parse(sys.argv[2])
    print(len(tree.getroot()), peak_kib() - before)
"""


def write_export(path: Path, products: int) -> int:
    """A valid storefront export: 5 categories with refinements, then `products` products with
    some text, written as it is generated; returns its size."""
    text = "A long description of the product, long enough to weigh something in memory. " * 2
    with path.open("w", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<catalog xmlns="{CATALOG_NS}" catalog-id="{STOREFRONT}">\n')
        for n in range(5):
            out.write(f'<category category-id="c{n}"><refinement-definitions><refinement-definition type="attribute" '
                      f'attribute-id="color"><display-name xml:lang="x-default">Colour {n}</display-name>'
                      '</refinement-definition></refinement-definitions></category>\n')
        for start in range(0, products, 1000):
            out.write("".join(
                f'<product product-id="p{n:06d}"><display-name xml:lang="x-default">Product {n}</display-name>'
                f'<long-description xml:lang="x-default">{text}</long-description></product>\n'
                for n in range(start, min(start + 1000, products))))
        out.write("</catalog>\n")
    return path.stat().st_size


def peak_growth(mode: str, path: Path) -> tuple[int, int]:
    """(what was read, how much the peak memory of a fresh process reading `path` grew, in MiB)."""
    done = subprocess.run([sys.executable, "-c", PEAK, mode, str(path)], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    count, kib = map(int, done.stdout.split())
    return count, kib // 1024


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak memory from /proc")
def test_a_large_export_is_streamed_in_flat_memory(tmp_path: Path) -> None:
    size = write_export(tmp_path / "large.xml", 200_000)
    assert size > 60 * 2**20
    categories, growth = peak_growth("stream", tmp_path / "large.xml")
    assert categories == 5 and growth < 16, f"reading a {size >> 20} MiB export grew the peak memory by {growth} MiB"
    # The measure sees lxml's memory: a tree of a tenth of the products alone grows it past that bound.
    write_export(tmp_path / "small.xml", 20_000)
    elements, control = peak_growth("tree", tmp_path / "small.xml")
    assert elements == 20_005 and control > 16
