"""The ``lake`` command line.

Each command parses its options, calls one method of :class:`lake.faces.api.Lake` and prints
the result; there is no logic here. A :class:`~lake.core.errors.LakeError` becomes one line
on standard error and exit code 1, in :func:`main` only (``--debug`` shows the
traceback). Heavy libraries are imported by the API on first use, so ``lake --help``
answers at once.
"""

from __future__ import annotations

import gc
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from lake.core import blas, collection
from lake.core.errors import LakeError
from lake.faces.render import plural, short_path, short_run_id

if TYPE_CHECKING:
    import click

    from lake.faces.api import Lake

_state = {"debug": False}
_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}


NOT_PLAIN = object()


def plain_value(param: TyperOption | TyperArgument, value: Any) -> Any:
    """``value`` as typer would coerce it, when that needs no work: a missing value, text for
    a text parameter, a flag's ``True``/``False``, texts for a list of texts (a list, as typer
    makes it), a default already of its type, a choice spelled as one of its values.
    Anything else returns ``NOT_PLAIN`` and goes through typer, whose coercion builds a
    pydantic adapter (importing pydantic costs a catalog-only command a third of its start-up).
    """
    described = param.type_descriptor
    info = described.parameter_info
    if info.parser is not None or getattr(info, "click_type", None) is not None:
        return NOT_PLAIN
    if value is None:
        if param.required:  # typer says what is missing
            return NOT_PLAIN
        return () if param.multiple or param.nargs == -1 else None
    annotation = described.annotation
    if annotation is str and type(value) is str:
        return value
    if annotation is int and type(value) is int and not described.is_ranged:
        return value
    if annotation is bool and type(value) is bool:
        return value
    if (
        annotation == list[str]
        and type(value) in (tuple, list)
        and (value or not param.required)  # typer says what is missing
        and all(type(item) is str for item in value)
    ):
        return list(value)
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        if isinstance(value, annotation):
            return value
        if type(value) is str and value in annotation._value2member_map_:
            return annotation(value)
    return NOT_PLAIN


def _process_plain(param: TyperOption | TyperArgument, ctx: click.Context, value: Any) -> Any:
    plain = plain_value(param, value)
    if plain is NOT_PLAIN:
        return NOT_PLAIN
    return param.callback(ctx, param, plain) if param.callback is not None else plain


class _Option(TyperOption):
    """An option shown as the tools people know show one: a flag alone (``--debug``), a
    value with its kind (``--limit INTEGER``, ``--output [table|json]``)."""

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        found = _process_plain(self, ctx, value)
        return super().process_value(ctx, value) if found is NOT_PLAIN else found

    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag:
            return None
        label = super().display_type_rich(ctx) or ""
        inner = label.removeprefix("<").removesuffix(">")
        return f"[{inner}]" if "|" in inner else _TYPE_NAMES.get(inner, inner.upper())


class _Argument(TyperArgument):
    """An argument shown by its name in capitals: ``TABLE``, ``[NAME]``, ``PATHS...``."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        found = _process_plain(self, ctx, value)
        return super().process_value(ctx, value) if found is NOT_PLAIN else found

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")


class _Command(TyperCommand):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _conventional(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _conventional(super().get_params(ctx))


class _LakeGroup(_Group):
    """Turns a LakeError into one line on standard error and exit code 1, in one place;
    shows every command's options and arguments the usual way (see :class:`_Option`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _conventional_commands(self)

    def invoke(self, ctx: typer.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except LakeError as error:
            if _state["debug"]:
                raise
            from lake.faces.render import print_error

            print_error(str(error))
            ctx.exit(1)


def _conventional(params: list[click.Parameter]) -> list[click.Parameter]:
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _Option
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
            param.metavar = param.metavar or (param.name or "").upper()
    return params


def _conventional_commands(group: click.Group) -> None:
    for command in group.commands.values():
        if command.help:  # the summary is one paragraph, whatever the docstring's line breaks
            import inspect

            summary, _, rest = inspect.cleandoc(command.help).partition("\n\n")
            command.help = " ".join(summary.split()) + (f"\n\n{rest}" if rest else "")
        if type(command) is TyperGroup:
            command.__class__ = _Group
            _conventional_commands(command)  # type: ignore[arg-type]
        elif type(command) is TyperCommand:
            command.__class__ = _Command


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("lake")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            from lake import __version__ as found
        sys.stdout.write(f"lake {found}\n")
        raise typer.Exit()


app = typer.Typer(
    name="lake",
    cls=_LakeGroup,
    help=(
        "A data lake and catalog for machine-learning teams: ingest raw logs and database "
        "extracts as versioned Delta tables, query them with SQL, materialize reproducible "
        "training sets and audit what fed a model.\n\n"
        "Example:  lake init && lake tables --output json"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
catalog_app = typer.Typer(help="Maintain the catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
ingest_app = typer.Typer(
    help="Land raw logs and database extracts as versioned tables.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")


class Output(StrEnum):
    table = "table"
    json = "json"


# Options shared by commands, defined once.
WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="Where data lives: a folder or s3://bucket/prefix (env LAKE_WAREHOUSE).",
        show_default=False,
    ),
]
CatalogOption = Annotated[
    str | None,
    typer.Option(
        "--catalog", help="The catalog's SQLAlchemy URL (env LAKE_CATALOG_URL).", show_default=False
    ),
]
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="table for people, json for programs.")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster for --engine ray (default: RAY_ADDRESS, else a local Ray).",
        show_default=False,
    ),
]
OwnedOption = Annotated[
    bool,
    typer.Option(
        "--owned",
        help="The table is external (lake table register) and the lake owns its files now.",
    ),
]
# Limits of read-only queries (`lake sql --read-only`, `lake serve`); defaults from [query].
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="DuckDB memory of one read-only query, e.g. 2GB (env LAKE_QUERY_MEMORY_LIMIT).",
        show_default=False,
    ),
]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        max=1024,
        help="DuckDB threads of one read-only query (env LAKE_QUERY_THREADS, default 2).",
        show_default=False,
    ),
]
MaxBytesOption = Annotated[
    str | None,
    typer.Option(
        "--max-bytes",
        help="Most bytes one read-only answer holds, e.g. 100MiB (env LAKE_QUERY_MAX_BYTES).",
        show_default=False,
    ),
]


def _lake(warehouse: str | None, catalog: str | None, *, create: bool = False) -> Lake:
    """The lake named by the flags, ``LAKE_*`` or the nearest ``lake.toml`` (as git finds its
    repository); with none, every command but ``lake init`` stops with "no lake here"."""
    from lake.faces.api import connect

    return connect(warehouse=warehouse, catalog=catalog, create=create)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors (or LAKE_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    _state["debug"] = debug or os.environ.get("LAKE_DEBUG") == "1"


# -- set-up --------------------------------------------------------------------------------


@app.command()
def init(warehouse: WarehouseOption = None, catalog: CatalogOption = None) -> None:
    """Write lake.toml in this folder and prepare the warehouse and the catalog: the only
    command that makes a lake (the others find one here or in a folder above).

    Example:  lake init --warehouse s3://ml-lake/prod --catalog postgresql+psycopg2://lake@db/lake
    """
    from pathlib import Path

    from lake.core.config import (
        DEFAULT_CATALOG,
        DEFAULT_WAREHOUSE,
        without_password,
        write_config_file,
    )
    from lake.faces.render import print_message

    lk = _lake(warehouse, catalog, create=True)
    with lk:
        result = lk.init()
        origins = lk.config.origins
        # lake.toml records what the user chose; values that came from the environment stay there.
        written = write_config_file(
            Path.cwd(),
            warehouse=warehouse
            or (
                lk.config.warehouse
                if origins["warehouse"].startswith("lake.toml")
                else DEFAULT_WAREHOUSE
            ),
            catalog_url=catalog
            or (
                lk.config.catalog_url
                if origins["catalog_url"].startswith("lake.toml")
                else DEFAULT_CATALOG
            ),
        )
        left_out = ""
        if catalog and without_password(catalog) != catalog:
            left_out = (
                " without the catalog password (give it in PGPASSWORD or ~/.pgpass, or name "
                "an environment variable with catalog_password_env in lake.toml)"
            )
        print_message(
            f"Lake ready: warehouse {lk.config.warehouse}, catalog "
            f"{lk.describe_config()['catalog_url']['value']} ({result['catalog']}); "
            f"wrote {written.name}{left_out}."
        )


@app.command()
def config(
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Show the resolved configuration and where each value came from (secrets masked).

    Example:  lake config --output json
    """
    from lake.faces.render import print_json, print_rows

    described = _lake(warehouse, catalog).describe_config()
    if output is Output.json:
        print_json(described)
    else:
        print_rows(
            [{"setting": k, "value": v["value"], "from": v["from"]} for k, v in described.items()]
        )


# -- inspecting ------------------------------------------------------------------------------


@app.command()
def tables(
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List the lake's tables with their current version's rows, bytes and last write.

    Example:  lake tables --output json
    """
    from lake.faces.render import print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        found = [t.to_json() for t in lk.table_summaries()]
    if output is Output.json:
        print_json(found)
    else:
        print_rows(
            [{**t, "version": t["current_version"]} for t in found],
            columns=["table", "kind", "version", "rows", "bytes", "last_write", "location"],
            empty="No tables yet.",
        )


table_app = typer.Typer(help="Bring in Delta tables other engines wrote.", no_args_is_help=True)
app.add_typer(table_app, name="table")


@table_app.command("register")
def table_register(
    table: Annotated[str, typer.Argument(help="namespace.table to register it as")],
    location: Annotated[
        str, typer.Argument(help="The Delta table's folder or s3://bucket/prefix.")
    ],
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Register a Delta table another engine wrote (Spark, Databricks, delta-rs, Flink...)
    with every version its log still has; the lake reads it and never writes to it.

    Example:  lake table register sales.orders s3://warehouse/spark/orders
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        registered = lk.register_table(table, location)
    if output is Output.json:
        print_json(registered.to_json())
        return
    first = registered.oldest
    cleaned = f" (versions before {first} were cleaned up by its writer)" if first else ""
    print_message(
        f"{registered.table.name}: external Delta table at {registered.table.location}, versions "
        f"{first} to {registered.latest}{cleaned}; {len(registered.recorded)} recorded now."
    )


@app.command()
def describe(
    table: Annotated[
        str, typer.Argument(help="namespace.table, or TABLE@N / TABLE@2026-11-20T10:00:00Z")
    ],
    version: Annotated[int | None, typer.Option("--version", help="Describe this version.")] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Show a table at one version: columns, size, and the run that made it.

    Example:  lake describe web.access@3
    """
    from lake.faces.render import print_json, print_mapping, print_rows

    with _lake(warehouse, catalog) as lk:
        found = lk.describe(table, version=version).to_json()
    if output is Output.json:
        print_json(found)
        return
    columns = found.pop("columns")
    version_info = found.pop("version") or {}
    run = found.pop("run") or {}
    summary = {
        **found,
        "version": version_info.get("version"),
        "committed_at": version_info.get("committed_at"),
        "operation": version_info.get("operation"),
        "rows": version_info.get("rows_total"),
        "bytes": version_info.get("bytes_total"),
        "run": f"{run.get('job')} ({short_run_id(run.get('run_id'))})" if run else None,
    }
    print_mapping(summary, title=found["table"])
    print_rows(columns, title="columns", empty="No columns (no version yet).")


@app.command()
def history(
    table: Annotated[str, typer.Argument(help="namespace.table")],
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List every version of a table with what changed and which run made it.

    Example:  lake history web.access --output json
    """
    from lake.faces.render import print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        found = [v.to_json() for v in lk.history(table)]
    if output is Output.json:
        print_json(found)
    else:
        print_rows(
            found,
            columns=[
                "version",
                "committed_at",
                "operation",
                "rows_added",
                "rows_removed",
                "rows_total",
                "files_total",
                "run_id",
            ],
            empty="No versions yet.",
        )


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    run_id: Annotated[str | None, typer.Option("--id", help="Show one run in full.")] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List recent runs (ingests, extracts, materializations), or show one.

    Example:  lake runs --limit 5 --output json
    """
    from lake.faces.render import print_json, print_mapping, print_rows

    with _lake(warehouse, catalog) as lk:
        if run_id:
            found = lk.run(run_id).to_json()
            print_json(found) if output is Output.json else print_mapping(
                found, title=f"run {run_id}"
            )
            return
        found_runs = [r.to_json() for r in lk.runs(limit=limit)]
    if output is Output.json:
        print_json(found_runs)
    else:
        print_rows(
            found_runs,
            columns=["run_id", "kind", "job", "status", "started_at", "ended_at"],
            empty="No runs yet.",
        )


# -- ingest ----------------------------------------------------------------------------------


class LogFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    text = "text"
    logfmt = "logfmt"
    w3c = "w3c"


@ingest_app.command("logs")
def ingest_logs(
    table: Annotated[str, typer.Argument(help="namespace.table (created on first ingest)")],
    paths: Annotated[
        list[str],
        typer.Argument(help="files, folders, globs or s3:// prefixes; plain, .gz, .zst, .bz2"),
    ],
    format: Annotated[
        LogFormat, typer.Option("--format", help="auto decides per file by its content.")
    ] = LogFormat.auto,
    pattern: Annotated[
        str | None, typer.Option("--pattern", help="A regex with named groups for text logs.")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="A layout of a known system; `lake presets` lists them."),
    ] = None,
    multiline_start: Annotated[
        str | None,
        typer.Option(
            "--multiline-start",
            help=(
                "A regex matching the first line of a record; other lines join the record "
                "before them. It wins over the start of the preset --format auto chooses."
            ),
        ),
    ] = None,
    time_field: Annotated[
        list[str] | None,
        typer.Option(
            "--time-field",
            help=(
                "The event time field (default: timestamp, time, @timestamp or ts; a preset's "
                "time). Fields joined by a space: date+time, or the option given twice."
            ),
        ),
    ] = None,
    time_format: Annotated[
        list[str] | None,
        typer.Option(
            "--time-format",
            help=(
                "How the time is written, strptime-style ('%y/%m/%d %H:%M:%S'); repeat to try "
                "several in order. epoch, epoch_ms, epoch_us, epoch_ns read numbers; iso8601."
            ),
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            help=(
                "The year of times written without one (RFC 3164 syslog). Default: the year "
                "the file was last modified (the year before for a later date)."
            ),
        ),
    ] = None,
    earliest: Annotated[
        str | None,
        typer.Option(
            "--earliest",
            help="Event times before this are not used (default 1970-01-02).",
        ),
    ] = None,
    latest: Annotated[
        str | None,
        typer.Option(
            "--latest",
            help="Event times after this are not used (default: a day after the ingest).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help=(
                "Text encoding of files without a byte-order mark: utf-8 (default), latin-1, "
                "cp1252, utf-16..."
            ),
        ),
    ] = None,
    reparse: Annotated[
        bool,
        typer.Option(
            "--reparse",
            help=(
                "Read the files again even if already ingested and replace their rows "
                "(new version; older versions keep the old parse)."
            ),
        ),
    ] = False,
    final: Annotated[
        bool,
        typer.Option(
            "--final",
            help=(
                "The files are complete: land their last records as they are. Without it, an "
                "append-only table holds back a last record that may be unfinished (a line "
                "without its end, a partial line, a trace) until the file grows."
            ),
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help=(
                "Where the files are parsed: local (here) or ray (a Ray cluster, one task per "
                "file). Same rows, ledger and drift either way; one version."
            ),
        ),
    ] = "local",
    ray_address: RayAddressOption = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Ingest raw log files into a table as one new version, without declaring a schema.

    Example:  lake ingest logs web.access ./logs/access.log.gz --preset apache-combined
    """
    from lake.faces.progress import ingest_progress
    from lake.faces.render import print_json, print_message, print_rows

    with (
        _lake(warehouse, catalog) as lk,
        ingest_progress(enabled=output is Output.table) as progress,
    ):
        report = lk.ingest_logs(
            table,
            paths,
            format=format.value,
            pattern=pattern,
            preset=preset,
            multiline_start=multiline_start,
            time_field=time_field,
            time_format=time_format,
            year=year,
            earliest=earliest,
            latest=latest,
            progress=progress,
            encoding=encoding,
            reparse=reparse,
            final=final,
            engine=engine,
            ray_address=ray_address,
        )
    if output is Output.json:
        print_json(report.to_json())
        return
    print_rows(
        [
            {
                "file": short_path(f.uri),
                "status": f.status,
                "read": f.records_read,
                "parsed": f.records_parsed,
                "failed": f.records_failed,
                "parser": f.parser,
                "note": f.note,
            }
            for f in report.files
        ]
    )
    _print_drift(report.table, report.drift)
    for held in report.held_back:
        print_message(held)
    where = (
        f"version {report.version} of {report.table}"
        if report.version is not None
        else f"{report.table} (nothing new: no version)"
    )
    times = report.event_times_json()
    if times is not None:
        why = ", ".join(f"{k} {v}" for k, v in times["reasons"].items())
        others = ", ".join(f"{v} from {k}" for k, v in times.get("from_other_fields", {}).items())
        print_message(
            f"Event time from {times['time_field'] or '(no time field found)'}: "
            f"{times['with_time']} records have one"
            + (f" ({others})" if others else "")
            + f", {times['without_time']} do not"
            + (f" ({why}; see _error)." if why else ".")
        )
    print_message(
        f"{plural(report.records_read, 'record')} read, {report.records_parsed:,} parsed, "
        f"{report.records_failed:,} failed (kept with _error), "
        f"{plural(report.files_skipped, 'file')} skipped -> {where} in {report.seconds:.1f}s."
    )
    if report.engine is not None:
        tasks = report.engine["tasks"]
        print_message(
            f"ray engine: {plural(len(tasks), 'task')} in {report.engine['rounds']} round(s); "
            f"parsing {report.engine['seconds_tasks']:.3f} s, joining "
            f"{report.engine['seconds_join']:.3f} s."
        )


@ingest_app.command("files")
def ingest_files(
    table: Annotated[str, typer.Argument(help="namespace.table (created on first ingest)")],
    paths: Annotated[list[str], typer.Argument(help="Files, folders, globs or s3:// prefixes.")],
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Store binary files (images, audio, documents) once each by sha256 in the warehouse,
    one row per file in TABLE (uri, source, sha256, size, media_type, media_type_from,
    width, height, duration_s, sample_rate, channels, _error).

    Example:  lake ingest files media.images ./photos --output json
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        report = lk.ingest_files(table, paths)
    if output is Output.json:
        print_json(report.to_json())
    else:
        print_message(
            f"{report.table}@{report.version}: {report.files} file(s), {report.bytes:,} bytes, "
            f"{report.new_objects} new object(s) stored."
        )


@app.command()
def presets(output: OutputOption = Output.table) -> None:
    """List the text log presets: each one's regex, time format and an example line.

    Example:  lake presets --output json
    """
    from ingest.logs.textlogs import PRESETS
    from lake.faces.render import print_json, print_presets

    found = [p.to_json() for p in PRESETS.values()]
    if output is Output.json:
        print_json(found)
        return
    print_presets(found)


class ExtractMode(StrEnum):
    full = "full"
    incremental = "incremental"


@ingest_app.command("db")
def ingest_db(
    table: Annotated[str, typer.Argument(help="namespace.table (created on first extract)")],
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="The source database's SQLAlchemy URL (postgresql+psycopg2://, mysql+pymysql://, sqlite:///).",
            show_default=False,
        ),
    ],
    source_table: Annotated[
        str | None,
        typer.Option("--table", help="The source table or view (schema.table for Postgres/MySQL)."),
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="A SELECT to extract instead of a table.")
    ] = None,
    mode: Annotated[
        ExtractMode,
        typer.Option(
            "--mode",
            help=(
                "full: the version is exactly the source's rows; incremental: rows at or past "
                "the watermark."
            ),
        ),
    ] = ExtractMode.full,
    cursor: Annotated[
        str | None,
        typer.Option(
            "--cursor",
            help=(
                "The column the watermark follows (e.g. updated_at); needed by --mode incremental."
            ),
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help=(
                "Column(s) identifying a row, comma-separated: incremental rows are merged by it, "
                "full extracts compared by it."
            ),
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Extract a database table or query into a table as one new version (full or incremental).

    Example:  lake ingest db shop.orders --source postgresql+psycopg2://reader@db/shop \
--table orders --mode incremental --cursor updated_at --key id
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        report = lk.ingest_db(
            table,
            source=source,
            table_name=source_table,
            query=query,
            mode=mode.value,
            cursor=cursor,
            key=key,
        )
    if output is Output.json:
        print_json(report.to_json())
        return
    _print_drift(report.table, report.drift)
    if report.version is not None:
        where = f"version {report.version} of {report.table}"
    elif report.unchanged_at is not None:
        where = f"{report.table} unchanged at version {report.unchanged_at} (no new version)"
    else:
        where = f"{report.table} (nothing new: no version)"
    changed = "?" if report.rows_changed is None else report.rows_changed
    mark = (
        f", watermark {report.watermark['column']} = {report.watermark['value']}"
        if report.watermark
        else ""
    )
    print_message(
        f"{plural(report.rows, 'row')} read ({report.mode}): {report.rows_added:,} added, "
        f"{report.rows_removed:,} removed, {changed} changed -> {where}{mark} in "
        f"{report.seconds:.1f}s."
    )


@app.command()
def schema(
    table: Annotated[str, typer.Argument(help="namespace.table or TABLE@N")],
    history: Annotated[bool, typer.Option("--history", help="Also show the drift ledger.")] = False,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Show a table's schema and, with --history, every column added, widened or in conflict.

    Example:  lake schema web.access --history
    """
    from lake.faces.render import print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        found = lk.schema(table, history=history)
    if output is Output.json:
        print_json(found)
        return
    print_rows(
        found["columns"],
        title=f"{found['table']} at version {found['version']}",
        empty="No version yet.",
    )
    if history:
        print_rows(
            found["history"],
            title="drift ledger",
            columns=["version", "column", "change", "old_type", "new_type", "source", "line"],
            empty="No schema changes recorded.",
        )


@app.command()
def optimize(
    table: Annotated[str, typer.Argument(help="namespace.table")],
    owned: OwnedOption = False,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Compact a table's small files into large ones: a new version with the same rows.

    Example:  lake optimize web.access
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        version = lk.optimize(table, owned=owned)
    if output is Output.json:
        print_json(version.to_json() if version else None)
    elif version is None:
        print_message(f"{table}: nothing to compact.")
    else:
        print_message(
            f"{table}: version {version.version}, {plural(version.files_removed, 'file')} "
            f"compacted into {version.files_added:,} "
            f"({plural(version.files_total, 'file')} in all)."
        )


class SqlOutput(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


@app.command()
def sql(
    query: Annotated[
        str, typer.Argument(help="One DuckDB SQL statement; - reads it from standard input.")
    ],
    output: Annotated[
        SqlOutput,
        typer.Option("--output", "-o", help="table for people; csv, json or parquet for programs."),
    ] = SqlOutput.table,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write to this file (required for parquet).", show_default=False
        ),
    ] = None,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only", help="Lock DuckDB down: read the query's lake tables and nothing else."
        ),
    ] = False,
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", help="Stop after this many rows.", show_default=False),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Stop the query after this many seconds (--read-only: default query.timeout, 30).",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help=(
                "Also show, on standard error, the files and bytes read of each table version "
                "and the files skipped by partition or statistics."
            ),
        ),
    ] = False,
    memory_limit: MemoryLimitOption = None,
    threads: ThreadsOption = None,
    max_bytes: MaxBytesOption = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Query lake tables with SQL (DuckDB), any version: VERSION AS OF 3, TIMESTAMP AS OF '...',
    AT (VERSION => 3). JSON output lists the table versions read and what was read of each.

    Example:  lake sql "SELECT request.method, count(*) FROM web.logs VERSION AS OF 3 GROUP BY 1"
    """
    from queries.output import print_scans, write_result

    text = sys.stdin.read() if query == "-" else query
    with _lake(warehouse, catalog) as lk:
        result = lk.sql(
            text,
            read_only=read_only,
            max_rows=max_rows,
            timeout_s=timeout,
            max_bytes=_size_option("--max-bytes", max_bytes),
            memory_limit=_size_option("--memory-limit", memory_limit),
            threads=threads,
        )
    write_result(result, format=output.value, out=out)
    if result.truncated and output is not SqlOutput.table:  # the table says so itself
        # a CSV or Parquet file holds no room to say it was cut, and a program reading JSON
        # may not look: read-only answers are cut at query.max_bytes (100 MiB) by default
        sys.stderr.write(
            f"lake sql: the answer holds only its first {result.num_rows:,} rows: the row or "
            "byte limit was reached (--max-rows, --max-bytes, [query] max_bytes).\n"
        )
    if explain:
        print_scans(result)


def _size_option(flag: str, value: str | None) -> int | None:
    from lake.core.config import parse_size
    from lake.core.errors import ConfigError

    if value is None:
        return None
    size = parse_size(value)
    if size is None:
        raise ConfigError(f"{flag} is {value!r}; write a size such as 2GB or 512MiB.")
    return size


# -- training sets, models, audit, retention -------------------------------------------------

model_app = typer.Typer(
    help="Register models and the training sets they were trained on.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@app.command()
def materialize(
    name: Annotated[
        str | None,
        typer.Argument(
            help="The training set's name (each run with new inputs is its next version)."
        ),
    ] = None,
    sql: Annotated[
        str | None,
        typer.Option(
            "--sql",
            help="The query; time travel allowed. - reads it from standard input.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            help="Folder (local or s3://bucket/prefix) for the shards and .lake/manifest.json.",
        ),
    ] = ...,  # type: ignore[assignment]
    shard_rows: Annotated[
        int | None,
        typer.Option(
            "--shard-rows", help="Rows per Parquet file (default 1,048,576).", show_default=False
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="Splits and fractions, e.g. train=0.8,validation=0.1,test=0.1 (with --split-key).",
            show_default=False,
        ),
    ] = None,
    split_key: Annotated[
        str | None,
        typer.Option(
            "--split-key",
            help="The output column whose stable hash decides each row's split.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Pin every input to its version current at this time (ISO 8601 with offset).",
            show_default=False,
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help=(
                "Rebuild from a manifest (file or folder) or NAME@VERSION, and prove it identical."
            ),
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help=(
                "Where the query runs: local (DuckDB here) or ray (a Ray cluster; projections, "
                "filters and joins with small tables). Same content hash either way."
            ),
        ),
    ] = "local",
    ray_address: RayAddressOption = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Materialize a reproducible training set: every input table pinned to one version,
    Parquet shards and a manifest with the content hash; or rebuild one with --from.

    Example:  lake materialize churn \
--sql "SELECT * FROM web.access JOIN shop.orders USING (user_id)" --out ./data/churn
    """
    from lake.faces.progress import ingest_progress
    from lake.faces.render import print_json, print_message

    text = sys.stdin.read() if sql == "-" else sql
    with (
        _lake(warehouse, catalog) as lk,
        ingest_progress(enabled=output is Output.table, sized=False, noun="row") as progress,
    ):
        result = lk.materialize(
            name,
            sql=text,
            out=out,
            shard_rows=shard_rows,
            split=split,
            split_key=split_key,
            as_of=as_of,
            from_=from_,
            progress=progress,
            engine=engine,
            ray_address=ray_address,
        )
    if output is Output.json:
        print_json(result.to_json())
        return
    inputs = ", ".join(f"{i['table']}@{i['version']}" for i in result.inputs)
    what = {
        "materialized": "materialized",
        "cached": "cache hit: already materialized, nothing recomputed",
        "copied": "written again (same SQL and versions as the registered version)",
        "rebuilt": "rebuilt from the recorded versions: content hash identical"
        + ("" if result.files_identical else " (Parquet bytes differ)"),
    }[result.status]
    print_message(
        f"{result.ref}: {what}; {plural(result.row_count, 'row')} in "
        f"{plural(len(result.files), 'file')}, content "
        f"{result.content_hash[:16]}..., read {inputs or 'no tables'} -> {result.manifest} in "
        f"{result.seconds:.2f}s."
    )
    if engine == "ray":
        for note in result.notes:
            print_message(note)


@model_app.command("register")
def model_register(
    model: Annotated[str, typer.Argument(help="The model's name.")],
    training_set: Annotated[
        str,
        typer.Option("--training-set", help="NAME or NAME@VERSION (default: its newest version)."),
    ],
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            help="The model's version, a whole number (default: the next one).",
            show_default=False,
            min=1,
        ),
    ] = None,
    uri: Annotated[
        str | None,
        typer.Option("--uri", help="Where the model's artifact lives.", show_default=False),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Metrics as a JSON object, e.g. '{\"auc\": 0.91}'.",
            show_default=False,
        ),
    ] = None,
    code_version: Annotated[
        str | None,
        typer.Option(
            "--code-version",
            help="The training code's version (default: the git commit of the current folder).",
            show_default=False,
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Register a model version trained on a training set; its input data is then kept by vacuum.

    Example:  lake model register churn_gbm --training-set churn@2 --uri s3://models/churn/7 \
--metrics '{"auc": 0.91}'
    """
    import json

    from lake.core.errors import ConfigError
    from lake.faces.render import print_json, print_message

    try:
        parsed = json.loads(metrics) if metrics else None
    except ValueError as error:
        raise ConfigError(
            f"--metrics is not valid JSON ({error.msg} at column {error.colno}); "
            f"write e.g. '{{\"auc\": 0.91}}'."
        ) from error
    if parsed is not None and not isinstance(parsed, dict):
        raise ConfigError("--metrics must be a JSON object, e.g. '{\"auc\": 0.91}'.")
    with _lake(warehouse, catalog) as lk:
        registered = lk.register_model(
            model,
            training_set=training_set,
            version=version,
            uri=uri,
            metrics=parsed,
            code_version=code_version,
        )
    if output is Output.json:
        print_json({**registered.to_json(), "code_version": registered.code_version})
    else:
        print_message(
            f"Registered model {registered.ref}, trained on {registered.training_set} "
            f"(run {registered.run_id}, code {registered.code_version})."
        )


@model_app.command("list")
def model_list(
    model: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List registered models and the training sets they were trained on.

    Example:  lake model list churn_gbm --output json
    """
    from lake.faces.render import print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        found = [m.to_json() for m in lk.models(model)]
    if output is Output.json:
        print_json(found)
    else:
        print_rows(
            found,
            columns=["name", "version", "training_set", "uri", "created_at"],
            empty="No models registered.",
        )


class SourcesShown(StrEnum):
    auto = "auto"
    all = "all"
    none = "none"


@app.command()
def audit(
    model: Annotated[
        str, typer.Argument(help="MODEL or MODEL@VERSION (default: the one registered last).")
    ],
    sources: Annotated[
        SourcesShown,
        typer.Option(
            "--sources",
            help=(
                "auto lists sources up to 2,000 (else counts per run); all lists every one; "
                "none counts only."
            ),
        ),
    ] = SourcesShown.auto,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Show everything behind a model: training set (SQL, content hash), each table version it
    read, the runs that produced their data, and those runs' source files and extracts.

    Example:  lake audit churn_gbm@3 --output json
    """
    from lake.faces.lineage_view import print_audit
    from lake.faces.render import print_json

    with _lake(warehouse, catalog) as lk:
        found = lk.audit(model, sources=sources.value).to_json()
    print_json(found) if output is Output.json else print_audit(found)


@app.command()
def impact(
    table_version: Annotated[
        str | None, typer.Argument(help="TABLE@VERSION, e.g. web.access@3.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help=(
                "A source instead: a path (relative or absolute), a file:// or s3:// URI (a "
                "folder or prefix: every file below it), or a database table/query name."
            ),
            show_default=False,
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List every table version, training set and model downstream of a table version or a
    source: what a bad batch reached.

    Example:  lake impact web.access@3 --output json
    """
    from lake.faces.lineage_view import print_impact
    from lake.faces.render import print_json

    with _lake(warehouse, catalog) as lk:
        found = lk.impact(table_version, source=source).to_json()
    print_json(found) if output is Output.json else print_impact(found)


@app.command()
def vacuum(
    table: Annotated[
        str | None, typer.Argument(help="namespace.table (default: every table)")
    ] = None,
    retain: Annotated[
        str, typer.Option("--retain", help="Keep versions newer than this: 7d, 12h, 30m, 0d.")
    ] = "7d",
    apply: Annotated[
        bool,
        typer.Option(
            "--apply/--dry-run",
            help="Delete (--apply), or only show what would go (--dry-run, the default).",
        ),
    ] = False,
    owned: OwnedOption = False,
    objects: Annotated[
        bool,
        typer.Option(
            "--objects",
            help="Also the binary assets (lake ingest files) no kept version names (all tables).",
        ),
    ] = False,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Delete data files no kept version needs; pinned versions (training sets, models, tags)
    are always kept. A dry run by default: shows the files and the bytes it would free.
    External tables are skipped unless named with --owned.
    With --objects, also the stored files no kept version's uri column names.

    Example:  lake vacuum web.access --retain 7d --apply
    """
    from lake.core.errors import ConfigError
    from lake.faces.render import print_json, print_message, print_rows

    if objects and table is not None:
        raise ConfigError("--objects looks at every table; leave out TABLE.")
    with _lake(warehouse, catalog) as lk:
        reports = lk.vacuum(table, retain=retain, apply=apply, owned=owned)
        swept = lk.vacuum_objects(retain=retain, apply=apply) if objects else None
    if output is Output.json:
        tables = [r.to_json() for r in reports]
        print_json(tables if swept is None else {"tables": tables, "objects": swept.to_json()})
        return
    if swept is not None:
        print_message(
            f"objects: {'deleted' if apply else 'would delete'} {len(swept.files)} object(s), "
            f"{sum(b for _, b in swept.files):,} bytes; {swept.referenced} named by kept versions."
        )
    for report in reports:
        kept = "; ".join(f"v{k.version} ({', '.join(k.reasons)})" for k in report.kept)
        verb = "deleted" if report.applied else "would delete"
        print_message(
            f"{report.table}: {verb} {plural(len(report.files), 'file')}, "
            f"{report.bytes / 1e6:,.1f} MB; "
            f"kept {kept or 'nothing'}" + (f"; {'; '.join(report.notes)}" if report.notes else "")
        )
        if report.files and not report.applied:
            print_rows(
                [{"file": p, "bytes": s} for p, s in report.files[:20]],
                title=f"{report.table}: files to delete",
            )
    if not apply and (any(r.files for r in reports) or (swept and swept.files)):
        print_message("Dry run: nothing was deleted. Run again with --apply to delete these files.")


@app.command()
def tag(
    ref: Annotated[str, typer.Argument(help="TABLE@N to tag, or TABLE to list its tags and pins.")],
    name: Annotated[str | None, typer.Argument(help="The tag's name.")] = None,
    move: Annotated[
        bool, typer.Option("--move", help="Move the tag if it marks another version.")
    ] = False,
    delete: Annotated[
        str | None,
        typer.Option("--delete", help="Remove this tag from TABLE.", show_default=False),
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Tag a table version so vacuum keeps it, remove a tag, or list a table's tags and pins.

    Example:  lake tag web.access@3 before-backfill
    """
    from lake.faces.render import print_json, print_message, print_rows

    with _lake(warehouse, catalog) as lk:
        if delete is not None:
            removed = lk.untag(ref, delete)
            print_json(removed.to_json()) if output is Output.json else print_message(
                f"Removed tag {removed.name} from {removed.table}@{removed.version}."
            )
            return
        if name is None:
            found = [p.to_json() for p in lk.pins(ref)]
            print_json(found) if output is Output.json else print_rows(
                found, columns=["version", "kind", "name", "created_at"], empty="No tags or pins."
            )
            return
        pinned = lk.tag(ref, name, move=move)
    if output is Output.json:
        print_json(pinned.to_json())
    else:
        print_message(f"Tagged {pinned.table}@{pinned.version} as {pinned.name}; vacuum keeps it.")


@catalog_app.command("sync")
def catalog_sync(
    table: Annotated[
        str | None, typer.Argument(help="namespace.table (default: every table)")
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Record Delta versions the catalog is missing (after a crash, or writes by other tools);
    let go of the claims of runs whose commit was in doubt and is not in the log (released).

    Every table: one that cannot be synced is named on standard error, one line each, the
    others are synced, and the exit code is 1.

    Example:  lake catalog sync web.access
    """
    from lake.faces.render import print_error, print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        results = [r.to_json() for r in lk.sync(table)]
    if output is Output.json:
        print_json(results)
    else:
        print_rows(
            results, columns=["table", "recorded", "latest", "released"], empty="No tables to sync."
        )
    failed = [r["error"] for r in results if r["error"]]
    for error in failed:
        print_error(error)
    if failed:
        raise typer.Exit(1)


# -- the HTTP service -------------------------------------------------------------------------

token_app = typer.Typer(
    help="Create, list and revoke the HTTP service's API tokens.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


class Role(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Interface to bind; 0.0.0.0 exposes the service to the network."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).")] = 8080,
    max_rows: Annotated[
        int, typer.Option("--max-rows", help="Most rows one SQL answer holds.")
    ] = 100_000,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds a SQL query may run, planning included (default query.timeout, 30).",
            show_default=False,
        ),
    ] = None,
    max_queries: Annotated[
        int,
        typer.Option(
            "--max-queries",
            min=1,
            help="SQL queries run at once (each a worker of up to --memory-limit); more are "
            "answered 503, try again.",
        ),
    ] = 4,
    memory_limit: MemoryLimitOption = None,
    threads: ThreadsOption = None,
    max_bytes: MaxBytesOption = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Serve the catalog over HTTP: read API under /api/v1, read-only SQL, OpenLineage in
    (POST /api/v1/lineage), bearer tokens; OpenAPI at /openapi.json.

    Example:  lake serve --host 127.0.0.1 --port 8080
    """
    from lake.faces.service import serve as run_service
    from lake.faces.service.app import ServiceSettings

    with _lake(warehouse, catalog) as lk:
        lk.init()
        limits = lk.config.query
        settings = ServiceSettings(
            max_rows=max_rows,
            timeout_s=timeout if timeout is not None else limits.timeout_s,
            max_bytes=_size_option("--max-bytes", max_bytes) or limits.max_bytes,
            memory_limit=_size_option("--memory-limit", memory_limit) or limits.memory_limit,
            threads=threads or limits.threads,
            max_queries=max_queries,
        )
        run_service(lk, host=host, port=port, settings=settings, announce=_announce)


def _announce(url: str) -> None:
    from lake.faces.render import print_message

    print_message(f"lake serve: listening on {url} (Ctrl-C stops)")
    sys.stdout.flush()  # a supervisor or a test reads this line from a pipe


@token_app.command("create")
def token_create(
    role: Annotated[
        Role,
        typer.Option(
            "--role", help="read: GET and SQL; write: also POST lineage; admin: everything."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="A label, e.g. who holds it.", show_default=False),
    ] = None,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Create an API token; it is shown this once (the catalog stores only its hash).

    Example:  lake token create --role read --name notebook
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        created = lk.create_token(role=role.value, name=name)
    if output is Output.json:
        print_json(created.to_json())
    else:
        print_message(f"Token {created.info.id} ({created.info.role}); shown once, keep it secret:")
        sys.stdout.write(created.secret + "\n")


@token_app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List API tokens (never their secrets).

    Example:  lake token list --output json
    """
    from lake.faces.render import print_json, print_rows

    with _lake(warehouse, catalog) as lk:
        found = [t.to_json() for t in lk.tokens(include_revoked=all_)]
    if output is Output.json:
        print_json(found)
    else:
        print_rows(
            found,
            columns=["id", "name", "role", "created_at", "last_used_at", "revoked_at"],
            empty="No tokens.",
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (from lake token list).")],
    warehouse: WarehouseOption = None,
    catalog: CatalogOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Revoke an API token: requests with it are refused from now on.

    Example:  lake token revoke 3
    """
    from lake.faces.render import print_json, print_message

    with _lake(warehouse, catalog) as lk:
        revoked = lk.revoke_token(token_id)
    if output is Output.json:
        print_json(revoked.to_json())
    else:
        print_message(f"Revoked token {revoked.id} ({revoked.role}).")


def _print_drift(table: str, drift: Sequence[Mapping[str, Any]]) -> None:
    """One line counting the schema changes an ingest or extract made."""
    from lake.faces.render import print_message

    if drift:
        kinds = Counter(d["change"] for d in drift)
        print_message(
            "schema: "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            + f" (see: lake schema {table} --history)"
        )


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app holding only the command ``args`` name: typer builds every command's options
    before it runs one (a sixth of a catalog-only command's start-up). With no command named
    (``lake --help``) or an unknown one, the whole app, which lists them all."""
    from copy import copy

    from typer.main import get_command_name

    words = [arg for arg in args if not arg.startswith("-")]
    name = words[0] if words else None
    commands = [
        info
        for info in app.registered_commands
        if name == (info.name or get_command_name(info.callback.__name__))  # type: ignore[union-attr]
    ]
    groups = [info for info in app.registered_groups if name == info.name]
    if not commands and not groups:
        return app
    only = copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    if groups and len(words) > 1:  # lake ingest logs: the group holding only ``logs``
        group = copy(groups[0])
        group.typer_instance = _only_command(group.typer_instance, words[1])  # type: ignore[arg-type]
        only.registered_groups = [group]
    return only


def _only_command(group: typer.Typer, name: str) -> typer.Typer:
    """``group`` holding only its command ``name``; the whole group when it has none by that
    name (``lake ingest nosuch`` is answered by the group, which lists its commands)."""
    from copy import copy

    from typer.main import get_command_name

    commands = [
        info
        for info in group.registered_commands
        if name == (info.name or get_command_name(info.callback.__name__))  # type: ignore[union-attr]
    ]
    if not commands or group.registered_groups:
        return group
    only = copy(group)
    only.registered_commands = commands
    return only


def main() -> None:
    """Entry point of the ``lake`` command."""
    blas.one_thread()  # before numpy is imported: its idle BLAS threads spin (lake.core.blas)
    collection.pause()  # start-up makes objects that live to the end (lake.core.collection)
    try:
        app_for(sys.argv[1:])()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    finally:
        # The interpreter's last garbage collection walks every object left (0.14 s of a
        # 1M-line ingest's process, measured): nothing needs collecting at exit.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
