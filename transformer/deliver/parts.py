"""A run's site-import folder as ordered parts under the instance's upload limit (SFCC takes 100 MB
per WebDAV upload; the default part is 90 MiB), each a site-import zip of its own.

Files go in the order the import needs (sfcc-delivery.md §1.7): metadata, the master catalog's
products, then its relations (variations, images), the other catalogs, pricebooks, libraries,
sites, and static files last. The limit is on what is uploaded, so each file counts
at its size in the zip: its deflated size, measured beforehand with the compressor zipfile uses
(the same bytes deflate to the same size), or its size for binaries, which are stored, not
deflated. An XML file too big for one part is cut into complete documents between records, never
inside one (a master with its variants is one record); pricebooks between price tables. A part is
named by its position and the hash of what it holds, and its zip is the same bytes whenever it
holds the same files. An archive that fits in one part is uploaded as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
import zlib
from xml.sax.saxutils import quoteattr
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from lxml import etree

from ..package import sha256_of
from ..xsd import validate_file
from .auth import DeliveryError

MiB = 1 << 20
ENTRY_OVERHEAD = 512  # zip headers of one entry, with room for its name
STAMP = (1980, 1, 1, 0, 0, 0)  # every entry's date: the same files give the same zip
ORDER = ("meta", "master", "relations", "catalogs", "pricebooks", "libraries", "sites")


@dataclass(frozen=True)
class Part:
    name: str  # the zip's name without `.zip`, and its top folder
    file: str  # the zip, in the parts folder
    sha256: str
    bytes: int
    files: int


def write_parts(root: Path, target: Path, prefix: str, limit: int, master_catalog: str | None = None,
                whole: Path | None = None) -> list[Part]:
    """Cut the site-import folder `root` into parts in `target` (written afresh), with `parts.json`.
    `whole`, the zip of `root` named `<prefix>.zip`, is the one part when it fits."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if whole is not None and whole.stat().st_size <= limit:
        parts = [_as_is(whole, target)]
    else:
        parts = _cut(root, target, prefix, limit, master_catalog)
    (target / "parts.json").write_text(json.dumps([asdict(p) for p in parts], indent=2) + "\n", encoding="utf-8")
    return parts


def _as_is(whole: Path, target: Path) -> Part:
    path = target / whole.name
    try:
        os.link(whole, path)  # no second copy of a big archive
    except OSError:
        shutil.copyfile(whole, path)
    with zipfile.ZipFile(path) as opened:
        files = sum(not info.is_dir() for info in opened.infolist())
    return Part(whole.stem, path.name, sha256_of(path), path.stat().st_size, files)


def _cut(root: Path, target: Path, prefix: str, limit: int, master: str | None) -> list[Part]:
    chunks = target / ".chunks"
    groups: list[list[tuple[str, Path]]] = [[]]
    size = 0
    for _, relative, source, zipped in sorted(_units(root, chunks, limit, master)):
        if zipped + ENTRY_OVERHEAD > limit:
            raise DeliveryError(f"{relative} is {zipped:,} bytes zipped: more than the part limit of {limit:,} "
                                "(--part-size)")
        if groups[-1] and size + zipped + ENTRY_OVERHEAD > limit:
            groups.append([])
            size = 0
        groups[-1].append((relative, source))
        size += zipped + ENTRY_OVERHEAD
    parts = [_zip(number, files, target, prefix) for number, files in enumerate(groups, 1) if files]
    shutil.rmtree(chunks, ignore_errors=True)
    for part in parts:
        if part.bytes > limit:  # the sizes were measured with zipfile's own compressor: a bug if so
            raise DeliveryError(f"part {part.name} came out at {part.bytes:,} bytes, over the limit of {limit:,}")
    return parts


def read_parts(target: Path) -> list[Part]:
    return [Part(**found) for found in json.loads((target / "parts.json").read_text(encoding="utf-8"))]


def _units(root: Path, chunks: Path, limit: int, master: str | None) -> Iterator[tuple[tuple, str, Path, int]]:
    """(order, path in the archive, file, size in the zip) of what goes into the parts."""
    room = limit - ENTRY_OVERHEAD
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(root).as_posix()
        zipped = zipped_size(path)
        if path.suffix != ".xml" or zipped <= room:
            yield _rank(relative, master), relative, path, zipped
            continue
        for number, (chunk, size) in enumerate(_split_to_fit(path, zipped, room, chunks / relative), 1):
            chunk_path = f"{relative.removesuffix('.xml')}.{number:03d}.xml"
            yield _rank(relative, master) + (number,), chunk_path, chunk, size


def _split_to_fit(path: Path, zipped: int, room: int, folder: Path) -> list[tuple[Path, int]]:
    """Chunks of `path` that each fit in `room` zipped: cut at the file's own compression ratio
    with a margin, and finer where a stretch of records compresses worse than the whole."""
    budget = int(path.stat().st_size * room / zipped * 0.9)
    for _ in range(6):
        chunks = [(chunk, zipped_size(chunk)) for chunk in split_xml(path, budget, folder)]
        if all(size <= room for _, size in chunks):
            return chunks
        shutil.rmtree(folder)
        budget //= 2
    raise DeliveryError(f"{path.name} cannot be cut into parts of {room:,} bytes zipped: a record is too big "
                        "(--part-size)")


def zipped_size(path: Path) -> int:
    """The bytes `path` takes in a part's zip (without headers): deflated as zipfile deflates, or stored."""
    if path.suffix != ".xml":
        return path.stat().st_size
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # zipfile's ZIP_DEFLATED
    size = 0
    with open(path, "rb") as data:
        while block := data.read(1 << 20):
            size += len(compressor.compress(block))
    return size + len(compressor.flush())


def _rank(relative: str, master: str | None) -> tuple:
    parts = relative.split("/")
    if "static" in parts:
        return (len(ORDER), relative)  # binaries last: the XML that names them is in by then
    if parts[0] == "catalogs" and len(parts) > 2:
        kind = "master" if parts[1] == master and parts[-1].startswith("catalog") else (
            "relations" if parts[1] == master else "catalogs")
        return (ORDER.index(kind), relative)
    return (ORDER.index(parts[0]) if parts[0] in ORDER else len(ORDER) - 1, relative)


def _zip(number: int, files: list[tuple[str, Path]], target: Path, prefix: str) -> Part:
    digest = hashlib.sha256()
    for relative, source in files:
        digest.update(relative.encode() + b"\0" + sha256_of(source).encode() + b"\0")
    name = f"{prefix}-{number:02d}-{digest.hexdigest()[:12]}"
    path = target / f"{name}.zip"
    temporary = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for relative, source in files:
            entry = zipfile.ZipInfo(f"{name}/{relative}", STAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED if source.suffix == ".xml" else zipfile.ZIP_STORED
            entry.external_attr = 0o644 << 16
            with open(source, "rb") as data, archive.open(entry, "w") as written:
                shutil.copyfileobj(data, written, 1 << 20)
    os.replace(temporary, path)
    return Part(name, path.name, sha256_of(path), path.stat().st_size, len(files))


def split_xml(path: Path, budget: int, folder: Path) -> list[Path]:
    """`path` as complete documents of at most about `budget` bytes each, cut between records (the
    root's children; a pricebook's price tables), the catalog's header repeated in each."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Chunks(folder, budget)
    context = etree.iterparse(str(path), events=("start", "end"), huge_tree=True, resolve_entities=False,
                              no_network=True)
    depth, pricebook_head, priced = 0, b"", False
    for event, element in context:
        if event == "start":
            depth += 1
            if depth == 1:
                writer.open_root(element)
            continue
        depth -= 1
        local = etree.QName(element).localname
        if depth == 1 and local == "header":
            writer.prologue = writer.serialize(element)  # every chunk of a catalog repeats its header
        elif depth == 2 and local == "header" and writer.root == "pricebooks":
            pricebook_head, priced = writer.serialize(element), False
        elif depth == 3 and local == "price-table":
            writer.add(writer.serialize(element), (b"<pricebook>" + pricebook_head + b"<price-tables>",
                                                   b"</price-tables></pricebook>"))
            priced = True
        elif depth == 1 and writer.root == "pricebooks" and local == "pricebook":
            if not priced:  # a pricebook without prices is still one
                writer.add(b"<pricebook>" + pricebook_head + b"</pricebook>\n")
        elif depth == 1:
            writer.add(writer.serialize(element))
        if depth <= 1 or (depth == 3 and local == "price-table"):
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    return writer.close()


class _Chunks:
    """Writes the chunk documents of one split file."""

    def __init__(self, folder: Path, budget: int):
        self.folder, self.budget = folder, budget
        self.files: list[Path] = []
        self.handle = None
        self.size = 0
        self.wrapper: tuple[bytes, bytes] | None = None
        self.prologue = b""

    def open_root(self, element: etree._Element) -> None:
        qname = etree.QName(element)
        self.root, self.namespace = qname.localname, qname.namespace
        attributes = "".join(f" {k}={quoteattr(v)}" for k, v in element.attrib.items())
        self.head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.root} xmlns="{self.namespace}"{attributes}>\n'.encode()
        self.tail = f"</{self.root}>\n".encode()

    def serialize(self, element: etree._Element) -> bytes:
        # The namespace is declared on the chunk's root: not again on each record.
        text = etree.tostring(element, encoding="unicode", with_tail=False)
        return text.replace(f' xmlns="{self.namespace}"', "", 1).encode() + b"\n"

    def add(self, record: bytes, wrapper: tuple[bytes, bytes] | None = None) -> None:
        if self.handle is not None and self.size + len(record) > self.budget:
            self._finish()
        if self.handle is None:
            self._start()
        if wrapper != self.wrapper:
            self._unwrap()
            if wrapper is not None:
                self._write(wrapper[0])
            self.wrapper = wrapper
        self._write(record)

    def close(self) -> list[Path]:
        if self.handle is not None:
            self._finish()
        for chunk in self.files:
            validate_file(chunk)  # each part's documents are whole and valid on their own
        return self.files

    def _start(self) -> None:
        self.files.append(self.folder / f"{len(self.files) + 1:03d}.xml")
        self.handle = open(self.files[-1], "wb")
        self.size = 0
        self._write(self.head + self.prologue)

    def _finish(self) -> None:
        self._unwrap()
        self._write(self.tail)
        self.handle.close()
        self.handle = None

    def _unwrap(self) -> None:
        if self.wrapper is not None:
            self._write(self.wrapper[1])
            self.wrapper = None

    def _write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)
