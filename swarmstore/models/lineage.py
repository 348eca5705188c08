"""The lineage a stored model version leaves in SQL: agent, model, version, parents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from swarmstore.errors import InvalidIdentifierError, ModelNotFoundError
from swarmstore.ids import validate_id
from swarmstore.meta import lineage as ln
from swarmstore.meta.tables_lineage import LineageEdgeRow
from swarmstore.models import queries as q
from swarmstore.records.model import NeuralModelRecord


def parent_refs(model_id: str, rec: NeuralModelRecord) -> list[tuple[str, str]]:
    """(model_id, version) of every parent: ``parent_version`` first, then ``merged_from``.

    A ``merged_from`` entry is ``"version"`` (same model) or ``"model_id/version"``.
    """
    refs = [] if rec.parent_version is None else [(model_id, rec.parent_version)]
    for entry in rec.merged_from:
        if not isinstance(entry, str) or entry.count("/") > 1:
            raise InvalidIdentifierError(
                f"merged_from entry {entry!r} must be 'version' or 'model_id/version'"
            )
        other, _, version = entry.rpartition("/")
        ref = (
            validate_id("merged_from model id", other or model_id),
            validate_id("merged_from version", version),
        )
        if ref not in refs:
            refs.append(ref)
    return refs


def require_parents(session: Session, swarm_id: str, refs: list[tuple[str, str]]) -> None:
    for model_id, version in refs:
        model = q.find_model(session, swarm_id, model_id)
        if model is None or q.find_version(session, model.pk, version) is None:
            raise ModelNotFoundError(
                f"parent version {version!r} of model {model_id!r} in swarm {swarm_id!r} "
                "does not exist",
                swarm_id=swarm_id,
                model_id=model_id,
                version=version,
            )


def record_version_lineage(
    session: Session,
    swarm_id: str,
    rec: NeuralModelRecord,
    parents: list[tuple[str, str]],
    now: datetime,
) -> None:
    model_key = ln.node_key(ln.MODEL, swarm_id, rec.id)
    version_key = ln.node_key(ln.MODEL_VERSION, swarm_id, rec.id, rec.version)
    ln.upsert_node(
        session,
        ln.MODEL,
        model_key,
        swarm_id,
        {"model_id": rec.id, "name": rec.model_name, "architecture": rec.architecture},
        now,
    )
    ln.upsert_node(
        session,
        ln.MODEL_VERSION,
        version_key,
        swarm_id,
        {"model_id": rec.id, "version": rec.version, "architecture": rec.architecture},
        now,
    )
    ln.add_edge(session, model_key, ln.HAS_VERSION, version_key, swarm_id, now)
    if rec.agent_id:
        agent_key = ln.node_key(ln.AGENT, swarm_id, rec.agent_id)
        ln.upsert_node(session, ln.AGENT, agent_key, swarm_id, {"agent_id": rec.agent_id}, now)
        ln.add_edge(session, agent_key, ln.OWNS, model_key, swarm_id, now)
    for parent_model, parent_version in parents:
        parent_key = ln.node_key(ln.MODEL_VERSION, swarm_id, parent_model, parent_version)
        ln.add_edge(session, parent_key, ln.PARENT_OF, version_key, swarm_id, now)


def merged_parents(session: Session, swarm_id: str, model_id: str, version: str) -> list[str]:
    """Every parent of a version as ``merged_from`` spells it, in the order they were given."""
    key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
    sources = session.scalars(
        select(LineageEdgeRow.src)
        .where(LineageEdgeRow.dst == key, LineageEdgeRow.rel == ln.PARENT_OF)
        .order_by(LineageEdgeRow.pk)
    )
    prefix = ln.node_key(ln.MODEL_VERSION, swarm_id, "")
    refs = []
    for src in sources:
        other, _, parent_version = src.removeprefix(prefix).rpartition("/")
        refs.append(parent_version if other == model_id else f"{other}/{parent_version}")
    return refs


def mark_version_deleted(
    session: Session, swarm_id: str, model_id: str, version: str, now: datetime
) -> None:
    """The node stays (children still name it as parent); it is flagged deleted."""
    key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
    ln.upsert_node(session, ln.MODEL_VERSION, key, swarm_id, {"deleted": True}, now)
