"""Mapping rules: documented examples, and properties that hold for any input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from lxml import etree

from transformer.rules import MAX_EXPONENT, RULES, Attribute, RuleContext, RuleError, format_decimal
from transformer.sfcc import xml_safe

LABELS = {("color", "red"): {"en_US": "Red", "fr_FR": "Rouge"}}


def ctx(code: str = "color", type_: str = "pim_catalog_simpleselect", locale: str | None = None, **kw) -> RuleContext:
    return RuleContext(Attribute(code, type_, **kw), locale, lambda a, c: LABELS.get((a, c), {}))


def apply(name: str, data, context: RuleContext | None = None, **args):
    return RULES[name](data, context or ctx(), args)


@pytest.mark.parametrize("name, data, args, expected", [
    ("text", "  Red T-shirt ", {}, "Red T-shirt"),
    ("text", 40, {}, "40"),
    ("plain_text", "<p>Soft &amp; warm</p>\n<ul><li>cotton</li></ul>", {}, "Soft & warm cotton"),
    ("html", " <p>Soft</p> ", {}, "<p>Soft</p>"),
    ("option_code", "red", {}, "red"),
    ("option_code", ["leather", "cotton"], {}, ["leather", "cotton"]),
    ("boolean", True, {}, "true"),
    ("boolean", False, {}, "false"),
    ("boolean", "0", {}, "false"),
    ("number", "4.5000", {}, "4.5"),
    ("number", 40, {}, "40"),
    ("number", "1E+3", {}, "1000"),
    ("number", "0.0000", {}, "0"),
    ("number", "-0.50", {}, "-0.5"),
    ("number", "4.5", {"decimals": 2}, "4.50"),
    ("metric", {"amount": "25.4500", "unit": "CENTIMETER"}, {}, "25.45 CENTIMETER"),
    ("metric", {"amount": 3, "unit": "KILOGRAM"}, {}, "3 KILOGRAM"),
    ("price", [{"amount": "15.50", "currency": "EUR"}, {"amount": "17.00", "currency": "USD"}], {}, ["15.5 EUR", "17 USD"]),
    ("price", [{"amount": "15.50", "currency": "EUR"}], {"currency": "EUR"}, "15.5"),
    ("price", [{"amount": "15.50", "currency": "EUR"}], {"currency": "USD"}, None),
    ("date", "2012-03-13T00:00:00+01:00", {}, "2012-03-13"),
    ("datetime", "2012-03-13T00:00:00+01:00", {}, "2012-03-12T23:00:00.000Z"),
    ("json", ["front", "back"], {}, '["front","back"]'),
    ("json", [{"ingredient": "sucre", "quantity": 10}], {}, '[{"ingredient":"sucre","quantity":10}]'),
    ("join", ["a", "b"], {"separator": " / "}, "a / b"),
])
def test_rule_examples(name, data, args, expected):
    assert apply(name, data, **args) == expected


def test_option_label_per_locale_and_fallback_to_code():
    assert apply("option_label", "red", ctx(locale="fr_FR")) == "Rouge"
    assert apply("option_label", "red", ctx(locale="de_DE")) == "red"
    assert apply("option_label", ["red", "blue"], ctx(locale="en_US")) == ["Red", "blue"]
    assert RULES["option_label"].per_locale


def test_record_id_uses_the_reference_entity():
    context = ctx("designer", "akeneo_reference_entity", reference_data_name="designers")
    assert apply("record_id", "starck", context) == "akeneo_entity_designers_starck"
    assert apply("record_id", ["a", "b"], context) == ["akeneo_entity_designers_a", "akeneo_entity_designers_b"]


@pytest.mark.parametrize("name, data", [
    ("boolean", "maybe"), ("number", "12,5"), ("number", "abc"), ("number", True), ("number", "NaN"),
    ("metric", "12 cm"), ("price", {"amount": 1}), ("date", "13/03/2012"), ("text", {"a": 1}),
    ("option_code", 12),
])
def test_bad_data_raises_rule_error(name, data):
    with pytest.raises(RuleError):
        apply(name, data)


def test_every_rule_documents_an_example():
    for rule in RULES.values():
        assert "->" in rule.summary, f"rule {rule.name} needs an example in its docstring"


# -- properties ----------------------------------------------------------------------------

json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.decimals(allow_nan=False).map(str),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


ARGUMENTS = {int: st.integers(-3, 60), str: st.text(max_size=5)}


@st.composite
def rule_calls(draw):
    """A rule, PIM-shaped data of any kind, and arguments of the types `validate` lets through."""
    rule = RULES[draw(st.sampled_from(sorted(RULES)))]
    args = {name: draw(ARGUMENTS[types[0]]) for name, types in rule.params.items() if draw(st.booleans())}
    return rule, draw(json_data), args


@given(call=rule_calls(), locale=st.sampled_from([None, "en_US", "fr_FR"]))
def test_rules_are_total_and_deterministic(call, locale):
    """Any PIM data gives a string, a list of strings, None, or a RuleError: never a crash."""
    rule, data, args = call
    context = ctx(locale=locale)
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(("value", rule(data, context, args)))
        except RuleError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]
    kind, result = outcomes[0]
    if kind == "value":
        assert result is None or isinstance(result, str) or (
            isinstance(result, list) and all(isinstance(v, str) for v in result))


@given(st.one_of(st.decimals(allow_nan=False, allow_infinity=False), st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_never_have_an_exponent_or_comma_and_keep_their_value(value):
    try:
        text = format_decimal(value)
    except RuleError:  # absurd magnitudes are refused rather than written as pages of zeros
        assert abs(Decimal(str(value)).adjusted()) > MAX_EXPONENT
        return
    assert "e" not in text.lower() and "," not in text
    assert Decimal(text) == Decimal(str(value))


@given(st.text())
def test_normalisers_are_idempotent(value):
    for normalise in (lambda v: apply("text", v), lambda v: apply("plain_text", v.replace("&", " ")), xml_safe):
        once = normalise(value)
        assert normalise(once) == once


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_number_formatting_is_idempotent(value):
    try:
        once = format_decimal(value)
    except RuleError:
        return
    assert format_decimal(once) == once


@given(st.text())
def test_xml_safe_text_serialises_and_parses_back_unchanged(value):
    element = etree.Element("v")
    element.text = xml_safe(apply("text", value))
    parsed = etree.fromstring(etree.tostring(element, encoding="UTF-8"))
    assert (parsed.text or "") == xml_safe(value.strip())
