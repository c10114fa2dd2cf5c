#!/usr/bin/env bash
# The lake end to end on the embedded default (a local folder + SQLite), on real sample data.
# Run it with `make demo`; it works in examples/out/demo and starts from scratch each time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/out/demo"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
unset LAKE_WAREHOUSE LAKE_CATALOG_URL

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Create a lake here (./.lake/warehouse + ./.lake/catalog.db)" lake init
step "Where it lives" lake config
step "An empty lake has no tables" lake tables --output json
