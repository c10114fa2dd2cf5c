"""The plainest queries read without sqlglot, to the same :class:`Statement` sqlglot's reading
gives (see :mod:`queries.statement`: sqlglot's imports are most of a new process's first
query besides DuckDB).

A plain query is one ``SELECT`` over one table named by one to three unquoted parts::

    SELECT [DISTINCT] items FROM name [[AS] alias] [WHERE e] [GROUP BY ALL | e, ...]
      [HAVING e] [ORDER BY ALL | e [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n] [;]

whose expressions are built from unquoted names of one or two parts, numbers, plain strings
(no quote, backslash or control character inside), ``NULL``/``TRUE``/``FALSE``, parentheses,
``+ - * / %``, the comparisons, ``AND``/``OR``/``NOT``, ``IS [NOT] NULL``,
``[NOT] BETWEEN``/``IN (...)``/``LIKE``/``ILIKE``, and calls of the few functions in
:data:`FUNCTIONS`. Anything else, and any word sqlglot reads as a keyword (:data:`RESERVED`),
makes :func:`read_plain` decline (None), and sqlglot reads the query: a comment, a quoted
name, a CTE, a join, a subquery, time travel, a cast, a second statement, an error. So a
query read here names exactly one table and no CTE can shadow it; its bounds are the same
``column <op> literal`` terms sqlglot's reading finds (a bound sqlglot would spell out from
a computed constant, ``ts > now()``, declines). Every statement read here is the one sqlglot
would give (``tests/queries/test_plain_parse.py`` compares them, and holds :data:`RESERVED`
to sqlglot's own keywords).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from queries.statement import Bound, Statement, TableReference, line_and_column

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
    | (?P<comment>--|/\*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_$"'])
    | (?P<number>[0-9]+(?:\.[0-9]+)?)(?![A-Za-z0-9_.'"])
    | (?P<string>'[^'\\\x00-\x1f\x7f]*')(?!')
    | (?P<op><=|>=|<>|!=|[(),.*;=<>+\-/%])(?![=<>|~!@&^#:\[\]{}?])
    """,
    re.VERBOSE | re.ASCII,
)

FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1),
    "avg": (1, 1),
    "coalesce": (1, 64),
    "count": (0, 1),
    "date_trunc": (2, 2),
    "length": (1, 1),
    "lower": (1, 1),
    "max": (1, 1),
    "median": (1, 1),
    "min": (1, 1),
    "round": (1, 2),
    "sum": (1, 1),
    "upper": (1, 1),
}
"""Functions a plain query may call, with the numbers of arguments it may give them
(``DISTINCT`` before the arguments only for ``count``): sqlglot reads each call as a function
of its arguments, none takes a table, a keyword or a special form
(``tests/queries/test_plain_parse.py``)."""

# The words the grammar reads itself.
_GRAMMAR = frozenset(
    "select distinct from as where group by all having order asc desc nulls first last "
    "limit offset and or not is null true false between in like ilike".split()
)

RESERVED = frozenset(
    """
    add alias all alter analyze and anti any apply array as asc asof asymmetric at attach
    auto_increment autoincrement begin between bigdecimal bigint bignum bignumeric binary
    bit bitstring blob bool boolean bpchar by byte bytea cache call case cast char character
    characteristics check clob cluster collate column comment commit connect connect_by_root
    constraint copy
    create cross cube current_catalog current_date current_datetime current_role
    current_schema current_time current_timestamp current_user database date datemultirange
    daterange datetime dec decfloat decimal decimal128 decimal256 decimal32 decimal64
    declare default delete desc describe detach dictionary disconnect distinct distribute
    div double drop else end enum escape except execute exists explain false fetch file
    filter final first fixed float float4 float8 following for force foreign format from
    full function geography geometry glob grant group grouping having hugeint if ignore
    ilike in index inet inner insert install int int1 int128 int16 int2 int256 int32 int4
    int4multirange int4range int64 int8 int8multirange int8range integer intersect interval
    into is isnull join json jsonb keep key kill lambda last lateral left like limit list
    load
    local localtime localtimestamp lock logical long longblob longtext longvarchar macro map
    mediumblob mediumint mediumtext merge minus model namespace natural nchar next not
    notnull null nullable nulls number numeric nummultirange numrange nvarchar nvarchar2
    object of offset on only operator optimize or order ordinality out outer over overlaps
    overwrite partition partitioned partitioned_by percent pivot pivot_wider positional
    pragma preceding precision prepare primary procedure properties qualify range real
    recursive ref references refresh regexp rename replace reset respect returning revoke
    right rlike rollback rollup row rows sample schema security select semi separator
    sequence serde session session_user set sets settings short show signed similar smallint
    some sort sql start str straight_join string struct summarize symmetric table tablesample
    temp
    temporary text then time time_ns timestamp timestamp_ltz timestamp_ms timestamp_ns
    timestamp_ntz timestamp_s timestamp_us timestampltz timestampntz timestamptz timetz
    tinyblob tinyint tinytext to top transaction trigger true truncate tsmultirange tsrange
    tstzmultirange tstzrange ubigint uhugeint uint uint128 uint256 uinteger unbounded
    uncache union unique unknown unnest unpivot unsigned update use using usmallint utinyint
    uuid vacuum values varbinary varchar varchar2 variant varying vector version view
    volatile when where window with within xor
    """.split()
)
"""Every word sqlglot's duckdb dialect reads as a keyword (or as a function without
parentheses, such as ``current_date`` and ``connect_by_root``, or matches by its text inside
an expression: ``BETWEEN SYMMETRIC``, ``LAMBDA x: ...``), with DuckDB's time-travel words
(``at``, ``version``, ``timestamp``): none is a name in a plain query."""

_MAX_DEPTH = 64


class _Decline(Exception):
    """The query is not plain: sqlglot reads it."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "name" | "keyword" | "number" | "string" | "op" | "end"
    text: str  # a name or keyword in lower case
    start: int
    end: int


@dataclass(frozen=True)
class _Node:
    kind: str
    """``column``, ``literal``, ``constant`` (another value that names no column), ``and``,
    ``paren``, ``compare``, ``between`` or ``other`` (anything that names a column)."""
    parts: tuple[str, ...] = ()
    """A column's name parts, in lower case."""
    text: str = ""
    """A literal's text (number or quoted string); a comparison's operator."""
    value: str | None = None
    """A string literal's value."""
    children: tuple[_Node, ...] = ()


def read_plain(text: str) -> Statement | None:
    """The statement of a plain query (see the module), or None when sqlglot must read it."""
    try:
        tokens = _tokenize(text)
        return _Reader(text, tokens).statement()
    except (_Decline, RecursionError):
        return None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup == "comment":
            raise _Decline
        kind, position = match.lastgroup, match.end()
        if kind == "space":
            continue
        word = match.group()
        if kind == "name":
            word = word.lower()
            if word in RESERVED:
                if word not in _GRAMMAR:
                    raise _Decline
                kind = "keyword"
        tokens.append(_Token(kind, word, match.start(), match.end()))
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


class _Reader:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # -- tokens

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def peek(self, ahead: int) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *words: str) -> bool:
        token = self.token
        return token.kind in ("keyword", "op") and token.text in words

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.index += 1
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise _Decline

    def name(self) -> _Token:
        if self.token.kind != "name":
            raise _Decline
        return self.take()

    # -- the statement

    def statement(self) -> Statement:
        self.expect("select")
        self.accept("distinct")
        self.item()
        while self.accept(","):
            self.item()
        self.expect("from")
        parts = [self.name()]
        while self.accept("."):
            parts.append(self.name())
        if len(parts) > 3:
            raise _Decline
        alias = None
        if self.accept("as"):
            alias = self.name()
        elif self.token.kind == "name":
            alias = self.take()
        if self.at("(", "."):  # ``AS x(a, b)`` renames columns
            raise _Decline
        where = None
        if self.accept("where"):
            where = self.expression()
        if self.accept("group"):
            self.expect("by")
            if not self.accept("all"):
                self.expressions()
        if self.accept("having"):
            self.expression()
        if self.accept("order"):
            self.expect("by")
            if not self.accept("all"):
                self.ordering()
                while self.accept(","):
                    self.ordering()
        if self.accept("limit"):
            self.number()
        if self.accept("offset"):
            self.number()
        self.accept(";")
        if self.token.kind != "end":
            raise _Decline
        binding = (alias or parts[-1]).text
        start, end = parts[0].start, parts[-1].end
        line, column = line_and_column(self.text, start)
        table = TableReference(
            parts=tuple(p.text for p in parts),
            start=start,
            end=end,
            alias=None,
            has_alias=alias is not None,
            role="relation",
            time_travel=None,
            shadowed=False,
            line=line,
            column=column,
            bounds=_bounds(where, binding) if where is not None else (),
        )
        return Statement(self.text, "select", True, (table,), (), 0, True)

    def item(self) -> None:
        if self.accept("*"):
            return
        if self.token.kind == "name" and self.peek(1).text == "." and self.peek(2).text == "*":
            self.index += 3
            return
        self.expression()
        if self.accept("as"):
            self.name()
        elif self.token.kind == "name":
            self.take()

    def ordering(self) -> None:
        self.expression()
        self.accept("asc", "desc")
        if self.accept("nulls"):
            self.expect("first", "last")

    def number(self) -> None:
        if self.token.kind != "number":
            raise _Decline
        self.take()

    def expressions(self) -> None:
        self.expression()
        while self.accept(","):
            self.expression()

    # -- expressions, loosest first (sqlglot's precedence: OR, AND, NOT, comparisons and
    # ranges, + -, * / %, unary minus)

    def expression(self) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Decline
        try:
            node = self.conjunction()
            while self.accept("or"):
                node = _combine(node, self.conjunction())
            return node
        finally:
            self.depth -= 1

    def conjunction(self) -> _Node:
        terms = [self.negation()]
        while self.accept("and"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else _Node("and", children=tuple(terms))

    def negation(self) -> _Node:
        if self.accept("not"):
            return _combine(self.negation())
        return self.comparison()

    def comparison(self) -> _Node:
        left = self.sum()
        if self.at("=", "<", "<=", ">", ">=", "<>", "!="):
            operator = self.take().text
            right = self.sum()
            if operator in ("<>", "!="):
                return _combine(left, right)
            return _Node("compare", text=operator, children=(left, right))
        if self.accept("is"):
            self.accept("not")
            self.expect("null")
            return _combine(left)
        negated = self.accept("not")
        if self.accept("between"):
            low = self.sum()
            self.expect("and")
            high = self.sum()
            if negated:
                return _combine(left, low, high)
            return _Node("between", children=(left, low, high))
        if self.accept("in"):
            self.expect("(")
            values = [self.expression()]
            while self.accept(","):
                values.append(self.expression())
            self.expect(")")
            return _combine(left, *values)
        if self.accept("like", "ilike"):
            return _combine(left, self.sum())
        if negated:
            raise _Decline
        return left

    def sum(self) -> _Node:
        node = self.product()
        while self.at("+", "-"):
            self.take()
            node = _combine(node, self.product())
        return node

    def product(self) -> _Node:
        node = self.unary()
        while self.at("*", "/", "%"):
            self.take()
            node = _combine(node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.accept("-"):
            return _combine(self.unary())
        return self.primary()

    def primary(self) -> _Node:
        token = self.token
        if token.kind == "number":
            self.take()
            return _Node("literal", text=token.text)
        if token.kind == "string":
            self.take()
            return _Node("literal", text=token.text, value=token.text[1:-1])
        if self.accept("null", "true", "false"):
            return _Node("constant")
        if self.accept("("):
            inner = self.expression()
            self.expect(")")
            return _Node("paren", children=(inner,))
        if token.kind != "name":
            raise _Decline
        self.take()
        if self.at("("):
            return self.call(token)
        parts = [token.text]
        while self.accept("."):
            parts.append(self.name().text)
        if len(parts) > 2 or self.at("("):
            raise _Decline  # three parts qualify by a table's full name; ``x.f()`` is a method
        return _Node("column", parts=tuple(parts))

    def call(self, function: _Token) -> _Node:
        if function.text not in FUNCTIONS:
            raise _Decline
        least, most = FUNCTIONS[function.text]
        self.expect("(")
        arguments: list[_Node] = []
        if function.text == "count" and self.accept("*"):
            arguments.append(_Node("constant"))
        elif not self.at(")"):
            if function.text == "count":
                self.accept("distinct")
            arguments.append(self.expression())
            while self.accept(","):
                arguments.append(self.expression())
        self.expect(")")
        if not least <= len(arguments) <= most:
            raise _Decline
        if function.text == "date_trunc" and arguments[0].value is None:
            # sqlglot reads ``date_trunc(day, ts)`` as ``date_trunc('DAY', ts)``: a constant
            # where DuckDB reads the column ``day``
            raise _Decline
        return _combine(*arguments)


def _combine(*nodes: _Node) -> _Node:
    """A value made of ``nodes``: a constant when none of them names a column."""
    return _Node("other" if any(_names_column(n) for n in nodes) else "constant")


def _names_column(node: _Node) -> bool:
    if node.kind in ("column", "other"):
        return True
    return any(_names_column(child) for child in node.children)


def _bounds(where: _Node, binding: str) -> tuple[tuple[str, Bound], ...]:
    """The ``column <op> literal`` terms of the WHERE, as :func:`queries.parse` reads them
    (``_column_bounds``) for a SELECT of one table; declines where sqlglot would spell out a
    computed constant."""

    def ours(node: _Node) -> str | None:
        if node.kind != "column":
            return None
        if len(node.parts) == 2:
            return node.parts[1] if node.parts[0] == binding else None
        return node.parts[0]

    def bound(operator: str, node: _Node) -> Bound:
        if node.kind != "literal":
            raise _Decline  # a constant sqlglot would regenerate: let it
        return Bound(operator, node.text, node.value)

    def constant(node: _Node) -> bool:
        return not _names_column(node)

    found: list[tuple[str, Bound]] = []
    for term in _and_terms(where):
        if term.kind == "between":
            subject, low, high = term.children
            if (column := ours(subject)) and constant(low) and constant(high):
                found += [(column, bound(">=", low)), (column, bound("<=", high))]
        elif term.kind == "compare":
            left, right = term.children
            if (column := ours(left)) and constant(right):
                found.append((column, bound(term.text, right)))
            elif (column := ours(right)) and constant(left):
                found.append((column, bound(_FLIPPED[term.text], left)))
    return tuple(found)


_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}


def _and_terms(node: _Node) -> list[_Node]:
    while node.kind == "paren":
        node = node.children[0]
    if node.kind == "and":
        return [term for child in node.children for term in _and_terms(child)]
    return [node]
