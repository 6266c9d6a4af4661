"""A deterministic synthetic catalog: the demo PIM's structure and attribute mix, N products.

Products are cloned from the demo's own products and product models (so every attribute
type, locale, scope and association shape of the demo appears), with fresh identifiers,
codes, EANs and texts; about a third of the products are variants under cloned models.
Output is a snapshot folder (`products.jsonl`, `product-models.jsonl`, structure files
copied from the demo) that `akeneo-sfcc load` and `run --snapshot` read. Written as a
stream: memory does not grow with N.

Two shapes:

* `light` (the default): the demo's products as they are: about 11 custom-attribute elements
  and 4.7 KB of master catalog XML a product.
* `heavy`: a real retail product. The demo's products weigh what a tutorial catalog weighs;
  a retailer's carry tens of attributes more, and the render and the validation scale with
  them, so a benchmark on light products flatters the tool. Every product (and every root
  model, whose values its variants inherit, as Akeneo's common attributes are) gets 60 more
  attributes: 20 localized texts with a value in each locale of the exported channel, and 40
  non-localized ones (texts, numbers, booleans, simple selects). Its descriptions (long,
  short, meta) are completed in every locale too. The attributes are declared in the snapshot
  (`attributes.json`, a `retail` group, their options, every family's attribute list), so
  the shipped mappings write them as custom attributes: 120 more custom-attribute elements
  (a localized one is written per language and as x-default), about 20 KB a product. The
  same seed draws the same products as the light shape, plus the extra values (from a
  second random stream). A million products take about 4 minutes (12 GB of JSON Lines).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

VARIANT_SHARE = 1 / 3
SHAPES = ("light", "heavy")
DIGITS = "0123456789"
_dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), its encoder made once


def generate(demo: Path, out: Path, products: int, seed: int = 7, shape: str = "light") -> dict[str, int]:
    """Write a snapshot of `products` products of `shape` (see SHAPES) into `out`; returns what was written."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(demo, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("products.json", "product-models.json",
                                                                                "README.md"))
    demo_products = json.loads((demo / "products.json").read_text(encoding="utf-8"))
    demo_models = json.loads((demo / "product-models.json").read_text(encoding="utf-8"))
    templates = _Templates(demo_products, demo_models)
    heavy = _Heavy(demo, seed) if shape == "heavy" else None
    if heavy:
        heavy.write_structure(out)
    rng = random.Random(seed)
    counts = {"products": 0, "variants": 0, "product-models": 0}
    with open(out / "products.jsonl", "w", encoding="utf-8") as product_file, \
            open(out / "product-models.jsonl", "w", encoding="utf-8") as model_file:
        while counts["products"] < products:
            if counts["variants"] < counts["products"] * VARIANT_SHARE:
                number = counts["product-models"]
                models, variants = templates.family(rng, number, products - counts["products"])
            else:
                number = counts["products"]
                models, variants = [], [templates.simple(rng, number)]
            if heavy:
                heavy.dress(models, variants, number)
            for model in models:
                model_file.write(heavy.line(model) if heavy else _dumps(model) + "\n")
            for product in variants:
                product_file.write(heavy.line(product) if heavy else _dumps(product) + "\n")
            counts["product-models"] += len(models)
            counts["products"] += len(variants)
            counts["variants"] += sum(1 for p in variants if p.get("parent"))
    return counts


class _Templates:
    def __init__(self, products: list[dict], models: list[dict]):
        self.simples = [p for p in products if not p.get("parent")]
        self.roots = [m for m in models if not m.get("parent")]
        self.children = {m["code"]: [c for c in models if c.get("parent") == m["code"]] for m in models}
        self.variants = {m["code"]: [p for p in products if p.get("parent") == m["code"]] for m in models}
        # A template's JSON, parsed again per clone: the same objects as a deep copy, five times faster.
        self.frozen = {id(item): json.dumps(item) for item in products + models}
        self.kept = products + models  # the ids above stay theirs

    def copy(self, template: dict) -> dict:
        return json.loads(self.frozen[id(template)])

    def simple(self, rng: random.Random, number: int) -> dict:
        template = self.simples[number % len(self.simples)]
        return _clone_product(self.copy(template), f"SYN-{number:07d}", None, rng, number)

    def family(self, rng: random.Random, model_number: int, room: int) -> tuple[list[dict], list[dict]]:
        """A cloned root model with its sub models and variants (no more variants than `room`)."""
        root = self.roots[model_number % len(self.roots)]
        root_code = f"SYNM-{model_number:07d}"
        models = [_clone_model(self.copy(root), root_code, None, rng, model_number)]
        variants: list[dict] = []
        for level_one in self.children[root["code"]] or [None]:
            parent_code = root_code
            if level_one is not None:
                parent_code = f"{root_code}-{len(models)}"
                models.append(_clone_model(self.copy(level_one), parent_code, root_code, rng, model_number))
            for variant in self.variants[(level_one or root)["code"]]:
                if len(variants) == room:
                    return models, variants
                variants.append(_clone_product(self.copy(variant), f"{parent_code}-V{len(variants)}", parent_code,
                                               rng, model_number))
        return models, variants


def _clone_product(product: dict, identifier: str, parent: str | None, rng: random.Random, number: int) -> dict:
    """`product`: a fresh copy of the template, made the clone in place."""
    product.update(identifier=identifier, parent=parent, uuid=_uuid(rng))
    product["values"]["sku"] = [{"locale": None, "scope": None, "data": identifier}]
    _vary(product["values"], rng, number)
    _unlink(product)
    return product


def _clone_model(model: dict, code: str, parent: str | None, rng: random.Random, number: int) -> dict:
    """`model`: a fresh copy of the template, made the clone in place."""
    model.update(code=code, parent=parent)
    _vary(model["values"], rng, number)
    _unlink(model)
    return model


def _unlink(item: dict) -> None:
    """Associations of a clone would point at demo products the synthetic catalog lacks."""
    item["associations"] = {kind: {"products": [], "product_models": [], "groups": []} for kind in item.get("associations") or {}}
    item["quantified_associations"] = {}


def _vary(values: dict, rng: random.Random, number: int) -> None:
    """New EAN/UPC, numbered names, so no two synthetic products read the same."""
    for entries in values.get("name", []), values.get("meta_title", []):
        for entry in entries:
            entry["data"] = f"{entry['data']} {number}"
    for code, digits in (("ean", 13), ("upc", 12)):
        for entry in values.get(code, []):
            entry["data"] = _digits(rng, digits)


def _digits(rng: random.Random, count: int) -> str:
    """`count` times rng.choice(DIGITS), the same draws, without its two calls per digit."""
    bits = rng.getrandbits
    drawn = []
    for _ in range(count):
        digit = bits(4)
        while digit >= 10:
            digit = bits(4)
        drawn.append(DIGITS[digit])
    return "".join(drawn)


def _uuid(rng: random.Random) -> str:
    hexa = f"{rng.getrandbits(128):032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:]}"


# -- the heavy shape -------------------------------------------------------------------------

CHANNEL = "ecommerce"  # the shipped mappings/site.yaml exports this channel
GROUP = "retail"
DESCRIPTIONS = ("description", "short_description", "meta_description")
POOL = 64  # drawn values per attribute; a product picks one of each
MARK = "\x00heavy"  # the key a dressed item's members stand at until its line is written
MARKED = json.dumps(MARK) + ": 0"

LOCALIZED = ["care_instructions", "fit_notes", "material_details", "bullet_point_1", "bullet_point_2",
             "bullet_point_3", "bullet_point_4", "bullet_point_5", "sustainability_note", "warranty_terms",
             "delivery_note", "size_advice", "usage_tips", "technical_summary", "packaging_note",
             "origin_statement", "safety_notice", "marketing_claim", "search_keywords", "gift_message"]
LOCALIZED_TEXTAREAS = frozenset({"care_instructions", "material_details", "technical_summary", "usage_tips"})
TEXTS = {"supplier_reference": "", "manufacturer_part_number": "", "hs_code": "HS 6109.", "collection_name": "Collection ",
         "style_code": "ST-", "factory_code": "FC-", "batch_code": "B", "pattern_name": "Pattern ", "fabric_code": "FAB-",
         "packaging_code": "PK-", "carton_code": "CTN-", "buyer_code": "BY-", "legacy_sku": "OLD-",
         "colour_code": "C"}  # code -> what its drawn value starts with (six digits follow)
NUMBERS = {"package_length_cm": (1, 120), "package_width_cm": (1, 80), "package_height_cm": (1, 60),
           "package_weight_g": (0, 25000), "units_per_carton": (0, 48), "min_order_quantity": (0, 500),
           "recycled_content_percent": (0, 100), "lead_time_days": (0, 90), "shelf_life_days": (0, 1500),
           "carbon_footprint_kg": (2, 40)}  # code -> (decimals, largest value)
# Texts written per product (the other texts are drawn): `number`, and `pick` (0-63) for variety.
NUMBERED = {"supplier_reference": "SR-{number:07d}-{pick:02d}", "manufacturer_part_number": "MPN {number:07d}/{pick:02d}"}
BOOLEANS = ["is_fragile", "is_hazardous", "gift_wrap_available", "online_exclusive", "requires_assembly",
            "returnable"]
SELECTS = {
    "country_of_origin": ["portugal", "vietnam", "germany", "china", "turkey", "italy", "bangladesh", "poland"],
    "target_group": ["women", "men", "unisex", "kids", "baby"],
    "age_group": ["adult", "teen", "child", "toddler", "infant"],
    "care_symbol_set": ["wash_30", "wash_40", "hand_wash", "dry_clean", "do_not_wash"],
    "fit_type": ["regular", "slim", "relaxed", "oversized", "tailored"],
    "closure_type": ["zip", "buttons", "laces", "velcro", "none"],
    "pattern": ["plain", "striped", "checked", "printed", "melange", "camouflage"],
    "sustainability_label": ["gots", "oeko_tex", "fsc", "bluesign", "fair_trade", "none"],
    "shipping_class": ["parcel", "bulky", "freight", "letter"],
    "price_tier": ["entry", "core", "premium", "luxury"],
}

# Aligned phrase banks (a phrase and its translations), by language.
PHRASES = {
    "en": ["machine washable at 30 °C", "made from 60 % recycled polyester", "reinforced double seams",
           "quick-drying & breathable fabric", "lightweight and packable", "UV protection factor 50+",
           "designed in Scandinavia", "ergonomic, body-mapped fit", "PFC-free water-repellent finish",
           "soft brushed lining", "backed by a two-year warranty", "ships within 24 hours",
           "tested in alpine conditions", "tumble dry on low heat", "free returns within 30 days",
           "certified organic cotton"],
    "fr": ["lavable en machine à 30 °C", "composé à 60 % de polyester recyclé", "doubles coutures renforcées",
           "tissu respirant à séchage rapide", "léger et compressible", "protection UV indice 50+",
           "conçu en Scandinavie", "coupe ergonomique près du corps", "traitement déperlant sans PFC",
           "doublure douce brossée", "garantie de deux ans", "expédié sous 24 heures",
           "testé en conditions alpines", "séchage en tambour à basse température", "retours gratuits sous 30 jours",
           "coton biologique certifié"],
    "de": ["maschinenwaschbar bei 30 °C", "aus 60 % recyceltem Polyester", "verstärkte Doppelnähte",
           "schnell trocknender, atmungsaktiver Stoff", "leicht und klein verpackbar", "UV-Schutzfaktor 50+",
           "in Skandinavien entworfen", "ergonomische, körpernahe Passform", "PFC-freie wasserabweisende Ausrüstung",
           "weich angeraute Innenseite", "mit zwei Jahren Garantie", "Versand innerhalb von 24 Stunden",
           "unter alpinen Bedingungen getestet", "Trockner bei niedriger Temperatur", "kostenlose Rücksendung in 30 Tagen",
           "zertifizierte Bio-Baumwolle"],
}
DESCRIPTION_HTML = {
    "en": "<p>Built for every day: <strong>{0}</strong>, {1} and {2}.</p>\n<ul>\n  <li>{3}</li>\n  <li>{4}</li>\n</ul>",
    "fr": "<p>Pensé pour tous les jours : <strong>{0}</strong>, {1} et {2}.</p>\n<ul>\n  <li>{3}</li>\n  <li>{4}</li>\n</ul>",
    "de": "<p>Für jeden Tag gemacht: <strong>{0}</strong>, {1} und {2}.</p>\n<ul>\n  <li>{3}</li>\n  <li>{4}</li>\n</ul>",
}


class _Heavy:
    """The heavy shape's attributes, their drawn values, and what they add to a snapshot.

    The drawn values are serialized once, as `"code": [entries]` JSON members; a product's line
    is its JSON with the members of its picks spliced in (at the MARK key): encoding hundreds of
    small value objects per product again would be most of the generation's time."""

    def __init__(self, demo: Path, seed: int):
        self.demo = demo
        self.attributes = {a["code"]: a for a in json.loads((demo / "attributes.json").read_text(encoding="utf-8"))}
        self.locales = _channel_locales(demo)
        self.rng = random.Random(f"heavy-{seed}")  # apart from the light stream: same products, plus values
        self.pools = [[_member(code, self._draw(code)) for _ in range(POOL)] for code in self.drawn()]

    @staticmethod
    def codes() -> list[str]:
        return LOCALIZED + list(TEXTS) + list(NUMBERS) + BOOLEANS + list(SELECTS)

    @staticmethod
    def drawn() -> list[str]:
        return [code for code in _Heavy.codes() if code not in NUMBERED]

    # -- values --

    def dress(self, models: list[dict], variants: list[dict], number: int) -> None:
        """Add the values to a simple product, or to a root model and (merged, as the API sends them)
        to its variants. Sub models keep their own level's values only."""
        owner = (models or variants)[0]
        members = self._members(number)
        completed = self._descriptions(owner["values"], number)
        for item in models[:1] + variants:
            item["values"].update(completed)
            item["values"][MARK] = members

    def _members(self, number: int) -> str:
        """The JSON members of the 60 attributes: drawn ones picked, numbered ones written."""
        picks = self.rng.randbytes(len(self.pools))  # POOL is 64: a byte's low 6 bits pick
        members = [pool[pick & 63] for pool, pick in zip(self.pools, picks)]
        members += [_member(code, _entry(pattern.format(number=number, pick=picks[i] & 63)))
                    for i, (code, pattern) in enumerate(NUMBERED.items())]
        return ", ".join(members)

    def _descriptions(self, values: dict, number: int) -> dict[str, list[dict]]:
        """The descriptions, completed in every locale of the channel."""
        return {code: self._completed(code, values.get(code) or [], number) for code in DESCRIPTIONS
                if code in self.attributes}

    def _completed(self, code: str, entries: list[dict], number: int) -> list[dict]:
        scope = CHANNEL if self.attributes[code].get("scopable") else None
        present = {e.get("locale") for e in entries if e.get("scope") == scope and e.get("data")}
        added = [{"locale": locale, "scope": scope, "data": _description(code, locale, number)}
                 for locale in self.locales if locale not in present]
        return entries + added

    def _draw(self, code: str) -> list[dict]:
        rng = self.rng
        if code in LOCALIZED:
            indexes = rng.sample(range(len(PHRASES["en"])), 2 if code in LOCALIZED_TEXTAREAS else 1)
            return [{"locale": locale, "scope": None, "data": _sentence(locale, indexes)} for locale in self.locales]
        if code in NUMBERS:
            decimals, largest = NUMBERS[code]
            amount = rng.uniform(1, largest)
            return _entry(round(amount) if decimals == 0 else f"{round(amount, decimals):.4f}")
        if code in BOOLEANS:
            return _entry(rng.random() < 0.5)
        if code in SELECTS:
            return _entry(rng.choice(SELECTS[code]))
        return _entry(f"{TEXTS[code]}{rng.randrange(10 ** 6):06d}")

    def line(self, item: dict) -> str:
        """The item's JSON line, its drawn members in place of MARK."""
        members = item["values"].get(MARK)
        if members is None:
            return _dumps(item) + "\n"
        item["values"][MARK] = 0
        return _dumps(item).replace(MARKED, members, 1) + "\n"

    # -- structure --

    def write_structure(self, out: Path) -> None:
        """Declare the attributes, their group and options, and add them to every family."""
        codes = self.codes()
        attributes = list(self.attributes.values()) + [self._attribute(code, order) for order, code in enumerate(codes, 1)]
        _write(out / "attributes.json", attributes)
        groups = json.loads((self.demo / "attribute-groups.json").read_text(encoding="utf-8"))
        groups = [g for g in groups if g["code"] != GROUP] + [
            {"code": GROUP, "sort_order": 90, "attributes": codes, "labels": _labels("Retail", self.locales)}]
        _write(out / "attribute-groups.json", groups)
        families = json.loads((self.demo / "families.json").read_text(encoding="utf-8"))
        for family in families:
            family["attributes"] = sorted(set(family["attributes"]) | set(codes))
        _write(out / "families.json", families)
        for code, options in SELECTS.items():
            _write(out / "attributes" / code / "options.json",
                   [{"code": option, "attribute": code, "sort_order": order, "labels": _labels(option, self.locales)}
                    for order, option in enumerate(options)])

    def _attribute(self, code: str, order: int) -> dict:
        """An Akeneo attribute of the code's kind, patterned on a demo attribute of its type."""
        kind, pattern = _kind(code)
        attribute = dict(self.attributes.get(pattern, {}))
        attribute.update(code=code, type=kind, group=GROUP, sort_order=order, localizable=code in LOCALIZED,
                         scopable=False, unique=False, useable_as_grid_filter=code in SELECTS,
                         labels=_labels(code, self.locales), group_labels=_labels("Retail", self.locales))
        if code in NUMBERS:
            attribute.update(decimals_allowed=NUMBERS[code][0] > 0, number_min="0.0000",
                             number_max=f"{NUMBERS[code][1]}.0000")
        return attribute


def _kind(code: str) -> tuple[str, str]:
    """(Akeneo type, the demo attribute whose settings it copies) of a heavy attribute."""
    if code in LOCALIZED:
        return ("pim_catalog_textarea", "short_description") if code in LOCALIZED_TEXTAREAS \
            else ("pim_catalog_text", "meta_title")
    if code in NUMBERS:
        return "pim_catalog_number", "rating"
    if code in BOOLEANS:
        return "pim_catalog_boolean", "waterproof"
    if code in SELECTS:
        return "pim_catalog_simpleselect", "season"
    return "pim_catalog_text", "meta_title"


def _channel_locales(demo: Path) -> list[str]:
    """The locales the exported channel (CHANNEL, else the first) has."""
    channels = json.loads((demo / "channels.json").read_text(encoding="utf-8"))
    channel = next((c for c in channels if c["code"] == CHANNEL), channels[0])
    return list(channel["locales"])


def _entry(data: object) -> list[dict]:
    return [{"locale": None, "scope": None, "data": data}]


def _member(code: str, entries: list[dict]) -> str:
    """`"code": [entries]` as json.dumps writes it inside an object."""
    return f"{json.dumps(code)}: {_dumps(entries)}"


def _bank(locale: str) -> list[str]:
    return PHRASES.get(locale.split("_")[0], PHRASES["en"])


def _sentence(locale: str, indexes: list[int]) -> str:
    bank = _bank(locale)
    text = ", ".join(bank[i] for i in indexes)
    return text[0].upper() + text[1:] + "."


def _description(code: str, locale: str, number: int) -> str:
    """A generated text for a description a template lacks in `locale`."""
    indexes = [(number * 7 + shift * 3) % len(PHRASES["en"]) for shift in range(5)]
    if code == "description":
        template = DESCRIPTION_HTML.get(locale.split("_")[0], DESCRIPTION_HTML["en"])
        return template.format(*(_bank(locale)[i] for i in indexes))
    return _sentence(locale, indexes[:2] if code == "meta_description" else indexes[:3])


def _labels(code: str, locales: list[str]) -> dict[str, str]:
    label = code.replace("_", " ").capitalize()
    return {locale: label for locale in locales}


def _write(path: Path, data: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
