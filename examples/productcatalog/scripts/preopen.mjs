// Preloaded into the node process that runs `jco componentize`
// (node --import ./scripts/preopen.mjs ...). jco runs wasm-tools and the
// componentize-js splicer as WebAssembly under @bytecodealliance/preview2-shim,
// whose Node filesystem starts with no preopened directory since 0.26: every
// path jco hands them then fails with "No such file or directory (os error 44)".
// Preopening the host root gives them the paths jco passes, as older shims did.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Each package below may carry its own copy of the shim; the module
// instance that matters is the one that package resolves.
const users = ["jco-transpile", "componentize-js", "jco"];

const seen = new Set();
for (const user of users) {
  // Resolve as a module inside that package's directory would.
  const from = createRequire(new URL(`../node_modules/@bytecodealliance/${user}/index.js`, import.meta.url));
  const file = from.resolve("@bytecodealliance/preview2-shim/filesystem");
  if (seen.has(file)) continue;
  seen.add(file);
  const fs = await import(pathToFileURL(file).href);
  if (typeof fs._setPreopens !== "function") {
    throw new Error(`${file} has no _setPreopens; the preview2-shim API changed, update scripts/preopen.mjs`);
  }
  fs._setPreopens({ "/": "/" });
}
