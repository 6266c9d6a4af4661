"""`discover` against a PIM that is not the demo (tests/foreign_pim, served by the fake Akeneo), and
`fit_config`: the shipped config, fitted to that PIM, loads and names only what the PIM has; fitted
to the demo PIM, it says what the shipped config says."""

from __future__ import annotations

from pathlib import Path

import pytest

from transformer.cli import demo_snapshot
from transformer.config import load_config
from transformer.discover import discover, fit_config, format_facts
from transformer.errors import SourceError, TransformerError
from transformer.http import RetryPolicy
from transformer.rules import DEFAULT_RULE_BY_PROPERTY
from transformer.sources.akeneo import AkeneoClient, Connection

import make_foreign_pim
from conftest import ROOT, copy_config
from fake_akeneo import FakeAkeneo, ServerError

FOREIGN = Path(__file__).resolve().parent / "foreign_pim"
MAPPINGS = ("site", "products", "prices", "categories", "assets")


@pytest.fixture
def foreign():
    with FakeAkeneo(FOREIGN) as server:
        yield server


def facts_of(server: FakeAkeneo):
    return discover(AkeneoClient(Connection(server.url, "client", "s3cret", "user", "pass"),
                                 retry=RetryPolicy(attempts=3, base=0.01, cap=0.02, budget=1)))


def fitted(tmp_path: Path, facts, channel: str | None = None):
    guesses = fit_config(copy_config(tmp_path), facts, channel)
    return load_config(tmp_path), guesses


def test_the_fixture_is_what_its_generator_writes(tmp_path: Path) -> None:
    def files(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    make_foreign_pim.write(tmp_path / "pim")
    assert files(tmp_path / "pim") == files(FOREIGN)
    assert sum(map(len, files(FOREIGN).values())) < 100_000


def test_discover_reads_the_structure_only(foreign) -> None:
    facts = facts_of(foreign)
    (web, print_) = facts.channels
    assert (web.code, web.locales, web.currencies, web.category_tree) == (
        "web", ("en_GB", "nl_NL"), ("GBP",), "webshop")
    assert (print_.code, print_.locales, print_.currencies) == ("print", ("nl_NL",), ("EUR",))
    assert facts.locales == ("en_GB", "nl_NL") and facts.currencies == ("EUR", "GBP")  # the enabled ones
    assert [(t.code, t.labels["en_GB"]) for t in facts.trees] == [("webshop", "Web shop"), ("archive", "Archive")]
    assert [(f.code, f.attribute_count, f.attribute_as_label) for f in facts.families] == [
        ("apparel", 14, "product_title"), ("kitchen", 12, "product_title")]
    by_code = {a.code: a for a in facts.attributes}
    assert by_code["article_number"].main_identifier and by_code["retail_price"].type == "pim_catalog_price_collection"
    assert (by_code["description"].localizable, by_code["description"].scopable) == (True, True)
    assert [a.code for a in facts.of_type("pim_catalog_image")] == ["picture", "extra_picture"]
    assert (facts.edition, facts.version, facts.unknown, facts.url) == ("CE", "7.0.45", {}, foreign.url)
    reads = [r for r in foreign.requests if r.path.startswith("/api/rest/v1/") and "system" not in r.path]
    assert not [r for r in reads if "product" in r.path]
    assert all(r.query.get("limit") == ["100"] for r in reads)


def test_format_facts_is_a_short_report(foreign) -> None:
    report = format_facts(facts_of(foreign))
    for expected in ("Akeneo 7.0.45, edition CE", "web", "locales en_GB, nl_NL; currencies GBP; tree webshop",
                     "webshop  Web shop", "apparel", "14 attributes", "Apparel", "product_title (L)",
                     "description (LS)", "pim_catalog_price_collection  retail_price"):
        assert expected in report, expected
    assert len(report.splitlines()) < 30


def test_the_fitted_config_names_only_what_the_foreign_pim_has(foreign, tmp_path: Path) -> None:
    facts = facts_of(foreign)
    config, guesses = fitted(tmp_path, facts)
    site = config.site
    assert (site.channel, site.locales, site.default_locale, site.currencies) == (
        "web", {"en_GB": "en-GB", "nl_NL": "nl-NL"}, "en_GB", ("GBP",))
    mappings = config.jobs["full-import-master"].mappings
    images = config.jobs["full-master-image"].mappings.assets
    assert mappings.categories.trees == ("webshop",)
    assert config.jobs["full-import-media-assets-pricebook"].mappings.prices.attribute == "retail_price"
    assert (images.image_source, images.image_attributes, images.asset_attributes) == (
        "images", ("picture", "extra_picture"), ())
    products = mappings.products
    system = {attribute.name: f for attribute, f in products.system}
    codes = {a.code for a in facts.attributes}
    assert {s for f in system.values() for s in f.sources} <= codes | set(DEFAULT_RULE_BY_PROPERTY)
    assert "UPC" not in system and system["EAN"].sources == ("gtin",) and system["name"].sources == ("product_title",)
    assert system["brand"].sources == ("manufacturer",) and system["brand"].rule is None  # a text, no option label
    assert system["pageTitle"].sources == ("seo_title", "product_title")
    assert system["searchable"].default == "true" and system["onlineFlag"].sources == ("enabled",)
    assert products.exclude == {"article_number", "retail_price", "picture", "extra_picture"}
    assert set(products.attributes) == {"size"}
    assert products.associations.product_sets is None and products.associations.bundles is None
    assert any("UPC left out: looked for upc, upc_a, gtin12" in g for g in guesses)
    assert any("first channel; it also has print" in g for g in guesses)
    for name in MAPPINGS:
        shipped, written = ((folder / "mappings" / f"{name}.yaml").read_text() for folder in (ROOT, tmp_path))
        assert written.splitlines()[0] == shipped.splitlines()[0]
    assert "# guessed: system.UPC left out" in (tmp_path / "mappings/products.yaml").read_text()


def test_the_channel_can_be_chosen(foreign, tmp_path: Path) -> None:
    facts = facts_of(foreign)
    config, guesses = fitted(tmp_path, facts, "print")
    assert (config.site.channel, config.site.locales, config.site.default_locale, config.site.currencies) == (
        "print", {"nl_NL": "nl-NL"}, "nl_NL", ("EUR",))
    assert not any("site.yaml" in g for g in guesses)
    with pytest.raises(TransformerError, match="no channel 'wbe' \\(did you mean 'web'\\?\\)"):
        fit_config(tmp_path, facts, "wbe")


def test_refused_endpoints_are_noted_not_fatal(foreign, tmp_path: Path) -> None:
    foreign.fail("/system-information$", ServerError(405))
    foreign.fail("/families$", ServerError(405))
    facts = facts_of(foreign)
    assert facts.unknown == {"system-information": "HTTP 405", "families": "HTTP 405"}
    assert facts.edition is None and facts.families == () and facts.channels
    report = format_facts(facts)
    assert "unknown version and edition (the PIM answered HTTP 405)" in report
    assert "Families: unknown (the PIM answered HTTP 405)" in report
    config, _ = fitted(tmp_path, facts)  # without families no label attribute: no name, but a config that loads
    assert config.site.channel == "web"
    assert "name" not in {a.name for a, _ in config.jobs["full-import-master"].mappings.products.system}


def test_a_pim_without_system_information_has_an_unknown_edition(foreign) -> None:
    foreign.system = {}  # PIMs before 6.0 answer 404
    assert facts_of(foreign).unknown == {"system-information": "HTTP 404"}


def test_a_pim_refusing_the_root_filter_is_read_whole(foreign) -> None:
    foreign.fail("/categories$", ServerError(422))  # before 6.0, categories know no `is_root`
    assert [t.code for t in facts_of(foreign).trees] == ["webshop", "archive"]


def test_other_failures_stop_discover(foreign) -> None:
    foreign.fail("/attributes$", *[ServerError(500)] * 3)
    with pytest.raises(SourceError, match="attributes: HTTP 500"):
        facts_of(foreign)


def test_unknown_attributes_leave_the_product_mappings_as_shipped(foreign, tmp_path: Path) -> None:
    foreign.fail("/attributes$", ServerError(403))
    _, guesses = fitted(tmp_path, facts_of(foreign))
    for name in ("products", "prices", "assets"):
        assert (tmp_path / f"mappings/{name}.yaml").read_text() == (ROOT / f"mappings/{name}.yaml").read_text()
    assert any("attributes are unknown (HTTP 403)" in g for g in guesses)


def test_fitted_to_the_demo_pim_it_says_what_the_shipped_config_says(tmp_path: Path) -> None:
    with FakeAkeneo(demo_snapshot()) as demo:
        config, guesses = fitted(tmp_path, facts_of(demo))
    shipped = load_config(ROOT)
    assert config.site == shipped.site
    for job in ("full-import-master", "full-master-image", "full-import-media-assets-pricebook"):
        assert config.jobs[job].mappings.categories == shipped.jobs[job].mappings.categories
        assert config.jobs[job].mappings.prices == shipped.jobs[job].mappings.prices
    mine, theirs = (c.jobs["full-import-master"].mappings.products for c in (config, shipped))
    assert [(a.name, f.sources, f.rule, f.default) for a, f in mine.system] == \
        [(a.name, f.sources, f.rule, f.default) for a, f in theirs.system]
    assert (mine.exclude, mine.attributes.keys()) == (theirs.exclude, theirs.attributes.keys())
    assert guesses == ["mappings/site.yaml: the PIM's first channel; it also has mobile (choose one with --channel)"]
    for name in MAPPINGS[1:]:
        assert (tmp_path / f"mappings/{name}.yaml").read_text() == (ROOT / f"mappings/{name}.yaml").read_text()
