"""Lineage as a picture: the audit of a model and the impact of a table version or a source,
drawn as a layered graph in SVG whose nodes are links.

The graphs are built from the results' ``to_json()`` (the same documents as
``lake audit --output json`` and ``lake impact --output json``); nothing here asks the
catalog. Layout is server-side and deterministic: each node's column is its longest path
from a root (left to right: model -> training set -> table versions -> runs -> sources for
an audit, the reverse for an impact); within a column nodes are ordered by the mean row
of their parents, then by label. Long lists are cut (the first and last few, and a node
saying how many more, which links to the page that lists them all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from lake.faces.lineage_view import version_ranges

NODE_W = 200
NODE_H = 44
GAP_X = 50
GAP_Y = 14
PAD = 16
LABEL_CHARS = 27
CONTRIBUTIONS_SHOWN = 12
SOURCES_SHOWN = 5
RUNS_SHOWN = 40


@dataclass
class Node:
    key: str
    kind: str
    """model | training_set | table_version | run | source | more"""
    label: str
    detail: str = ""
    href: str | None = None
    origin: bool = False


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.key, node)
        return node.key

    def link(self, source: str, target: str) -> None:
        if source != target and (source, target) not in self.edges:
            self.edges.append((source, target))


# -- audit ---------------------------------------------------------------------------------------


def audit_graph(audit: Mapping[str, Any]) -> Graph:
    graph = Graph()
    model = audit.get("model")
    training_set = audit.get("training_set")
    parent = None
    if model is not None:
        parent = graph.add(_model_node(model["name"], model["version"], origin=True))
    if training_set is not None:
        ts = graph.add(
            _training_set_node(
                training_set["name"],
                training_set["version"],
                detail=f"{_rows(training_set.get('row_count'))} · "
                f"{str(training_set.get('content_hash') or '')[:12]}",
                origin=parent is None,
            )
        )
        if parent is not None:
            graph.link(parent, ts)
        for table_version in training_set.get("inputs", []):
            _audit_table_version(graph, ts, table_version)
    return graph


def _audit_table_version(graph: Graph, parent: str, entry: Mapping[str, Any]) -> None:
    node = graph.add(
        _table_version_node(
            entry["table"],
            entry["version"],
            detail=f"{_rows(entry.get('rows_total'))} · {entry.get('operation', '')}",
        )
    )
    graph.link(parent, node)
    contributions = list(entry.get("data_from", []))
    shown, hidden = _ends(contributions, CONTRIBUTIONS_SHOWN)
    for contribution in shown:
        run = contribution.get("run")
        if run is None:
            continue
        run_key = graph.add(
            _run_node(
                run,
                detail=f"wrote v{contribution['version']} · "
                f"{_rows(contribution.get('rows_added'))}",
            )
        )
        graph.link(node, run_key)
        sources = contribution.get("sources")
        if sources is None:
            if contribution.get("source_count"):
                more = graph.add(
                    Node(
                        f"more-sources:{run['run_id']}",
                        "more",
                        f"{contribution['source_count']:,} sources",
                        "listed on the run's page",
                        href=_run_href(run["run_id"]),
                    )
                )
                graph.link(run_key, more)
            sources = []
        for source in sources[:SOURCES_SHOWN]:
            graph.link(run_key, graph.add(_source_node(source["name"], source.get("kind"))))
        if len(sources) > SOURCES_SHOWN:
            more = graph.add(
                Node(
                    f"more-sources:{run['run_id']}",
                    "more",
                    f"... {len(sources) - SOURCES_SHOWN:,} more sources",
                    "listed on the run's page",
                    href=_run_href(run["run_id"]),
                )
            )
            graph.link(run_key, more)
        for upstream in contribution.get("inputs", []):
            _audit_table_version(graph, run_key, upstream)
    if hidden:
        more = graph.add(
            Node(
                f"more-versions:{entry['table']}@{entry['version']}",
                "more",
                f"... {hidden:,} more versions",
                "their runs: see the table's versions",
                href=_table_href(entry["table"], entry["version"]),
            )
        )
        graph.link(node, more)


# -- impact --------------------------------------------------------------------------------------


def impact_graph(impact: Mapping[str, Any]) -> Graph:
    """origin -> (versions still holding its data) -> runs that read them -> what those runs
    wrote (table versions, training sets, models) -> ..."""
    graph = Graph()
    origin = impact["origin"]
    by_version: dict[tuple[str, int], str] = {}
    if "table" in origin:
        root = graph.add(_table_version_node(origin["table"], origin["version"], origin=True))
        by_version[(origin["table"], origin["version"])] = root
        source_name = None
    else:
        source_name = origin.get("source")
        kinds = {v.get("kind") for v in origin.get("versions", [])}
        root = graph.add(_source_node(str(source_name), next(iter(kinds), None), origin=True))
    # One node per table for the versions listed, by the rule that made them listed.
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for entry in impact.get("table_versions", []):
        if (entry["table"], entry["version"]) not in by_version:
            grouped.setdefault(entry["table"], []).append(entry)
    holders: dict[str, str] = {}
    for table, entries in grouped.items():
        versions = [e["version"] for e in entries]
        key = graph.add(
            Node(
                f"versions:{table}",
                "table_version",
                f"{table} v{version_ranges(versions)}",
                f"{len(versions):,} version(s) holding the data",
                href=_table_href(table, max(versions)),
            )
        )
        holders[table] = key
        for version in versions:
            by_version[(table, version)] = key
        if "table" in origin and table == origin["table"]:
            graph.link(root, key)
    sets = {(s["name"], s["version"]): s for s in impact.get("training_sets", [])}
    set_keys = {ref: graph.add(_training_set_node(*ref)) for ref in sets}
    model_keys = {
        (m["name"], m["version"]): graph.add(_model_node(m["name"], m["version"]))
        for m in impact.get("models", [])
    }
    runs = list(impact.get("runs", []))
    shown, hidden = _ends(runs, RUNS_SHOWN)
    for run in shown:
        run_key = graph.add(_run_node(run))
        for link in run.get("read", []):
            found = _linked(link, by_version, set_keys, model_keys, source_name, root)
            if found is not None:
                graph.link(found, run_key)
        for link in run.get("wrote", []):
            found = _linked(link, by_version, set_keys, model_keys, None, root)
            if found is not None:
                graph.link(run_key, found)
    if hidden:
        graph.link(
            root,
            graph.add(Node("more-runs", "more", f"... {hidden:,} more runs", "see Runs", "/runs")),
        )
    # Edges the runs do not show (a run not drawn, or recorded without edges).
    for ref, entry in sets.items():
        for read in entry.get("read", []):
            table, _, version = str(read).rpartition("@")
            found = by_version.get((table, int(version))) if version.isdigit() else None
            if found is not None and not _reaches(graph, found, set_keys[ref]):
                graph.link(found, set_keys[ref])
    for entry in impact.get("models", []):
        name, _, version = str(entry.get("training_set") or "").rpartition("@")
        ts = set_keys.get((name, int(version))) if version.isdigit() else None
        if ts is not None:
            graph.link(ts, model_keys[(entry["name"], entry["version"])])
    return graph


def _linked(
    link: Mapping[str, Any],
    by_version: Mapping[tuple[str, int], str],
    sets: Mapping[tuple[str, int], str],
    models: Mapping[tuple[str, str], str],
    source_name: str | None,
    root: str,
) -> str | None:
    kind = link.get("kind")
    if kind == "table_version":
        return by_version.get((link["name"], link["version"]))
    if kind == "training_set":
        return sets.get((link["name"], link["version"]))
    if kind == "model":
        return models.get((link["name"], link["version"]))
    if kind == "source" and source_name is not None and link.get("name") == source_name:
        return root
    return None


def _reaches(graph: Graph, start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for a, b in graph.edges:
            if a == here and b not in seen:
                if b == goal:
                    return True
                seen.add(b)
                todo.append(b)
    return False


# -- nodes -----------------------------------------------------------------------------------------


def _model_node(name: str, version: Any, *, origin: bool = False) -> Node:
    return Node(
        f"model:{name}@{version}",
        "model",
        f"model {name}@{version}",
        "audit: what it was trained on",
        href=f"/models/{quote(name)}/audit?{urlencode({'version': version})}",
        origin=origin,
    )


def _training_set_node(name: str, version: int, detail: str = "", origin: bool = False) -> Node:
    return Node(
        f"training_set:{name}@{version}",
        "training_set",
        f"training set {name}@{version}",
        detail or "training set",
        href=f"/training-sets?{urlencode({'name': name})}#ts-{quote(name)}-{version}",
        origin=origin,
    )


def _table_version_node(
    table: str, version: int, *, detail: str = "", origin: bool = False
) -> Node:
    return Node(
        f"table:{table}@{version}",
        "table_version",
        f"{table}@{version}",
        detail or "table version",
        href=_table_href(table, version),
        origin=origin,
    )


def _run_node(run: Mapping[str, Any], *, detail: str = "") -> Node:
    return Node(
        f"run:{run['run_id']}",
        "run",
        f"run {run.get('job') or run.get('kind')}",
        detail or f"{run.get('status', '')} · {str(run['run_id'])[:8]}",
        href=_run_href(run["run_id"]),
    )


def _source_node(name: str, kind: str | None, *, origin: bool = False) -> Node:
    return Node(
        f"source:{name}",
        "source",
        name.rsplit("/", 1)[-1] or name,
        f"{kind or 'source'}: {name}",
        href=f"/impact?{urlencode({'source': name})}",
        origin=origin,
    )


def _table_href(table: str, version: int) -> str:
    return f"/tables/{quote(table)}?{urlencode({'version': version})}"


def _run_href(run_id: str) -> str:
    return f"/runs/{quote(str(run_id))}"


# -- layout and drawing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    node: Node
    x: int
    y: int


def layout(graph: Graph) -> tuple[list[Placed], int, int]:
    """Columns by longest path from a root; rows by the parents' mean row (one sweep)."""
    parents: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        parents[b].append(a)
    column: dict[str, int] = {}

    def depth(key: str, trail: frozenset[str]) -> int:
        if key not in column:
            ups = [p for p in parents[key] if p not in trail]
            column[key] = 1 + max((depth(p, trail | {key}) for p in ups), default=-1)
        return column[key]

    for key in graph.nodes:
        depth(key, frozenset())
    columns: dict[int, list[str]] = {}
    for key in graph.nodes:  # insertion order: the order the result lists them
        columns.setdefault(column[key], []).append(key)
    row: dict[str, float] = {}
    for index in sorted(columns):
        keys = columns[index]
        order = {k: i for i, k in enumerate(keys)}

        def rank(key: str, order: Mapping[str, int] = order) -> tuple[float, int]:
            seen = [row[p] for p in parents[key] if p in row]
            return (sum(seen) / len(seen) if seen else 0.0, order[key])

        keys.sort(key=rank)
        for i, key in enumerate(keys):
            row[key] = i
    placed = [
        Placed(graph.nodes[k], PAD + c * (NODE_W + GAP_X), PAD + i * (NODE_H + GAP_Y))
        for c, keys in sorted(columns.items())
        for i, k in enumerate(keys)
    ]
    width = PAD * 2 + max(columns, default=0) * (NODE_W + GAP_X) + NODE_W
    height = PAD * 2 + max((len(k) for k in columns.values()), default=1) * (NODE_H + GAP_Y)
    return placed, width, height


def to_svg(graph: Graph, *, title: str) -> Markup:
    placed, width, height = layout(graph)
    at = {p.node.key: p for p in placed}
    parts = [
        f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/>'
        "</marker></defs>",
    ]
    for a, b in graph.edges:
        start, end = at[a], at[b]
        x1, y1 = start.x + NODE_W, start.y + NODE_H // 2
        x2, y2 = end.x, end.y + NODE_H // 2
        if x2 <= x1:  # a link within one column: go round the right side
            x2, x1 = end.x + NODE_W, start.x + NODE_W
            bend = x1 + GAP_X // 2
            d = f"M {x1} {y1} C {bend} {y1}, {bend} {y2}, {x2} {y2}"
        else:
            mid = (x1 + x2) // 2
            d = f"M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2} {y2}"
        parts.append(f'<path class="edge" d="{d}" marker-end="url(#arrow)"/>')
    for p in placed:
        node = p.node
        classes = f"node node-{node.kind}" + (" node-origin" if node.origin else "")
        body = (
            f'<rect x="{p.x}" y="{p.y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text class="label" x="{p.x + 10}" y="{p.y + 18}">{escape(_cut(node.label))}</text>'
            f'<text class="detail" x="{p.x + 10}" y="{p.y + 34}">{escape(_cut(node.detail))}</text>'
            f"<title>{escape(node.label)}&#10;{escape(node.detail)}</title>"
        )
        key = escape(node.key)
        if node.href:
            parts.append(
                f'<a href="{escape(node.href)}" class="{classes}" data-key="{key}">{body}</a>'
            )
        else:
            parts.append(f'<g class="{classes}" data-key="{key}">{body}</g>')
    parts.append("</svg>")
    return Markup("".join(parts))


# -- helpers ---------------------------------------------------------------------------------------


def _ends(items: Sequence[Any], limit: int) -> tuple[list[Any], int]:
    """The first and last ``limit // 2`` of ``items`` when there are more than ``limit``."""
    if len(items) <= limit:
        return list(items), 0
    half = limit // 2
    return list(items[:half]) + list(items[-half:]), len(items) - 2 * half


def _cut(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows(value: Any) -> str:
    if not isinstance(value, int):
        return "? rows"
    return "1 row" if value == 1 else f"{value:,} rows"
