// Serves the transpiled component (argv[2]: directory of productcatalog.js)
// on 127.0.0.1, a fresh instance per request as wasmtime serve and wasmCloud
// do, under @bytecodealliance/preview2-shim's WASI host with keyvalue.js as
// wasi:keyvalue and a wasi:logging that writes JSON lines to stderr.
// Prints "listening <host:port>" on stdout once ready. PRODUCTCATALOG_NO_BUCKET=1
// makes every open fail, as a host without a linked bucket does;
// PRODUCTCATALOG_IDENTITY=1 links wasmcanvas:identity (see below).
//
// It runs in its own process: the shim serves HTTP from a worker and blocks
// the main thread while the component runs, so a client in the same thread
// would deadlock on a request body.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as keyvalue from "./keyvalue.js";

const outDir = pathToFileURL(process.argv[2].replace(/\/?$/, "/"));
// The preview2-shim copy jco itself runs on.
const from = createRequire(new URL("../../node_modules/@bytecodealliance/jco/index.js", import.meta.url));
const shim = (sub) => import(pathToFileURL(from.resolve(`@bytecodealliance/preview2-shim/${sub}`)).href);
const { WASIShim } = await shim("instantiation");
const { HTTPServer } = await shim("http");
const { instantiate } = await import(new URL("productcatalog.js", outDir).href);

keyvalue.failOpen(process.env.PRODUCTCATALOG_NO_BUCKET === "1");

// The shim's HTTPServer fails on a response whose body the guest never
// took (the component's 204s: a 204 must have no body, so StarlingMonkey
// never calls outgoing-response.body). Give such responses an empty body
// before they are sent, as wasmtime does.
const { OutgoingResponse, ResponseOutparam } = new WASIShim().getImportObject()["wasi:http/types"];
const bodyTaken = new WeakSet();
const takeBody = OutgoingResponse.prototype.body;
OutgoingResponse.prototype.body = function body() {
  bodyTaken.add(this);
  return takeBody.call(this);
};
const setResponse = ResponseOutparam.set;
ResponseOutparam.set = function set(param, response) {
  if (response.tag === "ok" && !bodyTaken.has(response.val)) takeBody.call(response.val);
  return setResponse.call(this, param, response);
};
const modules = new Map();
function getCoreModule(path) {
  if (!modules.has(path)) modules.set(path, new WebAssembly.Module(readFileSync(new URL(path, outDir))));
  return modules.get(path);
}
const imports = () => ({
  ...new WASIShim().getImportObject(),
  "wasi:keyvalue/store": { open: keyvalue.open, Bucket: keyvalue.Bucket },
  "wasi:keyvalue/atomics": { increment: keyvalue.increment },
  "wasi:logging/logging": {
    log: (level, context, message) => process.stderr.write(JSON.stringify({ wasiLog: { level, context, message } }) + "\n"),
  },
  // wasmcanvas:observe as the canvas serves it, reduced to JSON lines on
  // stderr the tests read (u64 and BigInt values as strings).
  "wasmcanvas:observe/metrics": {
    counterAdd: (name, delta, labels) => observe("counter-add", { name, delta: String(delta), labels }),
    gaugeSet: (name, value, labels) => observe("gauge-set", { name, value, labels }),
    gaugeAdd: (name, delta, labels) => observe("gauge-add", { name, delta, labels }),
    histogramRecord: (name, value, labels) => observe("histogram-record", { name, value, labels }),
  },
  "wasmcanvas:observe/tracing": {
    current: () => undefined,
    startSpan: (name, kind, parent) => {
      const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");
      const span = { context: { traceparent: `00-${hex(32)}-${hex(16)}-01`, tracestate: "" }, parentSpanId: undefined, name, kind, startUnixNanos: BigInt(Date.now()) * 1000000n };
      observe("start-span", { name, kind });
      return span;
    },
    endSpan: (span, attributes, status) => observe("end-span", { name: span.name, attributes, status: status.tag }),
  },
  // wasmcanvas:identity: not linked (every call unavailable) unless
  // PRODUCTCATALOG_IDENTITY=1, then a stand-in issuer that knows one
  // token, "alice-token" (the Go tests use a real one).
  "wasmcanvas:identity/tokens": process.env.PRODUCTCATALOG_IDENTITY === "1" ? {
    verify: (token) => {
      if (token !== "alice-token") throw { payload: { tag: "invalid", val: "unknown token" } };
      return { subject: "alice", issuer: "https://issuer.test", audience: ["productcatalog"], roles: ["pcadmin"], expiresAt: 1900000000n };
    },
    accessToken: (audience) => `header.${Buffer.from(audience).toString("base64url")}.signature`,
  } : {
    verify: () => { throw { payload: { tag: "unavailable", val: "not linked to wasmcanvas:identity" } }; },
    accessToken: () => { throw { payload: { tag: "unavailable", val: "not linked to wasmcanvas:identity" } }; },
  },
});
function observe(fn, args) {
  process.stderr.write(JSON.stringify({ observe: { fn, ...args } }) + "\n");
}
const server = new HTTPServer({
  handle(request, responseOut) {
    return instantiate(getCoreModule, imports()).incomingHandler.handle(request, responseOut);
  },
});
server.listen(0, "127.0.0.1");
const { address, port } = server.address();
process.stdout.write(`listening ${address}:${port}\n`);
process.on("SIGTERM", () => {
  server.stop();
  process.exit(0);
});
