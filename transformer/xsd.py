"""The validate stage: every file written is checked against the official SFCC XSDs, offline.

Validation streams (lxml's pull parser with the schema attached), so memory stays flat
whatever the file size. The schema is picked from the document's root element.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from lxml import etree

from .errors import InvalidOutput, TransformerError

SCHEMA_BY_ROOT = {
    "catalog": "catalog.xsd",
    "pricebooks": "pricebook.xsd",
    "library": "library.xsd",
    "metadata": "metadata.xsd",
    "custom-objects": "customobject.xsd",
}
_ROOT = re.compile(rb"<([A-Za-z][\w.-]*)[\s/>]")


def xsd_dir() -> Path:
    """`SFCC_XSD_DIR`, else ../shared/sfcc-xsd beside the project (source checkout or working directory)."""
    candidates = [os.environ["SFCC_XSD_DIR"]] if os.environ.get("SFCC_XSD_DIR") else [
        Path(__file__).resolve().parent.parent.parent / "shared" / "sfcc-xsd",
        Path.cwd().resolve().parent / "shared" / "sfcc-xsd",
    ]
    for candidate in candidates:
        if Path(candidate, "catalog.xsd").is_file():
            return Path(candidate)
    raise TransformerError(
        f"SFCC XSDs not found (looked in {', '.join(map(str, candidates))}); set SFCC_XSD_DIR to the folder holding catalog.xsd")


@cache
def schema(filename: str) -> etree.XMLSchema:
    # Parsed from its path so the relative import of xml.xsd resolves offline.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(xsd_dir() / filename), parser))


class StreamValidator:
    """Feed a document in chunks; `close()` raises InvalidOutput with the first errors."""

    def __init__(self, name: str):
        self.name = name
        self.parser: etree.XMLPullParser | None = None
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
            self.parser = etree.XMLPullParser(events=("end",), schema=schema(SCHEMA_BY_ROOT[root]),
                                              no_network=True, resolve_entities=False, huge_tree=True)
        try:
            self.parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None
        for _, element in self.parser.read_events():
            if element.getparent() is not None and element.getparent().getparent() is None:
                element.clear()  # a finished top-level record: free it
                while element.getprevious() is not None:
                    del element.getparent()[0]

    def close(self) -> None:
        if self.parser is None:
            raise InvalidOutput(f"{self.name}: no XML root element")
        try:
            self.parser.close()
        except etree.XMLSyntaxError as exc:
            raise self._invalid(exc) from None

    def _invalid(self, exc: etree.XMLSyntaxError) -> InvalidOutput:
        errors = [f"line {e.line}: {e.message}" for e in list(exc.error_log)[:5]] or [str(exc)]
        return InvalidOutput(f"{self.name} does not validate against the SFCC XSD:\n  " + "\n  ".join(errors))


def validate_file(path: Path, chunk_size: int = 1 << 20) -> None:
    """Validate a file already on disk (tests, and files written without streaming)."""
    validator = StreamValidator(str(path))
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            validator.feed(chunk)
    validator.close()
