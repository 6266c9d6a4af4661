"""The map stage: one PIM product or product model in, one SFCC product view model out.

The mapper resolves everything that does not depend on the record once (which rule and
custom attribute id each attribute gets), so mapping a record is a single pass over its
values: choose the channel's values, apply the rule per locale, and spread the results
over SFCC languages (the default locale also as `x-default`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..endpoints import SELECT_TYPES
from ..errors import RECORD_SKIPPED, ConfigError, ConfigProblem, Location, RecordError, hint
from ..pim import associated
from ..shapes import dropped
from ..rules import DEFAULT_RULE_BY_PROPERTY, DEFAULT_RULE_BY_TYPE, RULES, Attribute, Rule, RuleContext, RuleError
from ..settings import ProductMapping, Site
from ..sfcc import SYSTEM_BY_NAME, SystemAttribute, custom_attribute_id, product_id_problem, system_value_problem, xml_safe
from .values import NO_DATA, X_DEFAULT, Localized, Value, channel_values, localize


class Catalog(Protocol):
    """Lookups in the rest of the PIM that mapping one record may need (the store answers them)."""

    def exists(self, code: str) -> bool: ...

    def enabled_below(self, model: str) -> bool: ...

    def model(self, code: str) -> dict | None: ...


def missing_sources(mapping: ProductMapping, attributes: dict[str, Attribute]) -> list[ConfigProblem]:
    """What the mapping names that the PIM lacks: each a warning, and the source is skipped (a
    fallback list keeps the attributes that exist; a field left with none writes its default)."""
    problems = []
    for attribute, f in mapping.system:
        lacking = [s for s in f.sources if s not in attributes and s not in DEFAULT_RULE_BY_PROPERTY]
        outcome = "the field is not written" if len(lacking) == len(f.sources) else "skipped"
        problems += [ConfigProblem.at(f.origin, f"$.system.{attribute.name}.from",
                                      f"the PIM has no attribute '{source}'{hint(source, attributes)}: {outcome}")
                     for source in lacking]
    return problems


@dataclass
class ProductView:
    """An SFCC product as the templates see it: system values by BM name, custom attributes in order."""

    id: str
    is_model: bool
    system: dict[str, Value | Localized | None]
    custom: list[tuple[str, str | None, Value]] = field(default_factory=list)
    mode: str | None = None  # "delete": remove the product from SFCC
    bundled: list[tuple[str, str]] = field(default_factory=list)  # (product id, quantity)
    set_products: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (product id, link type)


@dataclass(frozen=True)
class _Plan:
    """How one PIM attribute (or product property) is read: its rule and arguments, and for a
    custom attribute the SFCC id it is written to."""

    attribute: Attribute
    rule: Rule
    args: dict
    origin: Location
    custom_id: str | None = None


_TEXT = RULES["text"].fn


class ProductMapper:
    """Maps products and models with one product mapping, for one site."""

    def __init__(self, mapping: ProductMapping, site: Site, attributes: dict[str, Attribute],
                 option_labels: Callable[[str, str], dict[str, str]], families: dict[str, list[str]] | None = None,
                 catalog: "Catalog | None" = None, assets=None, family_variants: dict[str, dict] | None = None):
        """`families`: family code -> its attribute codes (to clear empty selects); `catalog`: what
        the rest of the PIM says (the store): which products exist, what sits below a model;
        `assets`: the custom attributes of the assets a product uses (an `assets.AssetAttributes`);
        `family_variants`: code -> the PIM's family variant, to know which level owns an attribute."""
        self.mapping = mapping
        self.site = site
        self.languages = site.locales
        self.attributes = attributes
        self.option_labels = option_labels
        self.catalog = catalog
        self.assets = assets
        self.family_variants = family_variants or {}
        self.missing = missing_sources(mapping, attributes)  # the engines report them as warnings
        self.system = self._system_plans()
        # Every system field, with the constant ones (only a default) already filled in.
        self.constants = dict.fromkeys(SYSTEM_BY_NAME) | {a.name: d for a, sources, d, _ in self.system if not sources}
        self.plans = self._plans()
        # Per family, the custom attributes written empty when a product has no value, so that a
        # MERGE import clears the value SFCC had: selects, all of them, or none.
        # Asset collections count as selects: the list of assets in use is what tells the storefront
        # which per-asset values (never cleared: see the README) are current.
        clear = {"selects": lambda p: p.attribute.type in SELECT_TYPES | {"pim_catalog_asset_collection"},
                 "all": lambda p: True,
                 "none": lambda p: False}[mapping.clear_empty_values]
        self.clearable = {family: [c for c in codes if c in self.plans and clear(self.plans[c])]
                          for family, codes in (families or {}).items()}
        self._contexts: dict[tuple[str, str | None], RuleContext] = {}
        self.unknown: Counter = Counter()  # values of attributes the PIM's attribute list lacks

    # -- set-up ---------------------------------------------------------------------------

    def _system_plans(self) -> list[tuple[SystemAttribute, tuple[_Plan, ...], object, Location]]:
        """Per system field: its source plans (shared between fields reading the same way), default
        and where the mapping declares it."""
        shared: dict[tuple, _Plan] = {}
        plans = []
        for attribute, f in self.mapping.system:
            sources = []
            for source in f.sources:
                if source not in self.attributes and source not in DEFAULT_RULE_BY_PROPERTY:
                    continue  # the PIM lacks it: reported in `missing`
                pim_attribute = self.attributes.get(source) or Attribute(source, "property")
                rule = f.rule or default_rule(pim_attribute)
                key = (source, rule.name, tuple(sorted(f.args.items())))
                sources.append(shared.setdefault(key, _Plan(pim_attribute, rule, f.args, f.origin)))
            default = f.default
            if default is not None and attribute.kind == "localized":
                default = [(X_DEFAULT, default)]
            plans.append((attribute, tuple(sources), default, f.origin))
        return plans

    def _plans(self) -> dict[str, _Plan]:
        mapping = self.mapping
        mapped_to_system = {s for _, f in mapping.system for s in f.sources}
        plans: dict[str, _Plan] = {}
        owners: dict[str, str] = {}
        for code, attribute in self.attributes.items():
            if code in mapping.exclude or code in mapped_to_system:
                continue
            if mapping.include is not None and code not in mapping.include:
                continue
            override = mapping.attributes.get(code)
            by_type = mapping.rules_by_type.get(attribute.type)
            rule = (override and override.rule) or (by_type and by_type.rule) or default_rule(attribute)
            origin = (override and override.origin) or (by_type and by_type.origin) or mapping.origin
            custom_id = self.custom_id(code)
            if custom_id in owners:
                raise ConfigError([ConfigProblem.at(mapping.origin, "$.custom_attributes", (
                    f"attributes '{owners[custom_id]}' and '{code}' both become custom attribute '{custom_id}': "
                    f"rename one under custom_attributes.attributes"))])
            owners[custom_id] = code
            args = override.args if override and override.rule else {}
            plans[code] = _Plan(attribute, rule, args, origin, custom_id)
        return plans

    def custom_id(self, code: str) -> str:
        """The SFCC custom attribute an attribute is written to (variation axes use it too)."""
        override = self.mapping.attributes.get(code)
        return (override and override.id) or custom_attribute_id(code)

    def values_of(self, item: dict) -> dict:
        """The values of a product or model with what it inherits. Known its family variant, each
        attribute comes from the level that owns it: the root model's common attributes, the
        sub-model's and the variant's own, whatever copies the item carries (a read that did not
        send the item again after its model changed leaves stale copies). Else own values win and
        inherited ones complete them (the API usually sends them merged; a snapshot may not)."""
        values = item.get("values") if isinstance(item.get("values"), dict) else {}
        if not item.get("parent") or self.catalog is None:
            return values
        ancestors = self._ancestors(item["parent"])  # the parent first, the root last
        # Products carry no family variant: their models do.
        owners = self._levels(item.get("family_variant") or (ancestors[0].get("family_variant") if ancestors else None))
        if owners is None:
            inherited: dict = {}
            for model in reversed(ancestors):
                inherited |= model.get("values") if isinstance(model.get("values"), dict) else {}
            return values | {k: v for k, v in inherited.items() if k not in values}
        level = len(ancestors)
        inherited = {}
        for model_level, model in enumerate(reversed(ancestors)):
            own = model.get("values") if isinstance(model.get("values"), dict) else {}
            inherited |= {code: entries for code, entries in own.items() if owners.get(code, 0) == model_level}
        own = {code: entries for code, entries in values.items() if owners.get(code, 0) >= level}
        # In the item's own order (the order attributes are written in), then what only the models hold.
        ordered = [code for code in values if code in own or code in inherited]
        ordered += [code for code in inherited if code not in values]
        return {code: own[code] if code in own else inherited[code] for code in ordered}

    def _ancestors(self, parent: str) -> list[dict]:
        found = []
        while parent and len(found) < 2:  # Akeneo has two levels of models at most
            model = self.catalog.model(parent)  # the catalog keeps the recent ones
            if model is None:
                break
            found.append(model)
            parent = model.get("parent")
        return found

    def _levels(self, family_variant: str | None) -> dict[str, int] | None:
        """Attribute code -> the level that owns it in a family variant (0: the root model's common
        attributes); the identifier and unique attributes always belong to the product."""
        variant = self.family_variants.get(family_variant or "")
        if variant is None:
            return None
        sets = sorted(variant.get("variant_attribute_sets") or [], key=lambda s: s.get("level", 0))
        owners = {code: index for index, found in enumerate(sets, 1)
                  for code in list(found.get("attributes") or []) + list(found.get("axes") or [])}
        owners |= {code: len(sets) for code, attribute in self.attributes.items()
                   if attribute.type == "pim_catalog_identifier" or attribute.unique}
        return owners

    def axis_text(self, code: str, data: object) -> str:
        """A variation axis value exactly as variants carry it in their custom attribute."""
        plan = self.plans.get(code)
        if plan is None:
            raise RuleError(f"axis '{code}' is not written as a custom attribute (excluded from the mapping?)")
        if plan.rule.per_locale:
            raise RuleError(f"axis '{code}' uses rule '{plan.rule.name}', whose value differs per language")
        value = _xml_text(plan.rule.fn(data, self._ctx(plan.attribute, None), **plan.args))
        if not isinstance(value, str) or not 1 <= len(value) <= 256:
            raise RuleError(f"axis '{code}' has a value SFCC cannot use as a variation value: {data!r}")
        return value

    def _ctx(self, attribute: Attribute, locale: str | None) -> RuleContext:
        key = (attribute.code, locale)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = RuleContext(attribute, locale, self.option_labels)
        return ctx

    # -- one record -----------------------------------------------------------------------

    def gone(self, record_id: str) -> ProductView:
        """What to write for a product deleted in the PIM: offline, or deleted, as the mapping says."""
        if self.mapping.deleted_products == "delete":
            return ProductView(record_id, False, dict.fromkeys(SYSTEM_BY_NAME), mode="delete")
        return ProductView(record_id, False, dict.fromkeys(SYSTEM_BY_NAME) | {"onlineFlag": "false"})

    def map(self, item: dict, is_model: bool) -> tuple[ProductView | None, list[RecordError]]:
        record_id = item.get("code") if is_model else item.get("identifier")
        problem = product_id_problem(record_id)
        if problem:
            return None, [RecordError(str(record_id), "identifier", problem, action=RECORD_SKIPPED)]
        errors: list[RecordError] = []
        if not isinstance(item.get("values") or {}, dict):
            return None, [RecordError(record_id, "values", "values must be an object of attribute codes",
                                       action=RECORD_SKIPPED)]
        values = self.values_of(item)
        view = ProductView(record_id, is_model, dict(self.constants))
        computed: dict[int, dict] = {}  # per source plan: a source read by two fields is read once
        for attribute, sources, default, origin in self.system:
            if not sources:
                continue  # a constant, already in place
            try:
                view.system[attribute.name] = self._system_value(attribute, sources, default, item, values, computed)
            except RuleError as exc:
                errors.append(RecordError(record_id, attribute.name, str(exc), origin))
        for code, entries in values.items():
            plan = self.plans.get(code)
            if plan is None:
                if code not in self.attributes:
                    self.unknown[code] += 1
                continue
            try:
                view.custom += self._custom_values(plan, entries)
                if self.assets is not None and plan.attribute.type == "pim_catalog_asset_collection":
                    codes = next((data for locale, data in channel_values(entries, self.site.channel)), [])
                    found, problems = self.assets.values(plan.attribute.reference_data_name, codes)
                    view.custom += found
                    errors += [RecordError(record_id, code, problem, plan.origin) for problem in problems]
            except RuleError as exc:
                errors.append(RecordError(record_id, code, str(exc), plan.origin))
        for field, problem, code in dropped(item):  # what the store found of another shape
            errors.append(RecordError(record_id, field, problem, self._origin_of(code)))
        if not is_model:  # a model's attributes include axes that only its variants hold
            written = {custom_id for custom_id, _, _ in view.custom}
            view.custom += [(self.plans[code].custom_id, None, "") for code in self.clearable.get(item.get("family"), ())
                            if self.plans[code].custom_id not in written]
        self._associations(view, item, errors)
        return view, errors

    def _origin_of(self, code: str | None) -> Location | None:
        """The mapping line that reads PIM attribute `code` (a custom attribute, else a system one)."""
        plan = self.plans.get(code)
        if plan is not None:
            return plan.origin
        return next((origin for _, sources, _, origin in self.system for source in sources
                     if source.attribute.code == code), None)

    def _associations(self, view: ProductView, item: dict, errors: list[RecordError]) -> None:
        """Bundles and product sets (by family), and product links when links are the target."""
        settings = self.mapping.associations
        family = item.get("family")

        def targets(kind: str, origin: Location, quantified: bool = False) -> list[tuple[str, int]]:
            found, refused = associated(item, kind, quantified)
            if self.catalog is not None:
                known = {target: self.catalog.exists(target) for target, _ in found}  # one lookup each
                refused += [f"{target} (not in the PIM)" for target, _ in found if not known[target]]
                found = [(target, n) for target, n in found if known[target]]
            if refused:
                errors.append(RecordError(view.id, "associations", f"'{kind}' targets left out: {', '.join(refused[:5])}",
                                          origin))
            return found

        bundles, sets = settings.bundles, settings.product_sets
        if bundles and family in bundles.families:
            view.bundled = [(target, str(quantity)) for target, quantity in targets(bundles.association, bundles.origin, True)]
        if sets and family in sets.families:
            view.set_products = [target for target, _ in targets(sets.association, sets.origin)]
        if settings.target == "product-links":
            view.links = [(target, link) for kind, link in settings.link_types.items()
                          for target, _ in targets(kind, settings.origin)]

    def _system_value(self, attribute: SystemAttribute, sources, default, item: dict, values: dict, computed: dict):
        readings = []
        for plan in sources:
            if id(plan) not in computed:
                computed[id(plan)] = self._source_value(plan, item, values)
            readings.append(computed[id(plan)])
        if attribute.kind == "localized":
            result = localize(_first_per_locale(readings, self.languages), self.languages, self.site.default_locale)
        else:
            result = next((v for v in (_single(r, self.site.default_locale) for r in readings) if v), None)
        if not result:
            return default
        for _, text in (result if attribute.kind == "localized" else [(None, result)]):
            problem = system_value_problem(attribute, text) if isinstance(text, str) else \
                f"gives {len(text)} values where SFCC takes one"
            if problem:
                raise RuleError(problem)
        return result

    def _source_value(self, plan: _Plan, item: dict, values: dict) -> dict[str | None, Value]:
        code = plan.attribute.code
        if plan.attribute.type == "property":  # a product property such as `enabled`
            data = item.get("code") if code == "identifier" and "code" in item else item.get(code)
            if code == "enabled" and "code" in item and self.catalog is not None:
                data = self.catalog.enabled_below(item["code"])  # a model is online when a product below it is
            entries = [] if data in (None, "", []) else [(None, data)]
        else:
            entries = channel_values(values.get(code) or (), self.site.channel)
        return self._apply(plan, entries)

    def _apply(self, plan: _Plan, entries) -> dict[str | None, Value]:
        """Rule results per PIM locale (None for a value without locale)."""
        out: dict[str | None, Value] = {}
        if plan.rule.per_locale and entries and entries[0][0] is None:
            # One value, but its text differs per language (option labels).
            entries = [(locale, entries[0][1]) for locale in self.languages]
        fn, args, attribute = plan.rule.fn, plan.args, plan.attribute
        plain_text = fn is _TEXT and not args  # most values: no rule context needed
        for locale, data in entries:
            if locale is not None and locale not in self.languages:
                continue
            if plain_text and type(data) is str:
                value = xml_safe(data.strip())
            else:
                value = _xml_text(fn(data, self._ctx(attribute, locale), **args))
            if value not in (None, "", []):
                out[locale] = value
        return out

    def _custom_values(self, plan: _Plan, entries: list[dict]) -> list[tuple[str, str | None, Value]]:
        by_locale = self._plain_texts(entries) if plan.rule.fn is _TEXT and not plan.args else None
        if by_locale is None:
            by_locale = self._apply(plan, channel_values(entries, self.site.channel))
        if None in by_locale:
            return [(plan.custom_id, None, by_locale[None])]
        return [(plan.custom_id, lang, value)
                for lang, value in localize(by_locale, self.languages, self.site.default_locale)]


    def _plain_texts(self, entries: object) -> dict[str | None, str] | None:
        """`_apply` of the `text` rule without arguments to entries whose data are strings (most custom
        values), in one pass; None for anything else, which the general path reads (and reports)."""
        channel, languages, out = self.site.channel, self.languages, {}
        try:
            for entry in entries:
                scope, data = entry.get("scope"), entry.get("data")
                if scope is not None and scope != channel or data in NO_DATA:
                    continue
                if type(data) is not str:
                    return None
                locale = entry.get("locale")
                if locale is None or locale in languages:
                    value = xml_safe(data.strip())
                    if value:
                        out[locale] = value
        except (AttributeError, TypeError):
            return None
        return out


def _single(by_locale: dict[str | None, Value], default_locale: str) -> Value | None:
    """One value for a field SFCC does not localize: the unlocalized one, else the default locale's."""
    if None in by_locale:
        return by_locale[None]
    return by_locale.get(default_locale) or next(iter(by_locale.values()), None)


def shows_associations(mapping: ProductMapping) -> Callable[[dict], bool] | None:
    """Which items' master catalog products show their associations: all of them when associations
    become product links, else those of the product set and bundle families (None: none)."""
    settings = mapping.associations
    if settings.target == "product-links":
        return lambda item: True
    families = {f for found in (settings.product_sets, settings.bundles) if found for f in found.families}
    return (lambda item: item.get("family") in families) if families else None


def default_rule(attribute: Attribute) -> Rule:
    """The rule used when the mapping names none: by attribute type, or by product property."""
    if attribute.type == "property":
        return RULES[DEFAULT_RULE_BY_PROPERTY[attribute.code]]
    return RULES[DEFAULT_RULE_BY_TYPE.get(attribute.type, "text")]


def _first_per_locale(readings: list[dict], languages: dict[str, str]) -> dict[str | None, Value]:
    """`from: [a, b]` for a localized field: per locale, the first source with a value. A value
    without locale counts for every language (alone, it stays a single x-default value)."""
    if len(readings) == 1:
        return readings[0]
    merged: dict[str | None, Value] = {}
    for by_locale in readings:
        spread = dict.fromkeys(languages, by_locale[None]) if None in by_locale else by_locale
        for locale, value in spread.items():
            merged.setdefault(locale, value)
    return merged


def _xml_text(value: Value | None) -> Value | None:
    """Rule output as XML can carry it; values left empty are dropped."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, list):
        return [text for text in map(xml_safe, value) if text]
    return value


