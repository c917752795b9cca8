"""SQL statement builders over the schema tables; the output runs unchanged on both dialects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trading_core.storage.rows import RowCodec
from trading_core.storage.schema import Table, quote, table_ref


def insertable_columns(table: Table) -> tuple[str, ...]:
    """Every column the caller supplies (the database assigns the serial id)."""
    return tuple(name for name in table.column_names if name != table.serial_column)


def insert_sql(
    table: Table,
    codec: RowCodec,
    *,
    columns: Sequence[str] | None = None,
    on_conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> str:
    """``INSERT``; with ``on_conflict``, either update ``update`` columns or do nothing."""
    names = tuple(columns or insertable_columns(table))
    params = ", ".join(codec.dialect.param(i) for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table_ref(table.qualified_name, codec.dialect)} "
    sql += f"({_list(names)}) VALUES ({params})"
    if on_conflict is not None:
        sql += f" ON CONFLICT ({_list(on_conflict)}) "
        if update:
            sql += "DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in update)
        else:
            sql += "DO NOTHING"
    if returning:
        sql += f" RETURNING {_list(returning)}"
    return sql


def upsert_sql(table: Table, codec: RowCodec) -> str:
    """Insert every column, replacing every non-key column when the primary key exists."""
    update = [c for c in table.column_names if c not in table.primary_key]
    return insert_sql(
        table, codec, columns=table.column_names, on_conflict=table.primary_key, update=update
    )


def guarded_update_sql(
    table: Table, codec: RowCodec, *, guard: Sequence[str], returning: Sequence[str] = ()
) -> str:
    """Overwrite one row by primary key, only while its ``guard`` columns hold the given values.

    Parameters: every column in table order (the new row), then one value per ``guard`` column
    (what the stored row must still hold). One statement, so the check and the write are atomic:
    of two racing callers, the second finds the guard no longer true and changes nothing.
    """
    names = table.column_names
    param = {name: codec.dialect.param(index) for index, name in enumerate(names, start=1)}
    assignments = ", ".join(f"{quote(c)} = {param[c]}" for c in names if c not in table.primary_key)
    conditions = [f"{quote(c)} = {param[c]}" for c in table.primary_key]
    conditions += [
        f"{quote(c)} = {codec.dialect.param(len(names) + index)}"
        for index, c in enumerate(guard, start=1)
    ]
    sql = f"UPDATE {table_ref(table.qualified_name, codec.dialect)} SET {assignments} "
    sql += "WHERE " + " AND ".join(conditions)
    if returning:
        sql += f" RETURNING {_list(returning)}"
    return sql


def upsert_from_sql(table: Table, codec: RowCodec, source: str) -> str:
    """Copy every row of the table named ``source`` into ``table``, replacing on key conflicts."""
    columns = _list(table.column_names)
    update = [c for c in table.column_names if c not in table.primary_key]
    assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in update)
    return (
        f"INSERT INTO {table_ref(table.qualified_name, codec.dialect)} ({columns}) "
        f"SELECT {columns} FROM {quote(source)} "
        # WHERE true: SQLite needs it to parse ON CONFLICT after a SELECT.
        f"WHERE true ON CONFLICT ({_list(table.primary_key)}) DO UPDATE SET {assignments}"
    )


class Select:
    """A ``SELECT`` of all of a table's columns with filters added one by one (None skips)."""

    def __init__(self, table: Table, codec: RowCodec) -> None:
        self.table = table
        self.codec = codec
        self.params: list[Any] = []
        self._where: list[str] = []

    def bind(self, value: Any) -> str:
        """Add a raw parameter and return its placeholder."""
        self.params.append(value)
        return self.codec.dialect.param(len(self.params))

    def where(self, column: str, operator: str, value: Any) -> Select:
        if value is not None:
            encoded = self.codec.encode(self.table.column(column).type, value)
            self._where.append(f"{quote(column)} {operator} {self.bind(encoded)}")
        return self

    def where_in(self, column: str, values: Sequence[Any] | None) -> Select:
        if values is not None:
            if not values:
                self._where.append("1 = 0")  # an empty IN () is a syntax error
                return self
            type_ = self.table.column(column).type
            marks = [self.bind(self.codec.encode(type_, value)) for value in values]
            self._where.append(f"{quote(column)} IN ({', '.join(marks)})")
        return self

    def sql(self, *, order_by: Sequence[tuple[str, bool]], limit: int | None = None) -> str:
        """Render with ``order_by`` as (column, descending) pairs and an optional limit."""
        sql = f"SELECT {_list(self.table.column_names)} "
        sql += f"FROM {table_ref(self.table.qualified_name, self.codec.dialect)}"
        if self._where:
            sql += " WHERE " + " AND ".join(self._where)
        if order_by:
            sql += " ORDER BY " + ", ".join(
                f"{quote(c)} {'DESC' if desc else 'ASC'}" for c, desc in order_by
            )
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must not be negative, got {limit}")
            sql += f" LIMIT {self.bind(int(limit))}"
        return sql

    def count_sql(self) -> str:
        sql = (
            f"SELECT COUNT(*) AS n FROM {table_ref(self.table.qualified_name, self.codec.dialect)}"
        )
        if self._where:
            sql += " WHERE " + " AND ".join(self._where)
        return sql


def _list(columns: Sequence[str]) -> str:
    return ", ".join(quote(column) for column in columns)
