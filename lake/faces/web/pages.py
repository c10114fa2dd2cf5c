"""The web catalog's routes: each page calls the :class:`lake.faces.api.Lake` API (as the
HTTP API and the CLI do) and renders a template; nothing here decides anything about data.

Every page but ``/sign-in`` needs a session (``session.signed_in``, resolved before the
page reads anything): without one it redirects to the sign-in form and shows nothing. A
:class:`LakeError` becomes an HTML page with the status the API would answer.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lake.core.errors import LakeError
from lake.core.names import TableName
from lake.faces.api import Lake
from lake.faces.web import graph as lineage_graph
from lake.faces.web.session import (
    FormRefused,
    SignInNeeded,
    check_form,
    check_token,
    csrf_token,
    end_session,
    keep_csrf,
    safe_next,
    signed_in,
    start_session,
)

HERE = FilePath(__file__).parent
SAMPLE_ROWS = 20
SHOWN_ROWS = 500
"""Rows of a SQL result shown on the page; the downloads carry all the service allows."""
CELL_CHARS = 160
RUNS_PER_PAGE = 50
MAX_FORM_BYTES = 1 << 20
MAX_SQL_CHARS = 100_000
"""As ``POST /api/v1/sql`` takes."""
SECURITY_HEADERS = {
    # Everything from the lake itself; no inline script, no framing, forms post here only.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Version = Annotated[int | None, Query(ge=0, le=2**62)]


def add_pages(app: FastAPI, lake: Lake, settings: Any, *, run_sql: Callable[..., Any]) -> None:
    env = _environment()

    def render(
        request: Request, template: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        token = getattr(request.state, "token", None)
        html = env.get_template(template).render(
            request=request,
            token=token,
            csrf=csrf_token(request),
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        keep_csrf(request, response)
        return response

    class PageRoute(APIRoute):
        """Turns a sign-in redirect, a refused form and a LakeError into pages."""

        def get_route_handler(self) -> Callable[[Request], Any]:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                try:
                    return await original(request)
                except SignInNeeded as needed:
                    response = RedirectResponse(
                        "/sign-in?" + urlencode({"next": needed.next_path}), status_code=303
                    )
                    if needed.stale:
                        end_session(response)
                    return response
                except FormRefused:
                    return render(
                        request,
                        "error.html",
                        status=403,
                        title="Form refused",
                        message="This form did not come from this lake's own page (or it "
                        "expired); reload the page and send it again.",
                    )
                except RequestValidationError as error:
                    answer = request.app.exception_handlers[RequestValidationError](request, error)
                    return render(
                        request,
                        "error.html",
                        status=answer.status_code,
                        title="Not possible",
                        message=json.loads(answer.body)["error"],
                    )
                except LakeError as error:
                    answer = request.app.exception_handlers[LakeError](request, error)
                    return render(
                        request,
                        "error.html",
                        status=answer.status_code,
                        title="Not possible",
                        message=str(error),
                    )

            return handler

    public = APIRouter(route_class=PageRoute, include_in_schema=False)
    pages = APIRouter(
        route_class=PageRoute, include_in_schema=False, dependencies=[Depends(signed_in)]
    )

    # -- signing in ------------------------------------------------------------------------------

    @public.get("/sign-in", response_class=HTMLResponse)
    def sign_in_form(request: Request, next: str | None = Query(None, max_length=2000)):
        return render(request, "sign_in.html", next=safe_next(next), error=None)

    @public.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request):
        form = await _form(request)
        check_form(request, form)
        secret = str(form.get("token", "")).strip()
        target = safe_next(str(form.get("next", "/")))
        token = await run_in_threadpool(check_token, request, secret)
        if token is None:
            return render(
                request,
                "sign_in.html",
                status=401,
                next=target,
                error="That token is unknown or revoked; create one with "
                "`lake token create --role read`.",
            )
        response = RedirectResponse(target, status_code=303)
        start_session(request, response, secret)
        return response

    @public.post("/sign-out")
    async def sign_out(request: Request):
        check_form(request, await _form(request))
        response = RedirectResponse("/sign-in", status_code=303)
        end_session(response)
        return response

    # -- tables ----------------------------------------------------------------------------------

    @pages.get("/", response_class=HTMLResponse)
    def tables_page(request: Request, q: str = Query("", max_length=200)):
        summaries = [s.to_json() for s in lake.table_summaries()]
        wanted = q.strip().lower()
        shown = [s for s in summaries if wanted in s["table"].lower()] if wanted else summaries
        return render(request, "tables.html", tables=shown, total=len(summaries), q=q)

    @pages.get("/tables/{table}", response_class=HTMLResponse)
    def table_page(
        request: Request,
        table: Annotated[str, Path(max_length=200)],
        version: Version = None,
    ):
        name = str(TableName.parse(table))
        history = lake.history(name)
        chosen = version if version is not None else (history[-1].version if history else None)
        schema = lake.schema(f"{name}@{chosen}" if chosen is not None else name, history=True)
        pins: dict[int, list[Any]] = {}
        for pin in lake.pins(name):
            pins.setdefault(pin.version, []).append(pin)
        sample = sample_error = None
        if chosen is not None:
            try:  # the rest of the page stands when the rows cannot be read (e.g. vacuumed)
                result = run_sql(
                    lake,
                    settings,
                    f"SELECT * FROM {name} VERSION AS OF {chosen} LIMIT {SAMPLE_ROWS}",
                    max_rows=SAMPLE_ROWS,
                )
                sample = _rows(result)
            except LakeError as error:
                sample_error = str(error)
        return render(
            request,
            "table.html",
            name=name,
            history=list(reversed(history)),
            chosen=chosen,
            latest=history[-1].version if history else None,
            schema=schema,
            drift=_drift_timeline(schema.get("history", [])),
            pins=pins,
            sample=sample,
            sample_error=sample_error,
        )

    @pages.get("/tables/{table}/versions/{version}/impact", response_class=HTMLResponse)
    def version_impact_page(
        request: Request,
        table: Annotated[str, Path(max_length=200)],
        version: Annotated[int, Path(ge=0, le=2**62)],
    ):
        name = str(TableName.parse(table))
        impact = lake.impact(f"{name}@{version}").to_json()
        return _impact_page(request, impact, f"Impact of {name}@{version}")

    @pages.get("/impact", response_class=HTMLResponse)
    def source_impact_page(request: Request, source: str = Query(min_length=1, max_length=4000)):
        impact = lake.impact(source=source).to_json()
        return _impact_page(request, impact, f"Impact of source {source}")

    def _impact_page(request: Request, impact: Mapping[str, Any], title: str) -> HTMLResponse:
        svg = lineage_graph.to_svg(lineage_graph.impact_graph(impact), title=title)
        return render(request, "impact.html", title=title, impact=impact, svg=svg)

    # -- training sets and models ----------------------------------------------------------------

    @pages.get("/training-sets", response_class=HTMLResponse)
    def training_sets_page(request: Request, name: str | None = Query(None, max_length=128)):
        found = [t.to_json() for t in lake.training_sets(name or None)]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in sorted(found, key=lambda t: (t["name"], -t["version"])):
            grouped.setdefault(entry["name"], []).append(entry)
        models: dict[str, list[str]] = {}
        for model in lake.models():
            if model.training_set:
                models.setdefault(model.training_set, []).append(model.ref)
        return render(
            request, "training_sets.html", grouped=grouped, models=models, name=name or ""
        )

    @pages.get("/models", response_class=HTMLResponse)
    def models_page(request: Request):
        grouped: dict[str, list[dict[str, Any]]] = {}
        for model in sorted(lake.models(), key=lambda m: (m.name, m.created_at), reverse=True):
            grouped.setdefault(model.name, []).append(model.to_json())
        return render(request, "models.html", grouped=dict(sorted(grouped.items())))

    @pages.get("/models/{name}/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request,
        name: Annotated[str, Path(max_length=128)],
        version: str | None = Query(None, max_length=64),
    ):
        ref = f"{name}@{version}" if version else name
        audit = lake.audit(ref).to_json()
        title = f"Audit of model {audit['model']['name']}@{audit['model']['version']}"
        svg = lineage_graph.to_svg(lineage_graph.audit_graph(audit), title=title)
        return render(request, "audit.html", title=title, audit=audit, svg=svg)

    # -- runs --------------------------------------------------------------------------------------

    @pages.get("/runs", response_class=HTMLResponse)
    def runs_page(
        request: Request,
        kind: str | None = Query(None, max_length=32),
        after: str | None = Query(None, max_length=200),
        before: str | None = Query(None, max_length=200),
    ):
        # Older and newer by cursor, as the API's list: runs started while a person reads a
        # page shift none of the pages behind it (by offset, each new run moved every page by
        # one, so a run was shown twice or never).
        page = lake.runs_page(limit=RUNS_PER_PAGE, kind=kind, after=after, before=before)
        return render(
            request,
            "runs.html",
            runs=[r.to_json() for r in page.runs],
            kind=kind or "",
            older=page.older,
            newer=page.newer,
        )

    @pages.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: Annotated[str, Path(max_length=64)]):
        run = lake.run_lineage(run_id)
        return render(request, "run.html", run=run)

    # -- SQL --------------------------------------------------------------------------------------

    @pages.get("/sql", response_class=HTMLResponse)
    def sql_form(request: Request):
        names = [str(t.name) for t in lake.tables()]
        return render(request, "sql.html", sql="", result=None, error=None, names=names)

    @pages.post("/sql", response_class=HTMLResponse)
    async def sql_run(request: Request):
        form = await _form(request)
        check_form(request, form)
        sql = str(form.get("sql", "")).strip()
        names = [str(t.name) for t in await run_in_threadpool(lake.tables)]
        if not sql or len(sql) > MAX_SQL_CHARS:
            error = "Write a query." if not sql else "The query is longer than 100,000 characters."
            return render(request, "sql.html", sql=sql, result=None, error=error, names=names)
        try:
            result = await run_in_threadpool(run_sql, lake, settings, sql)
        except LakeError as error:
            status = request.app.exception_handlers[LakeError](request, error).status_code
            return render(
                request,
                "sql.html",
                status=status,
                sql=sql,
                result=None,
                error=str(error),
                names=names,
            )
        shown = _rows(result, limit=SHOWN_ROWS)
        return render(
            request,
            "sql.html",
            sql=sql,
            result=shown,
            truncated=result.truncated,
            max_rows=settings.max_rows,
            versions=[v.to_json() for v in result.versions],
            read=_read(result),
            error=None,
            names=names,
        )

    @pages.post("/sql/download")
    async def sql_download(request: Request):
        form = await _form(request)
        check_form(request, form)
        sql = str(form.get("sql", "")).strip()
        fmt = str(form.get("format", "csv"))
        if fmt not in ("csv", "parquet"):
            fmt = "csv"
        result = await run_in_threadpool(run_sql, lake, settings, sql)
        shown = form.get("read")
        if shown is not None and shown != _read(result):
            # The download runs the query again: a table written since the page was shown
            # would give a file of other rows than the page's, under the same name.
            return render(
                request,
                "error.html",
                status=409,
                title="Not possible",
                message=f"The tables changed since the page read them ({shown or 'none'}; "
                f"now {_read(result) or 'none'}): run the query again, or pin each table "
                "with VERSION AS OF n, then download.",
            )
        body = await run_in_threadpool(_encode, result, fmt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="lake-query.{fmt}"',
            "Lake-Truncated": "true" if result.truncated else "false",
        }
        return Response(body, media_type=media, headers=headers)

    app.include_router(public)
    app.include_router(pages)
    _add_static(app)


# -- the offline assets ----------------------------------------------------------------------------


def _add_static(app: FastAPI) -> None:
    vendor = files("fastapi_offline") / "static"
    app.mount("/static/vendor", StaticFiles(directory=str(vendor)), name="vendor")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="lake - API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="lake - API",
            redoc_js_url="/static/vendor/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )


# -- helpers ---------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        count=_count,
        size=_size,
        short=lambda text, n=8: str(text or "")[:n],
        table_href=lambda table, version=None: (
            f"/tables/{quote(str(table))}"
            + (f"?{urlencode({'version': version})}" if version is not None else "")
        ),
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str),
        dataset_href=_dataset_href,
        urlencode=lambda mapping: urlencode(mapping),
    )
    return env


async def _form(request: Request) -> dict[str, str]:
    """A posted ``application/x-www-form-urlencoded`` form (the only kind these pages send)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        raise FormRefused
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _rows(result: Any, *, limit: int | None = None) -> dict[str, Any]:
    from queries.output import column_values, json_value, unique_names

    table = result.table if limit is None else result.table.slice(0, limit)
    names = unique_names(list(result.column_names))
    columns = [column_values(c) for c in table.columns]
    rows = [[_cell(json_value(v)) for v in row] for row in zip(*columns, strict=True)]
    return {
        "columns": [
            {"name": n, "type": c.type} for n, c in zip(names, result.columns, strict=True)
        ],
        "rows": rows,
        "row_count": result.num_rows,
        "shown": len(rows),
    }


def _read(result: Any) -> str:
    """The table versions a query read, as the console's download form carries them."""
    return ", ".join(f"{v.table}@{v.version}" for v in result.versions)


def _cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"text": "null", "full": "", "null": True}
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    short = text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
    return {"text": short, "full": text if short != text else "", "null": False}


def _encode(result: Any, fmt: str) -> bytes:
    from queries.output import write_result

    if fmt == "csv":
        stream = io.StringIO()
        write_result(result, format="csv", stream=stream)
        return stream.getvalue().encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="lake-web-") as folder:
        out = FilePath(folder) / "result.parquet"
        write_result(result, format="parquet", out=out)
        return out.read_bytes()


def _drift_timeline(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The drift ledger by version, newest first; within a version, the changes of one kind
    from one place on one line ("added a, b, c from access.log line 1")."""
    by_version: dict[int, dict[tuple[Any, ...], list[dict[str, Any]]]] = {}
    for change in changes:
        where = (change["change"], change.get("source"), change.get("line"), change.get("detail"))
        by_version.setdefault(change["version"], {}).setdefault(where, []).append(change)
    return [
        {
            "version": version,
            "groups": [
                {
                    "change": change,
                    "source": source,
                    "source_name": str(source).rstrip("/").rsplit("/", 1)[-1] if source else None,
                    "line": line,
                    "detail": detail,
                    "columns": columns,
                }
                for (change, source, line, detail), columns in by_version[version].items()
            ],
        }
        for version in sorted(by_version, reverse=True)
    ]


def _dataset_href(dataset: Mapping[str, Any]) -> str:
    namespace, name = dataset.get("namespace"), str(dataset.get("name"))
    version = (dataset.get("facets") or {}).get("version", {}).get("datasetVersion")
    if namespace == "lake":
        return f"/tables/{quote(name)}" + (f"?{urlencode({'version': version})}" if version else "")
    if namespace == "lake.training_sets":
        return f"/training-sets?{urlencode({'name': name})}"
    if namespace == "lake.models":
        query = f"?{urlencode({'version': version})}" if version else ""
        return f"/models/{quote(name)}/audit{query}"
    return f"/impact?{urlencode({'source': name})}"


def _when(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        value = value.isoformat()
    return str(value)[:19].replace("T", " ")


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{value} B"
