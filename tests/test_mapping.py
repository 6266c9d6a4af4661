"""The map stage: scope selection, localization, custom attribute ids, and whole products,
including the property that any PIM text yields a valid SFCC document or a record error."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

from transformer.config import load_config
from transformer.errors import ConfigError
from transformer.map.products import ProductMapper
from transformer.map.values import channel_values, localize
from transformer.sfcc import camel
from transformer.render import RecordRenderer, environment, render_document
from transformer.rules import Attribute
from transformer.sfcc import xml_safe
from transformer.xsd import StreamValidator

from conftest import ROOT

LANGS = {"en_US": "en-US", "fr_FR": "fr-FR", "de_DE": "de-DE"}
ATTRIBUTES = {
    "sku": Attribute("sku", "pim_catalog_identifier"),
    "name": Attribute("name", "pim_catalog_text", localizable=True),
    "short_description": Attribute("short_description", "pim_catalog_textarea", localizable=True),
    "description": Attribute("description", "pim_catalog_textarea", localizable=True, scopable=True),
    "meta_title": Attribute("meta_title", "pim_catalog_text", localizable=True),
    "meta_description": Attribute("meta_description", "pim_catalog_text", localizable=True),
    "ean": Attribute("ean", "pim_catalog_text"),
    "upc": Attribute("upc", "pim_catalog_text"),
    "brand": Attribute("brand", "pim_catalog_simpleselect"),
    "color": Attribute("color", "pim_catalog_simpleselect"),
    "material": Attribute("material", "pim_catalog_multiselect"),
    "weight": Attribute("weight", "pim_catalog_metric"),
    "size_eu": Attribute("size_eu", "pim_catalog_text"),
    "price": Attribute("price", "pim_catalog_price_collection"),
}
LABELS = {("brand", "lune"): {"en_US": "Moon", "fr_FR": "Lune"}}
CONFIG = load_config(ROOT)


def mapper(attributes=ATTRIBUTES) -> ProductMapper:
    return ProductMapper(CONFIG.jobs["full-import-master"].mappings.products, CONFIG.site, attributes,
                         lambda a, c: LABELS.get((a, c), {}))


def value(data, locale=None, scope=None) -> dict:
    return {"locale": locale, "scope": scope, "data": data}


def product(identifier="P1", **values) -> dict:
    return {"identifier": identifier, "enabled": True, "values": values}


def test_camel_case_ids():
    assert camel("short_description") == "shortDescription"
    assert camel("size_eu") == "sizeEu"
    assert camel("name") == "name"
    assert camel("a__b") == "aB"


def test_channel_values_keep_the_channel_and_unscoped_values():
    entries = [value("web", "en_US", "ecommerce"), value("mob", "en_US", "mobile"), value("all", "fr_FR"), value("", "de_DE")]
    assert channel_values(entries, "ecommerce") == [("en_US", "web"), ("fr_FR", "all")]


def test_localize_maps_locales_and_writes_the_default_as_x_default():
    assert localize({"fr_FR": "Rouge", "en_US": "Red"}, LANGS, "en_US") == [
        ("x-default", "Red"), ("en-US", "Red"), ("fr-FR", "Rouge")]
    assert localize({"fr_FR": "Rouge"}, LANGS, "en_US") == [("x-default", "Rouge"), ("fr-FR", "Rouge")]
    assert localize({None: "Red"}, LANGS, "en_US") == [("x-default", "Red")]
    assert localize({"es_ES": "Rojo"}, LANGS, "en_US") == []


@given(st.dictionaries(st.sampled_from(list(LANGS)), st.text(min_size=1), min_size=1))
def test_localization_keeps_every_locale_value(by_locale):
    out = dict(localize(by_locale, LANGS, "en_US"))
    assert {lang: out[lang] for lang in out if lang != "x-default"} == {LANGS[k]: v for k, v in by_locale.items()}
    assert out["x-default"] == by_locale.get("en_US", by_locale[next(k for k in LANGS if k in by_locale)])


def test_a_product_maps_system_and_custom_attributes():
    view, errors = mapper().map(product(
        name=[value("Red shirt", "en_US"), value("Chemise rouge", "fr_FR"), value("Spanish", "es_ES")],
        description=[value("<p>Web</p>", "en_US", "ecommerce"), value("<p>Mobile</p>", "en_US", "mobile")],
        ean=[value("4006381333931")],
        brand=[value("lune")],
        color=[value("red")],
        material=[value(["cotton", "silk"])],
        weight=[value({"amount": "0.2500", "unit": "KILOGRAM"})],
        size_eu=[value("42")],
        price=[value([{"amount": "10", "currency": "EUR"}])],
    ), is_model=False)
    assert errors == []
    assert view.system["name"] == [("x-default", "Red shirt"), ("en-US", "Red shirt"), ("fr-FR", "Chemise rouge")]
    assert view.system["longDescription"] == [("x-default", "<p>Web</p>"), ("en-US", "<p>Web</p>")]
    assert view.system["EAN"] == "4006381333931"
    assert view.system["brand"] == "Moon"  # option label in the default locale
    assert view.system["onlineFlag"] == "true"
    assert view.system["searchable"] == "true"  # a default
    assert view.system["pageTitle"] == view.system["name"]  # from: [meta_title, name]
    assert view.custom == [("color", None, "red"), ("akeneo_material", None, ["cotton", "silk"]),
                           ("akeneo_weight", None, "0.25 KILOGRAM"), ("akeneo_sizeEu", None, "42")]


def test_bad_values_are_record_errors_and_the_rest_is_kept():
    view, errors = mapper().map(product(ean=[value("x" * 300)], weight=[value("12 cm")], name=[value("Ok", "en_US")]),
                                is_model=False)
    assert {(e.field, e.message) for e in errors} == {
        ("EAN", "value is 300 characters long, SFCC allows 256"), ("weight", "expected a metric {amount, unit}")}
    assert view.system["EAN"] is None and view.system["name"]


@pytest.mark.parametrize("identifier, message", [
    (" P1", "product id has leading or trailing whitespace"),
    ("P" * 101, "product id is 101 characters long, SFCC allows 100"),
    ("", "product id is empty"),
    ("P\n1", "product id contains a line break"),
])
def test_products_with_ids_sfcc_refuses_are_reported(identifier, message):
    view, errors = mapper().map(product(identifier), is_model=False)
    assert view is None and [(e.record, e.field, e.message) for e in errors] == [(identifier, "identifier", message)]


def test_models_use_their_code_as_product_id():
    view, _ = mapper().map({"code": "M1", "values": {"name": [value("Model", "en_US")]}}, is_model=True)
    assert view.id == "M1" and view.is_model


def test_custom_attribute_id_collisions_are_config_errors():
    attributes = dict(ATTRIBUTES, sizeEu=Attribute("sizeEu", "pim_catalog_text"))
    with pytest.raises(ConfigError, match="'size_eu' and 'sizeEu' both become custom attribute 'akeneo_sizeEu'"):
        mapper(attributes)


def test_an_attribute_the_pim_lacks_is_a_located_warning_and_skipped():
    """A PIM with other codes than the shipped mapping's: the field is left out (a fallback list
    keeps the attributes that exist) and the mapper says where the mapping names what is missing."""
    attributes = {k: v for k, v in ATTRIBUTES.items() if k not in ("upc", "meta_description")}
    lacking = mapper(attributes)
    assert [str(p) for p in lacking.missing] == [
        "mappings/products.yaml:21:9: $.system.UPC.from: the PIM has no attribute 'upc': the field is not written",
        "mappings/products.yaml:24:21: $.system.pageDescription.from: the PIM has no attribute 'meta_description' "
        "(did you mean 'description'?): skipped"]
    # Values the PIM's attribute list lacks are never read through the mapping that names them.
    product = {"identifier": "p1", "values": {"upc": [value("0123")], "meta_description": [value("Meta", "en_US")],
                                             "short_description": [value("Short", "en_US")]}}
    view, errors = lacking.map(product, is_model=False)
    assert errors == [] and view.system["UPC"] is None
    assert view.system["pageDescription"] == [("x-default", "Short"), ("en-US", "Short")]
    assert mapper().missing == []


# -- XML safety: any PIM text gives a valid document that parses back to the same text --

ENV = environment(ROOT / "templates")
RENDER = RecordRenderer(ENV, {"product": "catalog/product.xml.j2"}, site=CONFIG.site)


def render_catalog(views) -> bytes:
    chunks = render_document(ENV, "catalog/master.xml.j2", (RENDER(v) for v in views), site=CONFIG.site)
    data = "".join(chunks).encode("utf-8")
    validator = StreamValidator("hypothesis")
    validator.feed(data)
    validator.close()
    return data


@settings(max_examples=150, deadline=None)
@given(name=st.text(), description=st.text(), size=st.text(), identifier=st.text(string.printable, min_size=0, max_size=120))
def test_any_pim_text_gives_valid_xml_or_a_record_error(name, description, size, identifier):
    view, errors = mapper().map(product(identifier, name=[value(name, "fr_FR")], description=[value(description, "en_US", "ecommerce")],
                                        size_eu=[value(size)]), is_model=False)
    if view is None:
        assert errors and errors[0].field == "identifier"
        return
    document = etree.fromstring(render_catalog([view]))
    ns = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
    fr = document.find(".//c:display-name[@{http://www.w3.org/XML/1998/namespace}lang='fr-FR']", ns)
    assert (fr.text if fr is not None else "") == xml_safe(name.strip())
    size_element = document.find(".//c:custom-attribute[@attribute-id='akeneo_sizeEu']", ns)
    assert (size_element.text if size_element is not None else "") == xml_safe(size.strip())


def test_first_source_with_a_value_wins_per_language_and_x_default_follows_the_default_locale():
    # pageTitle is `from: [meta_title, name]`: meta_title only in French.
    view, _ = mapper().map(product(meta_title=[value("Titre FR", "fr_FR")],
                                   name=[value("English name", "en_US"), value("Nom", "fr_FR")]), is_model=False)
    assert view.system["pageTitle"] == [("x-default", "English name"), ("en-US", "English name"), ("fr-FR", "Titre FR")]


def test_an_unlocalized_first_source_counts_for_every_language():
    attributes = dict(ATTRIBUTES, meta_title=Attribute("meta_title", "pim_catalog_text"))
    view, _ = mapper(attributes).map(product(meta_title=[value("Same everywhere")], name=[value("Nom", "fr_FR")]),
                                     is_model=False)
    assert dict(view.system["pageTitle"]) == {"x-default": "Same everywhere", "en-US": "Same everywhere",
                                              "fr-FR": "Same everywhere", "de-DE": "Same everywhere"}


@pytest.mark.parametrize("values, field, message", [
    ({"ean": ["x"]}, "EAN", "values must be a list of {locale, scope, data} objects"),
    ({"color": {"data": "red"}}, "color", "values must be a list of {locale, scope, data} objects"),
    ({"weight": [value({"amount": "1e999999", "unit": "KILOGRAM"})]}, "weight", "'1e999999' is out of range (more than 38 digits)"),
])
def test_malformed_values_are_record_errors(values, field, message):
    view, errors = mapper().map(product(**values), is_model=False)
    assert view is not None and [(e.field, e.message) for e in errors] == [(field, message)]


def test_values_that_break_xsd_ranges_are_record_errors():
    from dataclasses import replace

    from transformer.errors import Location
    from transformer.settings import Field
    from transformer.sfcc import SYSTEM_BY_NAME
    fields = (("searchRank", "rating"), ("siteMapPriority", "rating"))
    system = tuple((SYSTEM_BY_NAME[name], Field((source,), None, {}, None, Location("m.yaml", 1, 1)))
                   for name, source in fields)
    mapping = replace(CONFIG.jobs["full-import-master"].mappings.products, system=system)
    attributes = dict(ATTRIBUTES, rating=Attribute("rating", "pim_catalog_number"))
    one = ProductMapper(mapping, CONFIG.site, attributes, lambda a, c: {})
    _, errors = one.map(product(rating=[value("3000000000")]), is_model=False)
    assert [(e.field, e.message) for e in errors] == [
        ("searchRank", "'3000000000' is not a whole number that fits 32 bits"),
        ("siteMapPriority", "'3000000000' is not between 0.0 and 1.0")]


def test_values_of_attributes_the_pim_does_not_list_are_counted():
    one = mapper()
    one.map(product(mystery=[value("?")]), is_model=False)
    one.map(product(mystery=[value("?")]), is_model=False)
    assert one.unknown == {"mystery": 2}


def test_a_tab_in_a_product_id_is_refused():
    view, errors = mapper().map(product("A\tB"), is_model=False)
    assert view is None and errors[0].message == "product id contains a tab (XML would read it as a space)"


def test_empty_selects_of_the_family_are_written_empty_so_merge_clears_them():
    one = ProductMapper(CONFIG.jobs["full-import-master"].mappings.products, CONFIG.site, ATTRIBUTES,
                        lambda a, c: {}, families={"shirts": ["color", "material", "size_eu", "name"]})
    view, _ = one.map({**product(color=[value("red")]), "family": "shirts"}, is_model=False)
    assert [c for c in view.custom if c[0] in ("color", "akeneo_material")] == [("color", None, "red"),
                                                                             ("akeneo_material", None, "")]
    model, _ = one.map({"code": "M", "family": "shirts", "values": {}}, is_model=True)
    assert model.custom == []  # a model's empty selects may be axes its variants hold


def test_a_model_is_online_when_a_product_below_it_is_enabled():
    class Below:
        def enabled_below(self, model: str) -> bool:
            return model == "M-ON"

    one = ProductMapper(CONFIG.jobs["full-import-master"].mappings.products, CONFIG.site, ATTRIBUTES,
                        lambda a, c: {}, catalog=Below())
    assert one.map({"code": "M-ON", "values": {}}, is_model=True)[0].system["onlineFlag"] == "true"
    assert one.map({"code": "M-OFF", "values": {}}, is_model=True)[0].system["onlineFlag"] == "false"


@pytest.mark.parametrize("setting, cleared", [("selects", ["akeneo_material"]), ("all", ["akeneo_material", "akeneo_sizeEu"]),
                                              ("none", [])])
def test_which_empty_values_are_written_to_clear_them(setting, cleared):
    from dataclasses import replace

    mapping = replace(CONFIG.jobs["full-import-master"].mappings.products, clear_empty_values=setting)
    one = ProductMapper(mapping, CONFIG.site, ATTRIBUTES, lambda a, c: {},
                        families={"shirts": ["color", "material", "size_eu"]})
    view, _ = one.map({**product(color=[value("red")]), "family": "shirts"}, is_model=False)
    assert [c[0] for c in view.custom if c[2] == ""] == cleared


def test_values_inherited_from_models_are_merged_and_own_values_win():
    class Models:
        models = {"root": {"code": "root", "parent": None, "values": {"name": [value("Root name", "en_US")],
                                                                      "material": [value(["cotton"])]}},
                  "sub": {"code": "sub", "parent": "root", "values": {"color": [value("red")]}}}

        def model(self, code):
            return self.models.get(code)

        def exists(self, code):
            return True

        def enabled_below(self, code):
            return True

    one = ProductMapper(CONFIG.jobs["full-import-master"].mappings.products, CONFIG.site, ATTRIBUTES,
                        lambda a, c: {}, catalog=Models())
    view, _ = one.map({**product(size_eu=[value("42")], material=[value(["silk"])]), "parent": "sub"}, is_model=False)
    assert view.system["name"][0] == ("x-default", "Root name")  # from the root model
    assert ("color", None, "red") in view.custom  # from the sub-model
    assert ("akeneo_material", None, ["silk"]) in view.custom  # its own value wins
