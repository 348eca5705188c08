"""Check and resolve an experiment's references inside the write transaction.

A dataset reference is ``"id"`` (the latest version at the time) or
``"id/version"``; a checkpoint is a ``"version"`` of the experiment's model,
``"model_id/version"`` or, as the registry takes it, ``"model_id_version"``
(the seed's ``model_001_v1.0``). Ids never contain ``/`` (``swarmstore.ids``), so the
forms cannot be confused. Every unknown reference is named in one error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swarmstore.datasets.queries import find_dataset
from swarmstore.errors import DatasetNotFoundError, InvalidRecordError, ModelNotFoundError
from swarmstore.ids import validate_id
from swarmstore.meta.tables_training import DatasetRow
from swarmstore.meta.unit import Session
from swarmstore.models import queries as mq


@dataclass(frozen=True, slots=True)
class DatasetRef:
    ref: str
    dataset_pk: int
    dataset_id: str
    version: str


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    ref: str
    version_pk: int
    model_id: str
    version: str


def split_ref(kind: str, ref: str) -> tuple[str, str | None]:
    """``"a"`` -> (a, None); ``"a/b"`` -> (a, b); anything else is refused."""
    if not isinstance(ref, str):
        raise InvalidRecordError(f"{kind} reference must be a string, not {type(ref).__name__}")
    head, sep, tail = ref.partition("/")
    validate_id(f"{kind} reference {ref!r}", head)
    if sep:
        validate_id(f"{kind} reference {ref!r}", tail)
    return head, (tail if sep else None)


def resolve_datasets(session: Session, swarm_id: str, refs: Sequence[str]) -> list[DatasetRef]:
    found: list[DatasetRef] = []
    missing: list[str] = []
    for ref in dict.fromkeys(refs):
        dataset_id, version = split_ref("dataset", ref)
        row: DatasetRow | None = find_dataset(session, swarm_id, dataset_id, version)
        if row is None:
            missing.append(ref)
        else:
            found.append(DatasetRef(ref, row.pk, row.dataset_id, row.version))
    if missing:
        raise DatasetNotFoundError(
            f"unknown datasets in swarm {swarm_id!r}: {', '.join(map(repr, missing))}",
            swarm_id=swarm_id,
            datasets=missing,
        )
    return found


def _readings(ref: str, model_id: str) -> list[tuple[str, str]]:
    """(model, version) readings of a checkpoint reference without ``/``, first match wins:
    a version of the experiment's model, then the registry's ``<modelId>_<version>``
    (``model_001_v1.0``) of that model, then of any model."""
    out = [(model_id, ref)]
    if model_id and ref.startswith(model_id + "_"):
        out.append((model_id, ref[len(model_id) + 1 :]))
    for i, ch in enumerate(ref):
        if ch == "_" and 0 < i < len(ref) - 1 and (ref[:i], ref[i + 1 :]) not in out:
            out.append((ref[:i], ref[i + 1 :]))
    return out


def resolve_checkpoints(
    session: Session, swarm_id: str, model_id: str, refs: Sequence[str]
) -> list[CheckpointRef]:
    found: list[CheckpointRef] = []
    missing: list[str] = []
    for ref in refs:
        head, tail = split_ref("checkpoint", ref)
        readings = [(head, tail)] if tail is not None else _readings(head, model_id)
        for target_model, version in readings:
            model = mq.find_model(session, swarm_id, target_model) if target_model else None
            row = None if model is None else mq.find_version(session, model.pk, version)
            if row is not None:
                found.append(CheckpointRef(ref, row.pk, target_model, version))
                break
        else:
            missing.append(ref)
    if missing:
        raise ModelNotFoundError(
            f"checkpoints name model versions that do not exist in swarm {swarm_id!r}"
            f" (model {model_id!r}): {', '.join(map(repr, missing))}",
            swarm_id=swarm_id,
            model_id=model_id,
            checkpoints=missing,
        )
    return found
