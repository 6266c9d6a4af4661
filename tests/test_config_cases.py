"""Config cases as folders: every valid/ case loads cleanly; every invalid/ case gives exactly
the located errors in its .expected file. A case's first line names the file it replaces."""

from __future__ import annotations

import json
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


# What each valid case must have changed in the loaded config: proof that it was read.
VALID_EFFECTS = {
    "minimal-jobs": lambda c: list(c.jobs) == ["full-import-master"] and c.resolve("nightly") == ("full-import-master",)
    and c.jobs["full-import-master"].sources[0].search["updated"][0]["value"] == "2024-01-01 00:00:00",
    "products-include-list": lambda c: c.jobs["full-import-master"].mappings.products.include
    == {"color", "material", "weight", "description"},
    "site-other-locales": lambda c: c.site.locales == {"en_US": "en-US", "en_GB": "en", "fr_FR": "fr"}
    and c.site.channel == "mobile",
}


@pytest.mark.parametrize("case", sorted((CASES / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_case_loads(case: Path, config_dir: Path) -> None:
    install_case(case, config_dir)
    assert VALID_EFFECTS[case.stem](load_config(config_dir))


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
