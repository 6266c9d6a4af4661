"""Config cases as folders: every valid/ case loads cleanly; every invalid/ case gives exactly
the located errors in its .expected file. A case's first line names the file it replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from transformer.config import load_config
from transformer.errors import ConfigError

CASES = Path(__file__).parent / "configs"


def install_case(case: Path, config_dir: Path) -> None:
    text = case.read_text(encoding="utf-8")
    header = text.splitlines()[0]
    assert header.startswith("# file: "), f"{case.name}: first line must be '# file: <path>'"
    (config_dir / header.removeprefix("# file: ").strip()).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case", sorted((CASES / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_case_loads(case: Path, config_dir: Path) -> None:
    install_case(case, config_dir)
    config = load_config(config_dir)
    assert config.jobs


@pytest.mark.parametrize("case", sorted((CASES / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_case_reports_located_errors(case: Path, config_dir: Path) -> None:
    install_case(case, config_dir)
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert [str(p) for p in raised.value.problems] == expected


def test_every_invalid_case_has_expected_text() -> None:
    cases = {p.stem for p in (CASES / "invalid").glob("*.yaml")}
    expected = {p.stem for p in (CASES / "invalid").glob("*.expected")}
    assert cases == expected and cases
