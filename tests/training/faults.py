"""A blob directory that refuses every new blob, for root and other users alike.

``chmod`` does not stop root (CI runs as root), so each two-hex fan-out
directory is moved aside and a plain file takes its name: creating a blob
fails with an OSError, as on a read-only or full disk. Undone on exit.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HEX = "0123456789abcdef"


@contextmanager
def unwritable_blobs(store: Path) -> Iterator[None]:
    blobs = store / "blobs"
    aside = store / "blobs-aside"
    aside.mkdir()
    try:
        for a in _HEX:
            for b in _HEX:
                shard = blobs / f"{a}{b}"
                if shard.is_dir():
                    shard.rename(aside / shard.name)
                shard.write_bytes(b"")
        yield
    finally:
        for a in _HEX:
            for b in _HEX:
                shard = blobs / f"{a}{b}"
                if shard.is_file():
                    shard.unlink()
                if (aside / shard.name).is_dir():
                    (aside / shard.name).rename(shard)
        shutil.rmtree(aside)
