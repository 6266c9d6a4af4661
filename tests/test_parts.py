"""An archive cut into parts: each part a site-import zip of its own, under the limit, in import
order, and the parts imported one after the other leave the instance as the whole archive does."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import main
from transformer.deliver.auth import DeliveryError
from transformer.deliver.parts import ORDER, read_parts, split_xml, write_parts, zipped_size

from conftest import ROOT
from sfcc_state import SfccState

LIMIT = 8 * 1024  # the demo archive zips to about 70 KB
NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parts") / "out"
    assert main(["run", "full", "--demo", "--out", str(out), "--config", str(ROOT)]) == 0
    return (out / "latest").resolve()


@pytest.mark.xsd  # the SFCC simulator merges in XSD order
def test_parts_imported_in_order_hold_what_the_whole_archive_holds(demo_run: Path, tmp_path: Path) -> None:
    parts = write_parts(demo_run / "site-import", tmp_path, "run", LIMIT, "akeneo-master")
    assert len(parts) > 10 and all(p.bytes <= LIMIT for p in parts)
    assert read_parts(tmp_path) == parts
    whole, pieced = SfccState(), SfccState()
    whole.import_archive(demo_run / f"{demo_run.name}.zip")
    for part in parts:
        with zipfile.ZipFile(tmp_path / part.file) as opened:
            assert {name.split("/", 1)[0] for name in opened.namelist()} == {part.name}  # one top folder, the zip's name
            stored = [i for i in opened.infolist() if not i.filename.endswith(".xml")]
            assert all(i.compress_type == zipfile.ZIP_STORED for i in stored)  # images are not deflated again
        pieced.import_archive(tmp_path / part.file)
        assert pieced.problems(complete=False) == [], part.name  # nothing a part names is still to come
    assert pieced == whole and pieced.problems() == []


def test_parts_follow_the_import_order_and_binaries_come_last(demo_run: Path, tmp_path: Path) -> None:
    parts = write_parts(demo_run / "site-import", tmp_path, "run", LIMIT, "akeneo-master")
    ranks = []
    for part in parts:
        with zipfile.ZipFile(tmp_path / part.file) as opened:
            for name in opened.namelist():
                path = name.split("/")[1:]
                if "static" in path:
                    ranks.append(len(ORDER))
                elif path[0] == "catalogs":
                    ranks.append(ORDER.index("catalogs" if path[1] != "akeneo-master" else
                                             "master" if path[-1].startswith("catalog") else "relations"))
                else:
                    ranks.append(ORDER.index(path[0]))
    assert ranks == sorted(ranks) and ranks[0] == ORDER.index("meta") and ranks[-1] == len(ORDER)


def test_sizes_are_measured_as_zipfile_deflates(demo_run: Path) -> None:
    with zipfile.ZipFile(demo_run / f"{demo_run.name}.zip") as opened:
        entries = {info.filename.split("/", 1)[1]: info.compress_size for info in opened.infolist()}
    site_import = demo_run / "site-import"
    measured = {p.relative_to(site_import).as_posix(): zipped_size(p) for p in site_import.rglob("*") if p.is_file()}
    assert measured == entries and any(p.endswith(".xml") for p in measured)


def test_an_archive_that_fits_is_uploaded_as_it_is(demo_run: Path, tmp_path: Path) -> None:
    whole = demo_run / f"{demo_run.name}.zip"
    (part,) = write_parts(demo_run / "site-import", tmp_path, demo_run.name, 1 << 20, "akeneo-master", whole)
    assert (part.name, part.bytes) == (demo_run.name, whole.stat().st_size)
    assert (tmp_path / part.file).read_bytes() == whole.read_bytes()


def test_the_same_files_give_the_same_parts(demo_run: Path, tmp_path: Path) -> None:
    first = write_parts(demo_run / "site-import", tmp_path / "a", "run", LIMIT, "akeneo-master")
    again = write_parts(demo_run / "site-import", tmp_path / "b", "run", LIMIT, "akeneo-master")
    assert first == again
    assert all((tmp_path / "a" / p.file).read_bytes() == (tmp_path / "b" / p.file).read_bytes() for p in first)
    assert len({p.name.rsplit("-", 1)[1] for p in first}) == len(first)  # named by their content


def test_a_split_catalog_keeps_every_record_whole_once_and_in_order(demo_run: Path, tmp_path: Path) -> None:
    def records(path: Path, tag: str) -> list[bytes]:
        root = etree.parse(str(path)).getroot()
        return [etree.tostring(e, method="c14n") for e in root.findall(f"c:{tag}", NS)]

    for name in ("catalog.xml", "variations.xml", "images.xml"):
        source = demo_run / "site-import/catalogs/akeneo-master" / name
        chunks = split_xml(source, 4096, tmp_path / name)
        assert len(chunks) > 2
        pieced = [record for chunk in chunks for record in records(chunk, "product")]
        assert pieced == records(source, "product")  # each master with all its variants in one chunk
        assert {len(records(chunk, "header")) for chunk in chunks} == {len(records(source, "header"))}
    assert records(source, "header")  # images.xml: its image settings are repeated in each chunk


def test_a_split_pricebook_file_keeps_every_price_and_each_book_header(demo_run: Path, tmp_path: Path) -> None:
    ns = {"p": "http://www.demandware.com/xml/impex/pricebook/2006-10-31"}
    source = demo_run / "site-import/pricebooks/list-prices.xml"

    def prices(paths: list[Path]) -> Counter:
        found = Counter()
        for path in paths:
            for book in etree.parse(str(path)).getroot().findall("p:pricebook", ns):
                header = book.find("p:header", ns)
                assert header is not None and header.find("p:currency", ns) is not None
                for table in book.findall("p:price-tables/p:price-table", ns):
                    found[header.get("pricebook-id"), table.get("product-id"), table.findtext("p:amount", None, ns)] += 1
        return found

    chunks = split_xml(source, 2048, tmp_path)
    assert len(chunks) > 3 and prices(chunks) == prices([source])


def test_a_file_bigger_than_a_part_is_refused_with_what_to_change(tmp_path: Path) -> None:
    root = tmp_path / "site-import"
    (root / "catalogs/akeneo-master/static/default").mkdir(parents=True)
    (root / "catalogs/akeneo-master/static/default/huge.jpg").write_bytes(b"\xff" * (LIMIT + 1))
    with pytest.raises(DeliveryError, match="huge.jpg.*--part-size"):
        write_parts(root, tmp_path / "parts", "run", LIMIT, "akeneo-master")
