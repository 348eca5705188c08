"""The layer rules the default test run guards too (``lint-imports`` checks the rest).

Read from the source with ``ast``, so imports inside functions and under
``TYPE_CHECKING`` count, exactly as they do for import-linter.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "swarmstore"
MAX_LINES = 650  # "no module over ~600 lines"; the C kernels are not modules


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    """Top-level names of every package ``path`` imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _may_use_sql(path: Path) -> bool:
    """``swarmstore/meta/`` and the rooms' ``queries.py`` (or ``queries/`` package)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] == "meta" or "queries" in parts[:-1] or path.stem == "queries"


def test_sqlalchemy_is_imported_only_by_meta_and_queries_modules() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _modules()
        if not _may_use_sql(path) and "sqlalchemy" in _imported(path)
    ]
    assert offenders == [], "SQL belongs in swarmstore/meta/ or a room's queries.py"


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split modules over {MAX_LINES} lines by job"


def test_the_codec_contract_names_every_other_top_level_module() -> None:
    """import-linter's forbidden contract lists modules one by one: a new
    top-level module must join the list, or codec could import it unnoticed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (codec,) = [c for c in config["contracts"] if c["id"] == "codec"]
    top_level = {
        f"swarmstore.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem not in ("__init__", "__main__"))
        or (path.is_dir() and (path / "__init__.py").is_file())
    }
    allowed = {"swarmstore.codec", "swarmstore.errors", "swarmstore.dtypes"}
    assert set(codec["forbidden_modules"]) == top_level - allowed
