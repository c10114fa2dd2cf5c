"""OpenLineage out: the catalog's runs and edges as OpenLineage run events, sent.

The catalog already holds OpenLineage's model (see ``catalog.lineage``): a run with a UUID
consumes and produces dataset *versions*, each dataset named by ``(namespace, name)``.
This module only translates, and sends.

With an OpenLineage URL configured (``openlineage.url`` in ``lake.core.config``), the lake
gives its catalog an :class:`Emitter`: each run the catalog starts sends ``START`` and each
run it ends sends ``COMPLETE`` or ``FAIL``, with the run's input and output dataset
versions as ``version`` facets. Sending is best effort: an endpoint that fails is reported
once (a :class:`LineageEmitWarning`) and never fails the run. With no URL nothing is built
or sent.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.connection import Connection
from catalog.lineage import MODEL_NAMESPACE, TABLE_NAMESPACE, TRAINING_SET_NAMESPACE
from lake.core.config import places
from lake.core.errors import ConfigError

ENDPOINT = "api/v1/lineage"
JOB_NAMESPACE = "lake"
PRODUCER = "https://github.com/lake-project/lake"
EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
VERSION_FACET_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
ERROR_FACET_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
SEND_TIMEOUT_S = 5.0


class LineageEmitWarning(UserWarning):
    """The OpenLineage endpoint did not take an event; the run itself is unaffected."""


class Emitter:
    """Posts run events to one OpenLineage endpoint (Marquez, another lake, a collector).

    Raises (on building):
        ConfigError: ``url`` is not an http(s) URL.
    """

    def __init__(
        self, url: str, *, api_key: str | None = None, timeout_s: float = SEND_TIMEOUT_S
    ) -> None:
        self.url = endpoint_url(url)
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._warned = False
        self._lock = threading.Lock()

    def emit_run(self, catalog: Connection, run_id: str, event_type: str) -> None:
        """Send the run's event; never raises."""
        try:
            event = run_event(catalog, run_id, event_type)
        except Exception as error:  # noqa: BLE001 - lineage must never fail a run
            self._warn(f"could not describe run {run_id}: {error}")
            return
        if event is not None:
            self.send(event)

    def send(self, event: Mapping[str, Any]) -> bool:
        """POST one event; whether the endpoint took it. Never raises: a failure is a
        :class:`LineageEmitWarning`, once per emitter."""
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - configured URL
                response.read()
            return True
        except urllib.error.HTTPError as error:
            self._warn(f"it answered HTTP {error.code}")
        except (OSError, ValueError) as error:
            self._warn(str(getattr(error, "reason", error)))
        return False

    def _warn(self, why: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        warnings.warn(
            LineageEmitWarning(
                f"OpenLineage events could not be sent to {self.url} ({why}); runs go on. "
                f"Check the endpoint, or the URL given by {places('openlineage.url')} "
                f"(reported once)."
            ),
            stacklevel=3,
        )


def endpoint_url(url: str) -> str:
    """The endpoint for a base URL (``http://marquez:5000`` -> ``.../api/v1/lineage``), as
    the OpenLineage HTTP transport does; a URL with a path is used as it is.

    Raises:
        ConfigError: ``url`` is not an http(s) URL.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The OpenLineage URL must be an http(s) URL, not {url!r}; set it with "
            f"{places('openlineage.url')}."
        )
    return url.rstrip("/") + "/" + ENDPOINT if parts.path in ("", "/") else url


def run_event(
    catalog: Connection, run_id: str, event_type: str, *, at: datetime | None = None
) -> dict[str, Any] | None:
    """The OpenLineage run event for a run as the catalog holds it now (None if unknown)."""

    def work(session: Session) -> dict[str, Any] | None:
        run = session.get(m.Run, run_id)
        if run is None:
            return None
        inputs, outputs = _datasets(session, run_id)
        moment = at or (
            run.ended_at if event_type in ("COMPLETE", "FAIL") and run.ended_at else None
        )
        moment = moment or (run.started_at if event_type == "START" else datetime.now(UTC))
        facets: dict[str, Any] = {}
        if event_type == "FAIL" and run.error:
            facets["errorMessage"] = {
                "_producer": PRODUCER,
                "_schemaURL": ERROR_FACET_SCHEMA,
                "message": run.error,
                "programmingLanguage": "python",
            }
        return {
            "eventType": event_type,
            "eventTime": moment.isoformat(),
            "producer": PRODUCER,
            "schemaURL": EVENT_SCHEMA,
            "run": {"runId": run.id, "facets": facets},
            "job": {"namespace": JOB_NAMESPACE, "name": run.job, "facets": {}},
            "inputs": inputs,
            "outputs": outputs if event_type != "START" else [],
        }

    return catalog.transaction(work)


def run_lineage(catalog: Connection, run_id: str) -> dict[str, Any]:
    """A run's input and output dataset versions, named as in OpenLineage."""

    def work(session: Session) -> dict[str, Any]:
        inputs, outputs = _datasets(session, run_id)
        return {"inputs": inputs, "outputs": outputs}

    return catalog.transaction(work)


def _datasets(session: Session, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {"input": [], "output": []}
    edges = session.execute(
        select(
            m.LineageEdge.direction,
            m.Namespace.name,
            m.Table.name,
            m.TableVersion.version,
            m.Source.namespace,
            m.Source.name,
            m.Source.version,
            m.TrainingSet.name,
            m.TrainingSet.version,
            m.Model.name,
            m.Model.version,
        )
        .select_from(m.LineageEdge)
        .outerjoin(m.TableVersion, m.TableVersion.id == m.LineageEdge.table_version_id)
        .outerjoin(m.Table, m.Table.id == m.TableVersion.table_id)
        .outerjoin(m.Namespace, m.Namespace.id == m.Table.namespace_id)
        .outerjoin(m.Source, m.Source.id == m.LineageEdge.source_id)
        .outerjoin(m.TrainingSet, m.TrainingSet.id == m.LineageEdge.training_set_id)
        .outerjoin(m.Model, m.Model.id == m.LineageEdge.model_id)
        .where(m.LineageEdge.run_id == run_id)
        .order_by(m.LineageEdge.id)
    )
    for (
        direction,
        ns,
        table,
        tversion,
        s_ns,
        s_name,
        s_version,
        ts_name,
        ts_version,
        model,
        m_version,
    ) in edges:
        if table is not None:
            dataset = _dataset(TABLE_NAMESPACE, f"{ns}.{table}", str(tversion))
        elif s_name is not None:
            dataset = _dataset(s_ns, s_name, s_version)
        elif ts_name is not None:
            dataset = _dataset(TRAINING_SET_NAMESPACE, ts_name, str(ts_version))
        else:
            dataset = _dataset(MODEL_NAMESPACE, model, m_version)
        found[direction].append(dataset)
    return found["input"], found["output"]


def _dataset(namespace: str, name: str, version: str | None) -> dict[str, Any]:
    facets = (
        {
            "version": {
                "_producer": PRODUCER,
                "_schemaURL": VERSION_FACET_SCHEMA,
                "datasetVersion": version,
            }
        }
        if version is not None
        else {}
    )
    return {"namespace": namespace, "name": name, "facets": facets}


__all__ = [
    "Emitter",
    "LineageEmitWarning",
    "endpoint_url",
    "run_event",
    "run_lineage",
]
