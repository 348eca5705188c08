"""A blob store that misbehaves on purpose, for tests of everything above it
(torchsnapshot's faulty storage plugin, restic's failing backend).

Wrap any store and arm faults; each names the keys it hits (``None``: every
key) and how many times it fires (``None``: every time)::

    store = FaultyBlobStore(LocalBlobStore(path))
    store.inject(BitFlip(on="write"))            # the next blobs land damaged
    store.inject(ShortWrite(drop=7))             # ... or truncated
    store.inject(BitFlip(on="read", keys={k}))   # reads of k come back damaged
    store.inject(Fail("flush", when="before"))   # flush raises before it runs
    store.inject(Fail("flush", when="after"))    # flush runs, then raises
    store.inject(Latency(0.01))                  # every call sleeps first

What each does:

- ``BitFlip(on="write")`` stores the blob with one bit flipped; ``on="read"``
  leaves the stored bytes alone and flips a bit of what ``get``/``get_range``
  return. The flipped bit is at ``offset`` (default: the middle byte).
- ``ShortWrite(drop=n)`` stores the blob without its last ``n`` bytes, as a
  writer that died mid-write on a store without atomic puts would.
- ``Fail(op, when=...)`` raises ``error`` (an ``OSError`` by default) from
  ``op`` (``put``, ``get``, ``get_range``, ``exists``, ``delete``, ``list``,
  ``flush``) before the inner store is called (nothing happened, as in a
  crash before the rename: the inner store keeps what it had pending) or
  after it returned (it happened, but the caller hears a failure).
- ``Latency(seconds, ops=None)`` sleeps before each call of ``ops``.

A write fault fires only on a put that writes (a put of a present blob
writes nothing). ``puts`` records every key a put wrote, in order, so that a
test can find the blobs a save made without knowing the store's layout.
Faults may be shared between stores (pass the same ``faults`` list), e.g.
across a reopen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from swarmstore.blobs.base import BlobInfo, BlobStore
from swarmstore.blobs.wrappers import WrappedBlobStore

T = TypeVar("T")
F = TypeVar("F", bound="Fault")

Op = Literal["put", "get", "get_range", "exists", "delete", "list", "flush"]


@dataclass
class Fault:
    """Base of the faults: which keys, how many more times (``None``: always)."""

    keys: Collection[str] | None = field(default=None, kw_only=True)
    times: int | None = field(default=None, kw_only=True)

    def hits(self, key: str) -> bool:
        return (self.keys is None or key in self.keys) and (self.times is None or self.times > 0)

    def spend(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass
class BitFlip(Fault):
    on: Literal["read", "write"] = "read"
    offset: int | None = None  # byte to damage; None: the middle one
    bit: int = 4

    def damage(self, data: bytes) -> bytes:
        if not data:
            return data
        damaged = bytearray(data)
        at = len(data) // 2 if self.offset is None else min(self.offset, len(data) - 1)
        damaged[at] ^= 1 << self.bit
        return bytes(damaged)


@dataclass
class ShortWrite(Fault):
    drop: int = 1  # bytes lost from the end


@dataclass
class Fail(Fault):
    op: Op = "put"
    when: Literal["before", "after"] = "before"
    error: Callable[[str], BaseException] = OSError


@dataclass
class Latency(Fault):
    seconds: float = 0.01
    ops: Collection[Op] | None = None  # None: every call


class FaultyBlobStore(WrappedBlobStore):
    """``inner`` with the armed faults applied; see the module docstring."""

    def __init__(self, inner: BlobStore, faults: list[Fault] | None = None) -> None:
        super().__init__(inner)
        self.faults: list[Fault] = faults if faults is not None else []
        self.puts: list[str] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take(self, kind: type[F], key: str, test: Callable[[F], bool]) -> F | None:
        """The first armed fault of ``kind`` for ``key`` passing ``test``, spent once."""
        with self._lock:
            for fault in self.faults:
                if isinstance(fault, kind) and test(fault) and fault.hits(key):
                    fault.spend()
                    return fault
        return None

    def _call(self, op: Op, key: str, call: Callable[[], T]) -> T:
        latency = self._take(Latency, key, lambda f: f.ops is None or op in f.ops)
        if latency is not None:
            time.sleep(latency.seconds)
        before = self._take(Fail, key, lambda f: f.op == op and f.when == "before")
        if before is not None:
            raise before.error(f"injected failure before {op} {key}")
        result = call()
        after = self._take(Fail, key, lambda f: f.op == op and f.when == "after")
        if after is not None:
            raise after.error(f"injected failure after {op} {key}")
        return result

    def _armed(self, kind: type[F], key: str, test: Callable[[F], bool]) -> bool:
        with self._lock:
            return any(isinstance(f, kind) and test(f) and f.hits(key) for f in self.faults)

    def put(self, key: str, data: bytes | memoryview) -> bool:
        return self._call("put", key, lambda: self._put(key, data))

    def _put(self, key: str, data: bytes | memoryview) -> bool:
        damaging = self._armed(BitFlip, key, _on_write) or self._armed(ShortWrite, key, _always)
        if damaging and self.inner.exists(key):
            return self.inner.put(key, data)  # writes nothing: the fault stays armed
        payload = bytes(data) if damaging else data
        flip = self._take(BitFlip, key, _on_write)
        if flip is not None:
            payload = flip.damage(bytes(payload))
        short = self._take(ShortWrite, key, _always)
        if short is not None:
            payload = bytes(payload)[: max(len(payload) - short.drop, 0)]
        wrote = self.inner.put(key, payload)
        if wrote:
            with self._lock:
                self.puts.append(key)
        return wrote

    def _read(self, key: str, data: bytes) -> bytes:
        flip = self._take(BitFlip, key, lambda f: f.on == "read")
        return flip.damage(data) if flip is not None else data

    def get(self, key: str) -> bytes:
        return self._call("get", key, lambda: self._read(key, self.inner.get(key)))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._call(
            "get_range", key, lambda: self._read(key, self.inner.get_range(key, start, length))
        )

    def exists(self, key: str) -> bool:
        return self._call("exists", key, lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.inner.delete(key))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self._call("list", prefix, lambda: iter(list(self.inner.list(prefix))))

    def flush(self) -> None:
        self._call("flush", "", self.inner.flush)


def _on_write(fault: BitFlip) -> bool:
    return fault.on == "write"


def _always(fault: Fault) -> bool:
    return True


__all__ = ["BitFlip", "Fail", "Fault", "FaultyBlobStore", "Latency", "ShortWrite"]
