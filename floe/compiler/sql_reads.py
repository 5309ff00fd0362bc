"""Which columns of a table a model's compiled SQL reads, from DuckDB's own parser.

``json_serialize_sql`` gives the parsed query without binding it (no table needs to
exist).  A column counts as read from the table where it is qualified by the table's
name or alias, or unqualified in a SELECT whose only source is the table; a CTE or
subquery that is ``select * from`` the table stands for it.  ``*`` means every column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

STAR = "*"
_EXPRESSION_KEYS = ("select_list", "where_clause", "group_expressions", "having", "qualify")


def parse_statement(sql: str) -> dict[str, Any] | None:
    """The first statement of ``sql`` as DuckDB's own parser has it (``json_serialize_sql``:
    no table needs to exist); None when DuckDB cannot parse it."""
    import duckdb

    try:
        rows = duckdb.execute("select json_serialize_sql(?)", [sql]).fetchall()
        tree = json.loads(rows[0][0])
    except Exception:
        return None
    if tree.get("error") or not tree.get("statements"):
        return None
    return dict(tree["statements"][0].get("node") or {})


def columns_read(sql: str, schema: str, table: str) -> set[str] | None:
    """Lower-cased columns ``sql`` reads from ``schema.table`` (``{"*"}`` for all of
    them); None when DuckDB cannot parse it."""
    node = parse_statement(sql)
    if node is None:
        return None
    reader = _Reader(schema.lower(), table.lower())
    reader.query(node, {})
    return reader.found


class _Reader:
    def __init__(self, schema: str, table: str) -> None:
        self.schema, self.table = schema, table
        self.found: set[str] = set()

    def _is_input(self, ref: dict[str, Any], ctes: dict[str, bool]) -> bool:
        name = str(ref.get("table_name", "")).lower()
        schema = str(ref.get("schema_name", "")).lower()
        if schema:
            return schema == self.schema and name == self.table
        return ctes.get(name, False)

    def _star_of_input(self, node: dict[str, Any], ctes: dict[str, bool]) -> bool:
        """A query that is ``select * from`` the input table (and nothing else)."""
        if node.get("type") != "SELECT_NODE":
            return False
        source = node.get("from_table") or {}
        items = node.get("select_list") or []
        return (
            source.get("type") == "BASE_TABLE"
            and self._is_input(source, ctes)
            and len(items) == 1
            and items[0].get("class") == "STAR"
            and not items[0].get("relation_name")
        )

    def query(self, node: dict[str, Any], ctes: dict[str, bool], stand_in: bool = False) -> None:
        """``stand_in``: the query is ``select * from`` the table, standing for it: its
        ``*`` reads nothing by itself (what reads through it is counted where it is used)."""
        kind = node.get("type")
        if kind == "SET_OPERATION_NODE":
            for child in [node.get("left"), node.get("right"), *(node.get("children") or [])]:
                if child:
                    self.query(child, ctes)
            return
        if kind != "SELECT_NODE":
            return
        local = dict(ctes)
        for entry in (node.get("cte_map") or {}).get("map") or []:
            name = str(entry.get("key", "")).lower()
            value = entry.get("value") or {}
            body = value.get("query_node") or (value.get("query") or {}).get("node") or {}
            local[name] = self._star_of_input(body, local)
            self.query(body, local, stand_in=local[name])
        sources: list[tuple[str, bool]] = []
        conditions: list[Any] = []
        self._sources(node.get("from_table") or {}, local, sources, conditions)
        aliases = {alias for alias, is_input in sources if is_input}
        sole = len(sources) == 1 and sources[0][1]
        expressions = [
            node.get(key) for key in _EXPRESSION_KEYS if not (stand_in and key == "select_list")
        ] + conditions
        expressions.append(node.get("modifiers"))
        for expression in expressions:
            for item in _walk(expression):
                self._expression(item, aliases, sole, local)

    def _sources(
        self,
        ref: dict[str, Any],
        ctes: dict[str, bool],
        out: list[tuple[str, bool]],
        conditions: list[Any],
    ) -> None:
        kind = ref.get("type")
        if kind == "BASE_TABLE":
            alias = str(ref.get("alias") or ref.get("table_name", "")).lower()
            out.append((alias, self._is_input(ref, ctes)))
        elif kind == "JOIN":
            self._sources(ref.get("left") or {}, ctes, out, conditions)
            self._sources(ref.get("right") or {}, ctes, out, conditions)
            conditions.append(ref.get("condition"))
        elif kind == "SUBQUERY":
            body = (ref.get("subquery") or {}).get("node") or {}
            stand_in = self._star_of_input(body, ctes)
            self.query(body, ctes, stand_in=stand_in)
            out.append((str(ref.get("alias", "")).lower(), stand_in))
        elif kind:
            out.append((str(ref.get("alias", "")).lower(), False))

    def _expression(
        self, item: dict[str, Any], aliases: set[str], sole: bool, ctes: dict[str, bool]
    ) -> None:
        cls = item.get("class")
        if cls == "COLUMN_REF":
            names = [str(n).lower() for n in item.get("column_names") or []]
            if len(names) >= 2 and (names[-2] in aliases or names[-2] == self.table):
                self.found.add(names[-1])
            elif len(names) == 1 and sole:
                self.found.add(names[0])
        elif cls == "STAR":
            relation = str(item.get("relation_name") or "").lower()
            if (relation and relation in aliases) or (not relation and sole):
                self.found.add(STAR)
        elif cls == "SUBQUERY":
            body = (item.get("subquery") or {}).get("node") or {}
            self.query(body, ctes)


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every expression object under ``value`` (not into nested queries: those are
    visited as queries, with their own sources)."""
    if isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, dict):
        if value.get("class"):
            yield value
            if value.get("class") == "SUBQUERY":
                return
        for key, child in value.items():
            if key in ("subquery", "query", "node", "query_node"):
                continue
            if isinstance(child, dict | list):
                yield from _walk(child)
