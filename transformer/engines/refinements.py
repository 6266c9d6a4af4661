"""Catalog refinements (job 6): read an SFCC catalog export and keep each category's
`<refinement-definitions>`, so the storefront job writes them back and MERGE imports do not
overwrite refinements edited by hand in Business Manager (connector-spec §4.14).

The export comes from outside, and can be hundreds of MB (it may hold products too):
- it is parsed with entity resolution and network access off, and streamed: each top-level element
  is freed once read, so memory stays flat whatever the file size;
- an export of another catalog (another namespace, another catalog-id, the master catalog) is
  refused before anything is read, a truncated or malformed one when the parser finds out: in both
  cases the refinements saved before stay exactly as they were (they are replaced, all at once, only
  once the whole export was read);
- only what catalog.xsd allows under `<refinement-definitions>` is kept, in the order it gives (what
  is dropped is counted and reported as one warning); with the SFCC XSDs at hand each category's
  definitions are then validated, and a category whose definitions still do not validate is
  reported and not saved, so that one bad category never fails the storefront job later."""

from __future__ import annotations

from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .. import xsd
from ..errors import SourceError
from .run import JobRun

CATALOG_NS = "http://www.demandware.com/xml/impex/catalog/2006-10-31"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# The children catalog.xsd allows under <catalog>: each is freed once read.
TOP_LEVEL = ("header", "product-attribute-definitions", "category", "product", "product-option",
             "variation-attribute", "category-assignment", "recommendation")
PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
LISTED = 8  # kinds of dropped content, and categories, named in a warning
KEPT = "nothing was saved, the refinements saved before are kept"


@dataclass(frozen=True)
class Allowed:
    """What catalog.xsd allows in one element: its attributes, and its children in order (None:
    text only, simpleContent; `choice`: an xsd:choice, children of one kind only)."""

    attributes: frozenset[str] = frozenset()
    children: tuple[tuple[str, "Allowed"], ...] | None = None
    choice: bool = False


TEXT = Allowed()
LOCALIZED = Allowed(frozenset({XML_LANG}))  # sharedType.LocalizedString and sharedType.LocalizedText
_REFINEMENT = frozenset({"type", "bucket-type", "attribute-id", "system"})
_BUCKETS = Allowed(choice=True, children=(  # complexType.RefinementBuckets
    ("attribute-bucket", Allowed(frozenset({"default"}), (
        ("display-name", LOCALIZED), ("value-list", LOCALIZED), ("presentation-id", TEXT),
        ("description", LOCALIZED)))),
    ("price-bucket", Allowed(frozenset({"currency"}), (("display-name", LOCALIZED), ("threshold", TEXT)))),
    ("threshold-bucket", Allowed(children=(
        ("display-name", LOCALIZED), ("threshold", LOCALIZED), ("presentation-id", TEXT),
        ("description", LOCALIZED)))),
    ("period-bucket", Allowed(children=(
        ("display-name", LOCALIZED), ("duration-in-days", TEXT), ("presentation-id", TEXT),
        ("description", LOCALIZED)))),
))
DEFINITIONS = Allowed(children=(  # complexType.RefinementDefinitions
    ("refinement-definition", Allowed(_REFINEMENT, (
        ("display-name", LOCALIZED), ("value-set", TEXT), ("sort-mode", TEXT), ("sort-direction", TEXT),
        ("unbucketed-values-mode", TEXT), ("cutoff-threshold", TEXT), ("bucket-definitions", _BUCKETS)))),
    ("blocked-refinement-definition", Allowed(_REFINEMENT, ())),
))


@dataclass
class Refinements:
    """What an export holds: category id -> its cleaned `<refinement-definitions>` as XML text; what
    was dropped from them (kind -> how many, and in which categories); the categories whose
    definitions did not validate (id -> the first problem)."""

    fragments: dict[str, str] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)
    dropped_in: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    validated: bool = False


def catalog_refinements(run: JobRun) -> None:
    export = run.job.mappings.categories.refinements_export
    if not export:
        raise SourceError(f"job '{run.job.id}' needs `refinements_export` (an exported storefront catalog) in the "
                          "categories settings")
    site = run.config.site
    path = run.config.root / export
    found = read_refinements(path, site.storefront_catalog, site.master_catalog)
    # Only now, the export read in full: all of them replaced in one transaction.
    run.store.save_refinements(site.storefront_catalog, found.fragments)
    run.report.counts["categories_with_refinements"] = len(found.fragments)
    if found.dropped:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in found.dropped.most_common(LISTED))
        more = len(found.dropped) - LISTED
        run.warn(f"{path}: dropped {sum(found.dropped.values())} thing(s) catalog.xsd does not allow in "
                 f"<refinement-definitions>: {kinds}{f' and {more} more kind(s)' if more > 0 else ''}; "
                 f"in {_some(found.dropped_in)}")
    if found.invalid:
        run.report.counts["categories_with_invalid_refinements"] = len(found.invalid)
        problems = "; ".join(f"{category}: {problem}" for category, problem in list(found.invalid.items())[:LISTED])
        more = len(found.invalid) - LISTED
        run.warn(f"{path}: the refinement definitions of {_some(list(found.invalid), listed=False)} do not validate "
                 f"against catalog.xsd and were not saved: {problems}{f'; and {more} more' if more > 0 else ''}")
    if not found.validated:
        run.warn("no SFCC XSDs were found: the refinement definitions were reduced to what catalog.xsd allows, "
                 "not validated against it")


def read_refinements(path: Path, catalog: str, master_catalog: str | None = None) -> Refinements:
    """The refinement definitions of the categories of `path`, an export of catalog `catalog`."""
    if not path.is_file():
        raise SourceError(f"catalog export not found: {path}")
    schema = xsd.schema("catalog.xsd")
    found = Refinements(validated=schema is not None)
    top_level = [f"{{{CATALOG_NS}}}{name}" for name in TOP_LEVEL]
    category_tag = f"{{{CATALOG_NS}}}category"
    try:
        with path.open("rb") as stream:  # one file read twice: its start, then all of it
            _, root = next(iter(etree.iterparse(stream, events=("start",), **PARSER_OPTIONS)), (None, None))
            _check_root(path, root, catalog, master_catalog)
            stream.seek(0)
            for _, element in etree.iterparse(stream, events=("end",), tag=top_level, **PARSER_OPTIONS):
                parent = element.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # not a child of <catalog>: freed with the one it is in
                if element.tag == category_tag and element.get("category-id"):
                    _read_category(element, catalog, schema, found)
                # Freed, with what came before it (what has no event: foreign elements): flat memory.
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{path}: not a readable catalog export ({KEPT}): {exc}") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the catalog export ({KEPT}): {exc}") from None
    return found


def _check_root(path: Path, root: etree._Element | None, catalog: str, master_catalog: str | None) -> None:
    """Refuse, before reading it further, an export of another namespace or catalog."""
    if root is None:
        raise SourceError(f"{path}: not a readable catalog export ({KEPT}): no root element")
    name = etree.QName(root)
    if name.localname != "catalog" or name.namespace != CATALOG_NS:
        found = f"<{name.localname}>" + (f" in namespace {name.namespace}" if name.namespace else " in no namespace")
        raise SourceError(f"{path} is not an SFCC catalog export: its root element is {found}, expected <catalog> "
                          f"in namespace {CATALOG_NS} ({KEPT})")
    exported = root.get("catalog-id")
    if exported == catalog:
        return
    if exported and exported == master_catalog:
        raise SourceError(f"{path} is an export of the master catalog '{exported}': job 6 reads the refinements of "
                          f"the storefront catalog '{catalog}', export that one ({KEPT})")
    exports = f"is an export of catalog '{exported}'" if exported else "names no catalog-id"
    raise SourceError(f"{path} {exports}, expected the storefront catalog '{catalog}' (storefront_catalog in the "
                      f"site settings) ({KEPT})")


def _read_category(category: etree._Element, catalog: str, schema: etree.XMLSchema | None,
                   found: Refinements) -> None:
    category_id = category.get("category-id")
    definitions = category.findall(f"{{{CATALOG_NS}}}refinement-definitions")
    if not definitions:
        return
    dropped: Counter = Counter()
    if len(definitions) > 1:
        dropped["<refinement-definitions> after the first one of a category"] += len(definitions) - 1
    cleaned = _copy(definitions[0], DEFINITIONS, None, dropped)
    if dropped:
        found.dropped.update(dropped)
        found.dropped_in.append(category_id)
    if schema is not None:
        problem = _invalid(cleaned, category_id, catalog, schema)
        if problem:
            found.invalid[category_id] = problem
            found.fragments.pop(category_id, None)
            return
    etree.indent(cleaned, space="    ", level=2)  # as the storefront job's <category> children are
    found.fragments[category_id] = etree.tostring(cleaned, encoding="unicode")
    found.invalid.pop(category_id, None)  # a category exported twice: the last one counts


def _copy(source: etree._Element, allowed: Allowed, parent: etree._Element | None, dropped: Counter) -> etree._Element:
    """A copy of `source` in the catalog namespace with only what `allowed` allows, children in
    catalog.xsd order (`dropped` counts the rest, by kind)."""
    name = etree.QName(source).localname
    tag = f"{{{CATALOG_NS}}}{name}"
    copy = etree.Element(tag, nsmap={None: CATALOG_NS}) if parent is None else etree.SubElement(parent, tag)
    for attribute, value in source.attrib.items():
        if attribute in allowed.attributes:
            copy.set(attribute, value)
        else:
            dropped[f"attribute {_attribute_name(source, attribute)} of <{name}>"] += 1
    if allowed.children is None:  # text only: what is inside goes, the text around it stays
        text = source.text or ""
        for child in source:
            dropped[f"{_kind(child)} in <{name}>"] += 1
            text += child.tail or ""
        if text:
            copy.text = text
        return copy
    order = {child_name: index for index, (child_name, _) in enumerate(allowed.children)}
    if (source.text or "").strip():
        dropped[f"text in <{name}>"] += 1
    kept = []
    for child in source:
        if (child.tail or "").strip():
            dropped[f"text in <{name}>"] += 1
        qname = etree.QName(child) if isinstance(child.tag, str) else None
        if qname is None or qname.namespace != CATALOG_NS or qname.localname not in order:
            dropped[f"{_kind(child)} in <{name}>"] += 1
        elif allowed.choice and kept and qname.localname != etree.QName(kept[0]).localname:
            dropped[f"<{qname.localname}> beside <{etree.QName(kept[0]).localname}> in <{name}> (one kind only)"] += 1
        else:
            kept.append(child)
    children = dict(allowed.children)
    for child in sorted(kept, key=lambda c: order[etree.QName(c).localname]):  # stable: repeated ones keep their order
        _copy(child, children[etree.QName(child).localname], copy, dropped)
    return copy


def _kind(node: etree._Element) -> str:
    if isinstance(node, etree._Entity):
        return f"entity reference {node.text}"  # left unexpanded: its text would be undefined in our output
    if isinstance(node, etree._Comment):
        return "comment"
    if isinstance(node, etree._ProcessingInstruction):
        return "processing instruction"
    qname = etree.QName(node)
    if qname.namespace == CATALOG_NS:
        return f"<{qname.localname}>"
    return f"<{node.prefix}:{qname.localname}>" if node.prefix else f"<{node.tag}>"


def _attribute_name(element: etree._Element, attribute: str) -> str:
    qname = etree.QName(attribute)
    if not qname.namespace:
        return qname.localname
    prefix = next((p for p, uri in element.nsmap.items() if uri == qname.namespace and p), None)
    return f"{prefix}:{qname.localname}" if prefix else attribute


def _invalid(definitions: etree._Element, category_id: str, catalog: str, schema: etree.XMLSchema) -> str | None:
    """Why `definitions` do not validate in a category of a catalog document (None: they do)."""
    wrapper = etree.Element(f"{{{CATALOG_NS}}}catalog", {"catalog-id": catalog}, nsmap={None: CATALOG_NS})
    category = etree.SubElement(wrapper, f"{{{CATALOG_NS}}}category", {"category-id": category_id})
    category.append(deepcopy(definitions))  # a copy: moved back out, it would keep a prefix of its own
    if schema.validate(wrapper):
        return None
    return next(iter(schema.error_log)).message.replace(f"{{{CATALOG_NS}}}", "")


def _some(names: list[str], listed: bool = True) -> str:
    """`3 categories (a, b, c)`: how many, and the first few."""
    unique = list(dict.fromkeys(names))
    counted = f"{len(unique)} categor{'y' if len(unique) == 1 else 'ies'}"
    if not listed:
        return counted
    more = len(unique) - LISTED
    return f"{counted} ({', '.join(unique[:LISTED])}{f' and {more} more' if more > 0 else ''})"
