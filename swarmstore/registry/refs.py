"""Resolve the version references a registry entry lists to stored versions.

The seed writes ``modelVersions: ['model_001_v1.0', ...]`` (``<modelId>_<version>``);
we also accept ``model_001/v1.0`` (the experiments' form), ``model_001@v1.0``,
``model_001:v1.0`` and, when the entry names
its ``modelId``, the bare version ``v1.0``. The governed model is ``modelId``
when given, else the one model every reference resolves to.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmstore.errors import ModelNotFoundError
from swarmstore.meta.tables import ModelRow
from swarmstore.meta.unit import Session
from swarmstore.models import queries as q
from swarmstore.records.dataset import InvalidFieldError


def _candidates(ref: str, model_id: str | None) -> list[tuple[str, str]]:
    """(model, version) readings of ``ref``, most explicit first."""
    out: list[tuple[str, str]] = []
    for sep in ("/", "@", ":"):
        if sep in ref:
            m, _, v = ref.partition(sep)
            out.append((m, v))
    if model_id is not None:
        out.append((model_id, ref))
        if ref.startswith(model_id + "_"):
            out.append((model_id, ref[len(model_id) + 1 :]))
    else:
        for i, ch in enumerate(ref):
            if ch == "_" and 0 < i < len(ref) - 1:
                out.append((ref[:i], ref[i + 1 :]))
    return out


def resolve_refs(
    session: Session, swarm_id: str, model_id: str | None, refs: Iterable[str]
) -> tuple[ModelRow, dict[str, str]]:
    """The governed model and ``{ref: version}``; raises ``ModelNotFoundError``
    naming every reference that matches no stored version."""
    refs = list(refs)
    models: dict[str, ModelRow | None] = {}

    def model(mid: str) -> ModelRow | None:
        if mid not in models:
            models[mid] = q.find_model(session, swarm_id, mid)
        return models[mid]

    matches: dict[str, dict[str, str]] = {}  # ref -> {model_id: version}
    for ref in refs:
        found: dict[str, str] = {}
        for mid, version in _candidates(ref, model_id):
            row = model(mid)
            if row is not None and mid not in found and q.find_version(session, row.pk, version):
                found[mid] = version
        matches[ref] = found
    if model_id is None:
        common = set.intersection(*(set(f) for f in matches.values())) if refs else set()
        if len(common) != 1:
            missing = [r for r, f in matches.items() if not f]
            if missing or not refs:
                raise ModelNotFoundError(
                    f"model versions {missing} not found in swarm {swarm_id!r}"
                    if missing
                    else "a registry entry needs modelId or modelVersions to name its model",
                    swarm_id=swarm_id,
                    versions=missing,
                )
            raise InvalidFieldError(
                f"modelVersions {refs} do not all name one model; give modelId",
                field="modelVersions",
            )
        model_id = common.pop()
    # the row looked up above; require_model only raises its not-found error
    governed = model(model_id) or q.require_model(session, swarm_id, model_id)
    missing = [r for r, f in matches.items() if model_id not in f]
    if missing:
        raise ModelNotFoundError(
            f"versions {missing} of model {model_id!r} not found in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            model_id=model_id,
            versions=missing,
        )
    return governed, {ref: matches[ref][model_id] for ref in refs}


def check_parent_models(session: Session, swarm_id: str, parents: Iterable[str]) -> None:
    """Each ``lineage.parentModels`` item must name a stored model or model version."""
    missing = []
    for ref in parents:
        if q.find_model(session, swarm_id, ref) is not None:
            continue
        try:
            resolve_refs(session, swarm_id, None, [ref])
        except (ModelNotFoundError, InvalidFieldError):
            missing.append(ref)
    if missing:
        raise ModelNotFoundError(
            f"parent models {missing} not found in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            models=missing,
        )
