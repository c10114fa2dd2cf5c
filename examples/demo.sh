#!/usr/bin/env bash
# The lake end to end on the embedded default (a local folder + SQLite), on real sample data:
# ingest raw logs and a database extract, query them (time travel included), materialize a
# training slice, register a model and audit it; images as binary assets in a split training
# set with a model's code version and audit; tag and vacuum, then serve it over HTTP.
# Run it with `make demo`; its lake is examples/out/demo (rebuilt each time): afterwards,
# `source .venv/bin/activate && cd examples/out/demo && lake tables` looks at it. Every
# command is echoed quoted, so it can be pasted into a shell as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$(cd "$here/../tests/data" && pwd)"
work="$here/out/demo"
rm -rf "$work" && mkdir -p "$work/logs" && cd "$work"
unset LAKE_WAREHOUSE LAKE_CATALOG_URL

# An argument with spaces or shell characters is echoed in single quotes: what you see pastes.
quoted() {
    local arg out=()
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then out+=("$arg")
        elif [[ "$arg" != *"'"* ]]; then out+=("'$arg'")
        elif [[ "$arg" != *[\"\$\`\\!]* ]]; then out+=("\"$arg\"")
        else out+=("${arg@Q}"); fi
    done
    printf '%s' "${out[*]}"
}
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$(quoted "${@:2}")"; "${@:2}"; }

step "Create a lake here (./.lake/warehouse + ./.lake/catalog.db)" lake init
step "Where it lives" lake config

# An Apache access log that grows during the day: half of it now, the rest later.
head -n 5000 "$data/elastic-logs/apache_logs" > logs/access.log
step "Land raw Apache logs: no schema declared, every line kept" \
    lake ingest logs web.access logs/access.log --preset apache-combined
step "Land nested NGINX Plus status JSON: nested objects stay nested" \
    lake ingest logs web.nginx "$data/elastic-logs/nginxplus_json_logs.jsonl"
step "Inferred schema and its drift ledger" lake schema web.access --history

step "SQL on read: status codes" \
    lake sql "SELECT status, count(*) AS requests, sum(bytes) AS bytes FROM web.access GROUP BY status ORDER BY requests DESC"
step "Laid out by event date: a time range reads only that day's files (--explain shows it)" \
    lake sql "SELECT method, count(*) AS requests FROM web.access WHERE _event_time >= '2015-05-18' AND _event_time < '2015-05-19' GROUP BY method ORDER BY requests DESC" --explain
step "Nested fields by dot access" \
    lake sql "SELECT max(connections.accepted) AS accepted, max(requests.total) AS requests FROM web.nginx"

tail -n +5001 "$data/elastic-logs/apache_logs" >> logs/access.log
step "The log has grown: only the new records are read" \
    lake ingest logs web.access logs/access.log --preset apache-combined
step "Time travel: the table now and as it was at version 0" \
    lake sql "SELECT (SELECT count(*) FROM web.access) AS now, (SELECT count(*) FROM web.access VERSION AS OF 0) AS at_version_0"

chinook="sqlite:///$data/chinook/Chinook_Sqlite.sqlite"
step "Extract customers from a production database (Chinook, SQLite)" \
    lake ingest db crm.customers --source "$chinook" --table Customer --key CustomerId
step "Extract invoices incrementally, by invoice date" \
    lake ingest db crm.invoices --source "$chinook" --table Invoice --mode incremental --cursor InvoiceDate --key InvoiceId
step "Every version is recorded" lake history crm.invoices

slice="SELECT c.CustomerId, c.Country, count(*) AS invoices, sum(i.Total) AS spent, (SELECT count(*) FROM web.access WHERE status >= 500) AS server_errors_seen FROM crm.customers c JOIN crm.invoices i USING (CustomerId) GROUP BY ALL"
step "Materialize a training slice over exact table versions, to local Parquet" \
    lake materialize customer_value --out training/customer_value --sql "$slice"
step "Same query, same versions: a cache hit" \
    lake materialize customer_value --out training/customer_value --sql "$slice"
step "Register the model trained on it" \
    lake model register customer_value_gbm --training-set customer_value --uri "file://$work/models/customer_value_gbm" --metrics '{"auc": 0.81}'
step "Rebuild the slice from its manifest, byte for byte" \
    lake materialize --from training/customer_value --out training/rebuilt
step "Which data reached the model, if version 0 of web.access was bad?" lake impact web.access@0
step "Audit: model -> training set -> table versions -> runs -> source files and extracts" \
    lake audit customer_value_gbm

# Binary assets and a split training set: a few small images made here with Pillow.
mkdir -p images
python - <<'PY'
from PIL import Image
for i, colour in enumerate(["red", "green", "blue", "orange", "purple", "black"]):
    Image.new("RGB", (8 + i, 6 + i), colour).save(f"images/img-{i}.png")
PY
step "Store images once each by sha256, one row per file (size, media type, width, height)" \
    lake ingest files media.images images
step "A split training set over the images: each row's split is a stable hash of its key" \
    lake materialize image_set --out training/image_set \
        --split train=0.5,validation=0.25,test=0.25 --split-key sha256 \
        --sql "SELECT sha256, uri, width, height FROM media.images"
step "The images are localized beside the shards, listed with their sha256 in the manifest" \
    find training/image_set -type f
step "Register a model trained on it, with its code version" \
    lake model register image_model --training-set image_set --code-version demo-1.0
step "Audit: the model's code version, training set, the images' table version and files" \
    lake audit image_model
step "Any loader reads the folder as it is (pandas here)" \
    python -c "import pandas; print(pandas.read_parquet('training/image_set').head())"

step "Tag the first load so vacuum keeps it" lake tag web.access@0 first-load
step "Tags and pins of a table (training sets and models pin what they read)" lake tag web.access
step "Vacuum: a dry run by default, showing what would go and what is kept" \
    lake vacuum web.access --retain 0d
(cd logs && step "Any folder inside the lake finds it, as git finds its repository" lake tables)

step "A read-only token for the HTTP service (shown once)" lake token create --role read --name demo
token="$(lake token create --role read --name demo-curl --output json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
printf '\n\033[1m== %s\033[0m\n$ %s\n' "Serve the lake over HTTP (the web catalog at /, the API under /api/v1)" \
    "lake serve --port 0 &   # 0 picks a free port; the default is 8080"
lake serve --port 0 > serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
# Start-up is a second or two on a quiet machine and far longer on a loaded one: wait while the
# server lives (two minutes at most), and say why when it never listens.
for _ in $(seq 1 1200); do
    grep -q "listening on" serve.log && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
url="$(sed -n 's/^lake serve: listening on \([^ ]*\).*/\1/p' serve.log)"
if [[ -z "$url" ]]; then
    printf 'lake serve did not start listening; its output:\n' >&2
    cat serve.log >&2
    exit 1
fi
printf '$ curl -H "Authorization: Bearer $TOKEN" "%s/api/v1/tables?limit=2"\n' "$url"
curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/tables?limit=2" | python3 -m json.tool
printf '\nOpen %s/ in a browser and sign in with a token to see the catalog; this server stops now.\n' "$url"
