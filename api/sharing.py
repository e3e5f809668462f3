"""The Delta Sharing protocol's pieces: table schema and ids, file actions, and the hints
(`predicateHints`, `jsonPredicateHints`, `limitHint`) that prune a tenant's files.

Hints are best effort by the protocol: a file is dropped only when its statistics prove no
row in it can match; a hint this server cannot read keeps every file. They only ever narrow
the tenant's view, never widen it: the view is chosen before any hint is read.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from typing import Any

from tollgate.catalog import Product
from tollgate.schema_versions import VersionShape
from tollgate.sharing import SharedFile

SCHEMA = "batch"
DELTA_TYPES = {
    "string": "string",
    "integer": "long",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
Types = dict[str, str]  # a served column's catalog type, by its served name
_NAMESPACE = uuid.UUID("6f0c2d1e-5a7b-4c3d-9e8f-0a1b2c3d4e5f")


def stable_id(*parts: str) -> str:
    """A UUID that names the same share, table or file on every request."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def table_version(snapshot_version: str) -> int:
    """Delta table versions follow snapshot versions: v000003 is version 3."""
    return int(snapshot_version.removeprefix("v"))


def snapshot_version(table_version: int) -> str:
    return f"v{table_version:06d}"


def column_types(product: Product, shape: VersionShape) -> dict[str, str]:
    """The catalog type of each column a schema version serves, by its served name."""
    return {c.name: product.column(c.newest).type for c in shape.columns}


def schema_string(product: Product, shape: VersionShape) -> str:
    """The Delta schema of a schema version's columns, in its order and under its names."""
    fields = []
    for c in shape.columns:
        column = product.column(c.newest)
        fields.append(
            {
                "name": c.name,
                "type": DELTA_TYPES[column.type],
                "nullable": True,
                "metadata": {"comment": column.description} if column.description else {},
            }
        )
    return json.dumps({"type": "struct", "fields": fields})


def metadata_action(product: Product, shape: VersionShape) -> dict:
    return {
        "metaData": {
            "id": stable_id("table", product.id, shape.name),
            "name": product.id,
            "description": product.description or product.title,
            "format": {"provider": "parquet"},
            "schemaString": schema_string(product, shape),
            "partitionColumns": [],
            "configuration": {"tollgate.dataSchemaVersion": shape.name},
        }
    }


def file_stats(f: SharedFile) -> str:
    return json.dumps(
        {
            "numRecords": f.rows,
            "minValues": f.min_values,
            "maxValues": f.max_values,
            "nullCount": f.null_count,
        }
    )


# -- pruning ---------------------------------------------------------------------------
_SQL_OPS = {"=": "eq", "<>": "ne", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_JSON_OPS = {
    "equal": "eq",
    "lessThan": "lt",
    "lessThanOrEqual": "le",
    "greaterThan": "gt",
    "greaterThanOrEqual": "ge",
}
_LITERAL = r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false"
_COMPARISON = re.compile(
    rf"^\s*(?:(?P<col>[A-Za-z_]\w*)\s*(?P<op><=|>=|<>|!=|=|<|>)\s*(?P<lit>{_LITERAL})"
    rf"|(?P<lit2>{_LITERAL})\s*(?P<op2><=|>=|<>|!=|=|<|>)\s*(?P<col2>[A-Za-z_]\w*))\s*$",
    re.IGNORECASE,
)
_NULL_CHECK = re.compile(r"^\s*([A-Za-z_]\w*)\s+IS\s+(NOT\s+)?NULL\s*$", re.IGNORECASE)


def _typed(kind: str, raw: Any) -> Any:
    """A literal or a stats value as a column type; ValueError when it is not one."""
    if kind == "date":
        return raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
    if kind == "timestamp":
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    if kind in ("integer", "double"):
        return float(raw)
    if kind == "boolean":
        return raw if isinstance(raw, bool) else str(raw).lower() == "true"
    return str(raw)


def _may_match(types: Types, f: SharedFile, column: str, op: str, raw: Any) -> bool:
    """False only when the file's min/max prove no row has `column op value`."""
    kind = types.get(column)
    if kind is None or column not in f.min_values:
        return True
    try:
        value = _typed(kind, raw)
        lo = _typed(kind, f.min_values[column])
        hi = _typed(kind, f.max_values[column])
        checks = {
            "eq": lambda: lo <= value <= hi,
            "ne": lambda: not (lo == hi == value),
            "lt": lambda: lo < value,
            "le": lambda: lo <= value,
            "gt": lambda: hi > value,
            "ge": lambda: hi >= value,
        }
        return checks[op]()
    except (ValueError, TypeError):
        return True


def _null_may_match(f: SharedFile, column: str, is_null: bool) -> bool:
    nulls = f.null_count.get(column)
    if nulls is None:
        return True
    return nulls > 0 if is_null else nulls < f.rows


def _sql_hint_may_match(types: Types, f: SharedFile, hint: str) -> bool:
    if m := _NULL_CHECK.match(hint):
        return _null_may_match(f, m.group(1), m.group(2) is None)
    m = _COMPARISON.match(hint)
    if m is None:
        return True
    if m.group("col"):
        column, op, literal = m.group("col"), _SQL_OPS[m.group("op")], m.group("lit")
    else:
        column, op, literal = m.group("col2"), _FLIP[_SQL_OPS[m.group("op2")]], m.group("lit2")
    if literal.startswith("'"):
        literal = literal[1:-1].replace("''", "'")
    return _may_match(types, f, column, op, literal)


def _json_may_match(types: Types, f: SharedFile, node: Any) -> bool:
    if not isinstance(node, dict):
        return True
    op, children = node.get("op"), node.get("children") or []
    if op == "and":
        return all(_json_may_match(types, f, c) for c in children)
    if op == "or":
        return any(_json_may_match(types, f, c) for c in children) if children else True
    if op == "isNull" and children and children[0].get("op") == "column":
        return _null_may_match(f, str(children[0].get("name")), True)
    if op in _JSON_OPS and len(children) == 2:
        left, right = children
        if left.get("op") == "column" and right.get("op") == "literal":
            return _may_match(types, f, str(left.get("name")), _JSON_OPS[op], right.get("value"))
        if left.get("op") == "literal" and right.get("op") == "column":
            flipped = _FLIP[_JSON_OPS[op]]
            return _may_match(types, f, str(right.get("name")), flipped, left.get("value"))
    return True  # `not` and anything unknown: keep the file


def prune(
    types: Types,
    files: list[SharedFile],
    predicate_hints: list[str] | None,
    json_predicate_hints: str | None,
    limit_hint: int | None,
) -> list[SharedFile]:
    """The files that may hold rows matching the hints (predicates first, then the limit)."""
    kept = files
    if predicate_hints:
        kept = [f for f in kept if all(_sql_hint_may_match(types, f, h) for h in predicate_hints)]
    if json_predicate_hints:
        try:
            tree = json.loads(json_predicate_hints)
        except ValueError:
            tree = None
        kept = [f for f in kept if _json_may_match(types, f, tree)]
    if limit_hint is not None:
        limited, rows = [], 0
        for f in kept:
            if rows >= limit_hint:
                break
            limited.append(f)
            rows += f.rows
        kept = limited
    return kept
