#!/usr/bin/env bash
# The README quick start, for real (make demo): canvas up in the background
# on a throw-away state directory, apply the TMF620 example, get a token
# for it, talk to it with curl, stop. Needs `make build examples` first (make demo does both).
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
# Its securityFunction guards the API: no token, 401.
run curl -sS -o /dev/null -w '%{http_code}\n' "$base/productOffering"
# A client holding the Component's role pcadmin, and a token for its API.
echo "\$ bin/canvas client create demo --grant productcatalog=pcadmin --server $api > demo.secret"
bin/canvas client create demo --grant productcatalog=pcadmin --server "$api" > "$state/demo.secret"
echo "\$ token=\$(bin/canvas token --client-id demo --client-secret-file demo.secret --audience productcatalog --server $api)"
token=$(bin/canvas token --client-id demo --client-secret-file "$state/demo.secret" --audience productcatalog --server "$api")
echo
# curl with the token, shown as $token.
tcurl() { echo "\$ curl $* -H \"Authorization: Bearer \$token\""; curl "$@" -H "Authorization: Bearer $token"; echo; echo; }
tcurl -sS -X POST "$base/productOffering" -H 'Content-Type: application/json' -d '{"name":"Fibre 1G","lifecycleStatus":"Active"}'
tcurl -sS -i "$base/productOffering?fields=name&limit=10"
tcurl -sS "$base/whoami"
# The metrics API is not guarded: scrapers carry no token.
echo "\$ curl -sS $gw/productcatalog/metrics | grep -E '^(productcatalog_offerings_created_total|wasmcanvas_requests_total)'"
curl -sS "$gw/productcatalog/metrics" | grep -E '^(productcatalog_offerings_created_total|wasmcanvas_requests_total)'
echo
run bin/canvas down --state-dir "$state"
