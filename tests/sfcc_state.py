"""An in-memory SFCC instance: import site-import archives in order (MERGE mode), then check references.

Written from the SFCC references (`shared/reference/sfcc-xml.md`, the XSDs), not from the project's code, so tests
can ask "what would the instance hold?" and "would anything dangle?" independently of the writer.

An archive is a zip with one top folder. Every `*.xml` outside a `static/` folder is recognised by its root element
and namespace (catalog, pricebooks, library, metadata); other roots (custom objects, inventory, ...) are ignored.
Files under `catalogs/<id>/static/default/` are the catalog's binaries. Folders are imported in the dependency order
of the reference (meta, catalogs, pricebooks, inventory-lists, libraries, sites), files by name within a folder.

Merge semantics and their simplifications:

* `mode="delete"` on a product, category, content, category-assignment or recommendation removes that one object;
  nothing cascades (an assignment of a deleted product stays, and is then reported).
* Any other product, category or content merges into what is there, slot by slot. A slot is a direct child keyed by
  (tag, attribute-id, xml:lang, site-id); `site-id` is part of the key too, since site-specific values are separate
  values on the instance. `custom-attributes`, `page-attributes` and `store-attributes` merge their children the same
  way; every other child (`images`, `variations`, `bundled-products`, `product-links`, `refinement-definitions`, ...)
  replaces the old one whole: `merge-mode` attributes are ignored.
* A child without text or child elements (`<custom-attribute attribute-id="c"/>`, `<brand/>`, `xsi:nil`) clears its
  slot, and a merged wrapper left empty is dropped, so a cleared value looks like one never written.
* The merged element's children follow the XSD sequence of its complexType (read from the XSD files); repeated
  children of one tag are sorted by their key, since their order carries no meaning on the instance. The stored
  canonical bytes therefore only depend on the values held, not on how many imports produced them.
* A price-table stores its base amount (quantity 1, or the first amount); `mode="delete"`/`"delete-all"` removes the
  price and a pricebook header with `mode="delete"` removes all of that pricebook's prices. Percentages are ignored.
* Definitions only grow (metadata has no delete). Image settings are per catalog, the last header imported wins; a
  catalog without one is taken to use `internal-location base-path="/"`. Library folders and custom-object types
  are not modelled.

Checks (see `SfccState.problems`): product ids resolve across catalogs (a storefront assigns, prices and recommends
master-catalog products); an image path is looked up under the catalog's base path; attribute-group members marked
`system="true"` are system attributes and not checked; SFRA's own custom attributes count as defined.
"""

from __future__ import annotations

import copy
import os
import posixpath
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from lxml import etree

_IMPEX = "http://www.demandware.com/xml/impex/{}/2006-10-31"
NS = {"c": _IMPEX.format("catalog"), "p": _IMPEX.format("pricebook"), "l": _IMPEX.format("library"),
      "m": _IMPEX.format("metadata")}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FOLDER_ORDER = ("meta", "catalogs", "pricebooks", "inventory-lists", "libraries", "sites")
# Custom attributes SFCC's reference storefront (SFRA) defines itself, so an archive need not define them.
SFRA_DEFINED = {"Category": {"showInMenu"}}
# A product's outgoing product references, as (label, path below <product>).
PRODUCT_REFERENCES = (("variant", "c:variations/c:variants/c:variant"),
                      ("bundled product", "c:bundled-products/c:bundled-product"),
                      ("product-set product", "c:product-set-products/c:product-set-product"),
                      ("product-link target", "c:product-links/c:product-link"))


class Shape(NamedTuple):
    """How to merge one element: the XSD complexType that orders its children, and which children merge inside."""

    xsd: str
    type_name: str
    parts: dict[str, Shape] = {}


_CATALOG_CUSTOM = Shape("catalog.xsd", "sharedType.CustomAttributes")
_CATALOG_PAGE = Shape("catalog.xsd", "complexType.PageAttributes")
PRODUCT = Shape("catalog.xsd", "complexType.Product", {
    "custom-attributes": _CATALOG_CUSTOM, "page-attributes": _CATALOG_PAGE,
    "store-attributes": Shape("catalog.xsd", "complexType.Product.StoreAttributes")})
CATEGORY = Shape("catalog.xsd", "complexType.Category", {
    "custom-attributes": _CATALOG_CUSTOM, "page-attributes": _CATALOG_PAGE})
CONTENT = Shape("library.xsd", "complexType.Content", {
    "custom-attributes": Shape("library.xsd", "sharedType.CustomAttributes"),
    "page-attributes": Shape("library.xsd", "complexType.PageAttributes")})


def xsd_dir() -> Path:
    """SFCC_XSD_DIR, as the project uses it; else the documented `../shared/sfcc-xsd` beside the project root."""
    return Path(os.environ.get("SFCC_XSD_DIR") or Path(__file__).resolve().parents[2] / "shared" / "sfcc-xsd")


@lru_cache
def child_order(xsd: str, type_name: str) -> dict[str, int]:
    """Position of each child tag in the complexType's sequence: the order an export writes, hence ours."""
    tree = etree.parse(str(xsd_dir() / xsd))
    names = tree.xpath("/xs:schema/xs:complexType[@name=$t]/xs:sequence/xs:element/@name",
                       namespaces={"xs": "http://www.w3.org/2001/XMLSchema"}, t=type_name)
    if not names:
        raise LookupError(f"{xsd} has no sequence for {type_name}")
    return {name: i for i, name in enumerate(names)}


def local(el: etree._Element) -> str:
    """Tag without namespace: each file has one namespace, known from its root."""
    return etree.QName(el).localname


def slot(el: etree._Element) -> tuple[str, str, str, str]:
    """What a child replaces: the same tag for the same attribute, language and site."""
    return local(el), el.get("attribute-id", ""), el.get(XML_LANG, ""), el.get("site-id", "")


def is_blank(el: etree._Element) -> bool:
    """No value at all: SFCC reads such an element as "clear this"."""
    return len(el) == 0 and not (el.text or "").strip()


def merge(old: etree._Element | None, new: etree._Element, shape: Shape) -> etree._Element:
    """Fold `new` into `old` slot by slot and rebuild the element in XSD order (see the module docstring)."""
    slots = {slot(c): c for c in (old if old is not None else ())}
    for child in new:
        part = shape.parts.get(local(child))
        merged = merge(slots.get(slot(child)), child, part) if part else child
        if is_blank(merged):
            slots.pop(slot(child), None)
        else:
            slots[slot(child)] = merged
    attrib = {**(old.attrib if old is not None else {}), **new.attrib}
    attrib.pop("mode", None)
    result = etree.Element(new.tag, attrib, nsmap={None: etree.QName(new).namespace})
    order = child_order(shape.xsd, shape.type_name)
    for child in sorted(slots.values(), key=lambda c: (order.get(local(c), len(order)), slot(c))):
        result.append(copy.deepcopy(child))
    return result


def upsert(store: dict, key: tuple, el: etree._Element, shape: Shape) -> None:
    """Delete, create or merge one object, keeping its canonical bytes as the single stored truth."""
    if el.get("mode") == "delete":
        store.pop(key, None)
        return
    old = etree.fromstring(store[key]) if key in store else None
    store[key] = etree.tostring(merge(old, el, shape), method="c14n")


def parse(data: bytes) -> etree._Element:
    """Parse without comments and without indentation, which is layout, not value."""
    root = etree.fromstring(data, etree.XMLParser(remove_comments=True, remove_pis=True, no_network=True,
                                                 resolve_entities=False, huge_tree=True))
    for el in root.iter():
        if el.tail is not None and not el.tail.strip():
            el.tail = None
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
    return root


def top_folder(path: Path, names: list[str]) -> str:
    """The archive's one top folder; SFCC expects exactly the layout of an export."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1 or any("/" not in name for name in names):
        raise ValueError(f"{path}: a site-import archive needs one top folder, found {sorted(tops)}")
    return tops.pop()


def import_rank(parts: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    """Dependency order of the reference (meta before catalogs before pricebooks ...), then by name."""
    folder = parts[0]
    return (FOLDER_ORDER.index(folder) if folder in FOLDER_ORDER else len(FOLDER_ORDER), parts)


@dataclass
class SfccState:
    """What an SFCC instance holds after importing archives in order."""

    products: dict[tuple[str, str], bytes] = field(default_factory=dict)
    categories: dict[tuple[str, str], bytes] = field(default_factory=dict)
    assignments: set[tuple[str, str, str]] = field(default_factory=set)
    recommendations: set[tuple[str, str, str, str]] = field(default_factory=set)
    prices: dict[tuple[str, str], str] = field(default_factory=dict)
    files: set[tuple[str, str]] = field(default_factory=set)
    definitions: dict[str, set[str]] = field(default_factory=dict)
    content: dict[tuple[str | None, str], bytes] = field(default_factory=dict)
    # catalog id -> image base path under static/default, or None for an external location (images are links)
    _image_base: dict[str, str | None] = field(default_factory=dict, init=False, repr=False)
    # (type id, group id, attribute id) of non-system attributes named by attribute groups
    _grouped: set[tuple[str, str, str]] = field(default_factory=set, init=False, repr=False)

    def import_archive(self, path: Path) -> None:
        """Apply every file of one site-import archive on top of what the state holds."""
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            top = top_folder(path, names)
            entries = {PurePosixPath(n).relative_to(top).parts: n for n in names}
            for parts in sorted(entries, key=import_rank):
                if parts[0] == "catalogs" and parts[2:4] == ("static", "default") and len(parts) > 4:
                    self.files.add((parts[1], "/".join(parts[4:])))
                elif parts[-1].endswith(".xml") and "static" not in parts:
                    self._import_xml(parse(zf.read(entries[parts])))

    def _import_xml(self, root: etree._Element) -> None:
        """By root element and namespace, as the import does; roots of other schemas are not modelled."""
        handler = {f"{{{NS['c']}}}catalog": self._import_catalog, f"{{{NS['p']}}}pricebooks": self._import_prices,
                   f"{{{NS['l']}}}library": self._import_library, f"{{{NS['m']}}}metadata": self._import_metadata}
        if root.tag in handler:
            handler[root.tag](root)

    def _import_catalog(self, root: etree._Element) -> None:
        catalog = root.get("catalog-id")
        settings = root.find("c:header/c:image-settings", NS)
        if settings is not None:
            internal = settings.find("c:internal-location", NS)
            self._image_base[catalog] = None if internal is None else internal.get("base-path").strip("/")
        for el in root:
            kind = local(el)
            if kind == "product":
                upsert(self.products, (catalog, el.get("product-id")), el, PRODUCT)
            elif kind == "category":
                upsert(self.categories, (catalog, el.get("category-id")), el, CATEGORY)
            elif kind == "category-assignment":
                self._toggle(self.assignments, (catalog, el.get("category-id"), el.get("product-id")), el)
            elif kind == "recommendation":
                key = (catalog, el.get("source-id"), el.get("target-id"), el.get("type", ""))
                self._toggle(self.recommendations, key, el)

    @staticmethod
    def _toggle(rows: set, key: tuple, el: etree._Element) -> None:
        """Relations have no values to merge: they are there or, after mode="delete", not."""
        (rows.discard if el.get("mode") == "delete" else rows.add)(key)

    def _import_prices(self, root: etree._Element) -> None:
        for book in root.iterfind("p:pricebook", NS):
            header = book.find("p:header", NS)
            book_id = header.get("pricebook-id")
            if header.get("mode") == "delete":
                self.prices = {key: amount for key, amount in self.prices.items() if key[0] != book_id}
                continue
            for table in book.iterfind("p:price-tables/p:price-table", NS):
                key = (book_id, table.get("product-id"))
                amounts = table.findall("p:amount", NS)
                base = [a for a in amounts if a.get("quantity") in (None, "1")] or amounts
                if table.get("mode") in ("delete", "delete-all"):
                    self.prices.pop(key, None)
                elif base:
                    self.prices[key] = base[0].text.strip()

    def _import_library(self, root: etree._Element) -> None:
        library = root.get("library-id")
        for el in root.iterfind("l:content", NS):
            upsert(self.content, (library, el.get("content-id")), el, CONTENT)

    def _import_metadata(self, root: etree._Element) -> None:
        for ext in root.iterfind("m:type-extension", NS):
            type_id = ext.get("type-id")
            ids = ext.xpath("m:custom-attribute-definitions/m:attribute-definition/@attribute-id", namespaces=NS)
            if ids:
                self.definitions.setdefault(type_id, set()).update(ids)
            for group in ext.iterfind("m:group-definitions/m:attribute-group", NS):
                for attribute in group.iterfind("m:attribute", NS):
                    if attribute.get("system") not in ("true", "1"):
                        self._grouped.add((type_id, group.get("group-id"), attribute.get("attribute-id")))

    def problems(self, complete: bool = True) -> list[str]:
        """Dangling references, one readable line each; `complete` adds those only a whole catalog can satisfy."""
        products = {key: etree.fromstring(xml) for key, xml in self.products.items()}
        found = (self._shared_variants(products) + self._dangling_assignments(complete) + self._dangling_parents()
                 + self._undefined_attributes(products) + self._undefined_grouped())
        if complete:
            found += self._missing_products(products) + self._missing_images(products) + self._unknown_priced()
        return found

    def _product_ids(self) -> set[str]:
        """Product ids of every catalog: assignments and prices reach master-catalog products."""
        return {product for _, product in self.products}

    def _shared_variants(self, products: dict) -> list[str]:
        masters = defaultdict(set)
        for (catalog, product), el in products.items():
            for variant in el.xpath("c:variations/c:variants/c:variant/@product-id", namespaces=NS):
                masters[catalog, variant].add(product)
        return [f"variant {variant} in catalog {catalog} is listed by several masters: {', '.join(sorted(ids))}"
                for (catalog, variant), ids in sorted(masters.items()) if len(ids) > 1]

    def _dangling_assignments(self, complete: bool) -> list[str]:
        """Categories always (a storefront catalog carries its whole tree); products with a whole catalog
        (a storefront archive alone assigns products that another archive brings)."""
        found, product_ids = [], self._product_ids()
        for catalog, category, product in sorted(self.assignments):
            if (catalog, category) not in self.categories:
                found.append(f"assignment of product {product} names category {category}, "
                             f"which catalog {catalog} does not hold")
            if complete and product not in product_ids:
                found.append(f"assignment to category {category} in catalog {catalog} names product {product}, "
                             "which no catalog holds")
        return found

    def _dangling_parents(self) -> list[str]:
        parents = {key: etree.fromstring(xml).findtext("c:parent", namespaces=NS)
                   for key, xml in self.categories.items()}
        return [f"category {category} in catalog {catalog} has parent {parent}, which that catalog does not hold"
                for (catalog, category), parent in sorted(parents.items())
                if parent is not None and (catalog, parent) not in self.categories]

    def _attribute_uses(self, products: dict):
        """(type id, owner, custom attribute ids) of every object; variation axes are Product attributes too."""
        for (catalog, product), el in sorted(products.items()):
            yield "Product", f"product {product} in catalog {catalog}", el.xpath(
                "c:custom-attributes/c:custom-attribute/@attribute-id"
                " | c:variations/c:attributes/c:variation-attribute/@attribute-id", namespaces=NS)
        for (catalog, category), xml in sorted(self.categories.items()):
            yield "Category", f"category {category} in catalog {catalog}", etree.fromstring(xml).xpath(
                "c:custom-attributes/c:custom-attribute/@attribute-id", namespaces=NS)
        for (library, content), xml in sorted(self.content.items(), key=lambda item: (item[0][0] or "", item[0][1])):
            yield "Content", f"content {content} in library {library or '(site private)'}", etree.fromstring(xml).xpath(
                "l:custom-attributes/l:custom-attribute/@attribute-id", namespaces=NS)

    def _undefined_attributes(self, products: dict) -> list[str]:
        """Only types the state has definitions for: an archive need not carry metadata for every type."""
        return [f"{owner} uses custom attribute {attribute}, which no {type_id} definition holds"
                for type_id, owner, ids in self._attribute_uses(products) if self.definitions.get(type_id)
                for attribute in sorted(set(ids)) if not self._defined(type_id, attribute)]

    def _undefined_grouped(self) -> list[str]:
        """As for attribute uses: only types the state has definitions for."""
        return [f"attribute group {group} of {type_id} names attribute {attribute}, which no {type_id} "
                "definition holds" for type_id, group, attribute in sorted(self._grouped)
                if self.definitions.get(type_id) and not self._defined(type_id, attribute)]

    def _defined(self, type_id: str, attribute: str) -> bool:
        return attribute in self.definitions.get(type_id, ()) or attribute in SFRA_DEFINED.get(type_id, ())

    def _missing_products(self, products: dict) -> list[str]:
        found, product_ids = [], self._product_ids()
        for (catalog, product), el in sorted(products.items()):
            for label, path in PRODUCT_REFERENCES:
                found += [f"{label} {target} of product {product} in catalog {catalog} is not a product"
                          for target in el.xpath(f"{path}/@product-id", namespaces=NS) if target not in product_ids]
        found += [f"recommendation {kind} from {source} in catalog {catalog} targets {target}, which is not a product"
                  for catalog, source, target, kind in sorted(self.recommendations) if target not in product_ids]
        return found

    def _missing_images(self, products: dict) -> list[str]:
        found = []
        for (catalog, product), el in sorted(products.items()):
            base = self._image_base.get(catalog, "")
            if base is None:
                continue
            for image in el.xpath("c:images/c:image-group/c:image/@path", namespaces=NS):
                file = posixpath.join(base, image)
                if (catalog, file) not in self.files:
                    found.append(f"image {image} of product {product} in catalog {catalog} has no file "
                                 f"catalogs/{catalog}/static/default/{file}")
        return found

    def _unknown_priced(self) -> list[str]:
        product_ids = self._product_ids()
        return [f"pricebook {book} prices product {product}, which no catalog holds"
                for book, product in sorted(self.prices) if product not in product_ids]


def check_archive(path: Path, state: SfccState | None = None, complete: bool = True) -> list[str]:
    """Import the archive into `state` (a fresh SfccState when None) and return state.problems(complete)."""
    state = SfccState() if state is None else state
    state.import_archive(path)
    return state.problems(complete)
