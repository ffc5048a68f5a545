// End-to-end test of the built component (build/productcatalog.wasm): jco
// transpiles it to JS + core Wasm, and test/host/serve.mjs serves it over
// real HTTP on 127.0.0.1 in a child process, a fresh instance per request,
// with wasi:keyvalue and wasi:logging from test/host/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url);
const wasm = fileURLToPath(new URL("build/productcatalog.wasm", root));
const outDir = fileURLToPath(new URL("build/transpiled/", root));
const API = "/ctk-productcatalog/tmf-api/productCatalogManagement/v4";

// startServer runs serve.mjs and resolves once it listens; its wasi:logging
// lines collect in logs.
async function startServer(env = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL("host/serve.mjs", import.meta.url)), outDir], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs = [];
  const observed = [];
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr += chunk;
    for (const line of chunk.split("\n")) {
      if (line.startsWith("{\"wasiLog\"")) logs.push(JSON.parse(line).wasiLog);
      if (line.startsWith("{\"observe\"")) observed.push(JSON.parse(line).observe);
    }
  });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  const ready = new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const m = /listening (\S+)/.exec(stdout);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}: ${stderr}`)));
  });
  const timeout = AbortSignal.timeout(60_000);
  const addr = await Promise.race([ready, once(timeout, "abort").then(() => { throw new Error(`serve.mjs did not listen within 60s: ${stderr}`); })]);
  return {
    base: `http://${addr}${API}`,
    logs,
    observed,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

let server;
let base;

before(async () => {
  if (!existsSync(wasm)) {
    throw new Error(`${wasm} is missing: run ./build.sh first`);
  }
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(process.execPath, [
    "--import", fileURLToPath(new URL("scripts/preopen.mjs", root)),
    fileURLToPath(new URL("node_modules/@bytecodealliance/jco/dist/jco.js", root)),
    "transpile", wasm, "--instantiation", "sync", "--no-typescript", "--quiet",
    "--name", "productcatalog", "-o", outDir,
  ], { stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 });
  server = await startServer();
  base = server.base;
});

after(() => server?.stop());

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text === "" ? undefined : JSON.parse(text) };
}

test("the component serves TMF620 over HTTP with state in wasi:keyvalue", async () => {
  const created = [];
  for (const name of ["Fibre 1G", "Mobile 5G", "TV Sports"]) {
    const res = await call("POST", "/productOffering", { name, lifecycleStatus: "Active" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get("location"), res.json.href);
    assert.match(res.json.href, new RegExp(`^http://[^/]+${API}/productOffering/${res.json.id}$`));
    assert.equal(res.json["@type"], "ProductOffering");
    assert.ok(!Number.isNaN(Date.parse(res.json.lastUpdate)), res.json.lastUpdate);
    created.push(res.json);
  }
  assert.deepEqual(created.map((o) => o.id), ["1", "2", "3"]);

  const page = await call("GET", "/productOffering?fields=name&offset=1&limit=1");
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("x-total-count"), "3");
  assert.equal(page.headers.get("x-result-count"), "1");
  assert.deepEqual(page.json, [{ id: "2", href: created[1].href, "@type": "ProductOffering", name: "Mobile 5G" }]);

  const patched = await call("PATCH", "/productOffering/2", { lifecycleStatus: "Retired" });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.lifecycleStatus, "Retired");
  assert.equal((await call("GET", "/productOffering/2")).json.lifecycleStatus, "Retired");
  assert.equal((await call("GET", "/productOffering?lifecycleStatus=Active")).headers.get("x-total-count"), "2");

  const deleted = await call("DELETE", "/productOffering/1");
  assert.equal(deleted.status, 204);
  assert.equal(deleted.text, "");
  const gone = await call("GET", "/productOffering/1");
  assert.equal(gone.status, 404);
  assert.equal(gone.json.code, "notFound");

  // Through wasmcanvas:observe: one counted offering per create, and a
  // server span per request, ended with its status.
  const counted = server.observed.filter((o) => o.fn === "counter-add");
  assert.deepEqual(counted.map((o) => [o.name, o.delta]), created.map(() => ["productcatalog_offerings_created_total", "1"]));
  const ended = server.observed.filter((o) => o.fn === "end-span");
  assert.equal(ended.length, 9, JSON.stringify(server.observed)); // one per request above
  assert.ok(ended.some((o) => o.name === `DELETE ${API}/productOffering/1` && o.status === "ok" &&
    o.attributes.some((a) => a.key === "http.response.status_code" && a.value === "204")), JSON.stringify(ended));

  // Every request ran in a fresh instance, so what the later ones read
  // came from the host's bucket.
  assert.ok(server.logs.some((l) => l.level === "info" && l.context === "productOffering" && l.message === "deleted productOffering 1"), JSON.stringify(server.logs));
});

test("the component answers TMF errors for bad input", async () => {
  const bad = await call("POST", "/category", "{oops");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, "invalidBody");
  const missing = await call("POST", "/category", { description: "x" });
  assert.equal(missing.status, 422);
  assert.deepEqual(Object.keys(missing.json).sort(), ["@type", "code", "message", "reason", "status"]);
  const nothing = await call("GET", "/nothing");
  assert.equal(nothing.status, 404);
});

test("the component answers 503 when the host has no bucket for it", async () => {
  const bucketless = await startServer({ PRODUCTCATALOG_NO_BUCKET: "1" });
  try {
    const res = await fetch(`${bucketless.base}/category`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, "storeUnavailable");
    assert.ok(bucketless.logs.some((l) => l.level === "error" && /no-such-store/.test(l.message)), JSON.stringify(bucketless.logs));
  } finally {
    await bucketless.stop();
  }
});

test("whoami reads the caller through wasmcanvas:identity", async () => {
  const linked = await startServer({ PRODUCTCATALOG_IDENTITY: "1" });
  try {
    const get = (path, token) => fetch(`${linked.base}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000),
    });
    const me = await get("/whoami?audience=tmf669", "alice-token");
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { subject: "alice", issuer: "https://issuer.test", audience: ["productcatalog"], roles: ["pcadmin"],
      expiresAt: 1900000000, dependentToken: { audience: "tmf669", issued: true } });
    const refused = await get("/whoami", "mallory-token");
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate"), /invalid_token/);
    assert.equal((await get("/whoami")).status, 401);
  } finally {
    await linked.stop();
  }
  // Not linked (the default host): 503 saying so, and the catalog still serves.
  const res = await call("GET", "/whoami");
  assert.equal(res.status, 401);
  const unlinked = await fetch(`${base}/whoami`, { headers: { authorization: "Bearer alice-token" }, signal: AbortSignal.timeout(30_000) });
  assert.equal(unlinked.status, 503);
  assert.match((await unlinked.json()).message, /not linked/);
});
