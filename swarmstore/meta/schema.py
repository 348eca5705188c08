"""The whole schema on one ``MetaData``: import this to see every table.

Each domain keeps its tables in its own module; importing them here registers
them on ``Base.metadata`` for Alembic's env and the migration-vs-ORM test.
"""

from __future__ import annotations

from swarmstore.meta import (  # noqa: F401  (imported to register their tables)
    tables_lineage,
    tables_metrics,
    tables_registry,
    tables_training,
)
from swarmstore.meta.tables import Base

metadata = Base.metadata
