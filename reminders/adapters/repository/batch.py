"""Many rows in one statement, for the dispatcher's hot path.

SQLAlchemy's executemany sends one statement per row (psycopg pipelines them, but still parses
and dumps each), which cost the dispatcher more CPU per SMS than everything else it does. Here
the rows travel as one JSON parameter, read with `json_to_recordset` on PostgreSQL and
`json_each` on SQLite (3.33 or newer, for UPDATE ... FROM). Values go through each column's
own bind processing first, so they are stored exactly as an ordinary insert stores them.
Table and column names come from the schema, never from input.

On PostgreSQL several changes go as one statement (all but the last as data-modifying CTEs):
one round trip, and on a connection in autocommit mode a transaction of its own, with no
BEGIN and COMMIT to wait for. SQLite runs them one after the other, in-process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text


@dataclass(frozen=True)
class InsertRows:
    """INSERT `rows` (all with the same keys), each with the `fixed` values too. With
    `skip_conflicts_on`, a unique column: a row whose value there is stored already (or comes
    earlier in `rows`) is skipped instead of failing the whole statement."""

    table: Table
    rows: Sequence[Mapping[str, Any]]
    fixed: Mapping[str, Any]
    skip_conflicts_on: str | None = None


@dataclass(frozen=True)
class UpdateRows:
    """UPDATE the rows whose primary key `key` each row names: set its other keys (all rows
    have the same) to the row's values and `fixed` to theirs, where the literal condition
    `where` also holds."""

    table: Table
    key: str
    rows: Sequence[Mapping[str, Any]]
    fixed: Mapping[str, Any]
    where: str


# What a change's SQL depends on: its kind, table, keys (the key column first for an
# update), fixed columns and condition (for an insert, the column whose conflicts it skips).
_Shape = tuple[str, Table, tuple[str, ...], tuple[str, ...], str]


def write(connection: Connection, changes: Sequence[InsertRows | UpdateRows]) -> None:
    """Apply the changes that have rows, in order; on PostgreSQL in one statement."""
    changes = [change for change in changes if change.rows]
    if not changes:
        return
    dialect = connection.dialect
    shapes = [_shape(change) for change in changes]
    if dialect.name == "postgresql":
        parameters: dict[str, Any] = {}
        for index, (change, shape) in enumerate(zip(changes, shapes, strict=True)):
            parameters.update(_parameters(dialect, change, shape, f"{index}_"))
        connection.execute(_combined(dialect, tuple(shapes)), parameters)
        return
    for change, shape in zip(changes, shapes, strict=True):
        connection.execute(_single(dialect, shape), _parameters(dialect, change, shape, ""))


def _shape(change: InsertRows | UpdateRows) -> _Shape:
    if isinstance(change, InsertRows):
        keys = tuple(change.rows[0])
        return ("insert", change.table, keys, tuple(change.fixed), change.skip_conflicts_on or "")
    keys = (change.key, *(k for k in change.rows[0] if k != change.key))
    return ("update", change.table, keys, tuple(change.fixed), change.where)


@lru_cache(maxsize=64)
def _combined(dialect: Dialect, shapes: tuple[_Shape, ...]) -> TextClause:
    *first, last = [_sql(dialect, shape, f"{i}_") for i, shape in enumerate(shapes)]
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first))
    return text(f"WITH {ctes} {last}" if ctes else last)


@lru_cache(maxsize=64)
def _single(dialect: Dialect, shape: _Shape) -> TextClause:
    return text(_sql(dialect, shape, ""))


@lru_cache(maxsize=64)
def _sql(dialect: Dialect, shape: _Shape, prefix: str) -> str:
    kind, table, keys, fixed, where = shape
    source = _source(dialect, table, keys, prefix)
    if kind == "insert":
        targets = ", ".join([*keys, *fixed])
        selected = ", ".join([*(f"v.{k}" for k in keys), *(f":{prefix}f_{k}" for k in fixed)])
        insert = f"INSERT INTO {table.name} ({targets}) SELECT {selected} FROM {source}"
        if not where:
            return insert
        # The same on both: SQLite needs the WHERE to read ON CONFLICT as the upsert clause
        # of an INSERT ... SELECT, not as part of the SELECT's join.
        return f"{insert} WHERE true ON CONFLICT ({table.c[where].name}) DO NOTHING"
    key, *settable = keys
    assignments = ", ".join(
        [*(f"{k} = v.{k}" for k in settable), *(f"{k} = :{prefix}f_{k}" for k in fixed)]
    )
    among = ""
    if dialect.name == "postgresql":
        # The planner takes json_to_recordset for 100 rows of unknown ids, and once the
        # table's statistics say few rows match `where`, it scans the whole table for
        # them. The keys as an array make it look them up in the primary key instead.
        key_type = table.c[key].type.compile(dialect)
        among = f" AND {table.name}.{key} = ANY(CAST(:{prefix}keys AS {key_type}[]))"
    return (
        f"UPDATE {table.name} SET {assignments} FROM {source}"
        f" WHERE {table.name}.{key} = v.{key} AND {where}{among}"
    )


def _source(dialect: Dialect, table: Table, keys: Sequence[str], prefix: str) -> str:
    """A FROM item named `v`, with a column for each key, read from the `rows` parameter."""
    if dialect.name == "postgresql":
        columns = ", ".join(f"{k} {table.c[k].type.compile(dialect)}" for k in keys)
        return f"json_to_recordset(CAST(:{prefix}rows AS json)) AS v({columns})"
    if dialect.name == "sqlite":
        fields = ", ".join(f"json_extract(value, '$.{k}') AS {k}" for k in keys)
        return f"(SELECT {fields} FROM json_each(:{prefix}rows)) AS v"
    raise NotImplementedError(f"no batch statements for {dialect.name}")


def _parameters(
    dialect: Dialect, change: InsertRows | UpdateRows, shape: _Shape, prefix: str
) -> dict[str, Any]:
    _, table, keys, fixed, _ = shape
    payload = json.dumps(_bound(dialect, table, keys, change.rows), default=_json_default)
    (values,) = _bound(dialect, table, fixed, [change.fixed])
    parameters = {f"{prefix}rows": payload, **{f"{prefix}f_{k}": v for k, v in values.items()}}
    if isinstance(change, UpdateRows) and dialect.name == "postgresql":
        parameters[f"{prefix}keys"] = [row[change.key] for row in change.rows]
    return parameters


@lru_cache(maxsize=64)
def _processors(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """The keys whose column type has a bind processor, with it: most have none."""
    return tuple(
        (k, p)
        for k in keys
        if (p := table.c[k].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )


def _bound(
    dialect: Dialect, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, Any]]:
    """The rows with every value through its column type's bind processor; rows with no
    value to process are not copied (strings and integers go as they are)."""
    processed = _processors(dialect, table, keys)
    if not processed:
        return rows
    bound = []
    for row in rows:
        values = dict(row)
        for k, p in processed:
            if (v := values[k]) is not None:
                values[k] = p(v)
        bound.append(values)
    return bound


def _json_default(value: object) -> str:
    if isinstance(value, date):  # a driver-native date or naive UTC datetime (PostgreSQL)
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a batch")
