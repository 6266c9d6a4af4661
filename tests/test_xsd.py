"""The validate stage catches what the XSDs forbid, streams, and needs the XSDs to be there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from transformer import xsd
from transformer.errors import InvalidOutput, TransformerError
from transformer.package import write_validated

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<catalog xmlns="http://www.demandware.com/xml/impex/catalog/2006-10-31" catalog-id="c">'


@pytest.mark.xsd
def test_element_order_is_enforced(tmp_path: Path) -> None:
    bad = HEAD + '<product product-id="p"><display-name xml:lang="x-default">n</display-name><ean>1</ean></product></catalog>'
    with pytest.raises(InvalidOutput, match="ean"):
        write_validated(tmp_path / "catalog.xml", [bad])
    assert not list(tmp_path.iterdir()), "an invalid file must not be left behind, not even a temp file"


def test_a_valid_document_streamed_in_tiny_chunks(tmp_path: Path) -> None:
    doc = HEAD + "".join(f'<product product-id="p{i}"><ean>{i}</ean></product>' for i in range(2000)) + "</catalog>"
    size = write_validated(tmp_path / "catalog.xml", (doc[i:i + 7] for i in range(0, len(doc), 7)))
    assert size == len(doc.encode()) and (tmp_path / "catalog.xml").read_text() == doc


def test_unknown_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidOutput, match="no SFCC schema for root element <inventory>"):
        write_validated(tmp_path / "x.xml", ['<?xml version="1.0"?><inventory/>'])


def test_a_failing_render_leaves_the_previous_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "catalog.xml"
    target.write_text("previous")

    def chunks():
        yield HEAD
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        write_validated(target, chunks())
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["catalog.xml"]


def test_a_named_folder_without_xsds_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TransformerError, match="SFCC_XSD_DIR names .*, which holds no catalog.xsd"):
        xsd.find_schemas(environ={"SFCC_XSD_DIR": str(tmp_path)})


@pytest.mark.xsd
def test_every_schema_the_tool_uses_compiles_offline() -> None:
    for filename in xsd.SCHEMA_BY_ROOT.values():
        assert xsd.schema(filename) is not None


@pytest.mark.xsd
def test_an_invalid_output_names_its_templates(capsys, config_dir: Path, tmp_path: Path) -> None:
    from transformer.cli import main

    template = config_dir / "templates" / "catalog" / "product.xml.j2"
    text = template.read_text()
    template.write_text(text.replace("</product>", "<bogus/></product>", 1))
    code = main(["run", "full-import-master", "--demo", "--config", str(config_dir), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "does not validate against the SFCC XSD" in err and "bogus" in err
    assert "line 0" not in err  # a streaming parser's schema errors carry no line: none is made up
    assert "written by templates/catalog/master.xml.j2, templates/catalog/product.xml.j2" in err


@pytest.mark.xsd
def test_an_invalid_output_names_the_record_and_its_line(capsys, config_dir: Path, tmp_path: Path) -> None:
    from transformer.cli import main

    template = config_dir / "templates" / "catalog" / "product.xml.j2"
    bad = "SH-TRAIL-RUNNER-EU41"  # one product in the middle of the catalog
    template.write_text(template.read_text().replace(
        "</product>", f'{{% if record.id == "{bad}" %}}<bogus/>{{% endif %}}</product>', 1))
    code = main(["run", "full-import-master", "--demo", "--config", str(config_dir), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "bogus" in err
    where = re.search(r"at line (\d+), in <product product-id=\"([^\"]+)\">", err)
    assert where and where.group(2) == bad, err
    rendered = main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "good")])  # the shipped templates
    assert rendered == 0
    lines = (tmp_path / "good" / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml").read_text().splitlines()
    start = next(n for n, text in enumerate(lines, 1) if f'product-id="{bad}"' in text)
    assert start < int(where.group(1)) < start + 200  # within that product


def _pricebook(path: Path, tables: int) -> Path:
    """A pricebook: its price tables sit three levels down, as SFCC's files have them."""
    with open(path, "w") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<pricebooks xmlns="http://www.demandware.com/xml/impex/'
                  'pricebook/2006-10-31"><pricebook><header pricebook-id="usd"><currency>USD</currency></header>'
                  "<price-tables>")
        for i in range(tables):
            out.write(f'<price-table product-id="P{i:07d}"><amount quantity="1">{i % 997}.00</amount></price-table>\n')
        out.write("</price-tables></pricebook></pricebooks>")
    return path


def _peak_rss_mib_validating(path: Path) -> float:
    import subprocess
    import sys
    script = ("import sys; from transformer import xsd; xsd.use(xsd.find_schemas()); xsd.validate_file(sys.argv[1]);"
              "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parent.parent)
    return int(done.stdout) / 1024


@pytest.mark.xsd
def test_validation_frees_records_at_any_depth_memory_stays_flat(tmp_path: Path) -> None:
    """A 10× longer pricebook (25 MB) costs the validator no more memory: each finished price table
    is freed although it is no child of the root (a tree kept whole would take about 200 MB more)."""
    small = _peak_rss_mib_validating(_pricebook(tmp_path / "small.xml", 25_000))
    large = _peak_rss_mib_validating(_pricebook(tmp_path / "large.xml", 250_000))
    assert large - small < 15, f"{small:.0f} MiB for 25,000 price tables, {large:.0f} MiB for 250,000"


@pytest.mark.xsd
def test_records_validated_by_workers_an_invalid_one_is_still_named(capsys, config_dir: Path, tmp_path: Path) -> None:
    """With workers, each chunk of products is validated where it was rendered; a chunk that fails is
    validated again by the writer, which names the product and its line as one process does."""
    from transformer.cli import demo_snapshot, main
    from transformer.synth import generate

    generate(demo_snapshot(), tmp_path / "snap", 1500)
    run = ["run", "full-import-master", "--snapshot", str(tmp_path / "snap"), "--workers", "2"]
    assert main(run + ["--out", str(tmp_path / "good")]) == 0
    catalog = tmp_path / "good" / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml"
    ids = re.findall(r'<product product-id="([^"]+)"', catalog.read_text())
    bad = ids[len(ids) * 2 // 3]  # in a later chunk, rendered by a worker
    template = config_dir / "templates" / "catalog" / "product.xml.j2"
    template.write_text(template.read_text().replace(
        "</product>", f'{{% if record.id == "{bad}" %}}<bogus/>{{% endif %}}</product>', 1))
    capsys.readouterr()
    assert main(run + ["--config", str(config_dir), "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    where = re.search(r"at line (\d+), in <product product-id=\"([^\"]+)\">", err)
    assert where and where.group(2) == bad, err
    assert not list((tmp_path / "bad").rglob("catalog.xml")), "an invalid catalog must not appear"


def test_the_writer_checks_where_validated_blocks_sit(tmp_path: Path) -> None:
    """A block validated elsewhere is written as it is; the document's validator reads its first and
    last record, so a block in the wrong place (products after the category assignments) still fails."""
    from collections import deque

    from transformer.package import MARK, Validated

    products = "".join(f'<product product-id="p{i}"><ean>{i}</ean></product>' for i in range(50)).encode()
    block = Validated(products, b'<product product-id="p0"><ean>0</ean></product>'
                                b'<product product-id="p49"><ean>49</ean></product>')
    good = write_validated(tmp_path / "good.xml", [HEAD, MARK, "</catalog>"], validated=deque([block]))
    assert (tmp_path / "good.xml").read_bytes() == HEAD.encode() + products + b"</catalog>" and good > len(products)
    assignment = '<category-assignment category-id="c" product-id="p0"/>'
    if xsd.validating():
        with pytest.raises(InvalidOutput, match="product"):
            write_validated(tmp_path / "bad.xml", [HEAD, assignment, MARK, "</catalog>"], validated=deque([block]))
        assert not (tmp_path / "bad.xml").exists()
    with pytest.raises(InvalidOutput, match="NUL"):
        write_validated(tmp_path / "nul.xml", [HEAD, MARK, "</catalog>"], validated=deque())


@pytest.mark.xsd
def test_records_check_validates_records_inside_their_document() -> None:
    check = xsd.RecordsCheck(HEAD.encode(), b"</catalog>")
    assert check(b'<product product-id="p"><ean>1</ean></product>' * 3000)  # fed in slices, across records
    assert not check(b'<product product-id="p"><ean>1</ean><bogus/></product>')
    assert not check(b'<product product-id="p">')  # not whole
    assert not check(b'</catalog><catalog catalog-id="x">')  # records cannot close their document
