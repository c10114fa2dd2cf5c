"""AWS's access logs as AWS documents them (Application Load Balancer, S3 server access):
with ``--format auto`` and with their presets, the values a user checks."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.logs.stage import stage_logs
from tests.ingest.logs.landed import staged_rows

UTC = dt.UTC
TG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
LB = "app/my-loadbalancer/50dc6c495c0c9188"

ALB = [
    # AWS's examples: HTTP, HTTPS with a certificate and rule, a Lambda target (no target
    # ip:port) that failed (no target status: -), WebSockets.
    f"http 2018-07-02T22:23:00.186641Z {LB} 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 "
    f'200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - {TG} '
    '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z '
    '"forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90',
    f"https 2018-07-02T22:23:00.186641Z {LB} 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 "
    f'200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" '
    f"ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {TG} "
    '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
    '"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" '
    '1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" '
    '"-" "-" TID_1234abcd5678ef90',
    f"http 2018-11-30T22:23:00.186641Z {LB} 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 "
    f'366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - {TG} '
    '"Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z '
    '"forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-" TID_1234abcd5678ef90',
    # The load balancer could not reach a target: -1 for the times it never measured; an
    # IPv6 client; a field AWS added after the ones the preset knows.
    f"https 2026-12-07T10:00:00.5Z {LB} 2001:db8::1:52888 - -1 -1 -1 503 - 120 0 "
    '"POST https://shop.example.com:443/api?q=a%20b HTTP/2.0" "Mozilla/5.0 (X11)" '
    f'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.3 {TG} "Root=1-67" "shop.example.com" "-" 3 '
    '2026-12-07T10:00:00.400000Z "forward" "-" "-" "-" "-" "Acceptable" "-" TID_9 "-" '
    '"new-field"',
    # An older load balancer's line: the fields up to the trace id, nothing after.
    f"h2 2016-08-10T23:39:43.065466Z {LB} 192.168.131.39:2817 10.0.0.1:80 0.000 0.002 0.000 "
    f'200 200 5 257 "GET https://10.0.2.105:773/ HTTP/2.0" "curl/7.46.0" '
    f'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {TG} "Root=1-57abfe3f-4e3d7b0c19b9fa5d16f11dc0"',
]


@pytest.mark.parametrize("preset", [None, "aws-alb"])
def test_alb_access_logs_give_times_numbers_and_nulls_as_aws_documents_them(tmp_path, preset):
    path = tmp_path / "alb.log"
    # A line whose processing time is no number is no record of the layout: kept, failed
    # (not a float cast that stops the ingest).
    cut = ALB[0].replace(" 0.001 ", " 0.0.1 ")
    path.write_text("\n".join([*ALB, cut]) + "\n")
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s", preset=preset)
    assert staged.sources[0].parser == "aws-alb"
    assert staged.time_field == "time"
    rows = staged_rows(staged)
    assert (rows[-1]["_raw"], rows[-1]["_event_time"]) == (cut, None)
    assert rows.pop()["_error"] is not None and staged.records_failed == 1
    assert len(rows) == len(ALB) and [r["_error"] for r in rows] == [None] * len(ALB)
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2018, 7, 2, 22, 23, 0, 186641, tzinfo=UTC),
        dt.datetime(2018, 7, 2, 22, 23, 0, 186641, tzinfo=UTC),
        dt.datetime(2018, 11, 30, 22, 23, 0, 186641, tzinfo=UTC),
        dt.datetime(2026, 12, 7, 10, 0, 0, 500000, tzinfo=UTC),
        dt.datetime(2016, 8, 10, 23, 39, 43, 65466, tzinfo=UTC),
    ]
    first, https, lam, failed, old = rows
    assert (first["client_ip"], first["client_port"], first["target_port"]) == (
        "192.168.131.39",
        2817,
        80,
    )
    assert (https["target_processing_time"], https["sent_bytes"]) == (0.048, 57)
    assert https["chosen_cert_arn"].startswith("arn:aws:acm:")
    assert (https["method"], https["url"], https["protocol"]) == (
        "GET",
        "https://www.example.com:443/",
        "HTTP/1.1",
    )
    assert (lam["target_ip"], lam["target_status_code"], lam["error_reason"]) == (
        None,
        None,
        "LambdaInvalidResponse",
    )
    assert (failed["client_ip"], failed["client_port"]) == ("2001:db8::1", 52888)
    # -1 is "never measured", not minus one second: null, so an average is not skewed.
    assert [failed[k] for k in ("request_processing_time", "target_processing_time")] == [
        None,
        None,
    ]
    assert (failed["classification"], failed["conn_trace_id"], failed["more"]) == (
        "Acceptable",
        "TID_9",
        '"-" "new-field"',
    )
    assert failed["url"] == "https://shop.example.com:443/api?q=a%20b"
    assert (first["target_port_list"], first["target_status_code_list"]) == ("10.0.0.1:80", "200")
    assert (old["trace_id"], old["domain_name"], old["conn_trace_id"]) == (
        "Root=1-57abfe3f-4e3d7b0c19b9fa5d16f11dc0",
        None,
        None,
    )


S3 = [
    # AWS's example records, the newest with every field, then an older one that ends
    # after the version id, and an anonymous GET of a missing key (error code, '-' sizes).
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 "
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - '
    '"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/'
    "XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
    "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 "
    "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1",
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 "
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 891CE47D2EXAMPLE "
    'REST.GET.LOGGING_STATUS - "GET /amzn-s3-demo-bucket1?logging HTTP/1.1" 200 - 242 - 11 - '
    '"-" "S3Console/0.4" -',
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 "
    "[07/Dec/2026:09:59:59 -0100] 198.51.100.7 - A1206F460EXAMPLE REST.GET.OBJECT "
    'photos/2026/cat%20.jpg "GET /photos/2026/cat%20.jpg HTTP/1.1" 404 NoSuchKey 243 - 12 - '
    '"https://example.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" - '
    "hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 - amzn-s3-demo-bucket1.s3.amazonaws.com TLSv1.3 - -",
]


@pytest.mark.parametrize("preset", [None, "aws-s3"])
def test_s3_server_access_logs_read_dashes_as_nulls_and_times_by_their_offset(tmp_path, preset):
    path = tmp_path / "s3.log"
    path.write_text("\n".join(S3) + "\n")
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s", preset=preset)
    assert staged.sources[0].parser == "aws-s3"
    rows = staged_rows(staged)
    assert len(rows) == 3 and [r["_error"] for r in rows] == [None] * 3
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2019, 2, 6, 0, 0, 38, tzinfo=UTC),
        dt.datetime(2019, 2, 6, 0, 0, 38, tzinfo=UTC),
        dt.datetime(2026, 12, 7, 10, 59, 59, tzinfo=UTC),
    ]
    new, old, missing = rows
    assert (new["http_status"], new["bytes_sent"], new["object_size"], new["total_time"]) == (
        200,
        113,
        None,
        7,
    )
    assert (new["key"], new["error_code"], new["referer"], new["version_id"]) == (None,) * 4
    assert (new["tls_version"], new["acl_required"], new["source_region"]) == (
        "TLSV1.2",
        "Yes",
        "us-east-1",
    )
    assert (old["user_agent"], old["host_id"], old["source_region"]) == (
        "S3Console/0.4",
        None,
        None,
    )
    assert (missing["requester"], missing["key"], missing["error_code"]) == (
        None,
        "photos/2026/cat%20.jpg",
        "NoSuchKey",
    )
    assert (missing["http_status"], missing["authentication_type"]) == (404, None)
