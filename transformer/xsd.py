"""The validate stage: every file written is checked against the official SFCC XSDs, offline.

The XSDs cannot ship with this package (users bring their own): without them a document is
still parsed as it streams, so a file that is not well-formed XML never appears.

Validation streams (lxml's pull parser with the schema attached), so memory stays flat
whatever the file size. The schema is picked from the document's root element.
"""

from __future__ import annotations

import os
import re
from copy import deepcopy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Mapping

from lxml import etree

from .errors import InvalidOutput, TransformerError

SCHEMA_BY_ROOT = {
    "catalog": "catalog.xsd",
    "pricebooks": "pricebook.xsd",
    "library": "library.xsd",
    "metadata": "metadata.xsd",
    "custom-objects": "customobject.xsd",
}
FEED = 1 << 16  # bytes fed at once: records are freed before the next ones are built (-25 % CPU)
_ROOT = re.compile(rb"<([A-Za-z][\w.-]*)[\s/>]")
# The elements a document repeats, per root: the validator frees each one once it has ended, at
# whatever depth it sits (a pricebook's price tables are three levels down), and asks lxml for no
# other event, so a long file costs one Python call per record, not one per element.
RECORDS_BY_ROOT = {
    "catalog": ("product", "category", "category-assignment", "recommendation"),
    "pricebooks": ("price-table",),
    "library": ("content", "folder"),
    "metadata": ("type-extension", "custom-type", "attribute-definition"),
    "custom-objects": ("custom-object",),
}


# Where SFCC developers already have the XSDs: Salesforce's B2C developer tooling and
# openmindlab's schema package, installed with npm beside a project or globally.
NPM_PACKAGES = ("@salesforce/b2c-tooling-sdk/data/xsd", "sfcc-schemas/xsd")
GLOBAL_NODE_MODULES = ("/usr/local/lib/node_modules", "/usr/lib/node_modules", "~/.npm-global/lib/node_modules")
WHERE_TO_GET = ("copy them from your SFCC instance's documentation (Salesforce B2C Commerce XML schemas) or "
                "`npm install @salesforce/b2c-tooling-sdk` (or openmindlab's `sfcc-schemas`)")


@dataclass(frozen=True)
class Schemas:
    """The folder of the SFCC XSDs a command validates against (None: not found), how it was chosen,
    and where it was looked for."""

    folder: Path | None
    origin: str
    searched: str = ""

    def not_found(self) -> str:
        return (f"SFCC XSDs not found (looked in {self.searched}): files are checked to be well-formed XML only, "
                f"not validated against the SFCC XSDs; set SFCC_XSD_DIR, xsd_dir in the site settings or --xsd DIR; "
                f"to get them, {WHERE_TO_GET}")


def find_schemas(explicit: Path | None = None, setting: Path | None = None, config: Path = Path("."),
                 environ: Mapping[str, str] = os.environ) -> Schemas:
    """`--xsd DIR`, else `SFCC_XSD_DIR`, else `xsd_dir` in the site settings: a folder named there
    must hold catalog.xsd. Else the common places (`node_modules` of the config folder and its parents,
    the global ones; `../shared/sfcc-xsd` beside the config folder); else none."""
    named = (("--xsd", explicit), ("SFCC_XSD_DIR", environ.get("SFCC_XSD_DIR")), ("xsd_dir of the site settings", setting))
    for origin, folder in named:
        if folder:
            if not Path(folder, "catalog.xsd").is_file():
                raise TransformerError(f"{origin} names {folder}, which holds no catalog.xsd: point it at the folder of "
                                       f"the SFCC XSDs (to get them, {WHERE_TO_GET})")
            return Schemas(Path(folder).resolve(), origin)
    config = config.resolve()
    for candidate in _common_places(config):
        if (candidate / "catalog.xsd").is_file():
            return Schemas(candidate, f"found in {candidate}")
    searched = (f"SFCC_XSD_DIR (not set), node_modules/{{{','.join(NPM_PACKAGES)}}} in {config} and its parents "
                f"and in {', '.join(GLOBAL_NODE_MODULES)}, ../shared/sfcc-xsd beside {config}")
    return Schemas(None, "not found", searched)


def _common_places(config: Path) -> list[Path]:
    places = [folder / "node_modules" / package for folder in (config, *config.parents) for package in NPM_PACKAGES]
    places += [Path(root).expanduser() / package for root in GLOBAL_NODE_MODULES for package in NPM_PACKAGES]
    places.append(config.parent / "shared" / "sfcc-xsd")  # this project's development layout: beside the checkout
    return list(dict.fromkeys(places))


_active: Schemas | None = None


def use(schemas: Schemas | None) -> None:
    """The XSDs this process validates with from now on (the CLI chooses them once per command);
    None: looked up again when next needed."""
    global _active
    _active = schemas
    schema.cache_clear()


def active() -> Schemas:
    """The XSDs chosen by `use`, else looked up from the environment and the working directory."""
    global _active
    if _active is None:
        _active = find_schemas()
    return _active


def validating() -> bool:
    return active().folder is not None


@cache
def schema(filename: str) -> etree.XMLSchema | None:
    """The compiled schema, or None when no XSDs were found (documents are then only parsed)."""
    folder = active().folder
    if folder is None:
        return None
    path = folder / filename
    if not path.is_file():
        raise TransformerError(f"{folder} has no {filename}: the SFCC XSD folder must hold every schema "
                               f"({', '.join(sorted(SCHEMA_BY_ROOT.values()))} and xml.xsd)")
    # Parsed from its path so the relative import of xml.xsd resolves offline.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        etree.clear_error_log()  # libxml2's log is per thread: the next document's errors must not show these
        missing = "" if (folder / "xml.xsd").is_file() else " (the folder has no xml.xsd, which every SFCC XSD imports)"
        raise TransformerError(f"{path} does not compile: {exc}{missing}") from None


def check_schemas() -> list[str]:
    """Compile every schema the jobs validate with; returns their file names (none without XSDs)."""
    return [name for name in sorted(set(SCHEMA_BY_ROOT.values())) if schema(name) is not None]


class StreamValidator:
    """Feed a document in chunks; `close()` raises InvalidOutput with the first errors."""

    def __init__(self, name: str):
        self.name = name
        self.parser: etree.XMLPullParser | None = None
        etree.clear_error_log()  # libxml2's log is per thread: another document's errors must not show here
        self.head = b""

    def feed(self, chunk: bytes) -> None:
        if self.parser is None:
            self.head += chunk
            match = _ROOT.search(self.head.split(b"?>", 1)[-1])
            if not match:
                return
            chunk, self.head = self.head, b""
            root = match.group(1).decode()
            if root not in SCHEMA_BY_ROOT:
                raise InvalidOutput(f"{self.name}: no SFCC schema for root element <{root}>")
            self.parser = etree.XMLPullParser(events=("end",), tag=[f"{{*}}{tag}" for tag in RECORDS_BY_ROOT[root]],
                                              schema=schema(SCHEMA_BY_ROOT[root]), no_network=True,
                                              resolve_entities=False, huge_tree=True)
        try:
            self.parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None
        for _, element in self.parser.read_events():
            element.clear()  # a finished record: free it, and the ones before it (the schema checked them as they came)
            parent = element.getparent()
            while element.getprevious() is not None:  # (a slice with index() costs 10× more)
                del parent[0]

    def close(self) -> None:
        if self.parser is None:
            raise InvalidOutput(f"{self.name}: no XML root element")
        try:
            self.parser.close()
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None

    def _invalid(self, exc: etree.XMLSyntaxError) -> InvalidOutput:
        log = list(exc.error_log)[:5]
        errors = [f"line {e.line}: {e.message}" if e.line > 0 else e.message for e in log] or [str(exc)]
        return InvalidOutput(f"{self.name} does not validate against the SFCC XSD:\n  " + "\n  ".join(errors))


class RecordsCheck:
    """Validates records rendered apart (in a worker process) inside the document they belong to, given
    as the bytes its template writes before and after its records: so the records of one document are
    validated on every core, and its writer reads only their first and last (`package.Validated`)."""

    def __init__(self, before: bytes, after: bytes):
        self.before, self.after = before, after

    def __call__(self, records: bytes) -> bool:
        """Whether the document holding only `records` is valid (schema errors of these, when not, are
        left for the writer to report where they lie)."""
        validator = StreamValidator("records")
        try:
            validator.feed(self.before)
            for start in range(0, len(records), FEED):  # a slice at a time: records are freed as they end
                validator.feed(records[start:start + FEED])
            validator.feed(self.after)
            validator.close()
        except InvalidOutput:
            return False
        return True


def validate_file(path: Path, chunk_size: int = 1 << 20) -> None:
    """Validate a file already on disk (tests, and files written without streaming)."""
    validator = StreamValidator(str(path))
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            validator.feed(chunk)
    validator.close()


def where_invalid(path: Path) -> str | None:
    """Where the first XSD error of a file (written in full or in part) lies, as `line 1932, in
    <product product-id="X">`: the streaming validator can say neither (libxml2 gives streamed schema
    errors no line, and lxml raises them at the end). Each record (each child of the root) is
    validated alone inside a copy of the root, in file order, until one fails. Run on failure only."""
    root = compiled = None
    try:
        for event, element in etree.iterparse(str(path), events=("start", "end"), no_network=True,
                                              resolve_entities=False, huge_tree=True):
            if root is None:
                root, name = element, etree.QName(element).localname
                compiled = schema(SCHEMA_BY_ROOT[name]) if name in SCHEMA_BY_ROOT else None
                if compiled is None:
                    return None
            if event == "start" or element.getparent() is not root:
                continue
            alone = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
            alone.append(deepcopy(element))
            if not compiled.validate(alone):
                line = compiled.error_log[0].line
                etree.clear_error_log()
                return _place(element, line)
            element.clear()
            while element.getprevious() is not None:
                del root[0]
    except etree.XMLSyntaxError as exc:  # not well-formed there (or the part written so far ends there)
        return f"line {exc.lineno}"
    return None


def _place(record: etree._Element, line: int) -> str:
    """`line L, in <product product-id="X">`, and the innermost element with an id there when it
    is another (`at <price-table product-id="Y">`)."""
    spot = next((e for e in reversed(list(record.iter())) if e.sourceline and e.sourceline <= line), record)
    named = [e for e in [spot, *spot.iterancestors()] if _id_of(e)]
    place = f"line {line}"
    if named:
        outer = named[-2] if len(named) > 1 and named[-1].getparent() is None else named[-1]
        place += f", in <{etree.QName(outer).localname} {_id_of(outer)}>"
        if named[0] is not outer:
            place += f" at <{etree.QName(named[0]).localname} {_id_of(named[0])}>"
    return place


def _id_of(element: etree._Element) -> str | None:
    """`product-id="X"`: the first attribute of `element` that names it, if any (a long one cut)."""
    return next((f'{name}="{value if len(value) <= 100 else value[:100] + "..."}"'
                 for name, value in element.attrib.items() if name.endswith("id")), None)
