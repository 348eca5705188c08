"""Alembic, driven from code: ``open`` upgrades a store to head.

The revisions live in the top-level ``migrations/`` directory, installed as the
package ``swarmstore_migrations`` so that a wheel carries them.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from swarmstore.errors import SwarmStoreError

HEAD_REVISION = "0006"  # a test asserts this equals the scripts' head


def script_location() -> str:
    return str(files("swarmstore_migrations"))


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Any, current: str | None) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(connection)
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise SwarmStoreError(
            f"store schema is at revision {current!r}, unknown to this swarmstore "
            f"(head {HEAD_REVISION!r}); was it written by a newer version?"
        )
    command.upgrade(config, "head")
