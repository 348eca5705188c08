"""Every Alembic revision, stepped one at a time with data (MLflow's way).

From an empty database, and from one given rows at each revision (in every
table present then, so rows written by each schema meet every later
migration), the schema goes up one revision at a time to head and back down to the
base. After every step each table present both before and after it holds
exactly the rows it held (every column, every value); at each revision on the
way down the tables are those the way up had there, holding the head's rows.

The rows are synthetic: every column of every table gets a value of its type,
foreign keys point at rows of the parent table, so no migration can pass by
skipping a table it should copy.

What a downgrade loses, per revision (nothing else: no revision alters a
column, so every table that survives a step keeps every row and value):

- 0007 → 0006: ``store_format`` (the store's on-disk format version) is
  dropped with its rows.
- 0006 → 0005: ``inline_frames`` (small chunk frames kept in SQL instead of
  blob files) is dropped with its rows.
- 0005 → 0004: ``metric_blocks`` is dropped; histories fall back to the
  per-point ``metric_points`` rows, which the blocks were copied from (the
  upgrade rebuilds blocks from them). Signed zeros and the order of points
  with equal steps are kept only in blocks.
- 0004 → 0003: the registry (``registry_entries``, ``registry_versions``,
  ``registry_approvals``, ``registry_audit``, ``model_aliases``) and the
  deployments (``deployments``, ``deployment_status_changes``) are dropped,
  with the append-only triggers of the audit tables.
- 0003 → 0002: datasets and experiments (``datasets``, ``experiments``,
  ``experiment_datasets``, ``experiment_checkpoints``, ``metric_points``).
- 0002 → 0001: lineage (``lineage_nodes``, ``lineage_edges``).
- 0001 → base: everything (models, versions, tensors, chunks, outbox, events,
  index watermarks).

The same runs on PostgreSQL where ``SWARMSTORE_TEST_PG_URL`` names a server
(``.ci/run`` starts one), in a fresh schema.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from swarmstore.meta.migrate import HEAD_REVISION, alembic_config

REVISIONS: list[str] = [
    rev.revision
    for rev in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]
ROWS_PER_TABLE = 4

Snapshot = dict[str, list[tuple[Any, ...]]]


def test_the_revisions_form_one_line_to_head() -> None:
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == HEAD_REVISION
    assert len(set(REVISIONS)) == len(REVISIONS)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = sa.create_engine(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
        yield made
        made.dispose()
        return
    url = os.environ.get("SWARMSTORE_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL: SWARMSTORE_TEST_PG_URL is not set (.ci/run sets it)")
    schema = "mig" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    made = sa.create_engine(f"{url}?options=-csearch_path%3D{schema}")
    try:
        yield made
    finally:
        made.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _migrate(engine: sa.Engine, verb: str, revision: str) -> None:
    with engine.connect() as conn:
        getattr(command, verb)(alembic_config(conn), revision)
        conn.commit()


def _tables(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    with engine.connect() as conn:
        metadata.reflect(conn)
    metadata.remove(
        metadata.tables["alembic_version"]
    ) if "alembic_version" in metadata.tables else None
    return metadata


def _snapshot(engine: sa.Engine) -> Snapshot:
    metadata = _tables(engine)
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
            for name, table in metadata.tables.items()
        }


def _value(column: sa.Column[Any], rng: random.Random, n: int) -> Any:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return rng.random() < 0.5
    if isinstance(kind, sa.Integer):
        return n * 1000 + rng.randrange(1000)
    if isinstance(kind, sa.Float | sa.Numeric):
        return round(rng.uniform(-1e3, 1e3), 3)
    if isinstance(kind, sa.DateTime):
        return dt.datetime(2024, 1, 1, 12, 0, n % 60, tzinfo=None)
    if isinstance(kind, sa.JSON):
        return {"n": n, "tag": rng.choice(["a", "b"])}
    if isinstance(kind, sa.LargeBinary):
        return rng.randbytes(8 + n)
    if isinstance(kind, sa.String | sa.Text):
        length = getattr(kind, "length", None) or 64
        return f"{column.name}-{n}-{rng.getrandbits(32):08x}"[:length]
    raise AssertionError(f"no filler for {column.table.name}.{column.name}: {kind!r}")


def _fill(engine: sa.Engine, names: set[str], rng: random.Random) -> None:
    """ROWS_PER_TABLE synthetic rows in each named table, parents first."""
    metadata = _tables(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in names:
                continue
            existing = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for n in range(ROWS_PER_TABLE):
                row: dict[str, Any] = {}
                for column in table.columns:
                    if column.foreign_keys:
                        target = next(iter(column.foreign_keys)).column
                        parents = conn.execute(sa.select(sa.func.count()).select_from(target.table))
                        count = parents.scalar_one()
                        found = None
                        if count:  # a new parent per row: composite unique keys stay unique
                            found = conn.execute(
                                sa.select(target)
                                .order_by(target)
                                .limit(1)
                                .offset((existing + n) % count)
                            ).scalar()
                        if found is None and column.nullable:
                            continue
                        assert found is not None, f"no parent row for {table.name}.{column.name}"
                        row[column.name] = found
                    elif (
                        column.primary_key
                        and column.autoincrement in (True, "auto")
                        and (isinstance(column.type, sa.Integer) and len(table.primary_key) == 1)
                    ):
                        continue
                    else:
                        row[column.name] = _value(column, rng, existing + n)
                conn.execute(table.insert().values(row))


def _step(engine: sa.Engine, verb: str, revision: str, before: Snapshot) -> Snapshot:
    """Migrate one revision; every table present on both sides kept its rows."""
    _migrate(engine, verb, revision)
    after = _snapshot(engine)
    for name in before.keys() & after.keys():
        assert after[name] == before[name], f"{verb} to {revision} changed rows of {name}"
    return after


@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled-at-each-revision"])
def test_step_up_to_head_and_down_to_base(engine: sa.Engine, filled: bool) -> None:
    """Up one revision at a time (filled: adding rows to every table present at
    each revision, old tables too), then down one at a time to the base."""
    rng = random.Random(7)
    current: Snapshot = {}
    tables_at: dict[str, set[str]] = {}
    for revision in REVISIONS:
        current = _step(engine, "upgrade", revision, current)
        if filled:
            _fill(engine, set(current), rng)
            grown = _snapshot(engine)
            assert all(len(grown[t]) == len(current[t]) + ROWS_PER_TABLE for t in current)
            current = grown
        tables_at[revision] = set(current)
    at_head = current
    for revision in reversed(["base", *REVISIONS[:-1]]):
        current = _step(engine, "downgrade", revision, current)
        assert set(current) == tables_at.get(revision, set()), f"tables at {revision}"
        assert current == {t: at_head[t] for t in current}
    assert current == {}
    _migrate(engine, "upgrade", "head")  # and up again: the schema comes back whole
    assert set(_snapshot(engine)) == tables_at[HEAD_REVISION]
