"""Catalog refinements (job 6): read an SFCC catalog export and keep each category's
`<refinement-definitions>`, so the storefront job writes them back and MERGE imports do not
overwrite refinements edited by hand in Business Manager (connector-spec §4.14).

The export comes from outside: it is parsed with entity resolution and network access off."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ..errors import SourceError
from .run import JobRun

CATALOG_NS = "http://www.demandware.com/xml/impex/catalog/2006-10-31"


def catalog_refinements(run: JobRun) -> None:
    export = run.job.mappings.categories.refinements_export
    if not export:
        raise SourceError(f"job '{run.job.id}' needs `refinements_export` (an exported storefront catalog) in the "
                          "categories settings")
    fragments = read_refinements(run.config.root / export)
    run.store.save_refinements(run.config.site.storefront_catalog, fragments)
    run.report.counts["categories_with_refinements"] = len(fragments)


def read_refinements(path: Path) -> dict[str, str]:
    """Category id -> its `<refinement-definitions>` element as XML text."""
    if not path.is_file():
        raise SourceError(f"catalog export not found: {path}")
    found = {}
    try:
        for _, category in etree.iterparse(str(path), events=("end",), tag=f"{{{CATALOG_NS}}}category",
                                           resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True):
            definitions = category.find(f"{{{CATALOG_NS}}}refinement-definitions")
            if definitions is not None and category.get("category-id"):
                _drop_entities(definitions)
                found[category.get("category-id")] = etree.tostring(definitions, encoding="unicode").strip()
            category.clear()
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{path}: not a readable catalog export: {exc}") from None
    return found


def _drop_entities(element: etree._Element) -> None:
    """Remove entity references left unexpanded (their text would be undefined in our output)."""
    for entity in list(element.iter(etree.Entity)):
        parent, tail = entity.getparent(), entity.tail or ""
        previous = entity.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
        parent.remove(entity)
