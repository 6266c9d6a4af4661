"""The wheel a user installs: built from this checkout, installed into a fresh virtual environment,
used from a folder outside the checkout with no XSDs beside it (`-m "not slow"` leaves it out)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SCHEMAS


def sh(*argv: object, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", ROOT, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("akeneo_sfcc-*.whl")
    with zipfile.ZipFile(wheel) as zipped:
        names = set(zipped.namelist())
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "transformer").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names, "every package of the source is in the wheel"
    assert {"transformer/defaults/jobs.yaml", "transformer/defaults/mappings/products.yaml",
            "transformer/defaults/templates/catalog/product.xml.j2", "transformer/schemas/jobs.schema.json"} <= names

    sh(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    sh(tmp_path / "venv" / "bin" / "pip", "install", "-q", wheel, cwd=tmp_path)
    tool = tmp_path / "venv" / "bin" / "akeneo-sfcc"
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SFCC_XSD_DIR" and not k.startswith("VIRTUAL_ENV")}
    assert sh(tool, "--version", cwd=work, env=env).stdout.startswith("akeneo-sfcc ")
    sh(tool, "init", "demo", cwd=work, env=env)
    done = sh(tool, "run", "full", "--demo", cwd=work / "demo", env=env)
    assert done.stderr.count("SFCC XSDs not found") == 1  # the one line, and the files are still written
    assert next((work / "demo" / "out" / "latest").glob("*.zip")).stat().st_size > 10_000
    if SCHEMAS.folder is not None:
        done = sh(tool, "run", "full", "--demo", cwd=work / "demo", env=env | {"SFCC_XSD_DIR": str(SCHEMAS.folder)})
        assert "SFCC XSDs not found" not in done.stderr
