"""Many rows in one statement, for the dispatcher's hot path.

SQLAlchemy's executemany sends one statement per row (psycopg pipelines them, but still parses
and dumps each), which cost the dispatcher more CPU per SMS than everything else it does. Here
the rows travel as one JSON parameter, read with `json_to_recordset` on PostgreSQL and
`json_each` on SQLite (3.33 or newer, for UPDATE ... FROM). Values go through each column's
own bind processing first, so they are stored exactly as an ordinary insert stores them.
Table and column names come from the schema, never from input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text


def _json_default(value: object) -> str:
    if isinstance(value, date):  # a driver-native date or naive UTC datetime (PostgreSQL)
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a batch")


def _bound(
    dialect: Dialect, table: Table, keys: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """Each row as {key: value}, every value through its column type's bind processor."""
    processors = [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]
    return [
        {
            k: v if p is None or v is None else p(v)
            for k, p, v in zip(keys, processors, row, strict=True)
        }
        for row in rows
    ]


def _source(dialect: Dialect, table: Table, keys: Sequence[str]) -> str:
    """A FROM item named `v`, with a column for each key, read from the `:rows` parameter."""
    if dialect.name == "postgresql":
        columns = ", ".join(f"{k} {table.c[k].type.compile(dialect)}" for k in keys)
        return f"json_to_recordset(CAST(:rows AS json)) AS v({columns})"
    if dialect.name == "sqlite":
        fields = ", ".join(f"json_extract(value, '$.{k}') AS {k}" for k in keys)
        return f"(SELECT {fields} FROM json_each(:rows)) AS v"
    raise NotImplementedError(f"no batch statements for {dialect.name}")


@lru_cache(maxsize=64)
def _insert(
    dialect: Dialect, table: Table, keys: tuple[str, ...], fixed: tuple[str, ...]
) -> TextClause:
    targets = ", ".join([*keys, *fixed])
    selected = ", ".join([*(f"v.{k}" for k in keys), *(f":f_{k}" for k in fixed)])
    source = _source(dialect, table, keys)
    return text(f"INSERT INTO {table.name} ({targets}) SELECT {selected} FROM {source}")


@lru_cache(maxsize=64)
def _update(
    dialect: Dialect, table: Table, keys: tuple[str, ...], fixed: tuple[str, ...], where: str
) -> TextClause:
    key, *settable = keys
    assignments = ", ".join(
        [*(f"{k} = v.{k}" for k in settable), *(f"{k} = :f_{k}" for k in fixed)]
    )
    among = ""
    if dialect.name == "postgresql":
        # The planner takes json_to_recordset for 100 rows of unknown ids, and once the
        # table's statistics say few rows match `where`, it scans the whole table for
        # them. The keys as an array make it look them up in the primary key instead.
        among = (
            f" AND {table.name}.{key} = ANY(CAST(:keys AS {table.c[key].type.compile(dialect)}[]))"
        )
    return text(
        f"UPDATE {table.name} SET {assignments} FROM {_source(dialect, table, keys)}"
        f" WHERE {table.name}.{key} = v.{key} AND {where}{among}"
    )


def _execute(
    connection: Connection,
    statement: TextClause,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any],
) -> None:
    dialect = connection.dialect
    payload = json.dumps(_bound(dialect, table, keys, rows), default=_json_default)
    (values,) = _bound(dialect, table, list(fixed), [list(fixed.values())])
    parameters = {"rows": payload, **{f"f_{k}": v for k, v in values.items()}}
    if ":keys" in statement.text:
        parameters["keys"] = [row[0] for row in rows]
    connection.execute(statement, parameters)


def insert_rows(
    connection: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any],
) -> None:
    """INSERT `rows` (values in the order of `keys`), each with the `fixed` values too."""
    if rows:
        statement = _insert(connection.dialect, table, tuple(keys), tuple(fixed))
        _execute(connection, statement, table, keys, rows, fixed)


def update_rows(
    connection: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any],
    where: str,
) -> None:
    """UPDATE the rows whose primary key is the first of `keys`: set the other keys to the
    row's values and `fixed` to theirs, where the literal condition `where` also holds."""
    if rows:
        statement = _update(connection.dialect, table, tuple(keys), tuple(fixed), where)
        _execute(connection, statement, table, keys, rows, fixed)
