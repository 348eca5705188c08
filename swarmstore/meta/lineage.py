"""Write lineage nodes and edges inside a write transaction (see ``tables_lineage``).

Node kinds and relationship names are the contract between the writers (models,
datasets, experiments, deployments) and the readers (Kuzu indexer, SQL lineage
queries). Upserts are select-then-write: portable across SQLite and PostgreSQL
and race-free because they run inside the caller's write transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from swarmstore.meta.tables_lineage import LineageEdgeRow, LineageNodeRow

AGENT: Final = "Agent"
MODEL: Final = "Model"
MODEL_VERSION: Final = "ModelVersion"
DATASET: Final = "Dataset"
EXPERIMENT: Final = "Experiment"
DEPLOYMENT: Final = "Deployment"
NODE_KINDS: Final = (AGENT, MODEL, MODEL_VERSION, DATASET, EXPERIMENT, DEPLOYMENT)

# relationship -> (source kind, destination kind)
OWNS: Final = "OWNS"  # Agent -> Model
HAS_VERSION: Final = "HAS_VERSION"  # Model -> ModelVersion
PARENT_OF: Final = "PARENT_OF"  # ModelVersion -> ModelVersion (several parents: a merge)
DATASET_PARENT_OF: Final = "DATASET_PARENT_OF"  # Dataset -> Dataset (a newer dataset version)
USED_DATASET: Final = "USED_DATASET"  # Experiment -> Dataset
PRODUCED: Final = "PRODUCED"  # Experiment -> ModelVersion
DEPLOYED_AS: Final = "DEPLOYED_AS"  # ModelVersion -> Deployment
RELATIONS: Final = {
    OWNS: (AGENT, MODEL),
    HAS_VERSION: (MODEL, MODEL_VERSION),
    PARENT_OF: (MODEL_VERSION, MODEL_VERSION),
    DATASET_PARENT_OF: (DATASET, DATASET),
    USED_DATASET: (EXPERIMENT, DATASET),
    PRODUCED: (EXPERIMENT, MODEL_VERSION),
    DEPLOYED_AS: (MODEL_VERSION, DEPLOYMENT),
}


def node_key(kind: str, swarm_id: str, entity_id: str, version: str | None = None) -> str:
    """``Kind:swarm/id`` or ``Kind:swarm/id/version``: unambiguous, ids never hold '/'."""
    if kind not in NODE_KINDS:
        raise ValueError(f"unknown lineage node kind {kind!r}")
    key = f"{kind}:{swarm_id}/{entity_id}"
    return key if version is None else f"{key}/{version}"


def kind_of(key: str) -> str:
    return key.split(":", 1)[0]


def upsert_node(
    session: Session,
    kind: str,
    key: str,
    swarm_id: str,
    props: dict[str, Any],
    now: datetime,
) -> None:
    row = session.get(LineageNodeRow, key)
    if row is None:
        session.add(
            LineageNodeRow(
                key=key, kind=kind, swarm_id=swarm_id, props=props, created=now, updated=now
            )
        )
    elif row.props != props:
        row.props = {**row.props, **props}
        row.updated = now


def add_edge(session: Session, src: str, rel: str, dst: str, swarm_id: str, now: datetime) -> None:
    if rel not in RELATIONS:
        raise ValueError(f"unknown lineage relationship {rel!r}")
    exists = session.scalar(
        select(LineageEdgeRow.pk).where(
            LineageEdgeRow.src == src, LineageEdgeRow.rel == rel, LineageEdgeRow.dst == dst
        )
    )
    if exists is None:
        session.add(LineageEdgeRow(src=src, rel=rel, dst=dst, swarm_id=swarm_id, created=now))
