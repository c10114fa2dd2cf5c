"""Printing lineage for people: the audit chain and the impact of a bad batch as rich trees.

The JSON forms (``--output json``) are the results' ``to_json()``; these only draw them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lake.faces.render import plural, short_path

SOURCES_SHOWN = 5
CONTRIBUTIONS_SHOWN = 20
RUNS_SHOWN = 30


def print_audit(audit: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.tree import Tree

    model = audit.get("model")
    training_set = audit.get("training_set")
    if model is not None:
        root = Tree(
            f"[bold]model {_v(model['name'])}@{model['version']}[/]  "
            f"registered {_time(model['created_at'])}"
            + (f"  uri {_v(model['uri'])}" if model.get("uri") else "")
            + (f"  metrics {_v(_compact(model['metrics']))}" if model.get("metrics") else "")
        )
        code = model.get("code_version")
        root.add(
            f"code {_v(code)}"
            if code and code != "unknown"
            else "[yellow]code version not recorded[/] (lake model register --code-version)"
        )
        parent = root
    else:
        root = parent = Tree("[bold]audit[/]")
    if training_set is None:
        parent.add("[dim]no training set recorded[/]")
    else:
        node = parent.add(
            f"[bold]training set {_v(training_set['name'])}@{training_set['version']}[/]  "
            f"{training_set['row_count']:,} rows  content {training_set['content_hash'][:16]}...  "
            f"made {_time(training_set['created_at'])}"
        )
        node.add(f"[dim]SQL[/] {_v(_one_line(training_set['sql']))}")
        for table_version in training_set.get("inputs", []):
            _add_table_version(node, table_version)
    Console().print(root)
    if audit.get("inputs_complete") is False:
        Console().print(
            "[bold yellow]incomplete:[/] some runs read lake tables whose upstream is not "
            "listed (more levels than an audit lists); `lake impact` of a source walks every "
            "level."
        )


def _add_table_version(parent: Any, table_version: Mapping[str, Any]) -> None:
    contributions = table_version.get("data_from", [])
    node = parent.add(
        f"[bold cyan]{_v(table_version['table'])}@{table_version['version']}[/]  committed "
        f"{_time(table_version['committed_at'])}  {_count(table_version.get('rows_total'))} rows, "
        f"data from {plural(len(contributions), 'version')}"
    )
    shown = contributions
    if len(contributions) > CONTRIBUTIONS_SHOWN:  # a long append-only history: its ends
        half = CONTRIBUTIONS_SHOWN // 2
        shown = contributions[:half] + [None] + contributions[-half:]
    for contribution in shown:
        if contribution is None:
            hidden = len(contributions) - 2 * (CONTRIBUTIONS_SHOWN // 2)
            node.add(f"[dim]... {hidden} more versions (--output json lists all)[/]")
            continue
        run = contribution.get("run") or {}
        label = (
            f"v{contribution['version']} {_v(contribution['operation'])}  "
            f"{_count(contribution.get('rows_added'))} rows added"
            + (
                f"  run {_v(run.get('job'))} {_v(run.get('run_id', '')[:8])} "
                f"({_v(run.get('status'))}, {_time(run.get('started_at'))})"
                if run
                else "  [dim]no run recorded[/]"
            )
        )
        child = node.add(label)
        sources = contribution.get("sources")
        if sources is None:
            if contribution.get("source_count"):
                child.add(
                    f"[dim]{contribution['source_count']} sources "
                    f"(lake audit --sources all lists them)[/]"
                )
            sources = []
        for source in sources[:SOURCES_SHOWN]:
            child.add(_v(_source_label(source)))
        if len(sources) > SOURCES_SHOWN:
            child.add(
                f"[dim]... and {len(sources) - SOURCES_SHOWN} more sources "
                f"(--output json lists all)[/]"
            )
        for upstream in contribution.get("inputs", []):
            _add_table_version(child, upstream)
        if contribution.get("inputs_truncated"):
            child.add(
                "[bold]... this run read lake tables whose upstream is not listed "
                "(more levels than an audit lists)[/]"
            )


def _source_label(source: Mapping[str, Any]) -> str:
    facets = source.get("facets") or {}
    if source.get("kind") == "file":
        byte_range = facets.get("byte_range")
        where = (
            f" bytes {byte_range[0]}-{byte_range[1]}"
            if isinstance(byte_range, list) and len(byte_range) == 2
            else ""
        )
        digest = str(source.get("version") or "")[:16]
        return f"file {short_path(source['name'])}  sha256 {digest}...{where}"
    if source.get("kind") == "database":
        watermark = (
            facets.get("watermark") or facets.get("watermark_range") or source.get("version")
        )
        return f"database {source['namespace']} {source['name']}  watermark {_compact(watermark)}"
    return (
        f"{source.get('kind')} {source.get('namespace')} {source.get('name')} "
        f"{source.get('version') or ''}"
    ).rstrip()


def print_impact(impact: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.tree import Tree

    origin = impact["origin"]
    title = (
        f"{origin['table']}@{origin['version']}"
        if "table" in origin
        else f"source {origin.get('source')}"
    )
    root = Tree(f"[bold]impact of {_v(title)}[/]")
    matched = origin.get("matched") or []
    if matched and matched != [origin.get("source")]:
        shown = ", ".join(matched[:SOURCES_SHOWN])
        more = f" and {len(matched) - SOURCES_SHOWN} more" if len(matched) > SOURCES_SHOWN else ""
        root.add(f"[dim]recorded as[/] {_v(shown)}{more}")
    versions = root.add(f"table versions holding the data ({len(impact['table_versions'])})")
    by_table: dict[str, list[Mapping[str, Any]]] = {}
    for entry in impact["table_versions"]:
        by_table.setdefault(entry["table"], []).append(entry)
    for table, entries in by_table.items():
        versions.add(f"{_v(table)}: versions {version_ranges([e['version'] for e in entries])}")
    sets = root.add(f"training sets ({len(impact['training_sets'])})")
    for entry in impact["training_sets"]:
        sets.add(
            f"[bold]{_v(entry['name'])}@{entry['version']}[/]  "
            f"read {_v(', '.join(entry.get('read', [])) or '?')}  "
            f"{_v(entry.get('location') or '')}"
        )
    models = root.add(f"models ({len(impact['models'])})")
    for entry in impact["models"]:
        models.add(
            f"[bold red]{_v(entry['name'])}@{entry['version']}[/]  "
            f"trained on {_v(entry.get('training_set'))}"
        )
    runs = impact.get("runs", [])
    consumers = root.add(f"runs that read affected data ({len(runs)})")
    for run in runs[:RUNS_SHOWN]:
        wrote = ", ".join(_link(link) for link in run.get("wrote", [])) or "nothing recorded"
        consumers.add(
            f"{_v(run.get('job'))}  {_v(run.get('run_id', '')[:8])}  "
            + ("reported through OpenLineage  " if run.get("kind") == "external" else "")
            + f"{_v(run.get('status'))}, {_time(run.get('started_at'))}  wrote {_v(wrote)}"
        )
    if len(runs) > RUNS_SHOWN:
        consumers.add(
            f"[dim]... and {len(runs) - RUNS_SHOWN} more runs (--output json lists all)[/]"
        )
    Console().print(root)


def _link(link: Mapping[str, Any]) -> str:
    if link.get("kind") == "source":
        return str(link.get("name"))
    return f"{link.get('name')}@{link.get('version')}"


def version_ranges(values: Iterable[int]) -> str:
    """Versions as ranges, for people: ``[1, 2, 3, 5]`` -> ``1-3, 5``."""
    values = sorted(values)
    parts: list[str] = []
    start = previous = None
    for value in values:
        if start is None:
            start = previous = value
        elif value == previous + 1:
            previous = value
        else:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = previous = value
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def _v(value: Any) -> str:
    """A value from the catalog as text in a label: its brackets shown, never read as markup
    (a source path ``logs/[2024]/app.log`` or SQL ``tags[1]`` would otherwise lose them)."""
    from rich.markup import escape

    return escape(str(value))


def _time(value: Any) -> str:
    return str(value)[:19].replace("T", " ") if value else "?"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, default=str, separators=(",", ":"))[:120]
