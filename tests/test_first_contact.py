"""A new user's first steps: `init`, the command line's manners, where the XSDs come from, and runs
without them. Everything here runs in folders outside the checkout, as a user's would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from transformer import xsd
from transformer.cli import main
from transformer.errors import TransformerError

from conftest import ROOT, SCHEMAS, without_xsd_notes


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, without_xsd_notes(captured.err)


def cli(*argv: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it (its own process, its own XSD lookup)."""
    script = Path(sys.executable).with_name("akeneo-sfcc")
    return subprocess.run([str(script), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def without_xsds() -> dict:
    return {k: v for k, v in os.environ.items() if k != "SFCC_XSD_DIR"}


# -- init ------------------------------------------------------------------------------------

def test_init_writes_a_config_folder_that_validates_and_runs(capsys, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    code, out, _ = run(capsys, "init", str(folder))
    assert code == 0 and "wrote jobs.yaml, mappings, templates, schemas, .env.example, .gitignore" in out
    assert {p.name for p in folder.iterdir()} == {"jobs.yaml", "mappings", "templates", "schemas", ".env.example",
                                                  ".gitignore"}
    assert ".akeneo-sfcc/" in (folder / ".gitignore").read_text() and "out/" in (folder / ".gitignore").read_text()
    assert "AKENEO_URL=" in (folder / ".env.example").read_text()
    # Each YAML file's $schema line resolves inside the folder (editor completion without the checkout).
    for yaml_file in [folder / "jobs.yaml", *(folder / "mappings").glob("*.yaml")]:
        first = yaml_file.read_text().splitlines()[0]
        target = (yaml_file.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.is_file() and target.is_relative_to(folder.resolve()), (yaml_file, first)
    assert run(capsys, "validate", "--config", str(folder))[0] == 0
    code, out, _ = run(capsys, "run", "full", "--demo", "--config", str(folder), "--out", str(folder / "out"))
    assert code == 0, out
    archive = next((folder / "out" / "latest").glob("*.zip"))
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert any(n.endswith("catalogs/akeneo-master/catalog.xml") for n in names)
    assert any(n.endswith("pricebooks/list-prices.xml") for n in names)


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(capsys, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "init", str(tmp_path))
    assert code == 1 and f"error: {tmp_path} is not empty" in err and "--force" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    (tmp_path / ".env.example").write_text("KEEP=1\n")
    assert run(capsys, "init", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / ".env.example").read_text() == "KEEP=1\n"
    assert (tmp_path / "jobs.yaml").is_file()


def test_a_command_outside_a_config_folder_says_which_folder_and_how_to_fix_it(capsys, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["jobs"], ["validate"], ["run", "full", "--demo"], ["pull"]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == "", argv
        assert err == (f"error: {tmp_path} is not a config folder (it has no jobs.yaml): write one with "
                       "`akeneo-sfcc init .`, or name yours with --config DIR\n"), argv
    assert list(tmp_path.iterdir()) == [], "nothing is written, not even a stub report"


# -- the command line's manners ----------------------------------------------------------------

def test_version_bare_help_and_debug_anywhere(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == "akeneo-sfcc 0.1.0"
    code, out, _ = run(capsys)
    assert code == 0 and out.startswith("usage: akeneo-sfcc") and "init" in out and "check" in out
    code, _, err = run(capsys, "jobs", "--config", "/nonexistent", "--debug")
    assert code == 1 and "Traceback" in err  # --debug after the command is the same as before it
    code, _, err = run(capsys, "--debug", "jobs", "--config", "/nonexistent")
    assert code == 1 and "Traceback" in err
    code, out, _ = run(capsys, "validate", "--config", str(ROOT))
    assert code == 0 and "configuration OK (14 jobs, 4 chains)" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "full", "--demo", "--workers", "0"], "argument --workers: must be 1 or more, not 0"),
    (["run", "full", "--demo", "--concurrency", "0"], "argument --concurrency: must be 1 or more, not 0"),
    (["pull", "--concurrency", "-1"], "argument --concurrency: must be 1 or more, not -1"),
    (["synth", "--products", "-5", "--out", "x"], "argument --products: must be 1 or more, not -5"),
    (["synth", "--products", "ten", "--out", "x"], "argument --products: expected a whole number, not 'ten'"),
])
def test_numbers_out_of_range_are_refused(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_synth_refuses_a_folder_that_is_not_empty(capsys, tmp_path: Path) -> None:
    (tmp_path / "products.json").write_text("[]")
    code, _, err = run(capsys, "synth", "--products", "10", "--out", str(tmp_path))
    assert code == 1 and "is not empty: synth writes a new snapshot into a new or empty folder" in err
    assert (tmp_path / "products.json").read_text() == "[]"


# -- where the XSDs come from ------------------------------------------------------------------

def xsd_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "catalog.xsd").write_text("<schema/>")
    return path


def test_the_xsd_lookup_order(tmp_path: Path) -> None:
    project = tmp_path / "work" / "project"
    config = project / "config"
    config.mkdir(parents=True)
    assert xsd.find_schemas(config=config, environ={}).folder is None
    npm = xsd_folder(project / "node_modules" / "sfcc-schemas" / "xsd")  # npm i sfcc-schemas, one level up
    assert xsd.find_schemas(config=config, environ={}).folder == npm.resolve()
    salesforce = xsd_folder(config / "node_modules" / "@salesforce" / "b2c-tooling-sdk" / "data" / "xsd")
    assert xsd.find_schemas(config=config, environ={}).folder == salesforce.resolve()  # nearest first
    setting, env, explicit = (xsd_folder(tmp_path / name) for name in ("setting", "env", "explicit"))
    assert xsd.find_schemas(setting=setting, config=config, environ={}).origin == "xsd_dir of the site settings"
    assert xsd.find_schemas(setting=setting, config=config, environ={"SFCC_XSD_DIR": str(env)}).folder == env
    found = xsd.find_schemas(explicit, setting, config, {"SFCC_XSD_DIR": str(env)})
    assert (found.folder, found.origin) == (explicit, "--xsd")
    with pytest.raises(TransformerError, match=r"--xsd names .*empty, which holds no catalog.xsd"):
        xsd.find_schemas(tmp_path / "empty", setting, config, {})


def test_the_search_list_is_said_once_when_none_is_found(tmp_path: Path) -> None:
    schemas = xsd.find_schemas(config=tmp_path, environ={})
    message = schemas.not_found()
    assert schemas.folder is None and "node_modules/{@salesforce/b2c-tooling-sdk/data/xsd,sfcc-schemas/xsd}" in message
    assert str(tmp_path) in message and message.count(str(tmp_path)) == 2  # the folder and its sibling, each once
    assert "well-formed XML only" in message and "SFCC_XSD_DIR" in message


@pytest.mark.xsd
def test_a_folder_without_xml_xsd_is_one_clear_error(capsys, tmp_path: Path) -> None:
    shutil.copy(SCHEMAS.folder / "catalog.xsd", tmp_path / "catalog.xsd")
    code, _, err = run(capsys, "validate", "--config", str(ROOT), "--xsd", str(tmp_path))
    assert code == 1 and err.count("\n") == 1
    assert f"{tmp_path} has no customobject.xsd" in err or "has no xml.xsd" in err
    for name in xsd.SCHEMA_BY_ROOT.values():
        shutil.copy(SCHEMAS.folder / name, tmp_path / name)
    code, _, err = run(capsys, "validate", "--config", str(ROOT), "--xsd", str(tmp_path))
    assert code == 1 and "does not compile" in err and "(the folder has no xml.xsd, which every SFCC XSD imports)" in err


@pytest.mark.xsd
def test_validate_compiles_every_xsd_the_jobs_need(capsys) -> None:
    code, out, err = run(capsys, "validate", "--config", str(ROOT))
    assert code == 0 and err == ""
    assert ("catalog.xsd, customobject.xsd, library.xsd, metadata.xsd, pricebook.xsd compile") in out


# -- runs without XSDs --------------------------------------------------------------------------

def test_without_xsds_a_run_writes_well_formed_files_and_says_so_once(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    assert cli("init", str(folder), cwd=tmp_path, env=without_xsds()).returncode == 0
    done = cli("run", "full", "--demo", cwd=folder, env=without_xsds())
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "SFCC XSDs not found" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: SFCC XSDs not found (looked in SFCC_XSD_DIR")
    report = json.loads((folder / "out" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["status"] == "succeeded" and report["outputs"] and not any(o["xsd_valid"] for o in report["outputs"])
    assert any("not validated against the XSDs" in w for w in report["warnings"])
    assert (folder / "out" / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml").is_file()


def test_without_xsds_require_xsd_stops_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    assert cli("init", str(folder), cwd=tmp_path, env=without_xsds()).returncode == 0
    done = cli("run", "full", "--demo", "--require-xsd", cwd=folder, env=without_xsds())
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: SFCC XSDs not found") and "they are required" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (folder / "out").exists(), "no stub report, no folder"
    site = folder / "mappings" / "site.yaml"
    site.write_text(site.read_text() + "require_xsd: true\n")
    done = cli("run", "full", "--demo", cwd=folder, env=without_xsds())
    assert done.returncode == 1 and "they are required" in done.stderr


@pytest.mark.xsd
def test_the_xsd_dir_setting_is_read_relative_to_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    assert cli("init", str(folder), cwd=tmp_path, env=without_xsds()).returncode == 0
    shutil.copytree(SCHEMAS.folder, folder / "xsd")
    site = folder / "mappings" / "site.yaml"
    site.write_text(site.read_text() + "xsd_dir: xsd\n")
    done = cli("validate", cwd=folder, env=without_xsds())
    assert done.returncode == 0 and done.stderr == ""
    assert f"SFCC XSDs: {folder / 'xsd'} (xsd_dir of the site settings)" in done.stdout


# -- check, and what the mappings name that the PIM lacks ---------------------------------------

def pim_env(monkeypatch, fake, password: str = "pass") -> None:
    for name, value in {"AKENEO_URL": fake.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                        "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": password}.items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("SFCC_") and n != "SFCC_XSD_DIR"]:
        monkeypatch.delenv(name)


def listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.mark.xsd
def test_check_says_ok_or_the_fix_for_each_thing_and_writes_nothing(capsys, monkeypatch, config_dir: Path) -> None:
    from fake_akeneo import FakeAkeneo

    from transformer.cli import demo_snapshot

    with FakeAkeneo(demo_snapshot()) as fake:
        pim_env(monkeypatch, fake)
        before = listing(config_dir)
        code, out, _ = run(capsys, "check", "--config", str(config_dir), "--out", str(config_dir / "out"))
        assert listing(config_dir) == before, "check writes nothing"
        lines = out.splitlines()
        assert code == 0, out
        assert [line.split(":")[0].split()[-1] for line in lines] == ["config", "XSDs", "PIM", "site", "store",
                                                                       "folder", "SFCC"]
        assert lines[0].startswith("     ok  config: ") and "14 jobs, 4 chains" in lines[0]
        assert "ok  SFCC XSDs: " in lines[1] and "catalog.xsd" in lines[1]
        assert f"ok  PIM: {fake.url}: credentials accepted, edition " in lines[2]
        assert "ok  site: channel 'ecommerce' has the locales en_US, fr_FR, de_DE" in lines[3]
        assert "warning  store: no store at" in lines[4] and "`akeneo-sfcc pull`" in lines[4]
        assert "warning  SFCC: not configured" in lines[6]
        assert [r.path for r in fake.requests if r.method == "GET"] == ["/api/rest/v1/system-information",
                                                                        "/api/rest/v1/channels"]

        monkeypatch.setenv("AKENEO_PASSWORD", "wrong")
        code, out, _ = run(capsys, "check", "--config", str(config_dir), "--out", str(config_dir / "out"))
        assert code == 1 and "FAILED  PIM: PIM authentication failed" in out and "AKENEO_PASSWORD" in out
        assert "wrong" not in out, "a secret is never printed"


def test_a_mapping_naming_what_the_pim_lacks_is_a_warning_with_its_line(capsys, config_dir: Path) -> None:
    products = config_dir / "mappings" / "products.yaml"
    lines = products.read_text().replace("EAN: {from: ean}", "EAN: {from: ean13}").splitlines()
    products.write_text("\n".join(lines) + "\n")
    line = next(i for i, text in enumerate(lines, 1) if "from: ean13" in text)
    store = config_dir / "store.sqlite"
    assert run(capsys, "load", str(Path(__file__).parent.parent / "transformer" / "demo" / "pim"),
               "--store", str(store))[0] == 0
    column = lines[line - 1].index("from:") + 1
    expected = (f"mappings/products.yaml:{line}:{column}: $.system.EAN.from: the PIM has no attribute 'ean13' "
                "(did you mean 'ean'?): the field is not written")
    code, out, err = run(capsys, "validate", "--config", str(config_dir), "--against-store", "--store", str(store))
    assert code == 0 and f"warning: {expected}" in err and "the mappings name 1 the PIM lacks" in out
    code, _, err = run(capsys, "validate", "--config", str(config_dir), "--against-store", "--store", str(store),
                       "--strict")
    assert code == 1 and f"error: {expected}" in err
    # A run skips the field, says so once (four jobs read this mapping), and lists it in each report.
    out_dir = config_dir / "out"
    code, out, err = run(capsys, "run", "catalog", "--offline", "--store", str(store), "--config", str(config_dir),
                         "--out", str(out_dir))
    assert code == 0 and err.count(expected) == 1
    report = json.loads((out_dir / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["mapping_warnings"] == [expected]
    assert "<ean>" not in (out_dir / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml").read_text()
    code, _, _ = run(capsys, "run", "full-import-master", "--offline", "--store", str(store), "--config",
                     str(config_dir), "--out", str(out_dir), "--strict")
    assert code == 3


def test_an_empty_store_says_to_pull_first(capsys, config_dir: Path, tmp_path: Path) -> None:
    from transformer.store import Store

    Store(tmp_path / "empty.sqlite").close()
    code, _, err = run(capsys, "validate", "--config", str(config_dir), "--against-store", "--store",
                       str(tmp_path / "empty.sqlite"))
    assert code == 1 and "the store holds no attributes: run `akeneo-sfcc pull` first" in err
    code, _, err = run(capsys, "run", "full-import-master", "--offline", "--store", str(tmp_path / "empty.sqlite"),
                       "--config", str(config_dir), "--out", str(tmp_path / "out"))
    assert code == 1 and err.count("\n") == 1 and "the store holds no attributes: run `akeneo-sfcc pull` first" in err


@pytest.mark.parametrize("given, used", [
    ("pim.example.com", "https://pim.example.com"),
    ("https://pim.example.com/", "https://pim.example.com"),
    ("https://pim.example.com/api/rest/v1/", "https://pim.example.com"),
    ("http://127.0.0.1:8080/pim/api/rest/v1", "http://127.0.0.1:8080/pim"),
])
def test_akeneo_url_is_normalised(given: str, used: str) -> None:
    from transformer.sources.akeneo import ENV_VARS, Connection

    environ = dict.fromkeys(ENV_VARS, "x") | {"AKENEO_URL": given}
    assert Connection.from_env(environ, dotenv=None).url == used


@pytest.mark.parametrize("given", ["ftp://pim.example.com", "https://", "https://pim.example.com/?x=1"])
def test_an_akeneo_url_that_is_no_address_is_refused(given: str) -> None:
    from transformer.sources.akeneo import ENV_VARS, Connection

    with pytest.raises(TransformerError, match="AKENEO_URL must be the PIM's address, such as https://pim.example.com"):
        Connection.from_env(dict.fromkeys(ENV_VARS, "x") | {"AKENEO_URL": given}, dotenv=None)


# -- a PIM that is not the demo -----------------------------------------------------------------

FOREIGN = Path(__file__).parent / "foreign_pim"


def test_init_from_a_foreign_pim_then_a_full_run_writes_every_product(capsys, monkeypatch, tmp_path: Path) -> None:
    """Other attribute codes (no upc, no meta_description, no name), another channel, locales and
    currency, a Community Edition: `init --from-pim` then `run full` succeeds with no edit."""
    from fake_akeneo import FakeAkeneo
    from lxml import etree

    folder = tmp_path / "mine"
    with FakeAkeneo(FOREIGN, disabled=("media-files",)) as fake:
        pim_env(monkeypatch, fake)
        code, out, err = run(capsys, "discover")
        assert code == 0 and "web" in out and "en_GB" in out and "GBP" in out, err
        code, out, err = run(capsys, "init", str(folder), "--from-pim")
        assert code == 0 and f"fitted to {fake.url}" in out, (out, err)
        assert "mappings/products.yaml: system.EAN from gtin" in out  # each guess said on the console
        assert "channel: web" in (folder / "mappings" / "site.yaml").read_text()
        assert run(capsys, "validate", "--config", str(folder))[0] == 0
        code, out, err = run(capsys, "run", "full", "--config", str(folder), "--out", str(folder / "out"),
                             "--store", str(folder / "store.sqlite"), "--strict")
        assert code == 0, (out, err)
        assert not any(r.path.rstrip("/").endswith("/media-files") for r in fake.requests), "no media list is read"
    catalog = etree.parse(str(folder / "out" / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml"))
    ids = set(catalog.xpath("//*[local-name()='product']/@product-id"))
    products = json.loads((FOREIGN / "products.json").read_text())
    models = json.loads((FOREIGN / "product-models.json").read_text())
    assert ids == {p["identifier"] for p in products} | {m["code"] for m in models}, "every product and model"
    assert catalog.xpath("//*[local-name()='display-name'][@xml:lang='en-GB']"), "the channel's locales"
    report = json.loads((folder / "out" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["errors"] == [] and report["mapping_warnings"] == []


def test_the_shipped_mapping_on_a_foreign_pim_runs_with_warnings_instead_of_a_refusal(capsys, monkeypatch,
                                                                                      config_dir: Path) -> None:
    from fake_akeneo import FakeAkeneo

    with FakeAkeneo(FOREIGN) as fake:
        pim_env(monkeypatch, fake)
        code, out, err = run(capsys, "run", "full-import-master", "--config", str(config_dir), "--out",
                             str(config_dir / "out"), "--store", str(config_dir / "store.sqlite"))
    assert code == 0, (out, err)
    warned = [line for line in err.splitlines() if line.startswith("warning: mappings/")]
    assert any("$.system.UPC.from: the PIM has no attribute 'upc': the field is not written" in w for w in warned)
    assert any("$.system.pageDescription.from: the PIM has no attribute 'meta_description'" in w and w.endswith(
        ": the field is not written") for w in warned), "none of its fallbacks exists either"
    assert any("mappings/categories.yaml:" in w and "$.trees: the PIM has no category 'master' (its trees: "
               "archive, webshop): nothing of it is written" in w for w in warned)
    report = json.loads((config_dir / "out" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["status"] == "succeeded" and len(report["mapping_warnings"]) == len(warned)
    with FakeAkeneo(FOREIGN) as fake:  # what check says of it: each thing to fix, and how
        pim_env(monkeypatch, fake)
        code, out, _ = run(capsys, "check", "--config", str(config_dir), "--store", str(config_dir / "store.sqlite"),
                           "--out", str(config_dir / "out"))
    assert code == 0 and "warning  site: the PIM has no channel 'ecommerce'" in out and "init --from-pim" in out
    assert "warning  mapping: mappings/products.yaml:" in out and "'upc'" in out
