"""``check`` (like ``restic check --read-data``) and ``gc``.

check proves the store: SQL integrity and foreign keys, every referenced blob
present with the right length and content hash, delta bases present. gc
removes blobs no manifest references once they are older than a grace period
(a writer puts blobs before it commits, and refreshes the age of blobs it
reuses, so a young unreferenced blob may be a commit in flight).

On object storage the same holds: the store is listed once (with ages: an
object's own LastModified, or the younger touch marker a writer left when it
reused the blob), the referenced keys are read from SQL *after* the listing,
and each candidate's age is checked once more right before it is deleted. A
commit in flight therefore references either a young blob (its own upload) or
one it touched, and gc keeps both.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from swarmstore.blobs import BlobStore
from swarmstore.hashing import blob_key
from swarmstore.maintenance import queries as mq
from swarmstore.meta.blob_refs import blob_references, referenced_blob_keys
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables import ChunkRow
from swarmstore.models import queries as q


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    chunks_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.chunks_checked} chunks, {self.blobs_checked} blobs checked: "
        return head + (
            "ok" if self.ok else f"{len(self.problems)} problem(s)\n  " + "\n  ".join(self.problems)
        )


@dataclass
class GcReport:
    deleted: int = 0
    freed_bytes: int = 0
    kept_young: int = 0
    temporaries_removed: int = 0


def check_store(meta: MetaStore, blobs: BlobStore) -> CheckReport:
    report = CheckReport()
    with meta.read() as session:
        if meta.is_sqlite:
            result = mq.sqlite_integrity(session)
            if result != ["ok"]:
                report.problems.extend(f"sqlite integrity: {line}" for line in result)
            for row in mq.sqlite_foreign_key_violations(session):
                report.problems.append(f"sqlite foreign key: {row}")
        elif meta.is_postgres:  # PostgreSQL enforces keys itself; find what it does not vouch for
            for table, name in mq.postgres_unvalidated_constraints(session):
                report.problems.append(f"postgres constraint {name} on {table} is not validated")
            for index in mq.postgres_invalid_indexes(session):
                report.problems.append(f"postgres index {index} is invalid (a failed build?)")
        locations = q.chunk_locations(session)
        bases = mq.delta_bases(session)
        known = mq.chunk_pks(session)
        others = blob_references(session, skip=(ChunkRow.__tablename__,))
        inline = {  # key -> (length, content matches the key), streamed: never all frames at once
            key: (len(frame), blob_key(frame) == key) for key, frame in mq.inline_frames(session)
        }
    for pk, base in bases:
        if base not in known:
            report.problems.append(f"chunk {pk}: delta base chunk {base} is missing")
    users: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    lengths: dict[str, int] = {}
    for swarm, model, version, tensor, idx, key, _raw, length in locations:
        users[key].append((swarm, model, version, tensor, str(idx)))
        lengths[key] = length
    report.chunks_checked = len(locations)
    for key, who in users.items():
        report.blobs_checked += 1
        if key in inline:
            problem = _inline_problem(*inline[key], lengths[key])
        else:
            problem = _blob_problem(blobs, key, lengths[key])
        if problem:
            for user_swarm, user_model, user_version, user_tensor, user_idx in who:
                report.problems.append(
                    f"swarm {user_swarm!r} model {user_model!r} version {user_version!r} "
                    f"tensor {user_tensor!r} chunk {user_idx}: blob {key} {problem}"
                )
    for ref in others:  # dataset samples and any other table that names blobs
        report.blobs_checked += 1
        problem = _blob_problem(blobs, ref.key, ref.length)
        if problem:
            report.problems.append(f"{ref.table}: blob {ref.key} {problem}")
    return report


def _inline_problem(length: int, matches: bool, expected: int) -> str | None:
    if length != expected:
        return f"(inline) has {length} bytes, expected {expected} (truncated?)"
    if not matches:
        return "(inline) content does not match its hash (corrupt)"
    return None


def _blob_problem(blobs: BlobStore, key: str, length: int) -> str | None:
    try:
        data = blobs.get(key)
    except FileNotFoundError:
        return "is missing"
    if len(data) != length:
        return f"has {len(data)} bytes, expected {length} (truncated?)"
    if blob_key(data) != key:
        return "content does not match its hash (corrupt)"
    return None


def collect_garbage(meta: MetaStore, blobs: BlobStore, *, grace_seconds: float) -> GcReport:
    report = GcReport()
    cutoff = time.time() - grace_seconds
    listed = list(blobs.list())  # before reading references: see the module docstring
    with meta.read() as session:
        referenced = referenced_blob_keys(session)
    candidates = [info for info in listed if info.mtime < cutoff]
    report.kept_young = sum(
        1 for info in listed if info.mtime >= cutoff and info.key not in referenced
    )
    for info in candidates:
        if info.key not in referenced:
            freed = blobs.delete_if_older(info.key, cutoff)
            if freed:
                report.deleted += 1
                report.freed_bytes += freed
    if blobs.capabilities.age_markers:  # age markers older than the grace protect nothing
        report.temporaries_removed += blobs.delete_stale_touches(cutoff)
    if blobs.capabilities.temporaries:
        for temp in list(blobs.list_temporaries()):
            if temp.mtime < cutoff:
                blobs.delete_temporary(temp.key)
                report.temporaries_removed += 1
    return report
