"""Shared fixtures: the project root, the SFCC XSDs, and a copy of the shipped config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transformer.xsd import xsd_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def sfcc_xsds() -> Path:
    """The XSDs must be there: every output is validated against them (no skipping)."""
    return xsd_dir()


def copy_config(target: Path) -> Path:
    """A private copy of jobs.yaml, mappings/ and templates/ that a test may change."""
    shutil.copy(ROOT / "jobs.yaml", target / "jobs.yaml")
    shutil.copytree(ROOT / "mappings", target / "mappings")
    shutil.copytree(ROOT / "templates", target / "templates")
    return target


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


def archive_of(out: Path) -> Path:
    """The site-import archive of the last run that wrote into `out`."""
    (found,) = (out / "latest").glob("*.zip")
    return found.resolve()


@pytest.fixture(autouse=True)
def archives_have_no_dangling_reference(request):
    """Every archive a test builds in its tmp_path passes the reference checker. The references to a
    whole catalog (variants, targets, image files, priced products) are checked when the run wrote
    the master catalog in full."""
    yield
    tmp_path = request.node.funcargs.get("tmp_path")  # torn down by now, but its folder is kept
    if tmp_path is None:
        return
    import json

    from sfcc_state import check_archive

    for archive in sorted(tmp_path.rglob("*.zip")):
        reports = [json.loads(p.read_text()) for p in (archive.parent / "reports").glob("*.json")]
        if not reports or any(r["status"] == "failed" for r in reports):
            continue
        complete = all(r["delta_from"] is None for r in reports) and any(
            r["engine"] == "master-catalog" and r["status"] != "skipped" for r in reports)
        problems = check_archive(archive, complete=complete)
        assert problems == [], f"{archive.name}: dangling references: {problems[:5]}"
