"""JSON Schemas in sync, migrations equal to the ORM, and a CLI that explains itself."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from swarmstore import SwarmDatabaseManager
from swarmstore.cli import build_parser, main
from swarmstore.meta.migrate import HEAD_REVISION, alembic_config
from swarmstore.meta.schema import metadata
from swarmstore.records.schemas import PUBLIC_RECORDS, render
from tests.conftest import model_record

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("record", PUBLIC_RECORDS, ids=lambda r: r.__name__)
def test_committed_json_schema_matches_the_record(record: type) -> None:
    path = SCHEMAS / f"{record.__name__}.json"
    assert path.exists(), f"run: python -m swarmstore.records.schemas ({path} missing)"
    assert path.read_text() == render(record), (
        f"{path} is stale: python -m swarmstore.records.schemas"
    )


def test_schema_uses_the_seed_camel_case_keys() -> None:
    text = (SCHEMAS / "NeuralModelRecord.json").read_text()
    for key in (
        "agentId",
        "modelName",
        "parentVersion",
        "trainingEpochs",
        "compressionType",
        "checkpointType",
    ):
        assert f'"{key}"' in text


def test_head_constant_matches_the_migration_scripts() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_current_head() == HEAD_REVISION


def test_migrated_schema_equals_the_orm_models(store_path: Path) -> None:
    SwarmDatabaseManager.open(store_path).close()
    engine = create_engine(f"sqlite:///{store_path / 'meta.sqlite3'}")
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    engine.dispose()
    assert diff == []


def test_every_cli_command_has_help_text() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert isinstance(subparsers, argparse._SubParsersAction)
    helps = {a.dest: a.help for a in subparsers._choices_actions}
    assert set(helps) == set(subparsers.choices)
    assert all(h and len(h) > 10 for h in helps.values()), helps
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.dest} has no help"


def test_cli_lists_shows_checks_exports_and_imports(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SwarmDatabaseManager.open(store_path) as db:
        db.store_neural_model("s", model_record("v1", {"w": torch.randn(3, 3)}))
    assert main(["models", str(store_path)]) == 0
    assert "model_001" in capsys.readouterr().out
    assert main(["versions", str(store_path), "s", "model_001"]) == 0
    assert "v1" in capsys.readouterr().out
    assert main(["show", str(store_path), "s", "model_001"]) == 0
    assert '"shape": [\n        3,\n        3\n      ]' in capsys.readouterr().out
    assert main(["check", str(store_path)]) == 0
    out = tmp_path / "x.safetensors"
    assert main(["export", str(store_path), "s", "model_001", "v1", str(out)]) == 0 and out.exists()
    assert (
        main(["import", str(store_path), "s", str(out), "--model", "copy", "--version", "1"]) == 0
    )
    assert main(["gc", str(store_path)]) == 0
    capsys.readouterr()
    assert main(["show", str(store_path), "s", "nope"]) == 2
    assert "ModelNotFoundError" in capsys.readouterr().err


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "swarmstore", "demo", "--root", str(tmp_path), "--epochs", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum("bit-exact" in line for line in lines) == 3
    assert "check: ok" in lines[-1]
