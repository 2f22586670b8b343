"""Raw files: every page or blob lands as gzip JSON lines before it is parsed."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recon.jsontext import encode_exact, loads_exact

GZIP_LEVEL = 3  # as fast as level 1 on JSON lines here and 7 % larger than level 5, which takes twice as long
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def unit_dir(raw_dir: Path, dataset: str, unit: str) -> Path:
    """Folder of one unit's raw files."""
    return raw_dir / dataset / _UNSAFE.sub("_", unit)


@dataclass(frozen=True)
class RawFile:
    """A landed raw file and its provenance."""

    path: Path
    size: int
    sha256: str
    lines: int


def write_page(folder: Path, page_no: int, items: Iterable[Any], body: bytes | None = None) -> RawFile:
    """Write one page's items as gzip JSON lines (exact numbers) atomically.

    `body`: the page as received when it is gzip JSON lines of exactly these items already (a v2 blob, which may
    hold several gzip members and a BOM); it is written as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"page-{page_no:05d}.jsonl.gz"
    tmp = path.with_suffix(".tmp")
    lines = 0
    if body is not None:
        tmp.write_bytes(body)
        lines = sum(1 for _ in items)
    else:
        encoded = [encode_exact(item) for item in items]
        lines = len(encoded)
        encoded.append(b"")
        tmp.write_bytes(gzip.compress(b"\n".join(encoded), compresslevel=GZIP_LEVEL, mtime=0))
    tmp.replace(path)
    data = path.read_bytes()
    return RawFile(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(), lines=lines)


def write_sidecar(folder: Path, meta: dict[str, Any]) -> None:
    """Write the load's description next to its pages, so a replay needs nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "_load.json.tmp"
    tmp.write_text(json.dumps(meta, sort_keys=True, indent=1, default=str), encoding="utf-8")
    tmp.replace(folder / "_load.json")


def read_page(path: Path) -> Iterator[Any]:
    """Items of a raw page file, numbers parsed exactly."""
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:  # a blob landed as received may start with a BOM
        for line in fh:
            if line.strip():
                yield loads_exact(line)


def prune(unit_folder: Path, keep: set[str]) -> None:
    """Remove the raw folders of a unit's loads that no longer count (replaced or failed), keeping `keep`."""
    if not unit_folder.exists():
        return
    for child in unit_folder.iterdir():
        if child.is_dir() and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def write_file(path: Path, data: bytes) -> RawFile:
    """Write a binary document (a statement) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return RawFile(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(), lines=0)
