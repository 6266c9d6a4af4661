"""What a PIM holds, and the shipped configuration fitted to it.

`discover` reads the PIM's structure (channels, locales, currencies, category trees, families,
attributes, edition), never its products, 100 items a page. An endpoint the API user may not read
or that an older PIM lacks (HTTP 403, 404, 405) leaves its fact unknown instead of stopping: a
first look at a PIM should show everything it can. `format_facts` prints the facts for
`akeneo-sfcc discover`; `fit_config` rewrites a copy of the shipped mapping files so that they
name this PIM's channel, locales, trees and attribute codes instead of the demo's, marking each
guess with a `# guessed:` comment and keeping every other line (and comment) as it was.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .endpoints import SELECT_TYPES
from .errors import ConfigError, SourceError, TransformerError, hint
from .rules import DEFAULT_RULE_BY_PROPERTY
from .sources.akeneo import AkeneoClient
from .yamlload import load_yaml

REFUSED = frozenset({403, 404, 405})
PAGE = {"limit": "100"}
ENABLED = json.dumps({"enabled": [{"operator": "=", "value": True}]})
ROOTS = json.dumps({"is_root": [{"operator": "=", "value": True}]})
IDENTIFIER, TEXT, TEXTAREA = "pim_catalog_identifier", "pim_catalog_text", "pim_catalog_textarea"
SIMPLESELECT, PRICE = "pim_catalog_simpleselect", "pim_catalog_price_collection"
IMAGE, ASSETS = "pim_catalog_image", "pim_catalog_asset_collection"


# -- facts ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    code: str
    locales: tuple[str, ...]
    currencies: tuple[str, ...]
    category_tree: str | None
    labels: dict[str, str]


@dataclass(frozen=True)
class Tree:
    """A category tree: a root category."""

    code: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Family:
    code: str
    labels: dict[str, str]
    attribute_count: int
    attribute_as_label: str | None


@dataclass(frozen=True)
class Attribute:
    code: str
    type: str
    localizable: bool
    scopable: bool
    group: str | None
    labels: dict[str, str]
    main_identifier: bool


@dataclass(frozen=True)
class PimFacts:
    """What `discover` read. A fact the PIM refused to give is empty and named in `unknown` (endpoint
    -> 'HTTP 405'), so that "could not read" is never taken for "has none"."""

    channels: tuple[Channel, ...] = ()
    locales: tuple[str, ...] = ()  # enabled ones
    currencies: tuple[str, ...] = ()  # enabled ones
    trees: tuple[Tree, ...] = ()
    families: tuple[Family, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    version: str | None = None
    edition: str | None = None
    unknown: dict[str, str] = field(default_factory=dict)
    url: str = ""  # the PIM's

    def channel(self, code: str) -> Channel | None:
        return next((c for c in self.channels if c.code == code), None)

    def of_type(self, kind: str) -> list[Attribute]:
        return [a for a in self.attributes if a.type == kind]


def discover(client: AkeneoClient) -> PimFacts:
    """The PIM's structure, read through `client`; refused endpoints are noted, other failures raise."""
    reader = _Reader(client)
    channels = tuple(Channel(c["code"], tuple(c.get("locales") or ()), tuple(c.get("currencies") or ()),
                             c.get("category_tree"), c.get("labels") or {}) for c in reader.items("channels"))
    locales = tuple(i["code"] for i in reader.items("locales", search=ENABLED) if i.get("enabled"))
    currencies = tuple(i["code"] for i in reader.items("currencies", search=ENABLED) if i.get("enabled"))
    trees = tuple(Tree(c["code"], c.get("labels") or {}) for c in reader.roots() if c.get("parent") is None)
    families = tuple(Family(f["code"], f.get("labels") or {}, len(f.get("attributes") or ()),
                            f.get("attribute_as_label")) for f in reader.items("families"))
    attributes = tuple(Attribute(a["code"], a.get("type", ""), bool(a.get("localizable")), bool(a.get("scopable")),
                                 a.get("group"), a.get("labels") or {}, bool(a.get("is_main_identifier")))
                       for a in reader.items("attributes"))
    system = reader.one("system-information")
    return PimFacts(channels, locales, currencies, trees, families, attributes, system.get("version"),
                    system.get("edition"), reader.unknown, client.connection.url)


class _Reader:
    """Reads whole lists, noting refused endpoints in `unknown` instead of raising."""

    def __init__(self, client: AkeneoClient):
        self.client = client
        self.unknown: dict[str, str] = {}

    def items(self, path: str, **params: str) -> list[dict]:
        try:
            return self._all(path, params)
        except SourceError as error:
            self._note(path, error)
            return []

    def roots(self) -> list[dict]:
        """Root categories only (`is_root`), or every category from a PIM older than 6.0, which
        refuses that filter (422); a server that ignores it is answered by the caller's filter."""
        try:
            return self._all("categories", {"search": ROOTS})
        except SourceError as error:
            if error.status == 422:
                return self.items("categories")
            self._note("categories", error)
            return []

    def _all(self, path: str, params: dict[str, str]) -> list[dict]:
        return [item for page, _ in self.client.pages(path, PAGE | params) for item in page]

    def one(self, path: str) -> dict:
        try:
            found = self.client.get_json(path)
        except SourceError as error:
            self._note(path, error)
            return {}
        return found if isinstance(found, dict) else {}

    def _note(self, path: str, error: SourceError) -> None:
        status = error.status
        if status not in REFUSED:
            raise error
        self.unknown[path] = f"HTTP {status}"


# -- the report ---------------------------------------------------------------------------------------

def format_facts(facts: PimFacts) -> str:
    """A short report for `akeneo-sfcc discover`: one line per channel, tree and family, attributes by type."""
    preferred = (*(facts.channels[0].locales if facts.channels else ()), *facts.locales)

    def label(labels: dict[str, str]) -> str:
        return next((labels[locale] for locale in (*preferred, *labels) if labels.get(locale)), "")

    def heading(title: str, endpoint: str, count: int, codes: tuple[str, ...] = ()) -> str:
        reason = facts.unknown.get(endpoint)
        return f"{title}: unknown (the PIM answered {reason})" if reason else \
            f"{title} ({count})" + (f": {', '.join(codes)}" if codes else "")

    edition = facts.unknown.get("system-information")
    width = max((len(c.code) for c in (*facts.channels, *facts.families)), default=0)
    return "\n".join([
        f"PIM {facts.url}: " + (f"unknown version and edition (the PIM answered {edition})" if edition else
                                f"Akeneo {facts.version or '?'}, edition {facts.edition or '?'}"),
        heading("Channels", "channels", len(facts.channels)),
        *(f"  {c.code:<{width}}  locales {', '.join(c.locales) or '-'}; currencies {', '.join(c.currencies) or '-'}; "
          f"tree {c.category_tree or '-'}" for c in facts.channels),
        heading("Locales, enabled", "locales", len(facts.locales), facts.locales),
        heading("Currencies, enabled", "currencies", len(facts.currencies), facts.currencies),
        heading("Category trees", "categories", len(facts.trees)),
        *(f"  {t.code}  {label(t.labels)}".rstrip() for t in facts.trees),
        heading("Families", "families", len(facts.families)),
        *(f"  {f.code:<{width}}  {f.attribute_count:>3} attributes  {label(f.labels)}".rstrip()
          for f in facts.families),
        heading("Attributes by type, (L) localizable, (S) scopable", "attributes", len(facts.attributes)),
        *_by_type(facts.attributes)])


def _by_type(attributes: tuple[Attribute, ...]) -> list[str]:
    """One line per attribute type: its codes, flagged (L) localizable and (S) scopable."""
    by_type: dict[str, list[str]] = {}
    for a in attributes:
        flags = "L" * a.localizable + "S" * a.scopable
        by_type.setdefault(a.type, []).append(a.code + (f" ({flags})" if flags else ""))
    width = max(map(len, by_type), default=0)
    return [f"  {kind:<{width}}  {', '.join(codes)}" for kind, codes in sorted(by_type.items())]


# -- fitting the config -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _SystemGuess:
    """Where an SFCC system attribute is looked for: well-known codes of attributes of these types,
    then (`then`) the sources of another system field, e.g. the page title falls back on the name."""

    field: str
    codes: tuple[str, ...]
    types: frozenset[str]
    rule: str | None = None
    then: str | None = None


TEXTS = frozenset({TEXT, TEXTAREA})
CODES = frozenset({TEXT, IDENTIFIER})
# In dependency order: a field's `then` comes before it.
SYSTEM_GUESSES = (
    _SystemGuess("name", ("name", "title", "product_name"), TEXTS),
    _SystemGuess("shortDescription", ("short_description", "summary"), TEXTS, "plain_text"),
    _SystemGuess("longDescription", ("description", "long_description"), TEXTS, "html"),
    _SystemGuess("EAN", ("ean", "ean13", "gtin", "gtin13"), CODES),
    _SystemGuess("UPC", ("upc", "upc_a", "gtin12"), CODES),
    _SystemGuess("brand", ("brand", "manufacturer"), TEXTS | {SIMPLESELECT}),  # option_label when a select
    _SystemGuess("pageTitle", ("meta_title", "seo_title"), TEXTS, then="name"),
    _SystemGuess("pageDescription", ("meta_description", "seo_description"), TEXTS, "plain_text",
                 then="shortDescription"),
)
IMAGE_KINDS = {"images": ("image_attributes", IMAGE, "image attributes"),
               "assets": ("asset_attributes", ASSETS, "asset collections")}
SOURCE_KINDS = {"both": ("images", "assets"), "images": ("images",), "assets": ("assets",), "none": ()}
CUSTOM_COMMENTS = {"rules_by_type": "Rule per PIM attribute type (defaults shown by `akeneo-sfcc rules`).",
                   "attributes": "Per-attribute overrides: another custom attribute id, rule or args."}


def fit_config(folder: Path, facts: PimFacts, channel: str | None = None) -> list[str]:
    """Rewrite the mapping files in `folder` (a copy of the shipped config) to name what this PIM has:
    `channel` (or its first channel), that channel's locales, currencies and tree, its price, image and
    asset attributes, and the attributes SFCC's system attributes come from. Returns the guesses, one
    line each, for the console. What rests on a fact the PIM would not give stays as shipped."""
    guesses: list[str] = []
    files = {role: _MappingFile(Path(folder), role, guesses)
             for role in ("site", "categories", "prices", "assets", "products")}
    chosen, guess = _choose_channel(facts, channel, files["site"])
    if chosen is not None:
        _fit_site(files["site"], chosen, guess)
        if chosen.category_tree:
            files["categories"].set("trees", [chosen.category_tree])
    if "attributes" in facts.unknown:
        files["products"].note(f"the PIM's attributes are unknown ({facts.unknown['attributes']}): prices, images "
                               "and products kept as shipped")
    else:
        images = _fit_images(files["assets"], facts)
        price = _fit_price(files["prices"], facts)
        _fit_products(files["products"], facts, price, images)
    for mapping_file in files.values():
        mapping_file.save()
    return guesses


class _MappingFile:
    """One mapping file being fitted: its text and data as shipped, and the top-level keys to write anew."""

    def __init__(self, folder: Path, role: str, guesses: list[str]):
        self.name = f"mappings/{role}.yaml"
        self.path = folder / self.name
        self.text = self.path.read_text(encoding="utf-8")
        loaded = load_yaml(self.path, self.name)
        if loaded.problems:
            raise ConfigError(loaded.problems)
        self.data = loaded.data if isinstance(loaded.data, dict) else {}
        self.guesses = guesses
        self.sections: dict[str, str] = {}

    def note(self, guess: str, indent: str = "") -> str:
        """Records a guess for the console; returns it as a comment line for the file."""
        self.guesses.append(f"{self.name}: {guess}")
        return f"{indent}# guessed: {guess}\n"

    def set(self, key: str, value: object, guess: str | None = None, body: str | None = None) -> None:
        """`key: value` (flow style, or the block `body`), under a `# guessed:` line when it is a guess;
        left as written when the file already says so and nothing was guessed."""
        if value == self.data.get(key) and not guess:
            return
        comment = self.note(guess) if guess else ""
        self.sections[key] = f"{comment}{key}:{body if body is not None else ' ' + _flow(value) + self._inline(key)}\n"

    def _inline(self, key: str) -> str:
        """The comment written after a one-line value, kept when the value changes (it documents the key)."""
        found = re.search(rf"^{re.escape(key)}:[^#\n]*\S([ \t]+#.*)$", self.text, re.MULTILINE)
        return found.group(1) if found else ""

    def save(self) -> None:
        if self.sections:
            self.path.write_text(_replace_sections(self.text, self.sections), encoding="utf-8")


def _replace_sections(text: str, sections: dict[str, str]) -> str:
    """`text` with each named top-level key (its line and the indented lines under it) replaced by its
    new section; the comments above a key stay; keys the file lacks are added at its end."""
    lines = text.splitlines(keepends=True)
    left, out, i = dict(sections), [], 0
    while i < len(lines):
        key = re.match(r"([A-Za-z_][\w-]*):", lines[i])
        if not key or key.group(1) not in left:
            out.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        while end > i + 1 and not lines[end - 1].strip():  # blank lines before the next key stay
            end -= 1
        out.append(left.pop(key.group(1)))
        i = end
    if out and not out[-1].endswith("\n"):
        out.append("\n")
    return "".join(out + list(left.values()))


def _flow(value: object) -> str:
    """A value as one line of YAML flow style, quoted where YAML would read it as another type."""
    return yaml.safe_dump([value], default_flow_style=True, sort_keys=False, allow_unicode=True,
                          width=1 << 20).strip()[1:-1]


def _block(entries: dict, indent: str = "  ") -> str:
    return "".join(f"\n{indent}{key}: {_flow(value)}" for key, value in entries.items())


def _choose_channel(facts: PimFacts, wanted: str | None, site: _MappingFile) -> tuple[Channel | None, str | None]:
    """The channel asked for, else the PIM's only or first one (a guess when there are others)."""
    if "channels" in facts.unknown:
        site.note(f"the PIM's channels are unknown ({facts.unknown['channels']}): channel, locales, currencies "
                  "and trees kept as shipped")
        return None, None
    codes = [c.code for c in facts.channels]
    if wanted is not None:
        if facts.channel(wanted) is None:
            raise TransformerError(f"the PIM has no channel '{wanted}'{hint(wanted, codes)} "
                                   f"(its channels: {', '.join(codes) or 'none'})")
        return facts.channel(wanted), None
    if not codes:
        raise TransformerError("the PIM has no channel: create one whose values the export reads")
    others = ", ".join(codes[1:])
    return facts.channels[0], (f"the PIM's first channel; it also has {others} (choose one with --channel)"
                               if others else None)


def _fit_site(site: _MappingFile, channel: Channel, guess: str | None) -> None:
    if not channel.locales:
        raise TransformerError(f"channel '{channel.code}' has no locale: give it one in the PIM")
    languages = {locale: locale.replace("_", "-") for locale in channel.locales}
    default = "en_US" if "en_US" in languages else channel.locales[0]
    site.set("channel", channel.code, guess)
    site.set("locales", languages, body=_block(languages))
    site.set("default_locale", default, "the channel's first locale" if default != "en_US" and len(languages) > 1
             else None)
    site.set("currencies", list(channel.currencies))


def _fit_price(prices: _MappingFile, facts: PimFacts) -> str | None:
    """The price collection attribute pricebooks read: the shipped one if the PIM has it, else its first."""
    shipped = prices.data.get("attribute")
    codes = [a.code for a in facts.of_type(PRICE)]
    if not codes:
        prices.set("attribute", shipped, f"the PIM has no {PRICE} attribute: pricebooks will be empty")
        return None
    chosen = shipped if shipped in codes else codes[0]
    prices.set("attribute", chosen, f"the first of the price attributes {', '.join(codes)}"
               if len(codes) > 1 and chosen != shipped else None)
    return chosen


def _fit_images(assets: _MappingFile, facts: PimFacts) -> list[str]:
    """Image attributes and asset collections of the images job; `image_source` loses what the PIM
    has none of. Returns the image attributes."""
    found = {}
    for kind, (key, attribute_type, what) in IMAGE_KINDS.items():
        found[kind], guess = _kept_or_all(list(assets.data.get(key) or ()),
                                          [a.code for a in facts.of_type(attribute_type)], what)
        assets.set(key, found[kind], guess)
    source = assets.data.get("image_source", "both")
    kinds = [kind for kind in SOURCE_KINDS[source] if found[kind]]
    fitted = next(name for name, wanted in SOURCE_KINDS.items() if list(wanted) == kinds)
    lacking = " and no ".join(IMAGE_KINDS[kind][2] for kind in SOURCE_KINDS[source] if kind not in kinds)
    assets.set("image_source", fitted, f"{fitted}: the PIM has no {lacking}" if lacking else None)
    return found["images"]


def _kept_or_all(shipped: list[str], have: list[str], what: str) -> tuple[list[str], str | None]:
    """The shipped codes the PIM has; when it has none of them, all of the PIM's (and the guess made)."""
    kept = [code for code in shipped if code in have]
    missing = ", ".join(code for code in shipped if code not in have)
    if not missing:
        return kept, None
    if kept:
        return kept, f"{missing} left out: not in the PIM"
    return have, f"the PIM's {what} (it has none of {missing})" if have else f"the PIM has no {what}"


def _fit_products(products: _MappingFile, facts: PimFacts, price: str | None, images: list[str]) -> None:
    system, body = _system(products, facts)
    products.set("system", system, body=body)
    identifier = next((a.code for a in facts.attributes if a.main_identifier), None) or \
        next((a.code for a in facts.of_type(IDENTIFIER)), None)
    custom, body, guess = _custom(products, facts, identifier, price, images)
    products.set("custom_attributes", custom, guess, body=body)
    if "families" not in facts.unknown:
        _fit_associations(products, {f.code for f in facts.families})


def _system(products: _MappingFile, facts: PimFacts) -> tuple[dict, str]:
    """The `system` mapping: the guessed fields by SYSTEM_GUESSES, the others (properties such as
    `enabled`, constants) as shipped when the PIM has what they read; comments where a guess was made."""
    shipped = {k: v for k, v in (products.data.get("system") or {}).items() if isinstance(v, dict)}
    guessed = {g.field: g for g in SYSTEM_GUESSES}
    sources = _system_sources(facts)
    known = {a.code for a in facts.attributes} | set(DEFAULT_RULE_BY_PROPERTY)
    fields, lines = {}, []
    for name in [*shipped, *(g.field for g in SYSTEM_GUESSES if g.field not in shipped)]:
        if name in guessed:
            entry, guess = _guessed_field(guessed[name], sources, facts, shipped.get(name))
        else:
            wanted = shipped[name].get("from", [])
            missing = [code for code in ([wanted] if isinstance(wanted, str) else wanted) if code not in known]
            entry, guess = ((None, f"left out: the PIM has no {', '.join(missing)}") if missing
                            else (shipped[name], None))
        if guess:
            lines.append(products.note(f"system.{name} {guess}", "  "))
        if entry is not None:
            fields[name] = entry
            lines.append(f"  {name}: {_flow(entry)}\n")
    return fields, "\n" + "".join(lines).rstrip("\n")


def _system_sources(facts: PimFacts) -> dict[str, list[str]]:
    """Per guessed system field, the PIM attributes it reads, first with a value wins; the name falls
    back on the attribute most families use as their label."""
    by_code = {a.code.lower(): a for a in facts.attributes}
    label = Counter(f.attribute_as_label for f in facts.families if f.attribute_as_label).most_common(1)
    label_attribute = by_code.get(label[0][0].lower()) if label else None
    found: dict[str, list[str]] = {}
    for guess in SYSTEM_GUESSES:
        own = next((by_code[c] for c in guess.codes if c in by_code and by_code[c].type in guess.types), None)
        if own is None and guess.field == "name" and label_attribute and label_attribute.type in TEXTS:
            own = label_attribute
        found[guess.field] = ([own.code] if own else []) + \
            [code for code in found.get(guess.then, []) if own is None or code != own.code]
    return found


def _guessed_field(guess: _SystemGuess, sources: dict[str, list[str]], facts: PimFacts,
                   shipped: dict | None) -> tuple[dict | None, str | None]:
    """A guessed system field and the guess to note (None when it is what the file says)."""
    codes = sources[guess.field]
    if not codes:
        label = " or the families' label attribute" if guess.field == "name" else ""
        kinds = "/".join(sorted(t.removeprefix("pim_catalog_") for t in guess.types))
        return None, f"left out: looked for {', '.join(guess.codes)}{label} ({kinds})"
    first = next(a for a in facts.attributes if a.code == codes[0])
    rule = "option_label" if first.type == SIMPLESELECT else guess.rule
    entry = {"from": codes[0] if len(codes) == 1 else codes} | ({"rule": rule} if rule else {})
    return entry, None if entry == shipped else f"from {', '.join(codes)} (looked for {', '.join(guess.codes)})"


def _custom(products: _MappingFile, facts: PimFacts, identifier: str | None, price: str | None,
            images: list[str]) -> tuple[dict, str, str | None]:
    """`custom_attributes`, its text and the guess made: the identifier, price and image attributes
    excluded (they are written elsewhere), the shipped exclusions, inclusions and overrides kept for
    the codes the PIM has."""
    shipped = dict(products.data.get("custom_attributes") or {})
    codes = {a.code for a in facts.attributes}
    why = {code: reason for code, reason in ((identifier, "the product id"), (price, "goes to the pricebooks"),
                                             *((c, "goes to the images job") for c in images)) if code}
    exclude = list(why) + [c for c in shipped.get("exclude") or () if c in codes and c not in why]
    custom = shipped | {"exclude": exclude}
    if isinstance(shipped.get("include"), list):
        custom["include"] = [c for c in shipped["include"] if c in codes]
    overrides = shipped.get("attributes") or {}
    dropped = ", ".join(code for code in overrides if code not in codes)
    custom["attributes"] = {code: spec for code, spec in overrides.items() if code in codes}
    if not custom["attributes"]:
        del custom["attributes"]
    width = max(map(len, exclude), default=0)
    lines = []
    for key, value in custom.items():
        if key in CUSTOM_COMMENTS:
            lines.append(f"  # {CUSTOM_COMMENTS[key]}\n")
        if key == "exclude" and value:
            lines.append("  exclude:" + "".join(f"\n    - {_flow(c):<{width}}   # {why[c]}" if c in why else
                                                f"\n    - {_flow(c)}" for c in value) + "\n")
        elif isinstance(value, dict) and value:
            lines.append(f"  {key}:{_block(value, '    ')}\n")
        else:
            lines.append(f"  {key}: {_flow(value)}\n")
    return custom, "\n" + "".join(lines).rstrip("\n"), (
        f"custom attribute overrides of {dropped} left out: not in the PIM" if dropped else None)


def _fit_associations(products: _MappingFile, families: set[str]) -> None:
    """Product sets and bundles are found by family: those of families the PIM lacks are left out."""
    shipped = products.data.get("associations")
    if not isinstance(shipped, dict):
        return
    fitted, guesses = dict(shipped), []
    for key in ("product_sets", "bundles"):
        spec = shipped.get(key)
        if not isinstance(spec, dict):
            continue
        kept = [f for f in spec.get("families") or () if f in families]
        if not kept:
            del fitted[key]
            guesses.append(f"{key} left out: the PIM has no family {', '.join(spec.get('families') or ())}")
        else:
            fitted[key] = spec | {"families": kept}
    products.set("associations", fitted, "; ".join(guesses) or None, body=_block(fitted))
