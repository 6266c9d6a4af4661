"""Writes tests/foreign_pim/: a small Akeneo 7 Community Edition snapshot that differs from the demo PIM
in every name the shipped config relies on, so that `discover.fit_config` has something to fit.

Channel `web` (en_GB, nl_NL, GBP) and `print` (nl_NL, EUR), both on tree `webshop` (a second tree,
`archive`, holds one old product model too); attribute codes `article_number` (identifier),
`product_title`, `summary`, `seo_title`, `gtin`, `manufacturer` (text), `retail_price`, `picture`
and `extra_picture`; no `name`, `ean`, `upc`, `brand`, `meta_description` or `price`. Families
`apparel` (variant `apparel_by_size`, one level on `size`: 2 product models, 6 variants) and
`kitchen` (6 simple products). Media files are tiny PNGs and one JPEG from the demo. No assets and
no reference entities (CE). Run `python tests/make_foreign_pim.py` after changing it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import uuid
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "foreign_pim"
DEMO_JPEG = (HERE.parent / "transformer/demo/pim/media-files/0/6/2/6/"
             "062603421c4d5cd74423fca05714bde733598c17_city_sneaker_white.jpg")
CREATED, UPDATED = "2025-03-01T09:00:00+00:00", "2025-09-15T14:30:00+01:00"
NO_LINKS = {kind: {"groups": [], "products": [], "product_models": []} for kind in ("PACK", "SUBSTITUTION", "UPSELL",
                                                                                    "X_SELL")}


def labels(en: str, nl: str) -> dict:
    return {"en_GB": en, "nl_NL": nl}


LOCALES = [{"code": code, "enabled": code in ("en_GB", "nl_NL")} for code in ("de_DE", "en_GB", "en_US", "nl_NL")]
CURRENCIES = [{"code": "EUR", "enabled": True, "label": "Euro"},
              {"code": "GBP", "enabled": True, "label": "Pound sterling"},
              {"code": "USD", "enabled": False, "label": "US dollar"}]
CHANNELS = [
    {"code": "web", "currencies": ["GBP"], "locales": ["en_GB", "nl_NL"], "category_tree": "webshop",
     "conversion_units": {}, "labels": labels("Web shop", "Webwinkel")},
    {"code": "print", "currencies": ["EUR"], "locales": ["nl_NL"], "category_tree": "webshop",
     "conversion_units": {"weight": "GRAM"}, "labels": labels("Print catalogue", "Drukwerk")},
]
CATEGORIES = [("webshop", None, "Web shop", "Webwinkel"), ("apparel", "webshop", "Apparel", "Kleding"),
              ("tops", "apparel", "Tops", "Shirts & truien"), ("kitchen", "webshop", "Kitchen", "Keuken"),
              ("archive", None, "Archive", "Archief"), ("old_stock", "archive", "Old stock", "Oude voorraad")]
GROUPS = {"identification": ("Identification", "Identificatie"), "content": ("Content", "Inhoud"),
          "specs": ("Specifications", "Specificaties"), "commerce": ("Commerce", "Verkoop"),
          "media": ("Media", "Media")}
# code, type, group, localizable, scopable, English label, Dutch label, type-specific fields
ATTRIBUTES = [
    ("article_number", "pim_catalog_identifier", "identification", False, False, "Article number", "Artikelnummer",
     {"unique": True, "is_main_identifier": True, "max_characters": 100}),
    ("gtin", "pim_catalog_text", "identification", False, False, "GTIN", "GTIN", {"unique": True}),
    ("manufacturer", "pim_catalog_text", "identification", False, False, "Manufacturer", "Fabrikant", {}),
    ("product_title", "pim_catalog_text", "content", True, False, "Product title", "Producttitel", {}),
    ("summary", "pim_catalog_textarea", "content", True, False, "Summary", "Samenvatting", {"wysiwyg_enabled": False}),
    ("description", "pim_catalog_textarea", "content", True, True, "Description", "Omschrijving",
     {"wysiwyg_enabled": True}),
    ("seo_title", "pim_catalog_text", "content", True, False, "SEO title", "SEO-titel", {}),
    ("colour", "pim_catalog_simpleselect", "specs", False, False, "Colour", "Kleur", {}),
    ("size", "pim_catalog_simpleselect", "specs", False, False, "Size", "Maat", {}),
    ("weight", "pim_catalog_metric", "specs", False, False, "Weight", "Gewicht",
     {"metric_family": "Weight", "default_metric_unit": "KILOGRAM", "decimals_allowed": True}),
    ("dishwasher_safe", "pim_catalog_boolean", "specs", False, False, "Dishwasher safe", "Vaatwasserbestendig", {}),
    ("launch_date", "pim_catalog_date", "commerce", False, False, "Launch date", "Lanceerdatum", {}),
    ("retail_price", "pim_catalog_price_collection", "commerce", False, False, "Retail price", "Verkoopprijs",
     {"decimals_allowed": True, "number_min": "0.0000"}),
    ("picture", "pim_catalog_image", "media", False, False, "Picture", "Afbeelding",
     {"allowed_extensions": ["jpg", "png"]}),
    ("extra_picture", "pim_catalog_image", "media", False, False, "Extra picture", "Extra afbeelding",
     {"allowed_extensions": ["jpg", "png"]}),
]
OPTIONS = {"colour": [("black", "Black", "Zwart"), ("forest_green", "Forest green", "Bosgroen"),
                      ("stone", "Stone", "Steen"), ("white", "White", "Wit")],
           "size": [("s", "S", "S"), ("m", "M", "M"), ("l", "L", "L")]}
COMMON = ["manufacturer", "product_title", "summary", "description", "seo_title", "colour", "launch_date",
          "picture", "extra_picture"]
VARIANT_LEVEL = ["article_number", "gtin", "size", "retail_price", "weight"]
FAMILIES = {"apparel": ("Apparel", "Kleding", COMMON + VARIANT_LEVEL),
            "kitchen": ("Kitchen", "Keuken", ["article_number", "gtin", "manufacturer", "product_title", "summary",
                                              "description", "seo_title", "colour", "dishwasher_safe", "launch_date",
                                              "retail_price", "picture"])}
# file name -> (width, height, RGB) of a generated PNG; the JPEG comes from the demo
PNGS = {"tee_back.png": (3, 2, (40, 90, 60)), "hoodie_front.png": (2, 3, (30, 30, 30)),
        "mug_stone.png": (2, 2, (190, 180, 160)), "teapot_cast_iron.png": (3, 3, (20, 20, 25))}
JPEG = "tee_front.jpg"
# model code, categories, English and Dutch title, colour, picture, extra picture, price GBP, EUR, weight kg
MODELS = [("tee_organic", ["tops"], "Organic cotton tee", "Biologisch katoenen T-shirt", "forest_green",
           JPEG, "tee_back.png", "19.00", "22.50", "0.2000"),
          ("hoodie_zip", ["tops", "old_stock"], "Zip hoodie", "Hoodie met rits", "black", "hoodie_front.png", None,
           "49.00", "57.00", "0.6500")]
# identifier, English and Dutch title, colour, dishwasher safe, picture, price GBP, EUR
SIMPLES = [("MUG-STONE-350", "Stoneware mug 350 ml", "Stenen mok 350 ml", "stone", True, "mug_stone.png",
            "12.00", "14.00"),
           ("MUG-ENAMEL-WHITE", "Enamel camp mug", "Emaille kampeermok", "white", True, None, "9.50", "11.00"),
           ("BOARD-OAK-LARGE", "Oak chopping board, large", "Eikenhouten snijplank, groot", "stone", False, None,
            "35.00", "41.00"),
           ("TEAPOT-CAST-IRON", "Cast iron teapot", "Gietijzeren theepot", "black", False, "teapot_cast_iron.png",
            "42.00", "49.00"),
           ("KNIFE-CHEF-20", "Chef's knife 20 cm", "Koksmes 20 cm", "black", False, None, "64.00", "75.00"),
           ("TOWEL-LINEN-SET", "Linen tea towels (set of 3)", "Linnen theedoeken (set van 3)", "white", False, None,
            "18.00", "21.00")]


def value(data, locale: str | None = None, scope: str | None = None) -> dict:
    return {"locale": locale, "scope": scope, "data": data}


def texts(en: str, nl: str) -> dict:
    """The localized text values every product has, written for both channels as the PIM would."""
    return {
        "product_title": [value(en, "en_GB"), value(nl, "nl_NL")],
        "summary": [value(f"{en}, made to last.", "en_GB"), value(f"{nl}, gemaakt om lang mee te gaan.", "nl_NL")],
        "description": [value(f"<p>The <strong>{en}</strong>, from Northwind.</p>", "en_GB", "web"),
                        value(f"<p>De <strong>{nl}</strong>.</p>", "nl_NL", "web"),
                        value(f"<p>{nl}.</p>", "nl_NL", "print")],
        "seo_title": [value(f"{en} | Northwind", "en_GB")],
    }


def gtin(number: int) -> str:
    return f"871{number:09d}0"


def price(gbp: str, eur: str) -> list[dict]:
    return [value([{"amount": gbp, "currency": "GBP"}, {"amount": eur, "currency": "EUR"}])]


class Writer:
    """Writes the snapshot's files and remembers each media file's code, which the products name."""

    def __init__(self, out: Path):
        self.out = out
        self.media: dict[str, str] = {}  # file name -> media file code

    def json(self, relative: str, data: object) -> None:
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def binary(self, name: str, content: bytes) -> None:
        """A media file at its Akeneo-style code (`a/b/c/d/<sha1>_<name>`)."""
        digest = hashlib.sha1(name.encode() + content).hexdigest()
        code = "/".join(digest[:4]) + f"/{digest}_{name}"
        path = self.out / "media-files" / code
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.media[name] = code


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no filter)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def attribute(index, code, kind, group, localizable, scopable, en, nl, extra) -> dict:
    return {"code": code, "type": kind, "group": group, "unique": False, "useable_as_grid_filter": True,
            "allowed_extensions": [], "metric_family": None, "default_metric_unit": None,
            "reference_data_name": None, "available_locales": [], "max_characters": None,
            "wysiwyg_enabled": None, "decimals_allowed": None, "negative_allowed": None, "sort_order": index,
            "localizable": localizable, "scopable": scopable, "labels": labels(en, nl), "guidelines": {},
            "is_read_only": False, "is_main_identifier": False, "group_labels": labels(*GROUPS[group]), **extra}


def model(code, categories, en, nl, colour, picture, extra_picture, media) -> dict:
    values = {"manufacturer": [value("Northwind Textiles")], **texts(en, nl), "colour": [value(colour)],
              "launch_date": [value("2025-04-01T00:00:00+00:00")], "picture": [value(media[picture])]}
    if extra_picture:
        values["extra_picture"] = [value(media[extra_picture])]
    return {"code": code, "family": "apparel", "family_variant": "apparel_by_size", "parent": None,
            "categories": categories, "values": values, "associations": NO_LINKS, "quantified_associations": {},
            "created": CREATED, "updated": UPDATED}


def product(identifier: str, family: str, parent: str | None, categories: list[str], values: dict,
            associations: dict = NO_LINKS) -> dict:
    own = {"article_number": [value(identifier)], **values}
    return {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"foreign-pim/{identifier}")), "identifier": identifier,
            "enabled": True, "family": family, "parent": parent, "categories": categories, "groups": [],
            "values": dict(sorted(own.items())), "associations": associations, "quantified_associations": {},
            "created": CREATED, "updated": UPDATED}


def catalog(media: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """The product models and the products (variants carry their model's values, as the API sends them)."""
    models, products, number = [], [], 0
    for code, categories, en, nl, colour, picture, extra, gbp, eur, kilos in MODELS:
        root = model(code, categories, en, nl, colour, picture, extra, media)
        models.append(root)
        for size in ("s", "m", "l"):
            number += 1
            own = {"gtin": [value(gtin(number))], "size": [value(size)], "retail_price": price(gbp, eur),
                   "weight": [value({"amount": kilos, "unit": "KILOGRAM"})]}
            products.append(product(f"{code.upper().replace('_', '-')}-{size.upper()}", "apparel", code, categories,
                                    {**root["values"], **own}))
    for identifier, en, nl, colour, dishwasher, picture, gbp, eur in SIMPLES:
        number += 1
        values = {"gtin": [value(gtin(number))], "manufacturer": [value("Northwind Home")],
                  **texts(en, nl), "colour": [value(colour)], "dishwasher_safe": [value(dishwasher)],
                  "launch_date": [value("2025-02-01T00:00:00+00:00")], "retail_price": price(gbp, eur)}
        if picture:
            values["picture"] = [value(media[picture])]
        links = NO_LINKS
        if identifier == "MUG-STONE-350":
            links = {**NO_LINKS, "X_SELL": {"groups": [], "products": ["MUG-ENAMEL-WHITE"], "product_models": []}}
        products.append(product(identifier, "kitchen", None, ["kitchen"], values, links))
    return models, sorted(products, key=lambda p: p["identifier"])


def write(out: Path = OUT) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    w = Writer(out)
    (out / "README.md").write_text(f"# Foreign PIM (test fixture)\n\n{__doc__}", encoding="utf-8")
    w.binary(JPEG, DEMO_JPEG.read_bytes())
    for name, (width, height, rgb) in PNGS.items():
        w.binary(name, png(width, height, rgb))
    w.json("media-files.json", [
        {"code": code, "original_filename": name, "mime_type": "image/jpeg" if name.endswith(".jpg") else "image/png",
         "size": (out / "media-files" / code).stat().st_size, "extension": name.rsplit(".", 1)[1]}
        for name, code in sorted(w.media.items(), key=lambda item: item[1])])
    w.json("system-information.json", {"version": "7.0.45", "edition": "CE"})
    w.json("locales.json", LOCALES)
    w.json("currencies.json", CURRENCIES)
    w.json("channels.json", CHANNELS)
    w.json("categories.json", [{"code": code, "parent": parent, "updated": CREATED, "labels": labels(en, nl)}
                               for code, parent, en, nl in CATEGORIES])
    w.json("attribute-groups.json", [{"code": code, "sort_order": index, "labels": labels(en, nl),
                                      "attributes": [a[0] for a in ATTRIBUTES if a[2] == code]}
                                     for index, (code, (en, nl)) in enumerate(GROUPS.items())])
    w.json("attributes.json", [attribute(index, *spec) for index, spec in enumerate(ATTRIBUTES)])
    for code, options in OPTIONS.items():
        w.json(f"attributes/{code}/options.json", [{"code": option, "attribute": code, "sort_order": index,
                                                    "labels": labels(en, nl)}
                                                   for index, (option, en, nl) in enumerate(options)])
    w.json("families.json", [{"code": code, "attribute_as_label": "product_title", "attribute_as_image": "picture",
                              "attributes": sorted(codes),
                              "attribute_requirements": {"web": ["article_number", "product_title", "retail_price"],
                                                         "print": ["article_number", "product_title"]},
                              "labels": labels(en, nl)} for code, (en, nl, codes) in FAMILIES.items()])
    w.json("families/apparel/variants.json", [
        {"code": "apparel_by_size", "labels": labels("Apparel by size", "Kleding per maat"),
         "common_attributes": sorted(COMMON),
         "variant_attribute_sets": [{"level": 1, "axes": ["size"], "attributes": sorted(VARIANT_LEVEL)}]}])
    w.json("families/kitchen/variants.json", [])
    w.json("association-types.json", [{"code": code, "labels": labels(code.title(), code.title()),
                                       "is_quantified": False, "is_two_way": False} for code in NO_LINKS])
    models, products = catalog(w.media)
    w.json("product-models.json", models)
    w.json("products.json", products)


if __name__ == "__main__":
    write()
    print(f"wrote {OUT}")
