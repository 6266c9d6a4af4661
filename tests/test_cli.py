"""The command line: exit codes and the one-line messages users see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from transformer.cli import main

from conftest import ROOT, without_xsd_notes


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, without_xsd_notes(captured.err)


def test_validate_shipped_config(capsys) -> None:
    code, out, _ = run(capsys, "validate", str(ROOT))
    assert code == 0 and "configuration OK (14 jobs, 4 chains)" in out


def test_validate_reports_every_problem_and_exits_1(capsys, config_dir: Path) -> None:
    products = config_dir / "mappings" / "products.yaml"
    lines = products.read_text().replace("rule: plain_text", "rule: plain_txt").replace("EAN:", "EAN_:").splitlines()
    products.write_text("\n".join(lines) + "\n")
    line = next(i for i, text in enumerate(lines, 1) if "shortDescription:" in text)
    column = lines[line - 1].index("rule:") + 1
    code, _, err = run(capsys, "validate", str(config_dir))
    assert code == 1
    assert (f"mappings/products.yaml:{line}:{column}: $.system.shortDescription.rule: "
            "unknown rule 'plain_txt' (did you mean 'plain_text'?)") in err
    assert "$.system.EAN_: unknown key 'EAN_' (did you mean 'EAN'?)" in err
    assert err.strip().endswith("3 configuration problem(s)")


def test_run_by_number_on_the_demo(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "run", "3-2-1", "--demo", "--out", str(tmp_path), "--config", str(ROOT))
    assert code == 0 and out.startswith("[1/1] full-import-master: succeeded")
    assert out.splitlines()[-1].startswith("Done: 1 jobs, 1 ok, 0 skipped, 0 record errors, 0 failed downloads, ")
    assert (tmp_path / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml").is_file()
    report = json.loads((tmp_path / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["counts"]["products"] > 0 and set(report["timings_seconds"]) >= {"map", "render", "validate", "total"}


def test_a_mode_its_engine_lacks_is_a_config_error_before_anything_runs(capsys, tmp_path: Path, config_dir: Path) -> None:
    jobs = config_dir / "jobs.yaml"
    lines = jobs.read_text().replace("engine: reference-entities\n    mode: full",
                                     "engine: reference-entities\n    mode: differential").splitlines()
    jobs.write_text("\n".join(lines) + "\n")
    line = next(i for i, text in enumerate(lines, 1) if text == "    engine: reference-entities") + 1
    code, out, err = run(capsys, "run", "full", "--demo", "--out", str(tmp_path), "--config", str(config_dir))
    assert code == 1 and out == ""
    assert err == (f"jobs.yaml:{line}:5: $.jobs.entity-import.mode: engine 'reference-entities' runs only in mode full\n"
                   "1 configuration problem(s)\n")
    assert not tmp_path.exists() or not any(tmp_path.rglob("*.xml"))


def test_unknown_job_suggests_a_name(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "run", "full-import-mastr", "--demo", "--out", str(tmp_path), "--config", str(ROOT))
    assert code == 1 and "no job or chain named 'full-import-mastr' (did you mean 'full-import-master'?)" in err


def test_offline_run_without_a_store_explains_what_to_do(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "run", "full-import-master", "--offline", "--store", str(tmp_path / "none.sqlite"),
                       "--config", str(ROOT))
    assert code == 1 and "no store at" in err and "akeneo-sfcc pull" in err


def test_run_without_pim_settings_names_what_is_missing(capsys, tmp_path: Path, monkeypatch) -> None:
    for name in ("AKENEO_URL", "AKENEO_CLIENT_ID", "AKENEO_SECRET", "AKENEO_USERNAME", "AKENEO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AKENEO_URL", "http://127.0.0.1:9")
    code, _, err = run(capsys, "run", "full-import-master", "--store", str(tmp_path / "s.sqlite"), "--config", str(ROOT))
    assert code == 1
    assert err == ("error: no PIM connection: set AKENEO_CLIENT_ID, AKENEO_SECRET, AKENEO_USERNAME, AKENEO_PASSWORD "
                   "(environment or .env)\n")


def test_load_then_run_from_the_store(capsys, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    code, out, _ = run(capsys, "load", str(ROOT / "transformer" / "demo" / "pim"), "--store", str(store))
    assert code == 0 and "products" in out
    code, _, _ = run(capsys, "run", "full-import-master", "--offline", "--store", str(store), "--out", str(tmp_path / "out"),
                     "--config", str(ROOT))
    assert code == 0


def test_record_errors_exit_3_only_with_strict(capsys, tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "attributes.json").write_text(json.dumps([
        {"code": c, "type": "pim_catalog_text", "localizable": c in ("name", "meta_title", "meta_description", "short_description", "description")}
        for c in ("sku", "name", "short_description", "description", "ean", "upc", "brand", "meta_title", "meta_description")]))
    (snap / "products.json").write_text(json.dumps([
        {"identifier": "ok", "values": {"ean": [{"locale": None, "scope": None, "data": "1"}]}},
        {"identifier": " padded", "values": {}}, {"identifier": "long-ean", "values": {"ean": [{"locale": None, "scope": None, "data": "9" * 300}]}}]))
    args = ["run", "full-import-master", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--config", str(ROOT)]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "2 record error(s)" in out
    code, _, _ = run(capsys, *args, "--strict")
    assert code == 3
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["status"] == "succeeded_with_errors"
    assert {(e["id"], e["field"]) for e in report["errors"]} == {(" padded", "identifier"), ("long-ean", "EAN")}


def test_console_script_and_rules_listing() -> None:
    result = subprocess.run([sys.executable, "-m", "transformer.cli", "rules"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "option_label" in result.stdout and "pim_catalog_metric: metric" in result.stdout


def test_jobs_are_declared_with_their_original_numbers_and_chains(capsys) -> None:
    from transformer.config import load_config

    config = load_config(ROOT)
    assert dict(config.aliases) == {
        "1": "import-attributes", "2-1": "differential-import-assets", "2-2": "full-import-media-assets-pricebook",
        "3-1-1": "differential-import-master", "3-1-2": "differential-import-storefront", "3-2-1": "full-import-master",
        "3-2-2": "full-import-master-variation", "3-2-3": "full-master-image", "3-2-4": "full-import-storefront",
        "4": "entity-import", "5": "entity-record-grouping", "6": "save-catalog-refinements"}
    assert config.chains["full"] == ("import-attributes", "full-import-media-assets-pricebook", "full-import-master",
                                     "full-import-master-variation", "full-master-image", "full-import-storefront",
                                     "entity-import", "entity-record-grouping")
    assert config.chains["differential"] == ("import-attributes", "differential-import-assets",
                                             "differential-import-master", "differential-import-master-variation",
                                             "differential-master-image", "differential-import-storefront",
                                             "entity-import", "entity-record-grouping")


def test_template_mistakes_are_config_errors_or_one_line(capsys, config_dir: Path, tmp_path: Path) -> None:
    template = config_dir / "templates" / "catalog" / "product.xml.j2"
    original = template.read_text()
    template.write_text(original.replace("{% endfor %}", "{% endfr %}", 1))
    code, _, err = run(capsys, "validate", str(config_dir))
    assert code == 1 and err.startswith("templates/catalog/product.xml.j2:") and "unknown tag 'endfr'" in err
    template.write_text(original.replace("record.id", "record.idd"))
    code, _, err = run(capsys, "run", "full-import-master", "--demo", "--out", str(tmp_path), "--config", str(config_dir))
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: template: ") and "idd" in err


def test_unexpected_failures_are_one_line_without_debug(capsys, monkeypatch) -> None:
    import transformer.cli as cli

    monkeypatch.setitem(cli.COMMANDS, "rules", lambda args: 1 / 0)
    code, _, err = run(capsys, "rules")
    assert code == 1 and err == "internal error: ZeroDivisionError: division by zero (run with --debug for the traceback)\n"
