#!/bin/sh
# wasi-wit.sh DIR: writes the WASI 0.2.10 WIT a componentize-js component of
# this directory builds against into DIR/deps, from the jco installed in the
# current directory's node_modules: wasi-io and wasi-clocks as shipped
# (lib/wit/builtin/0.2.10), wasi-http from the bundled 0.2.12 package
# relabelled 0.2.10 with its worlds removed (only its types,
# incoming-handler and outgoing-handler interfaces are used).
set -eu
builtin=node_modules/@bytecodealliance/jco/lib/wit/builtin
mkdir -p "$1/deps/wasi-io" "$1/deps/wasi-clocks" "$1/deps/wasi-http"
cp "$builtin/0.2.10/wasi-io/package.wit" "$1/deps/wasi-io/"
cp "$builtin/0.2.10/wasi-clocks/package.wit" "$1/deps/wasi-clocks/"
sed 's/0\.2\.12/0.2.10/g' "$builtin/0.2.12/wasi-http/package.wit" |
  awk '/^world /{skip=1} skip && /^}/{skip=0; next} !skip' > "$1/deps/wasi-http/package.wit"
