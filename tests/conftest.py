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
