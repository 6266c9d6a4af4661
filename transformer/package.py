"""The package stage: files appear in the site-import archive layout complete and valid, or not at all.

A document is streamed to a temporary file beside its target while the XSD validator
reads the same bytes; only a fully written, valid file is renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Iterable, Iterator

from .errors import InvalidOutput
from .xsd import StreamValidator, where_invalid

BUFFER = 1 << 16
MARK = "\x00"  # where a template's output holds a Validated block (XML cannot hold a NUL)


@dataclass(frozen=True)
class Validated:
    """Records a worker rendered and validated inside the document they belong to (`xsd.RecordsCheck`),
    as UTF-8: written as they are, while the document's validator reads only `ends`, their first and
    last record, which is enough to check where they sit in it."""

    data: bytes
    ends: bytes


def write_validated(path: Path, chunks: Iterable[str], timings: dict[str, float] | None = None,
                    validated: deque[Validated] | None = None) -> int:
    """Write `chunks` to `path` atomically, validating as it goes; returns the bytes written. Each
    MARK in `chunks` stands for the next block of `validated`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    validator = StreamValidator(str(path))
    size, spent = 0, 0.0
    try:
        with open(temporary, "wb") as handle:
            for block in _blocks(chunks, validated if validated is not None else deque()):
                data, checked = (block.data, block.ends) if isinstance(block, Validated) else (block, block)
                handle.write(data)
                size += len(data)
                started = perf_counter()
                validator.feed(checked)
                spent += perf_counter() - started
            started = perf_counter()
            validator.close()
            spent += perf_counter() - started
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except InvalidOutput as exc:  # what was written so far holds the error: say where
        where = where_invalid(temporary) if temporary.is_file() else None
        raise InvalidOutput(f"{exc}\n  at {where}" if where else str(exc)) from None
    finally:
        temporary.unlink(missing_ok=True)
    if timings is not None:
        timings["validate"] = timings.get("validate", 0.0) + spent
    return size


def _blocks(chunks: Iterable[str], validated: deque[Validated]) -> Iterator[bytes | Validated]:
    """Template output (many small strings) as UTF-8 blocks of about BUFFER bytes, and in place of
    each MARK the next Validated block."""
    pending: list[bytes] = []
    pending_size = 0
    for chunk in chunks:
        pieces = chunk.split(MARK) if MARK in chunk else (chunk,)
        for number, piece in enumerate(pieces):
            if number:
                if pending:
                    yield b"".join(pending)
                    pending, pending_size = [], 0
                if not validated:
                    raise InvalidOutput("the output holds a NUL character, which XML cannot hold")
                yield validated.popleft()
            encoded = piece.encode("utf-8")
            pending.append(encoded)
            pending_size += len(encoded)
        if pending_size >= BUFFER:
            yield b"".join(pending)
            pending, pending_size = [], 0
    if pending:
        yield b"".join(pending)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write a small text file (a report) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def link_files(files: Iterable[tuple[Path, Path]]) -> int:
    """Put each source file at its target path: a hard link where the file system allows one (the
    media folder replaces files, never rewrites them), else a copy. Returns how many."""
    count = 0
    for source, target in files:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        count += 1
    return count


def point_latest(out: Path, run: Path) -> None:
    """`out/latest` names the run's folder, replaced atomically."""
    temporary = out / f".latest.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run.name, target_is_directory=True)
    os.replace(temporary, out / "latest")


def zip_archive(root: Path, target: Path) -> int:
    """Zip the site-import folder `root` as SFCC imports it: one top folder named like the zip,
    ASCII names only, nothing else; written atomically. Returns the number of files."""
    import zipfile

    name = target.stem
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                entry = f"{name}/{path.relative_to(root).as_posix()}"
                if not entry.isascii():
                    raise ValueError(f"non-ASCII name in the archive: {entry}")
                # Images and other binaries are compressed already: stored, they cost no CPU.
                archive.write(path, entry, zipfile.ZIP_DEFLATED if path.suffix == ".xml" else zipfile.ZIP_STORED)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return len(files)
