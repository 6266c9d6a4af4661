"""Shared fixtures: the project root, the SFCC XSDs, and a copy of the shipped config.

Tests marked `xsd` check files against the official SFCC XSDs, which cannot ship with the project:
without them (no SFCC_XSD_DIR, none in the usual places) they are skipped, with one line saying so,
and every other test runs. CI has them (`.ci/run` fails when they are missing).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from transformer.xsd import find_schemas

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = find_schemas(config=ROOT)
if SCHEMAS.folder is not None:  # found beside the checkout: the runs tests start elsewhere find them too
    os.environ["SFCC_XSD_DIR"] = str(SCHEMAS.folder)
NO_XSDS = "SFCC XSDs not found: set SFCC_XSD_DIR to the folder holding catalog.xsd"


def without_xsd_notes(text_or_lines):
    """Output or report warnings without what a run says when it has no XSDs (tests that read them
    exactly run with and without XSDs alike)."""
    from transformer.engines.run import NOT_VALIDATED

    if isinstance(text_or_lines, str):
        return "".join(line for line in text_or_lines.splitlines(keepends=True)
                       if not line.startswith("warning: SFCC XSDs not found"))
    return [line for line in text_or_lines if line != NOT_VALIDATED]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "xsd: needs the official SFCC XSDs (skipped without them)")
    config.addinivalue_line("markers", "slow: builds and installs things (a wheel); `-m 'not slow'` leaves them out")


def pytest_collection_modifyitems(config, items) -> None:
    if SCHEMAS.folder is None:
        for item in items:
            if item.get_closest_marker("xsd"):
                item.add_marker(pytest.mark.skip(reason=NO_XSDS))


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NO_XSDS in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {NO_XSDS} (looked in {SCHEMAS.searched})")


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
    if tmp_path is None or SCHEMAS.folder is None:  # the simulator merges in the order the XSDs give
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
