"""Reading a query with sqlglot: which names it reads, with which time-travel clause, and
where they are (the types are :mod:`queries.statement`'s; :func:`queries.parse.parse_statement`
reads a plain SELECT without sqlglot, by :mod:`queries.plain`, to the same statement, and
every other query here).

sqlglot (dialect ``duckdb``) parses the query; the text is never searched with patterns.
The duckdb dialect of sqlglot 30.30 reads all three time-travel forms into the table node:

* ``FROM t VERSION AS OF 3`` / ``TIMESTAMP AS OF '...'`` (Delta / Databricks, also
  ``FOR SYSTEM_TIME AS OF``): ``exp.Table.args["version"]`` is an ``exp.Version`` with
  ``this`` = ``VERSION`` | ``TIMESTAMP`` and ``kind`` = ``AS OF``;
* ``FROM t AT (VERSION => 3)`` / ``AT (TIMESTAMP => ...)`` (DuckDB): ``exp.Table.args["when"]``
  is an ``exp.HistoricalData`` with ``this`` = ``AT`` and ``kind`` = ``VERSION`` | ``TIMESTAMP``.

(The databricks and spark dialects read ``VERSION AS OF`` the same way, but not DuckDB's own
syntax, so the duckdb dialect is the one that reads every query our users write.)

The query is not regenerated from the tree: sqlglot would re-spell DuckDB functions and the
positions in DuckDB's error messages would no longer match what the user typed. Instead,
each table reference is located by the positions the parser records on its tokens, and
:mod:`queries.sql` replaces exactly those spans. Everything else reaches DuckDB as written.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, TokenError

from lake.core.errors import InvalidName
from lake.core.names import parse_time
from queries.exceptions import QuerySyntaxError
from queries.statement import (
    MAX_VERSION,
    Bound,
    ColumnQualifier,
    Role,
    Statement,
    TableReference,
    TimeTravel,
    line_and_column,
)


class _DropCommandFallbackWarning(logging.Filter):
    """sqlglot logs a warning for every statement it keeps as an opaque command (EXPLAIN,
    LOAD, CALL); those are expected here, and a warning on stderr would garble CLI output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropCommandFallbackWarning())

_DIALECT = DuckDB()

# Statements a read-only session may run: they only read.
_QUERY_TYPES: tuple[type[exp.Expression], ...] = (
    exp.Query,  # SELECT, set operations (UNION ...), parenthesised queries
    exp.Values,
    exp.Describe,
    exp.Summarize,
    exp.Pivot,
    exp.Show,
)
# (parent type, argument) pairs in which a table is written to, not read.
_WRITE_TARGETS: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Insert, "this"),
    (exp.Create, "this"),
    (exp.Drop, "tables"),
    (exp.TruncateTable, "expressions"),
    (exp.Alter, "this"),
    (exp.Update, "this"),
    (exp.Delete, "this"),
    (exp.Merge, "this"),
    (exp.Comment, "this"),
)


def parse_with_sqlglot(text: str) -> Statement:
    """Read one statement with sqlglot: what :func:`queries.parse.parse_statement` does for
    every query the plain reader declines. Not cached: call ``parse_statement``.

    Raises:
        QuerySyntaxError: as ``parse_statement``; RecursionError when it nests too deeply.
    """
    tokens = _tokenize(text)
    if not tokens:
        raise QuerySyntaxError("The query is empty; write one SQL statement.")
    offset, explain, body = 0, False, text
    if tokens[0].text.upper() == "EXPLAIN":
        # sqlglot keeps EXPLAIN as an opaque command: parse the statement after it
        explain = True
        offset = tokens[0].end + 1
        rest = _tokenize(text[offset:])
        if rest and rest[0].text.upper() == "ANALYZE":
            rest = rest[1:]
        if not rest:
            raise QuerySyntaxError(
                "EXPLAIN needs a statement to explain, such as EXPLAIN SELECT ..."
            )
        offset += rest[0].start
        body = text[offset:]
        tokens = _tokenize(body)
    try:
        trees = [tree for tree in _DIALECT.parser().parse(tokens, body) if tree is not None]
    except ParseError as error:
        raise _syntax_error(error, text, offset) from error
    if not trees:
        raise QuerySyntaxError("The query is empty; write one SQL statement.")
    if len(trees) > 1:
        raise QuerySyntaxError(
            f"The query holds {len(trees)} statements; lake sql runs one statement at a time."
        )
    tree = trees[0]
    kind = "explain" if explain else _kind(tree)
    reads_only = isinstance(tree, _QUERY_TYPES)
    found = list(tree.find_all(exp.Table))
    tables = tuple(ref for table in found if (ref := _reference(table, text, offset, tokens)))
    qualifiers = tuple(
        q for column in tree.find_all(exp.Column) if (q := _qualifier(column, offset))
    )
    names_only = not isinstance(tree, exp.Command) and len(tables) == len(found)
    return Statement(
        text,
        kind,
        reads_only,
        tables,
        qualifiers,
        offset,
        names_only,
        parsed=(tree, tuple(tokens)),
    )


# -- internals -----------------------------------------------------------------------------


def _tokenize(body: str) -> list:
    try:
        return list(_DIALECT.tokenize(body))
    except TokenError as error:
        raise QuerySyntaxError(
            f"The query cannot be read: {_first_line(str(error))} (an unclosed quote or comment?)."
        ) from error


def _syntax_error(error: ParseError, text: str, offset: int) -> QuerySyntaxError:
    details = error.errors[0] if error.errors else {}
    description = str(details.get("description") or _first_line(str(error)))
    near = str(details.get("highlight") or "").strip()
    line, column = details.get("line"), details.get("col")
    if line is not None and column is not None:
        if near:  # sqlglot points at the end of the token it stopped at; users look for its start
            column = max(1, column - len(near) + 1)
        if offset:  # positions are relative to the statement after EXPLAIN
            before = text[:offset]
            if line == 1:
                column += offset - (before.rfind("\n") + 1)
            line += before.count("\n")
    if description.startswith("Invalid expression / Unexpected token"):
        detail = f"unexpected {near!r}" if near else "unexpected token"
    elif description.startswith("Required keyword"):
        detail = (
            f"{near!r} is missing what should follow it" if near else "an expression is incomplete"
        )
    else:
        detail = description[0].lower() + description[1:] + (f" near {near!r}" if near else "")
    if near.upper() in ("VERSION", "TIMESTAMP"):
        detail += "; put a table alias after the time-travel clause (FROM t VERSION AS OF 3 AS x)"
    where = f" at line {line}, column {column}" if line is not None and column is not None else ""
    return QuerySyntaxError(f"SQL syntax error{where}: {detail}.", line=line, column=column)


def _kind(tree: exp.Expression) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).lower()
    return type(tree).__name__.lower()


def _reference(table: exp.Table, text: str, offset: int, tokens: list) -> TableReference | None:
    name_parts = [table.args.get(k) for k in ("catalog", "db", "this")]
    identifiers = [p for p in name_parts if p is not None]
    if not identifiers or not all(isinstance(p, exp.Identifier) for p in identifiers):
        return None  # a table function such as range(10) or read_parquet(...)
    if not all("start" in p.meta for p in identifiers):
        return None
    role = _role(table)
    if role is None:
        return None
    start = min(p.meta["start"] for p in identifiers)
    end = max(p.meta["end"] for p in identifiers) + 1
    time_travel, clause_end = _time_travel(table, text, offset, tokens, end)
    end = max(end, clause_end)
    alias_node = table.args.get("alias")
    alias_sql = None
    if alias_node is not None:
        alias_starts = [
            i.meta["start"] for i in alias_node.find_all(exp.Identifier) if "start" in i.meta
        ]
        if alias_starts and min(alias_starts) < end:
            # ``t AS x AT (VERSION => 1)``: the alias is inside the replaced span; repeat it
            alias_sql = alias_node.sql(dialect=_DIALECT)
    line, column = line_and_column(text, start + offset)
    return TableReference(
        parts=tuple(p.name.lower() for p in identifiers),
        start=start + offset,
        end=end + offset,
        alias=alias_sql,
        has_alias=alias_node is not None,
        role=role,
        time_travel=time_travel,
        shadowed=len(identifiers) == 1 and identifiers[0].name.lower() in _visible_ctes(table),
        line=line,
        column=column,
        bounds=_column_bounds(table) if role == "relation" else (),
    )


_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}
_OPERATORS: dict[type[exp.Expression], str] = {
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.EQ: "=",
}


def _bound(operator: str, node: exp.Expression) -> Bound:
    value, pure_date = node, False
    if isinstance(value, exp.Cast):
        if value.to.this == exp.DataType.Type.TIMESTAMPTZ:
            value = value.this
        elif value.to.this == exp.DataType.Type.DATE:
            value, pure_date = value.this, True
        else:
            value = None
    literal = value.name if isinstance(value, exp.Literal) and value.is_string else None
    if literal is not None and pure_date:
        try:
            date.fromisoformat(literal)
        except ValueError:
            literal = None
    return Bound(operator, node.sql(dialect=_DIALECT), literal)


def _column_bounds(table: exp.Table) -> tuple[tuple[str, Bound], ...]:
    """``column <op> constant`` terms of the WHERE of the SELECT whose FROM or JOIN names
    ``table``; a column counts when qualified by the table's alias (or name), or unqualified
    in a SELECT that reads this table alone."""
    holder = table.parent
    select = holder.parent if isinstance(holder, (exp.From, exp.Join)) else None
    if not isinstance(select, exp.Select) or select.args.get("where") is None:
        return ()
    alias = table.args.get("alias")
    if table.args.get("sample") or select.args.get("sample") or (alias and alias.columns):
        # A sample is drawn before WHERE (fewer files, other rows); ``AS x(a, b)`` renames
        # columns by position, so a name in WHERE may be another column of the table.
        return ()
    binding = (table.alias or table.name).lower()
    alone = isinstance(holder, exp.From) and not select.args.get("joins")

    def ours(node: exp.Expression) -> str | None:
        if not isinstance(node, exp.Column) or node.args.get("db") is not None:
            return None
        if node.table.lower() == binding if node.table else alone:
            return node.name.lower()
        return None

    bounds: list[tuple[str, Bound]] = []
    for term in _and_terms(select.args["where"].this):
        if isinstance(term, exp.Between) and (column := ours(term.this)):
            low, high = term.args.get("low"), term.args.get("high")
            if _constant(low) and _constant(high):
                bounds += [(column, _bound(">=", low)), (column, _bound("<=", high))]
            continue
        operator = _OPERATORS.get(type(term))
        if operator is None:
            continue
        left, right = term.this, term.expression
        if (column := ours(left)) and _constant(right):
            bounds.append((column, _bound(operator, right)))
        elif (column := ours(right)) and _constant(left):
            bounds.append((column, _bound(_FLIPPED[operator], left)))
    return tuple(bounds)


def _and_terms(condition: exp.Expression) -> list[exp.Expression]:
    """The terms a condition ``AND``s together, through parentheses: ``a AND (b AND c)``."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return [t for part in (condition.this, condition.expression) for t in _and_terms(part)]
    return [condition]


def _constant(node: exp.Expression | None) -> bool:
    """A value that does not depend on any row: no column, subquery or parameter inside."""
    if node is None:
        return False
    return not any(
        isinstance(n, (exp.Column, exp.Query, exp.Placeholder, exp.Parameter))
        or (isinstance(n, exp.Var) and not _a_unit_word(n))
        for n in node.walk()
    )


def _a_unit_word(var: exp.Var) -> bool:
    """Whether DuckDB reads the word as sqlglot does: the unit of ``INTERVAL 1 DAY`` or the
    part of ``EXTRACT(year FROM ...)``. sqlglot also reads ``date_trunc(day, ts)`` as
    ``date_trunc('DAY', ts)``, where DuckDB reads the column ``day``: such a value may name
    a column, so it is no constant (and no bound)."""
    parent = var.parent
    return (isinstance(parent, exp.Interval) and var.arg_key == "unit") or (
        isinstance(parent, exp.Extract) and var.arg_key == "this"
    )


def _role(table: exp.Table) -> Role | None:
    parent, key = table.parent, table.arg_key
    if isinstance(parent, exp.Schema):  # CREATE TABLE x (...), INSERT INTO x (columns)
        parent, key = parent.parent, parent.arg_key
    if isinstance(parent, exp.Use):
        return None
    if isinstance(parent, exp.Copy) and key == "this":
        return "target" if parent.args.get("kind") else "copy"
    if isinstance(parent, (exp.Describe, exp.Summarize)) and key == "this":
        return "statement"
    if any(isinstance(parent, kind) and key == arg for kind, arg in _WRITE_TARGETS):
        return "target"
    return "relation"


def _visible_ctes(table: exp.Table) -> set[str]:
    """CTE names visible where ``table`` stands, by DuckDB's rules: a CTE sees the CTEs
    defined before it (and itself when RECURSIVE); the body of the query sees them all."""
    visible: set[str] = set()
    child: exp.Expression = table
    entered: set[int] = set()
    for parent in _ancestors(table):
        if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
            names = [cte.alias_or_name.lower() for cte in parent.expressions]
            index = next(i for i, cte in enumerate(parent.expressions) if cte is child)
            visible.update(names[:index])
            if parent.args.get("recursive"):
                visible.add(names[index])
            entered.add(id(parent))
        else:
            with_clause = parent.args.get("with_") or parent.args.get("with")
            if (
                isinstance(with_clause, exp.With)
                and id(with_clause) not in entered
                and child is not with_clause
            ):
                visible.update(cte.alias_or_name.lower() for cte in with_clause.expressions)
        child = parent
    return visible


def _ancestors(node: exp.Expression):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _time_travel(
    table: exp.Table, text: str, offset: int, tokens: list, name_end: int
) -> tuple[TimeTravel | None, int]:
    """The clause's meaning and where it ends (relative to the statement body)."""
    version, when = table.args.get("version"), table.args.get("when")
    if version is None and when is None:
        return None, 0
    where = _where(text, offset, table)
    if version is not None:
        kind = str(version.this).upper()
        value = version.args.get("expression")
        if str(version.args.get("kind") or "").upper() != "AS OF" or value is None:
            raise QuerySyntaxError(
                f"Only {kind} AS OF is supported for time travel{where}; write "
                f"VERSION AS OF 3 or TIMESTAMP AS OF '2026-11-20 10:00:00'."
            )
        clause = f"{kind} AS OF {_shown(value.sql(dialect=_DIALECT))}"
        ends = [i.meta["end"] for i in value.walk() if "end" in i.meta]
        end = max(ends) + 1 if ends else name_end
        if kind == "VERSION":
            return TimeTravel(clause, version=_version_number(value, clause, where)), end
        literal = _time_literal(value)
        if literal is None:
            raise QuerySyntaxError(
                f"{clause}{where} is not a time literal; write "
                f"TIMESTAMP AS OF '2026-11-20 10:00:00' (UTC unless it has an offset), or "
                f"AT (TIMESTAMP => <expression>) to compute it."
            )
        return TimeTravel(clause, moment=_moment(literal, clause, where)), end
    prefix, kind = str(when.this).upper(), str(when.args.get("kind") or "").upper()
    value = when.args.get("expression")
    shown = _shown(value.sql(dialect=_DIALECT)) if value is not None else ""
    clause = f"{prefix} ({kind} => {shown})"
    if prefix != "AT" or kind not in ("VERSION", "TIMESTAMP") or value is None:
        raise QuerySyntaxError(
            f"{clause}{where} is not supported; write AT (VERSION => 3) or "
            f"AT (TIMESTAMP => '2026-11-20 10:00:00')."
        )
    end = _closing_paren_end(tokens, name_end)
    if kind == "VERSION":
        return TimeTravel(clause, version=_version_number(value, clause, where)), end
    literal = _time_literal(value)
    if literal is not None:
        return TimeTravel(clause, moment=_moment(literal, clause, where)), end
    if any(isinstance(n, (exp.Column, exp.Table, exp.Query, exp.Subquery)) for n in value.walk()):
        raise QuerySyntaxError(
            f"{clause}{where} must be a constant time: no columns, tables or subqueries."
        )
    return TimeTravel(clause, expression=value.sql(dialect=_DIALECT)), end


def _where(text: str, offset: int, table: exp.Table) -> str:
    starts = [i.meta["start"] for i in table.find_all(exp.Identifier) if "start" in i.meta]
    if not starts:
        return ""
    line, column = line_and_column(text, min(starts) + offset)
    return f" (line {line}, column {column})"


def _version_number(value: exp.Expression, clause: str, where: str) -> int:
    if isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal):
        raise QuerySyntaxError(f"{clause}{where} asks for a negative version; versions start at 0.")
    digits = str(value.this).strip() if isinstance(value, exp.Literal) else ""
    if digits.isascii() and digits.isdigit():
        number = int(digits) if len(digits) <= 20 else MAX_VERSION + 1
        if number > MAX_VERSION:
            raise QuerySyntaxError(
                f"{clause}{where} asks for a version past the largest a table can have "
                f"({MAX_VERSION:,})."
            )
        return number
    raise QuerySyntaxError(f"{clause}{where} needs a version number, such as VERSION AS OF 3.")


def _time_literal(value: exp.Expression) -> str | None:
    """The text of ``'2026-...'`` or ``TIMESTAMP '2026-...'``; None for anything else."""
    if isinstance(value, exp.Literal) and value.is_string:
        return str(value.this)
    if (
        isinstance(value, exp.Cast)
        and isinstance(value.this, exp.Literal)
        and value.this.is_string
        and value.to.is_type(*_TIME_TYPES)
    ):
        return str(value.this.this)
    return None


_TIME_TYPES = ("timestamp", "timestamptz", "timestampntz", "timestampltz", "date", "datetime")


def _moment(literal: str, clause: str, where: str) -> datetime:
    try:
        return parse_time(literal)
    except InvalidName as error:
        raise QuerySyntaxError(
            f"{clause}{where} is not a time; write an ISO time such as '2026-11-20 10:00:00' "
            f"(UTC unless it has an offset, e.g. '2026-11-20 10:00:00+02:00')."
        ) from error


def _closing_paren_end(tokens: list, after: int) -> int:
    """End of the ``)`` closing ``AT (...)`` that follows position ``after``."""
    index = next(
        (
            i
            for i, t in enumerate(tokens)
            if t.start >= after and t.text.upper() in ("AT", "BEFORE")
        ),
        None,
    )
    if index is None:
        return after
    depth = 0
    for token in tokens[index + 1 :]:
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
            if depth == 0:
                return token.end + 1
    return after


def _qualifier(column: exp.Column, offset: int) -> ColumnQualifier | None:
    parts = column.parts
    if len(parts) < 3 or not all(
        isinstance(p, exp.Identifier) and "start" in p.meta for p in parts[:2]
    ):
        return None
    return ColumnQualifier(
        parts=(parts[0].name.lower(), parts[1].name.lower()),
        start=parts[0].meta["start"] + offset,
        end=parts[1].meta["start"] + offset,
    )


def _shown(text: str, limit: int = 200) -> str:
    """A piece of the user's query as a message shows it: on one line (control characters
    escaped) and at most ``limit`` characters."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:200] if stripped else "unknown error"
