#!/usr/bin/env bash
# The README quick start, for real (make demo): canvas up in the background
# on a throw-away state directory, apply the TMF620 example, talk to it with
# curl, stop. Needs `make build examples` first (make demo does both).
set -euo pipefail
cd "$(dirname "$0")/.."
state=$(mktemp -d)
trap 'bin/canvas down --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
run() { echo "\$ $*"; "$@"; echo; }

run bin/canvas up --detach --state-dir "$state" --listen 127.0.0.1:0 --ingress 127.0.0.1:0 --nats-port -1
api=$(sed -n 's/.*"api": "\(.*\)".*/\1/p' "$state/canvas-up.json")
gw=$(sed -n 's/.*"ingress": "\(.*\)".*/\1/p' "$state/canvas-up.json")
run bin/canvas apply -f examples/productcatalog/component.yaml --wait --timeout 3m --server "$api"
run bin/canvas get components -o wide --server "$api"
base="$gw/productcatalog/tmf-api/productCatalogManagement/v4"
run curl -sS -X POST "$base/productOffering" -H 'Content-Type: application/json' -d '{"name":"Fibre 1G","lifecycleStatus":"Active"}'
run curl -sS -i "$base/productOffering?fields=name&limit=10"
echo "\$ curl -sS $gw/productcatalog/metrics | grep -E '^(productcatalog_offerings_created_total|wasmcanvas_requests_total)'"
curl -sS "$gw/productcatalog/metrics" | grep -E '^(productcatalog_offerings_created_total|wasmcanvas_requests_total)'
echo
run bin/canvas down --state-dir "$state"
