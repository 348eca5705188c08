"""A small filter language compiled to SQL (SQLite and PostgreSQL).

``where`` maps a field to a value (equality) or an ``(op, value)`` pair;
all conditions must hold::

    {"status": "completed",                           # equality
     "hyperparameters.learningRate": ("<", 0.01),     # JSON field, numeric
     "finalMetrics.accuracy": (">=", 0.9),
     "hyperparameters.optimizer": ("in", ["adam", "sgd"]),
     "tags": "baseline",                              # tag present
     "tags": ("all", ["baseline", "v2"])}             # (one key per field in a dict)

Operators: ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` ``in`` ``not in`` ``between``
(a pair) ``like`` (SQL pattern) ``exists`` (True/False: the field is set).
On ``tags``: a value, ``("contains", tag)``, ``("any", [...])``, ``("all", [...])``.

Fields: a target's plain columns (``status``, ``modelId``, ``created``, …,
camelCase) and dotted paths into its JSON columns (``hyperparameters.x``,
``metadata.x``, ``finalMetrics.customMetrics.top5``). A JSON value is compared
as a number when the operand is a number, as text when it is text. Where a
summary column exists (e.g. an experiment's final accuracy) the field name maps
to it and uses its index. ``order_by`` takes field names, ``-`` for
descending; JSON fields sort numerically; NULLs sort last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, func, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from swarmstore.errors import InvalidQueryError

COMPARISONS = frozenset({"=", "==", "!=", "<", "<=", ">", ">="})
OPERATORS = COMPARISONS | {"in", "not in", "between", "like", "exists"}
TAG_OPERATORS = frozenset({"=", "==", "contains", "any", "all"})


@dataclass(frozen=True)
class Catalog:
    """What a target's ``where``/``order_by`` may name.

    ``columns``: field -> SQL expression; ``json``: prefix -> JSON column;
    ``aliases``: short field -> canonical field (``accuracy`` ->
    ``metadata.accuracy``); ``tags``: the JSON list column of tags, if any."""

    columns: Mapping[str, Any]
    json: Mapping[str, Any] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    tags: Any = None

    def names(self) -> list[str]:
        return sorted([*self.columns, *(f"{p}.<key>" for p in self.json), *self.aliases])


@dataclass(frozen=True)
class Resolved:
    expr: Any  # a plain column, or a JSON element when ``is_json``
    is_json: bool
    name: str


def resolve(catalog: Catalog, name: str) -> Resolved:
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"a field name must be a non-empty string, not {name!r}")
    canonical = catalog.aliases.get(name, name)
    if canonical in catalog.columns:
        return Resolved(catalog.columns[canonical], False, name)
    prefix, dot, rest = canonical.partition(".")
    if dot and rest and prefix in catalog.json:
        path = tuple(rest.split("."))
        if any(not part for part in path):
            raise InvalidQueryError(f"field {name!r} has an empty path step", field=name)
        column = catalog.json[prefix]
        return Resolved(column[path[0]] if len(path) == 1 else column[path], True, name)
    raise InvalidQueryError(
        f"unknown field {name!r}; known: {', '.join(catalog.names())}", field=name
    )


def _typed(target: Resolved, value: Any) -> Any:
    if not target.is_json:
        return target.expr
    if isinstance(value, bool):
        return target.expr.as_boolean()
    if isinstance(value, int | float):
        return target.expr.as_float()
    if isinstance(value, str):
        return target.expr.as_string()
    raise InvalidQueryError(
        f"cannot compare JSON field {target.name!r} with {type(value).__name__}",
        field=target.name,
    )


def _operand(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _condition(target: Resolved, op: str, value: Any) -> Any:
    if op == "exists":
        present = target.expr.as_string().is_not(None) if target.is_json else None
        if present is None:
            present = target.expr.is_not(None)
        return present if value else not_(present)
    if op in ("in", "not in"):
        if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not value:
            raise InvalidQueryError(f"{op!r} needs a non-empty list", field=target.name)
        expr = _typed(target, value[0])
        clause = expr.in_([_operand(v) if target.is_json else v for v in value])
        return clause if op == "in" else not_(clause)
    if op == "between":
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise InvalidQueryError("'between' needs a (low, high) pair", field=target.name)
        expr = _typed(target, value[0])
        return expr.between(_operand(value[0]), _operand(value[1]))
    if op == "like":
        if not isinstance(value, str):
            raise InvalidQueryError("'like' needs a text pattern", field=target.name)
        return _typed(target, value).like(value)
    if value is None:
        if op in ("=", "=="):
            return (
                target.expr.is_(None) if not target.is_json else target.expr.as_string().is_(None)
            )
        if op == "!=":
            return not_(_condition(target, "=", None))
        raise InvalidQueryError(f"{op!r} needs a value, not None", field=target.name)
    expr = _typed(target, value)
    operand = _operand(value) if target.is_json else value
    return {
        "=": expr == operand,
        "==": expr == operand,
        "!=": expr != operand,
        "<": expr < operand,
        "<=": expr <= operand,
        ">": expr > operand,
        ">=": expr >= operand,
    }[op]


def _has_tag(column: Any, tag: Any, dialect: str) -> ColumnElement[bool]:
    if not isinstance(tag, str):
        raise InvalidQueryError(f"a tag is text, not {tag!r}", field="tags")
    if dialect == "postgresql":
        return cast(column, JSONB).contains([tag])
    each = func.json_each(column).table_valued("value")
    return select(1).select_from(each).where(each.c.value == tag).exists()


def _tags(catalog: Catalog, spec: Any, dialect: str) -> ColumnElement[bool]:
    op, value = spec if isinstance(spec, tuple) else ("contains", spec)
    if op not in TAG_OPERATORS:
        raise InvalidQueryError(f"tags take {sorted(TAG_OPERATORS)}, not {op!r}", field="tags")
    if op in ("any", "all"):
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise InvalidQueryError(f"{op!r} needs a non-empty list of tags", field="tags")
        parts = [_has_tag(catalog.tags, t, dialect) for t in value]
        return or_(*parts) if op == "any" else and_(*parts)
    return _has_tag(catalog.tags, value, dialect)


def compile_where(
    catalog: Catalog, where: Mapping[str, Any] | None, dialect: str
) -> list[ColumnElement[bool]]:
    """SQL conditions for ``where`` (see the module docstring)."""
    if where is None:
        return []
    if not isinstance(where, Mapping):
        raise InvalidQueryError(f"where must be a mapping, not {type(where).__name__}")
    clauses = []
    for name, spec in where.items():
        if name == "tags" and catalog.tags is not None:
            clauses.append(_tags(catalog, spec, dialect))
            continue
        target = resolve(catalog, name)
        if isinstance(spec, tuple):
            if len(spec) != 2 or spec[0] not in OPERATORS:
                raise InvalidQueryError(
                    f"condition on {name!r} must be (op, value) with op in {sorted(OPERATORS)}",
                    field=name,
                )
            clauses.append(_condition(target, spec[0], spec[1]))
        else:
            clauses.append(_condition(target, "=", spec))
    return clauses


def compile_order(catalog: Catalog, order_by: str | Sequence[str] | None) -> list[Any]:
    if order_by is None:
        return []
    names = [order_by] if isinstance(order_by, str) else list(order_by)
    clauses = []
    for spec in names:
        if not isinstance(spec, str):
            raise InvalidQueryError(f"order_by takes field names, not {spec!r}")
        descending = spec.startswith("-")
        target = resolve(catalog, spec.lstrip("-+"))
        expr = target.expr.as_float() if target.is_json else target.expr
        clauses.append((expr.desc() if descending else expr.asc()).nulls_last())
    return clauses


def check_limit(limit: int | None, offset: int) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidQueryError(f"limit must be a non-negative int, not {limit!r}", field="limit")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidQueryError(
            f"offset must be a non-negative int, not {offset!r}", field="offset"
        )
