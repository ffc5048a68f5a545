#!/usr/bin/env bash
# Regenerates wit/deps/wasi-*-0.2.3 from the WASI WIT that the pinned
# @bytecodealliance/jco bundles (run after `npm ci`; the output is committed).
#
# The world names WASI 0.2.3, older than 0.2.10, so `jco componentize` builds
# with the componentize-js 0.19.3 it bundles for such worlds, whose engine
# (StarlingMonkey) exports wasi:http/incoming-handler@0.2.3: its bindings
# call an import directly, where those of componentize-js >= 0.20 set up an
# async task (promises, an async stack capture) for every call, which made
# a GET's JavaScript 2.3x slower (see README "Where a JavaScript request's
# time goes"). jco ships WASI 0.2.10 text for clocks and io (with the
# engine's unstable features made stable) and 0.2.12 for the rest; WASI 0.2
# patch releases keep declarations unchanged, so every package is that text
# relabelled 0.2.3. cli loses its worlds: they include filesystem and
# sockets worlds the engine copies lack, and the proxy world needs only
# cli's interfaces. build.sh then checks the finished component's world.
set -euo pipefail
cd "$(dirname "$0")/.."
builtin=node_modules/@bytecodealliance/jco/lib/wit/builtin
v=0.2.3
rm -rf wit/deps/wasi-{cli,clocks,http,io,random}-0.2.*
for p in wasi-clocks wasi-io; do
  mkdir -p "wit/deps/$p-$v"
  sed "s/@0\.2\.10/@$v/g" "$builtin/0.2.10/$p/package.wit" > "wit/deps/$p-$v/package.wit"
done
for p in wasi-http wasi-random wasi-cli; do
  mkdir -p "wit/deps/$p-$v"
  sed "s/@0\.2\.12/@$v/g" "$builtin/0.2.12/$p/package.wit" > "wit/deps/$p-$v/package.wit"
done
# Drop every top-level `world ... { ... }` block from cli.
awk '/^world /{skip=1} !skip{print} skip && /^}/{skip=0}' "wit/deps/wasi-cli-$v/package.wit" > "wit/deps/wasi-cli-$v/package.wit.tmp"
mv "wit/deps/wasi-cli-$v/package.wit.tmp" "wit/deps/wasi-cli-$v/package.wit"
