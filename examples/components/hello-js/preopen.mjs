// jco runs its WebAssembly tooling on preview2-shim with no preopened
// directories, so it cannot read the WIT it is given ("os error 44").
// Preload this module to preopen / in every copy of the shim npm installed.
import { existsSync } from "node:fs";

const copies = [
  "./node_modules/@bytecodealliance/preview2-shim",
  "./node_modules/@bytecodealliance/jco/node_modules/@bytecodealliance/preview2-shim",
  "./node_modules/@bytecodealliance/jco-transpile/node_modules/@bytecodealliance/preview2-shim",
];
for (const dir of copies) {
  const fs = `${dir}/dist/nodejs/filesystem.js`;
  if (existsSync(fs)) (await import(fs))._setPreopens({ "/": "/" });
}
