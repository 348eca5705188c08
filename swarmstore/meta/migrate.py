"""Alembic, driven from code: ``open`` (modes ``"create"``/``"rw"``) and
``migrate`` upgrade a store to head; ``"ro"`` never does.

The revisions live in the top-level ``migrations/`` directory, installed as the
package ``swarmstore_migrations`` so that a wheel carries them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from swarmstore.errors import StoreVersionError

HEAD_REVISION = "0007"  # a test asserts this equals the scripts' head
# the on-disk format this swarmstore writes and reads (``store_format.format_version``);
# raise it when stored bytes change meaning, so older releases refuse such stores
STORE_FORMAT = 1


def script_location() -> str:
    return str(files("swarmstore_migrations"))


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = connection
    return config


@cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this swarmstore's migrations know."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def check_known(current: str | None) -> None:
    """``StoreVersionError`` when ``current`` is a revision this swarmstore does not know."""
    if current is not None and current not in known_revisions():
        raise StoreVersionError(
            f"store schema is at revision {current!r}, unknown to this swarmstore "
            f"(which knows up to {HEAD_REVISION!r}): it was written by a newer "
            "swarmstore; open it with that version",
            store_revision=current,
            known_revision=HEAD_REVISION,
        )


def upgrade_to_head(connection: Any, current: str | None) -> None:
    from alembic import command

    check_known(current)
    command.upgrade(alembic_config(connection), "head")
