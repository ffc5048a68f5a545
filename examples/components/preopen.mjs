// jco runs its WebAssembly tooling on preview2-shim with no preopened
// directories, so it cannot read the WIT it is given ("os error 44").
// Preload this module (node --import ../preopen.mjs, from a component's
// directory) to preopen / in every copy of the shim npm installed in the
// current directory's node_modules.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const copies = [
  "node_modules/@bytecodealliance/preview2-shim",
  "node_modules/@bytecodealliance/jco/node_modules/@bytecodealliance/preview2-shim",
  "node_modules/@bytecodealliance/jco-transpile/node_modules/@bytecodealliance/preview2-shim",
];
for (const dir of copies) {
  const fs = resolve(dir, "dist/nodejs/filesystem.js");
  if (existsSync(fs)) (await import(pathToFileURL(fs).href))._setPreopens({ "/": "/" });
}
