"""StoreConfig.indexing: a typed option; the older ``extra={"indexes": "off"}`` still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmstore import InvalidRecordError, StoreConfig, SwarmDatabaseManager
from swarmstore.config import CONFIG_FILE_NAME
from swarmstore.errors import InvalidFieldError


def test_indexing_defaults_to_background(tmp_path: Path) -> None:
    assert StoreConfig(root=tmp_path).indexing == "background"


def test_indexing_off_is_a_typed_option(tmp_path: Path) -> None:
    config = StoreConfig(root=tmp_path, indexing="off")
    assert config.indexing == "off"
    assert StoreConfig.coerce(tmp_path, indexing="off").indexing == "off"


def test_the_old_extra_key_means_off(tmp_path: Path) -> None:
    assert StoreConfig(root=tmp_path, extra={"indexes": "off"}).indexing == "off"
    assert StoreConfig.coerce(tmp_path, extra={"indexes": "off"}).indexing == "off"
    # any other value of the old key left the indexes on, as before
    assert StoreConfig(root=tmp_path, extra={"indexes": "on"}).indexing == "background"


def test_toml_takes_both_spellings(tmp_path: Path) -> None:
    typed = tmp_path / "typed"
    typed.mkdir()
    (typed / CONFIG_FILE_NAME).write_text('indexing = "off"\n')
    assert StoreConfig.coerce(typed).indexing == "off"
    old = tmp_path / "old"
    old.mkdir()
    (old / CONFIG_FILE_NAME).write_text('[extra]\nindexes = "off"\n')
    assert StoreConfig.coerce(old).indexing == "off"


def test_a_bad_value_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidFieldError, match="indexing") as info:
        StoreConfig(root=tmp_path, indexing="sometimes")  # type: ignore[arg-type]
    assert info.value.field == "indexing"
    assert isinstance(info.value, InvalidRecordError)
    with pytest.raises(InvalidRecordError, match="indexing"):
        StoreConfig.coerce(tmp_path, indexing="on")


def test_indexing_off_opens_a_sql_only_store(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "s", durability="normal", indexing="off") as db:
        assert db._indexer is None
        assert db._index_worker is None
    assert not (tmp_path / "s" / "indexes").exists()
