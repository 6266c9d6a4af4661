"""Facts about SFCC import XML that the engine enforces (see sfcc-xml.md)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class SystemAttribute:
    """A product system attribute: its Business Manager name, XML element and value kind."""

    name: str
    element: str
    kind: str  # text, localized, boolean, decimal, integer, datetime, enum
    max_length: int | None = None
    description: str = ""


# In XSD order of the <product> children they are written to (catalog.xsd).
SYSTEM_ATTRIBUTES: tuple[SystemAttribute, ...] = (
    SystemAttribute("EAN", "ean", "text", 256, "European Article Number"),
    SystemAttribute("UPC", "upc", "text", 256, "Universal Product Code"),
    SystemAttribute("unit", "unit", "text", 256, "Sales unit"),
    SystemAttribute("minOrderQuantity", "min-order-quantity", "decimal", None, "Minimum order quantity"),
    SystemAttribute("stepQuantity", "step-quantity", "decimal", None, "Order quantity step"),
    SystemAttribute("name", "display-name", "localized", 4000, "Product name, per language"),
    SystemAttribute("shortDescription", "short-description", "localized", None, "Short description, per language"),
    SystemAttribute("longDescription", "long-description", "localized", None, "Long description, per language"),
    SystemAttribute("onlineFlag", "online-flag", "boolean", None, "Whether the product is online"),
    SystemAttribute("onlineFrom", "online-from", "datetime", None, "Online from this date and time"),
    SystemAttribute("onlineTo", "online-to", "datetime", None, "Online until this date and time"),
    SystemAttribute("searchable", "searchable-flag", "boolean", None, "Whether search finds the product"),
    SystemAttribute("searchableIfUnavailable", "searchable-if-unavailable-flag", "boolean", None,
                    "Whether search finds the product when it is unavailable"),
    SystemAttribute("template", "template", "text", 256, "Rendering template of the product page"),
    SystemAttribute("taxClassID", "tax-class-id", "text", 256, "Tax class id"),
    SystemAttribute("brand", "brand", "text", 256, "Brand"),
    SystemAttribute("manufacturerName", "manufacturer-name", "text", 256, "Manufacturer name"),
    SystemAttribute("manufacturerSKU", "manufacturer-sku", "text", 256, "Manufacturer SKU"),
    SystemAttribute("searchPlacement", "search-placement", "integer", None, "Search placement"),
    SystemAttribute("searchRank", "search-rank", "integer", None, "Search rank"),
    SystemAttribute("siteMapIncluded", "sitemap-included-flag", "boolean", None, "Whether the sitemap lists the product"),
    SystemAttribute("siteMapChangeFrequency", "sitemap-changefrequency", "enum", None,
                    "Sitemap change frequency: always, hourly, daily, weekly, monthly, yearly, never"),
    SystemAttribute("siteMapPriority", "sitemap-priority", "priority", None, "Sitemap priority, 0.0 to 1.0"),
    SystemAttribute("pageTitle", "page-title", "localized", 4000, "Page title (SEO), per language"),
    SystemAttribute("pageDescription", "page-description", "localized", 4000, "Page description (SEO), per language"),
    SystemAttribute("pageKeywords", "page-keywords", "localized", 4000, "Page keywords (SEO), per language"),
    SystemAttribute("pageUrl", "page-url", "localized", 4000, "Page URL (SEO), per language"),
    SystemAttribute("pinterestEnabled", "pinterest-enabled-flag", "boolean", None, "Whether Pinterest is enabled"),
    SystemAttribute("facebookEnabled", "facebook-enabled-flag", "boolean", None, "Whether Facebook is enabled"),
    SystemAttribute("storeReceiptName", "receipt-name", "localized", None, "Store receipt name, per language"),
    SystemAttribute("storeForcePriceEnabled", "force-price-flag", "boolean", None, "Store: force price"),
    SystemAttribute("storeNonInventoryEnabled", "non-inventory-flag", "boolean", None, "Store: non-inventory"),
    SystemAttribute("storeNonRevenueEnabled", "non-revenue-flag", "boolean", None, "Store: non-revenue"),
    SystemAttribute("storeNonDiscountableEnabled", "non-discountable-flag", "boolean", None, "Store: non-discountable"),
)
SYSTEM_BY_NAME = {a.name: a for a in SYSTEM_ATTRIBUTES}

SITEMAP_FREQUENCIES = ("always", "hourly", "daily", "weekly", "monthly", "yearly", "never")
PRODUCT_ID_MAX = 100

# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR; surrogates; U+FFFE, U+FFFF), and CR,
# which a parser would turn into LF anyway.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff\ud800-\udfff]")
_XML_SPACING = {"\x0b": " ", "\x0c": " ", "\r": "\n"}
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")


def xml_safe(text: str) -> str:
    """Text XML 1.0 carries unchanged: forbidden characters removed, vertical tabs and form
    feeds (PIM spacing) made spaces, line ends made LF: `"a\x0bb\x00\r\n"` -> `"a b\n"`."""
    if _NOT_XML_TEXT.search(text) is None:
        return text  # the common case: one scan, no copy
    text = text.replace("\r\n", "\n")
    return _NOT_XML_TEXT.sub(lambda match: _XML_SPACING.get(match.group(), ""), text)


def product_id_problem(product_id: object) -> str | None:
    """Why SFCC would refuse this product id, or None when it is fine."""
    if not isinstance(product_id, str) or not product_id:
        return "product id is empty"
    if xml_safe(product_id) != product_id:
        return "product id contains characters XML cannot carry"
    if product_id != product_id.strip():
        return "product id has leading or trailing whitespace"
    if "\n" in product_id or "\r" in product_id:
        return "product id contains a line break"
    if "\t" in product_id:
        return "product id contains a tab (XML would read it as a space)"
    if len(product_id) > PRODUCT_ID_MAX:
        return f"product id is {len(product_id)} characters long, SFCC allows {PRODUCT_ID_MAX}"
    return None


def system_value_problem(attribute: SystemAttribute, value: str) -> str | None:
    """Why a single (non-localized) value does not fit the system attribute's XSD type, or None."""
    kind = attribute.kind
    if kind == "boolean" and value not in ("true", "false"):
        return f"'{value}' is not true or false"
    if kind in ("decimal", "priority") and not _DECIMAL.match(value):
        return f"'{value}' is not a decimal number"
    if kind == "priority" and not 0 <= float(value) <= 1:
        return f"'{value}' is not between 0.0 and 1.0"
    if kind == "integer" and not (_INTEGER.match(value) and -2**31 <= int(value) < 2**31):
        return f"'{value}' is not a whole number that fits 32 bits"
    if kind == "datetime" and not _DATETIME.match(value):
        return f"'{value}' is not a date and time with a zone"
    if kind == "enum" and value not in SITEMAP_FREQUENCIES:
        return f"'{value}' is not one of {', '.join(SITEMAP_FREQUENCIES)}"
    if attribute.max_length and len(value) > attribute.max_length:
        return f"value is {len(value)} characters long, SFCC allows {attribute.max_length}"
    return None


# -- ids SFCC gets from PIM codes (connector-spec §4.5, §4.10, §4.13) --------------------------

def camel(code: str) -> str:
    """`short_description` -> `shortDescription`."""
    first, *rest = code.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


ID_MAX = 256  # characters of an attribute, content or category id (metadata.xsd, library.xsd, catalog.xsd)
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(text: str) -> str:
    """`text` as an SFCC id: itself when it is one (letters, digits, `_`, `.`, `-`, at most ID_MAX
    characters, as Akeneo codes are), else the other characters made `_`, cut to length, with a short
    hash of `text` so that ids stay apart and the same on every run."""
    if len(text) <= ID_MAX and not _NOT_ID.search(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_NOT_ID.sub('_', text)[:ID_MAX - len(digest) - 1]}_{digest}"


def custom_attribute_id(attribute: str) -> str:
    """The custom attribute a PIM attribute is written to: `size_eu` -> `akeneo_sizeEu`."""
    return safe_id(f"akeneo_{camel(attribute)}")


def asset_attribute_id(asset: str, attribute: str) -> str:
    """The product custom attribute of one asset's media: (`notice_chair`, `document`) -> `akeneo_noticeChair_document`."""
    return safe_id(f"akeneo_{camel(asset)}_{camel(attribute)}")


def entity_content_id(entity: str) -> str:
    """The content asset of a reference entity: `brand` -> `akeneo_entity_brand`."""
    return safe_id(f"akeneo_entity_{entity}")


def record_attribute_id(entity: str, record: str) -> str:
    """The content attribute of one record: (`brand`, `nordvik`) -> `akeneo_entity_brand_nordvik`."""
    return safe_id(f"akeneo_entity_{entity}_{record}")


# -- file names in the archive ---------------------------------------------------------------

# A code kept as its own file name: ASCII segments of letters, digits, `.`, `_` and `-`, none
# starting or ending with a dot (no `.`/`..`, no hidden or Windows-trimmed names), none empty.
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-]([A-Za-z0-9._-]*[A-Za-z0-9_-])?")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SEGMENT_MAX = 100  # characters per folder or file name (filesystems take 255 bytes)
PATH_MAX = 200  # characters of the whole path below the static folder
ASSET_FOLDER = "assets"  # asset binaries' folder in the static folder, beside the media files


def safe_path(code: str) -> str:
    """An ASCII relative path for a PIM media code that stays inside its folder, distinct for each
    code and the same on every run (SFCC archives take ASCII names only). A code that is such a
    path already, as Akeneo's `7/5/8/e/758e_shirt.jpg` are, is its own name; any other code is
    sanitised and gets a short hash of itself, so codes that sanitise alike (or are cut to length)
    stay apart: `"7/5/8/Fancy Ümlaut (1).JPG"` -> `7/5/8/Fancy_Umlaut_1_-<hash>.JPG`, `".."` -> `_-<hash>`."""
    segments = code.split("/")
    if len(code) <= PATH_MAX and segments[0].lower() != ASSET_FOLDER and all(
            len(part) <= SEGMENT_MAX and _SAFE_SEGMENT.fullmatch(part) for part in segments):
        return code
    parts = [_sanitised(part) for part in code.replace("\\", "/").split("/") if part] or ["_"]
    parts[-1] = _hashed(parts[-1], hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:8])
    while len(parts) > 1 and len("/".join(parts)) > PATH_MAX:
        parts.pop(0)  # the hash keeps the name distinct without the folders
    return "/".join(parts)


def asset_path(code: str) -> str:
    """Where an asset's media file goes in the static folder: `assets/<safe path>`."""
    return f"{ASSET_FOLDER}/{safe_path(code)}"


def _sanitised(part: str) -> str:
    """One segment as ASCII letters, digits, `.`, `_` and `-` (accents dropped, other runs `_`),
    without leading or trailing dots, at most SEGMENT_MAX characters: `Fancy Ümlaut (1)` -> `Fancy_Umlaut_1_`."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", part) if not unicodedata.combining(c))
    return _UNSAFE.sub("_", letters).strip(".")[:SEGMENT_MAX].strip(".") or "_"


def _hashed(name: str, digest: str) -> str:
    """`name` with `-<digest>` before its extension, within SEGMENT_MAX: `shirt.jpg` -> `shirt-1a2b3c4d.jpg`."""
    stem, dot, extension = name.rpartition(".")
    if not (dot and stem and len(extension) <= 10):
        stem, extension = name, ""
    suffix = f"-{digest}" + (f".{extension}" if extension else "")
    return stem[:SEGMENT_MAX - len(suffix)].rstrip(".") + suffix
