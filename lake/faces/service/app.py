"""The service's routes: a thin HTTP face over :class:`lake.faces.api.Lake`, like the CLI.

Every list is paginated by ``limit`` (1-1000, default 100) and ``offset``; the answer is
``{"items": [...], "limit": L, "offset": O, "next_offset": O+L or null}``. Runs, which start
all the time, are paged by cursor instead (``after``/``before``; ``offset`` deprecated). Errors are
``{"error": "<one sentence>"}`` with a 4xx status (5xx only when the catalog or the
warehouse is down, or a data file in it cannot be read). Handlers are plain functions:
FastAPI runs them in its thread pool, as the catalog and DuckDB calls block.

Every answer has a typed schema in ``/openapi.json`` (the models of :mod:`lake.faces.schemas`,
the shapes ``--output json`` prints too), and each endpoint lists only the statuses it can
answer. Handlers hand FastAPI JSON that is already in that shape (``to_json()``), so it is
not validated again on the way out (that cost more than the catalog query under load); the
tests validate it instead. Each request is logged on one line by the ``lake.access`` logger
(method, path, status, time, the token's id; never a secret).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.exceptions import ModelNotFound, RunNotFound, TokenNotFound, TrainingSetNotFound
from catalog.openlineage_in import LineageEventInvalid, LineageRunOwned, LineageVersionOwned
from lake.core.errors import (
    CatalogError,
    CommitConflict,
    ConfigError,
    InvalidName,
    LakeError,
    StorageError,
    TableNotFound,
    VersionNotFound,
    VersionVacuumed,
)
from lake.faces import schemas
from lake.faces.api import Lake
from lake.faces.service.auth import AccessDenied, TokenCache, require
from queries.exceptions import QueryError, QueryTimeout

log = logging.getLogger("lake.service")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON_LINES = "application/x-ndjson"
API = "/api/v1"


@dataclass(frozen=True)
class ServiceSettings:
    max_rows: int = 100_000
    """Most rows one SQL answer holds; more are cut (header ``Lake-Truncated: true``)."""
    timeout_s: float | None = None
    """Wall-clock seconds of a SQL query, planning included; its worker is then killed (422).
    None: the lake's ``query.timeout`` (30 s by default)."""
    max_bytes: int | None = None
    """Most bytes (Arrow) one SQL answer holds; more rows are cut (``Lake-Truncated``).
    None: the lake's ``query.max_bytes`` (100 MiB)."""
    memory_limit: int | None = None
    """DuckDB memory of one SQL query in bytes; None: ``query.memory_limit`` (2 GiB)."""
    threads: int | None = None
    """DuckDB threads of one SQL query; None: ``query.threads`` (2)."""
    max_body_bytes: int = 1 << 20
    """Larger request bodies are refused (413) before they are read."""
    token_cache_s: float = 5.0
    """A checked token is trusted this long: a revoked one is refused within it."""
    max_queries: int = 4
    """SQL queries (API and console) run at once; another is answered 503 at once. Each runs
    in a worker of up to ``memory_limit`` (2 GiB): without a bound, the thread pool's 40
    requests could start 40 of them together."""


class ServiceBusy(LakeError):
    """The service already runs as many SQL queries as it may (503, ``Retry-After``)."""


class SqlRequest(BaseModel):
    sql: str = Field(
        min_length=1,
        max_length=100_000,
        description="One read-only DuckDB statement over lake tables.",
    )
    format: Literal["jsonl", "arrow"] | None = Field(
        default=None,
        description="jsonl (default) or arrow (Arrow IPC stream); else the Accept header decides.",
    )
    max_rows: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="At most this many rows (capped by the server's limit).",
    )


Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip.")]
AFTER = "A page's next_cursor: the runs started before that page's last (older)."
BEFORE = "A page's previous_cursor: the runs started after that page's first (newer)."
RUN_OFFSET = (
    "Deprecated: runs started between two requests shift offset pages (a run seen twice or "
    "never); page by after and before."
)
NO_NUL = r"^[^\x00]*$"
"""Names and ids given as text: the catalog's Postgres driver cannot even send a NUL (it
raised ValueError, a 500), and no name the lake stores holds one."""
TablePath = Annotated[str, Path(description="namespace.table", max_length=200)]
VersionPath = Annotated[int, Path(ge=0, le=2**62, description="A Delta version.")]
ERROR_MEANINGS = {
    400: "Bad input: an invalid name, query or setting.",
    401: "No bearer token, or an unknown or revoked one.",
    403: "The token's role is too weak for this endpoint.",
    404: "No such table, version, training set, model or run.",
    409: "A concurrent write won (try again), or a lineage event names a run or an output "
    "version the lake made.",
    410: "The version's data files were removed by vacuum.",
    413: "The request body is larger than the service's limit.",
    422: "A parameter or the body does not match this document.",
    503: "The catalog or the warehouse is unreachable, a data file in it cannot be read, "
    "or the service runs as many SQL queries as it may at once.",
}
READ = (401, 422, 503)
"""What every read endpoint can answer besides 200 (a read token is the weakest: no 403)."""


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": schemas.Error, "description": ERROR_MEANINGS[code]}
        for code in sorted(set(codes))
    }


def build_app(lake: Lake, settings: ServiceSettings) -> FastAPI:
    app = FastAPI(
        title="lake",
        version="1",
        description="The lake's catalog over HTTP: tables and versions, training sets, models, "
        "lineage (OpenLineage in), runs, and read-only SQL with time travel.",
        docs_url=None,  # /docs and /redoc come from the lake itself (lake.faces.web)
        redoc_url=None,
    )
    app.state.lake = lake
    app.state.settings = settings
    from queries import worker

    worker.warm()  # the first SQL query would otherwise wait for the worker server
    app.state.tokens = TokenCache(lake.check_token, settings.token_cache_s)
    slots = threading.BoundedSemaphore(settings.max_queries)

    def run_limited(lake: Lake, settings: ServiceSettings, sql: str, **options: Any) -> Any:
        """:func:`run_sql` within the service's bound on queries at once (API and console)."""
        if not slots.acquire(blocking=False):
            n = settings.max_queries
            raise ServiceBusy(
                f"The service is already running {n} SQL quer{'y' if n == 1 else 'ies'} at "
                "once, its limit (lake serve --max-queries); try again in a moment."
            )
        try:
            return run_sql(lake, settings, sql, **options)
        finally:
            slots.release()

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    _handlers(app)
    read = [Depends(require("read"))]
    write = [Depends(require("write"))]

    @app.get("/health", tags=["service"], response_model=schemas.Health)
    async def health() -> JSONResponse:
        """Liveness, without a token (for health checks)."""
        return _json({"status": "ok"})

    # -- tables --------------------------------------------------------------------------

    @app.get(
        f"{API}/tables",
        dependencies=read,
        tags=["tables"],
        response_model=schemas.TablePage,
        responses=_errors(*READ),
    )
    def list_tables(limit: Limit = 100, offset: Offset = 0) -> JSONResponse:
        """Every table with its current version's rows, bytes and commit time."""
        return _page([t.to_json() for t in lake.table_summaries()], limit, offset)

    @app.get(
        f"{API}/tables/{{table}}",
        dependencies=read,
        tags=["tables"],
        response_model=schemas.Table,
        responses=_errors(*READ, 400, 404),
    )
    def get_table(table: TablePath) -> JSONResponse:
        return _json(lake.table_summary(_name(table)).to_json())

    @app.get(
        f"{API}/tables/{{table}}/versions",
        dependencies=read,
        tags=["tables"],
        response_model=schemas.VersionPage,
        responses=_errors(*READ, 400, 404),
    )
    def table_versions(table: TablePath, limit: Limit = 100, offset: Offset = 0) -> JSONResponse:
        # From the catalog alone: re-reading the Delta log on every request would cost more
        # than the answer (writers record their versions; `lake catalog sync` heals the rest).
        versions = lake.catalog.versions(lake.catalog.get_table(_name(table)))
        return _page([v.to_json() for v in versions], limit, offset)

    @app.get(
        f"{API}/tables/{{table}}/schema",
        dependencies=read,
        tags=["tables"],
        response_model=schemas.TableSchema,
        responses=_errors(*READ, 400, 404),
    )
    def table_schema(
        table: TablePath, version: Annotated[int | None, Query(ge=0, le=2**62)] = None
    ) -> JSONResponse:
        name = str(_name(table))
        return _json(lake.schema(f"{name}@{version}" if version is not None else name))

    @app.get(
        f"{API}/tables/{{table}}/drift",
        dependencies=read,
        tags=["tables"],
        response_model=schemas.SchemaChangePage,
        responses=_errors(*READ, 400, 404),
    )
    def table_drift(table: TablePath, limit: Limit = 100, offset: Offset = 0) -> JSONResponse:
        """The drift ledger: each column added, widened or in conflict, where it first appeared."""
        return _page(lake.schema(str(_name(table)), history=True)["history"], limit, offset)

    @app.get(
        f"{API}/tables/{{table}}/versions/{{version}}/impact",
        dependencies=read,
        tags=["lineage"],
        response_model=schemas.Impact,
        responses=_errors(*READ, 400, 404),
    )
    def version_impact(table: TablePath, version: VersionPath) -> JSONResponse:
        """Every table version, training set, model and run downstream of this version."""
        return _json(lake.impact(f"{_name(table)}@{version}").to_json())

    # -- training sets and models ----------------------------------------------------------

    @app.get(
        f"{API}/training-sets",
        dependencies=read,
        tags=["training sets"],
        response_model=schemas.TrainingSetPage,
        responses=_errors(*READ),
    )
    def list_training_sets(
        name: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> JSONResponse:
        return _page([t.to_json() for t in lake.training_sets(name)], limit, offset)

    @app.get(
        f"{API}/training-sets/{{name}}/versions/{{version}}/manifest",
        dependencies=read,
        tags=["training sets"],
        response_model=schemas.Manifest,
        responses=_errors(*READ, 404),
    )
    def training_set_manifest(
        name: Annotated[str, Path(max_length=128, pattern=NO_NUL)],
        version: Annotated[int, Path(ge=0, le=2**31)],
    ) -> JSONResponse:
        """The training set's manifest (``.lake/manifest.json``): SQL, input versions, files."""
        found = [t for t in lake.training_sets(name) if t.version == version]
        if not found:
            raise TrainingSetNotFound(name, version)
        return _json(dict(found[0].manifest))

    @app.get(
        f"{API}/models",
        dependencies=read,
        tags=["models"],
        response_model=schemas.ModelPage,
        responses=_errors(*READ),
    )
    def list_models(
        name: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> JSONResponse:
        return _page([m.to_json() for m in lake.models(name)], limit, offset)

    @app.get(
        f"{API}/models/{{name}}/audit",
        dependencies=read,
        tags=["lineage"],
        response_model=schemas.Audit,
        responses=_errors(*READ, 400, 404),
    )
    def model_audit(
        name: Annotated[str, Path(max_length=128, pattern=NO_NUL)],
        version: Annotated[
            int | None, Query(ge=1, le=2**62, description="Default: the one registered last.")
        ] = None,
        sources: Literal["auto", "all", "none"] = "auto",
    ) -> JSONResponse:
        """The chain behind a model: training set, table versions, the runs and sources behind
        them."""
        ref = f"{name}@{version}" if version is not None else name
        return _json(lake.audit(ref, sources=sources).to_json())

    # -- runs and lineage ---------------------------------------------------------------------

    @app.get(
        f"{API}/runs",
        dependencies=read,
        tags=["lineage"],
        response_model=schemas.RunPage,
        responses=_errors(*READ, 400),
    )
    def list_runs(
        kind: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
        limit: Limit = 100,
        after: Annotated[str | None, Query(max_length=200, description=AFTER)] = None,
        before: Annotated[str | None, Query(max_length=200, description=BEFORE)] = None,
        offset: Annotated[
            int | None, Query(ge=0, le=1_000_000_000, deprecated=True, description=RUN_OFFSET)
        ] = None,
    ) -> JSONResponse:
        """Runs, latest started first, paged by cursor: a page's ``next_cursor`` as
        ``?after=`` gives the older runs past it, its ``previous_cursor`` as ``?before=`` the
        newer ones, and runs started between two requests shift no page."""
        page = lake.runs_page(limit=limit, kind=kind, after=after, before=before, offset=offset)
        return _json(page.to_json())

    @app.get(
        f"{API}/runs/{{run_id}}",
        dependencies=read,
        tags=["lineage"],
        response_model=schemas.RunLineage,
        responses=_errors(*READ, 404),
    )
    def get_run(run_id: Annotated[str, Path(max_length=64, pattern=NO_NUL)]) -> JSONResponse:
        """A run with the dataset versions it read and wrote (OpenLineage names)."""
        return _json(lake.run_lineage(run_id))

    @app.post(
        f"{API}/lineage",
        dependencies=write,
        tags=["lineage"],
        status_code=201,
        response_model=schemas.RecordedEvent,
        responses=_errors(*READ, 400, 403, 404, 409, 413),
    )
    def post_lineage(
        event: Annotated[
            dict[str, Any], Body(description="One OpenLineage RunEvent (as Marquez accepts).")
        ],
    ) -> JSONResponse:
        """Record an OpenLineage run event: lake tables link to exact versions, other
        datasets become external sources; the run keeps the event's runId."""
        return _json(lake.record_lineage(event).to_json(), status_code=201)

    # -- SQL ------------------------------------------------------------------------------------

    @app.post(
        f"{API}/sql",
        dependencies=read,
        tags=["sql"],
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {
                    JSON_LINES: {"schema": {"type": "string", "description": "JSON lines"}},
                    ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
                },
                "description": "The rows: one JSON object per line, or an Arrow IPC stream.",
            },
            **_errors(*READ, 400, 404, 410, 413),
        },
    )
    def post_sql(body: SqlRequest, request: Request) -> StreamingResponse:
        """Run one read-only statement over lake tables (``VERSION AS OF n`` and
        ``TIMESTAMP AS OF '...'`` included). Rows stream as JSON lines or an Arrow IPC
        stream; headers ``Lake-Versions`` (the exact versions read) and ``Lake-Truncated``."""
        result = run_limited(lake, settings, body.sql, max_rows=body.max_rows)
        arrow = body.format == "arrow" or (
            body.format is None and ARROW_STREAM in request.headers.get("accept", "")
        )
        headers = {
            "Lake-Versions": json.dumps([v.to_json() for v in result.versions]),
            "Lake-Truncated": "true" if result.truncated else "false",
        }
        if arrow:
            return StreamingResponse(
                _arrow_stream(result.table), media_type=ARROW_STREAM, headers=headers
            )
        return StreamingResponse(_json_lines(result.table), media_type=JSON_LINES, headers=headers)

    from lake.faces.web import mount

    mount(app, lake, settings, run_sql=run_limited)
    return app


def run_sql(lake: Lake, settings: ServiceSettings, sql: str, *, max_rows: int | None = None) -> Any:
    """One read-only query under the service's limits: ``POST /api/v1/sql`` and the web
    catalog's SQL console both run their queries here."""
    limit = settings.max_rows if max_rows is None else min(max_rows, settings.max_rows)
    return lake.sql(
        sql,
        read_only=True,
        max_rows=limit,
        timeout_s=settings.timeout_s,
        max_bytes=settings.max_bytes,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
    )


# -- answers -------------------------------------------------------------------------------------


def _page(items: Sequence[dict[str, Any]], limit: int, offset: int) -> JSONResponse:
    chunk = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return _json(
        {
            "items": chunk,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if more else None,
        }
    )


def _json(content: dict[str, Any], *, status_code: int = 200) -> JSONResponse:
    """Already JSON-safe (``to_json()``): skips FastAPI's re-validation of the answer, which
    cost more than the catalog query under load."""
    return JSONResponse(content, status_code=status_code)


def _name(text: str):  # noqa: ANN202
    from lake.core.names import TableName

    return TableName.parse(text)


def _json_lines(table: Any) -> Iterator[bytes]:
    from queries.output import column_values, json_value, unique_names

    names = unique_names(list(table.column_names))
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [column_values(c) for c in batch.columns]
        lines = (
            [
                json.dumps(
                    {n: json_value(v) for n, v in zip(names, row, strict=True)}, ensure_ascii=False
                )
                for row in zip(*columns, strict=True)
            ]
            if columns
            else ["{}"] * batch.num_rows
        )
        if lines:
            yield ("\n".join(lines) + "\n").encode()


def _arrow_stream(table: Any) -> Iterator[bytes]:
    import pyarrow as pa

    from queries.output import unique_names

    # repeated names as every other answer names them: polars refuses a stream that repeats one
    table = table.rename_columns(unique_names(table.column_names))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=65_536):
            writer.write_batch(batch)
    yield sink.getvalue().to_pybytes()


def _status(error: LakeError) -> int:
    if isinstance(error, ServiceBusy):
        return 503
    if isinstance(error, VersionVacuumed):
        return 410
    if isinstance(
        error,
        (
            TableNotFound,
            VersionNotFound,
            TrainingSetNotFound,
            ModelNotFound,
            RunNotFound,
            TokenNotFound,
        ),
    ):
        return 404
    if isinstance(error, (LineageRunOwned, LineageVersionOwned)):
        return 409
    if isinstance(error, LineageEventInvalid):
        return 422
    if isinstance(error, QueryTimeout):
        return 422
    if isinstance(error, (QueryError, ConfigError, InvalidName)):
        return 400
    if isinstance(error, CommitConflict):
        return 409
    if isinstance(error, (CatalogError, StorageError)):
        return 503
    return 400


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(LakeError)
    def lake_error(_: Request, error: LakeError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(error, ServiceBusy) else None
        return JSONResponse({"error": str(error)}, status_code=_status(error), headers=headers)

    @app.exception_handler(AccessDenied)
    def denied(_: Request, error: AccessDenied) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse({"error": error.message}, status_code=error.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        if first.get("type") == "json_invalid":
            return JSONResponse(
                {"error": "The request body is not valid JSON; send one JSON object."},
                status_code=400,
            )
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        if not where:
            return JSONResponse(
                {
                    "error": (
                        "The request body must be a JSON object as /openapi.json describes; "
                        "send Content-Type: application/json."
                    )
                },
                status_code=422,
            )
        message = str(first.get("msg", "is not valid")).rstrip(".")
        if first.get("ctx", {}).get("pattern") == NO_NUL:
            message = "holds a NUL character, which no name or id in the lake holds"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        return JSONResponse({"error": f"{where}: {message}{more}."}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        messages = {
            # FastAPI's own words when the body's JSON parser fails other than by a syntax
            # error (nested deeper than the parser goes).
            400: "The request body could not be read as JSON (malformed or nested too "
            "deeply); send one JSON object.",
            404: "No such endpoint; see /openapi.json.",
            405: "This endpoint does not take that method; see /openapi.json.",
        }
        return JSONResponse(
            {"error": messages.get(error.status_code, str(error.detail))},
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            {
                "error": (
                    f"The service failed unexpectedly ({type(error).__name__}); "
                    "report this with the request."
                )
            },
            status_code=500,
        )


access_log = logging.getLogger("lake.access")


class AccessLog:
    """One line per request on the ``lake.access`` logger: client, method, path (the query
    string left out: it may carry anything), status, milliseconds and the token's id (set by
    the auth dependency), never a token or a body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time

        started = time.perf_counter()
        status = 500

        async def noted_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted_send)
        finally:
            client = scope.get("client") or ("-", 0)
            token = scope.get("state", {}).get("token_id")
            access_log.info(
                '%s "%s %s" %d %.1fms token=%s',
                client[0],
                scope.get("method", "-"),
                scope.get("path", "-"),
                status,
                (time.perf_counter() - started) * 1000,
                token if token is not None else "-",
            )


class BodyLimit:
    """Refuses a body larger than ``max_bytes`` with 413, by its Content-Length or, when
    chunked, as soon as it grows past the limit."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send, self.max_bytes)
            return
        seen = 0
        exceeded = replaced = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def checked_send(message: dict[str, Any]) -> None:
            nonlocal replaced
            # FastAPI turns an error while reading the body into its own 400: answer 413 instead.
            if exceeded:
                if not replaced:
                    replaced = True
                    await _too_large(send, self.max_bytes)
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, checked_send)
        except _TooLarge:
            if not replaced:
                await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        {"error": f"The request body is larger than the service's limit of {limit:,} bytes."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
