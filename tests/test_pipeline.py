"""The pipeline end to end on a generated catalog: worker processes change nothing in the output,
memory-bounded chunking keeps every record, and the run state follows success."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.config import load_config
from transformer.pipeline import run_jobs
from transformer.report import Progress
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store
from transformer.synth import generate

from conftest import ROOT, archive_of, without_xsd_notes


@pytest.mark.parametrize("chunks_per_worker", [None, 1], ids=["workers", "a-fresh-worker-every-chunk"])
def test_workers_write_the_same_bytes_as_one_process(tmp_path: Path, monkeypatch, chunks_per_worker) -> None:
    """Also when workers are replaced as they go (their heaps grow with what they mapped)."""
    if chunks_per_worker:
        from transformer import parallel
        monkeypatch.setattr(parallel, "CHUNKS_PER_WORKER", chunks_per_worker)
    generate(demo_snapshot(), tmp_path / "snap", 900)
    config = load_config(ROOT)
    with Store(tmp_path / "store.sqlite") as store:
        load_snapshot(tmp_path / "snap", store)
        serial = run_jobs(config, "full-import-master", store, tmp_path / "one", workers=1)[0]
        parallel = run_jobs(config, "full-import-master", store, tmp_path / "two", workers=2)[0]
        assert store.output_state("catalogs/akeneo-master/catalog.xml") is not None
    path = Path("latest/site-import/catalogs/akeneo-master/catalog.xml")
    assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()
    roots = sum(1 for line in (tmp_path / "snap" / "product-models.jsonl").open() if json.loads(line)["parent"] is None)
    assert serial.counts == parallel.counts
    assert serial.counts["products"] + serial.counts["outside_trees"] == 900  # clones of the demo's products
    assert serial.counts["product_models"] == roots and serial.counts["outside_trees"] > 0
    ids = etree.parse(str(tmp_path / "two" / path)).xpath("//*[local-name()='product']/@product-id")
    assert len(ids) == len(set(ids)) == serial.counts["products"] + roots


def test_synthetic_catalog_is_deterministic_with_a_third_variants(tmp_path: Path) -> None:
    first = generate(demo_snapshot(), tmp_path / "a", 300)
    generate(demo_snapshot(), tmp_path / "b", 300)
    assert (tmp_path / "a" / "products.jsonl").read_bytes() == (tmp_path / "b" / "products.jsonl").read_bytes()
    assert first["products"] == 300 and 0.28 < first["variants"] / 300 < 0.38
    parents = {json.loads(line)["code"] for line in (tmp_path / "a" / "product-models.jsonl").open()}
    variants = [json.loads(line) for line in (tmp_path / "a" / "products.jsonl").open()]
    assert all(p["parent"] in parents for p in variants if p["parent"])


def test_a_failed_run_leaves_the_watermark_where_it_was(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store.sqlite"
    assert main(["load", str(demo_snapshot()), "--store", str(store)]) == 0
    args = ["run", "full-import-master", "--offline", "--store", str(store), "--config", str(ROOT)]
    assert main(args + ["--out", str(tmp_path / "ok")]) == 0
    with Store(store) as opened:
        before = opened.output_state("catalogs/akeneo-master/catalog.xml")
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the output folder should be")
    assert main(args + ["--out", str(blocker)]) == 1
    assert without_xsd_notes(capsys.readouterr().err).startswith("error: Not a directory: ")
    with Store(store) as opened:
        assert opened.output_state("catalogs/akeneo-master/catalog.xml") == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress("job", 10, stream)
        progress.shown -= 1  # as if the last update was a second ago
        progress.advance(4)
        progress.close()
    assert "job: 4/10 records" in terminal.getvalue() and pipe.getvalue() == ""


def test_clashing_ids_unknown_attributes_and_bad_values_are_reported(tmp_path: Path, capsys) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "attributes.json").write_text(json.dumps([{"code": "name", "type": "pim_catalog_text", "localizable": True}]))
    (snap / "product-models.json").write_text(json.dumps([{"code": "X", "values": {}}, {"code": "M", "values": {}}]))
    (snap / "products.json").write_text(json.dumps([
        {"identifier": "X", "values": {"mystery": [{"locale": None, "scope": None, "data": "?"}]}},
        {"identifier": "Y", "values": {"name": "not a list"}}]))
    config = tmp_path / "config"
    from conftest import copy_config
    config.mkdir()
    copy_config(config)
    products = config / "mappings" / "products.yaml"
    text = products.read_text().split("system:")[0] + "system:\n  name: {from: name}\ncustom_attributes:\n  include: all\n"
    products.write_text(text)
    assert main(["run", "full-import-master", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--config", str(config)]) == 0
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["counts"] == {"product_models": 1, "products": 2, "skipped": 1}
    assert report["errors"] == [
        {"id": "X", "field": "code", "message": "a product has the same id; the product model is skipped",
         "action": "record skipped"},
        {"id": "Y", "field": "values.name", "message": "expected a list of {locale, scope, data} objects, got text, dropped",
         "action": "value dropped", "mapping": f"mappings/products.yaml:{text.splitlines().index('  name: {from: name}') + 1}:10"}]
    assert without_xsd_notes(report["warnings"]) == ["attribute 'mystery' is not in the PIM's attribute list: 1 value(s) not written"]


def test_a_chain_writes_one_site_import_archive_whose_xml_all_validates(tmp_path: Path, capsys) -> None:
    import zipfile

    from transformer.xsd import StreamValidator

    assert main(["run", "catalog", "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    top = archive_of(tmp_path).stem
    with zipfile.ZipFile(archive_of(tmp_path)) as archive:
        names = archive.namelist()
        assert names and all(name.startswith(f"{top}/") and name.isascii() for name in names)
        xml = [name for name in names if name.endswith(".xml")]
        assert {f"{top}/catalogs/akeneo-master/catalog.xml", f"{top}/catalogs/akeneo-storefront/catalog.xml",
                f"{top}/catalogs/akeneo-master/variations.xml", f"{top}/catalogs/akeneo-master/images.xml"} <= set(xml)
        for name in xml:
            validator = StreamValidator(name)
            validator.feed(archive.read(name))
            validator.close()
    last = capsys.readouterr().out.splitlines()[-1]  # the summary line names the archive
    assert last.startswith("Done: 4 jobs, 4 ok, 0 skipped, ") and last.endswith(f" -> {tmp_path / top / (top + '.zip')}")


def test_each_run_archives_only_what_it_wrote(tmp_path: Path, capsys) -> None:
    import zipfile

    store = tmp_path / "store.sqlite"
    assert main(["load", str(demo_snapshot()), "--store", str(store)]) == 0
    args = ["--offline", "--store", str(store), "--out", str(tmp_path / "out"), "--config", str(ROOT)]
    assert main(["run", "full", *args]) == 0
    full = archive_of(tmp_path / "out")
    assert main(["run", "differential", *args]) == 0
    delta = archive_of(tmp_path / "out")
    assert delta.parent != full.parent and full.is_file()  # the full run's folder stays as it was

    def files(archive: Path) -> set[str]:
        with zipfile.ZipFile(archive) as opened:
            return {name.split("/", 1)[1] for name in opened.namelist()}

    assert "pricebooks/list-prices.xml" in files(full) and "pricebooks/list-prices.xml" not in files(delta)
    assert any("/static/" in name for name in files(full)) and not any("/static/" in name for name in files(delta))
    reports = [json.loads(p.read_text()) for p in (delta.parent / "reports").glob("*.json")]
    assert files(delta) == {o["path"] for report in reports for o in report["outputs"]}
    assert {report["run"] for report in reports} == {delta.stem}
