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
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text


def _json_default(value: object) -> str:
    if isinstance(value, date):  # a driver-native date or naive UTC datetime (PostgreSQL)
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a batch")


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
        key_type = table.c[key].type.compile(dialect)
        among = f" AND {table.name}.{key} = ANY(CAST(:keys AS {key_type}[]))"
    return text(
        f"UPDATE {table.name} SET {assignments} FROM {_source(dialect, table, keys)}"
        f" WHERE {table.name}.{key} = v.{key} AND {where}{among}"
    )


def _execute(
    connection: Connection,
    statement: TextClause,
    table: Table,
    keys: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any],
) -> None:
    dialect = connection.dialect
    payload = json.dumps(_bound(dialect, table, keys, rows), default=_json_default)
    (values,) = _bound(dialect, table, tuple(fixed), [fixed])
    parameters = {"rows": payload, **{f"f_{k}": v for k, v in values.items()}}
    if ":keys" in statement.text:
        parameters["keys"] = [row[keys[0]] for row in rows]
    connection.execute(statement, parameters)


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any],
) -> None:
    """INSERT `rows` (all with the same keys), each with the `fixed` values too."""
    if rows:
        keys = tuple(rows[0])
        statement = _insert(connection.dialect, table, keys, tuple(fixed))
        _execute(connection, statement, table, keys, rows, fixed)


def update_rows(
    connection: Connection,
    table: Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any],
    where: str,
) -> None:
    """UPDATE the rows whose primary key `key` each row names: set its other keys (all rows
    have the same) to the row's values and `fixed` to theirs, where the literal condition
    `where` also holds."""
    if rows:
        keys = (key, *(k for k in rows[0] if k != key))
        statement = _update(connection.dialect, table, keys, tuple(fixed), where)
        _execute(connection, statement, table, keys, rows, fixed)
