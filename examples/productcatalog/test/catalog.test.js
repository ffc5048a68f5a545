// Tests of the TMF620 logic (src/catalog.js) over an in-memory store: the
// same code the component runs over wasi:keyvalue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { handle, memoryStore, mergePatch } from "../src/catalog.js";

const BASE = "/productcatalog/tmf-api/productCatalogManagement/v4";
const ORIGIN = "http://127.0.0.1:8080";

function catalog() {
  const logs = [];
  let tick = 0;
  const env = {
    store: memoryStore(),
    log: (level, context, message) => logs.push({ level, context, message }),
    now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)),
  };
  const call = (method, path, body) => {
    const res = handle({ method, url: ORIGIN + path, body: body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body) }, env);
    return { ...res, json: res.body === "" ? undefined : JSON.parse(res.body) };
  };
  return { call, logs, env };
}

function assertTmfError(res, status, code) {
  assert.equal(res.status, status, res.body);
  assert.equal(res.json["@type"], "Error");
  assert.equal(res.json.code, code);
  assert.equal(res.json.status, String(status));
  assert.equal(typeof res.json.reason, "string");
  assert.equal(typeof res.json.message, "string");
}

for (const [kind, type] of [["productOffering", "ProductOffering"], ["category", "Category"]]) {
  test(`${kind}: create, get, list, patch, delete`, () => {
    const { call, logs } = catalog();
    const created = call("POST", `${BASE}/${kind}`, { name: "Fibre 1G", description: "home fibre", "@type": type });
    assert.equal(created.status, 201, created.body);
    assert.equal(created.json.id, "1");
    assert.equal(created.json.href, `${ORIGIN}${BASE}/${kind}/1`);
    assert.equal(created.headers.location, created.json.href);
    assert.equal(created.json["@type"], type);
    assert.equal(created.json.name, "Fibre 1G");
    assert.equal(created.json.lastUpdate, "2026-01-01T00:00:00.000Z");
    assert.match(created.headers["content-type"], /^application\/json/);

    const got = call("GET", `${BASE}/${kind}/1`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, created.json);

    const patched = call("PATCH", `${BASE}/${kind}/1`, { description: null, lifecycleStatus: "Active" });
    assert.equal(patched.status, 200, patched.body);
    assert.equal(patched.json.lifecycleStatus, "Active");
    assert.equal("description" in patched.json, false, "merge patch null removes the attribute");
    assert.equal(patched.json.name, "Fibre 1G");
    assert.equal(patched.json.lastUpdate, "2026-01-01T00:00:01.000Z");
    assert.deepEqual(call("GET", `${BASE}/${kind}/1`).json, patched.json);

    const listed = call("GET", `${BASE}/${kind}`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json, [patched.json]);

    const deleted = call("DELETE", `${BASE}/${kind}/1`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, "");
    assertTmfError(call("GET", `${BASE}/${kind}/1`), 404, "notFound");
    assertTmfError(call("DELETE", `${BASE}/${kind}/1`), 404, "notFound");
    assert.deepEqual(call("GET", `${BASE}/${kind}`).json, []);
    assert.deepEqual(logs.map((l) => l.message), [`created ${kind} 1 (Fibre 1G)`, `patched ${kind} 1`, `deleted ${kind} 1`]);
  });
}

test("ids are never reused after a delete", () => {
  const { call } = catalog();
  call("POST", `${BASE}/category`, { name: "a" });
  call("DELETE", `${BASE}/category/1`);
  assert.equal(call("POST", `${BASE}/category`, { name: "b" }).json.id, "2");
  // Each resource kind counts on its own.
  assert.equal(call("POST", `${BASE}/productOffering`, { name: "p" }).json.id, "1");
});

test("any ODA component name prefixes the API", () => {
  const { call } = catalog();
  const other = "/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4";
  const res = call("POST", `${other}/category`, { name: "x" });
  assert.equal(res.status, 201);
  assert.equal(res.json.href, `${ORIGIN}${other}/category/1`);
  // The same record read through another prefix carries that prefix.
  assert.equal(call("GET", `${BASE}/category/1`).json.href, `${ORIGIN}${BASE}/category/1`);
});

test("list: offset, limit, counts, fields, filter and sort", () => {
  const { call } = catalog();
  const names = ["delta", "alpha", "echo", "charlie", "bravo"];
  names.forEach((name, i) =>
    call("POST", `${BASE}/productOffering`, { name, lifecycleStatus: i % 2 === 0 ? "Active" : "Retired", isBundle: i === 0 }));

  const tests = [
    { q: "", ids: ["1", "2", "3", "4", "5"], total: 5 },
    { q: "?offset=1&limit=2", ids: ["2", "3"], total: 5 },
    { q: "?offset=4&limit=10", ids: ["5"], total: 5 },
    { q: "?offset=9", ids: [], total: 5 },
    { q: "?limit=0", ids: [], total: 5 },
    { q: "?lifecycleStatus=Active", ids: ["1", "3", "5"], total: 3 },
    { q: "?lifecycleStatus=Active&limit=1&offset=1", ids: ["3"], total: 3 },
    { q: "?lifecycleStatus=Active,Retired&isBundle=true", ids: ["1"], total: 1 },
    { q: "?name=nope", ids: [], total: 0 },
    { q: "?sort=name", ids: ["2", "5", "4", "1", "3"], total: 5 },
    { q: "?sort=-name&limit=2", ids: ["3", "1"], total: 5 },
    { q: "?sort=lifecycleStatus,-name", ids: ["3", "1", "5", "4", "2"], total: 5 },
  ];
  for (const { q, ids, total } of tests) {
    const res = call("GET", `${BASE}/productOffering${q}`);
    assert.equal(res.status, 200, q);
    assert.deepEqual(res.json.map((o) => o.id), ids, q);
    assert.equal(res.headers["x-total-count"], String(total), q);
    assert.equal(res.headers["x-result-count"], String(ids.length), q);
  }

  const sel = call("GET", `${BASE}/productOffering?fields=name&limit=1`);
  assert.deepEqual(sel.json, [{ id: "1", href: `${ORIGIN}${BASE}/productOffering/1`, "@type": "ProductOffering", name: "delta" }]);
  const none = call("GET", `${BASE}/productOffering/2?fields=none`);
  assert.deepEqual(Object.keys(none.json).sort(), ["@type", "href", "id"]);
  const two = call("GET", `${BASE}/productOffering/2?fields=name,%20lifecycleStatus`);
  assert.deepEqual(Object.keys(two.json).sort(), ["@type", "href", "id", "lifecycleStatus", "name"]);

  for (const q of ["?offset=-1", "?limit=x", "?offset=1.5"]) {
    assertTmfError(call("GET", `${BASE}/productOffering${q}`), 400, "invalidQuery");
  }
});

test("invalid requests answer TMF errors and change nothing", () => {
  const { call } = catalog();
  call("POST", `${BASE}/productOffering`, { name: "kept" });
  const tests = [
    { m: "POST", p: "/productOffering", body: "{not json", status: 400, code: "invalidBody" },
    { m: "POST", p: "/productOffering", body: "[1]", status: 400, code: "invalidBody" },
    { m: "POST", p: "/productOffering", body: "", status: 400, code: "invalidBody" },
    { m: "POST", p: "/productOffering", body: { description: "no name" }, status: 422, code: "missingAttribute" },
    { m: "POST", p: "/category", body: { name: "  " }, status: 422, code: "missingAttribute" },
    { m: "POST", p: "/category", body: { name: 7 }, status: 422, code: "missingAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", isBundle: "yes" }, status: 422, code: "invalidAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", category: [{ name: "no id" }] }, status: 422, code: "invalidAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", category: {} }, status: 422, code: "invalidAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", validFor: "2026" }, status: 422, code: "invalidAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", id: "42" }, status: 400, code: "nonPatchableAttribute" },
    { m: "POST", p: "/productOffering", body: { name: "x", "@type": "Category" }, status: 400, code: "invalidAttribute" },
    { m: "PATCH", p: "/productOffering/1", body: { name: null }, status: 422, code: "missingAttribute" },
    { m: "PATCH", p: "/productOffering/1", body: { href: "x" }, status: 400, code: "nonPatchableAttribute" },
    { m: "PATCH", p: "/productOffering/1", body: "nope", status: 400, code: "invalidBody" },
    { m: "PATCH", p: "/productOffering/99", body: { name: "y" }, status: 404, code: "notFound" },
    { m: "GET", p: "/productOffering/..%2Fseq", status: 404, code: "notFound" },
    { m: "GET", p: "/productOffering/1/extra", status: 404, code: "notFound" },
    { m: "GET", p: "/productSpecification", status: 404, code: "notFound" },
    { m: "GET", p: "", status: 404, code: "notFound" },
    { m: "PUT", p: "/productOffering/1", body: { name: "y" }, status: 405, code: "methodNotAllowed" },
    { m: "DELETE", p: "/productOffering", status: 405, code: "methodNotAllowed" },
  ];
  for (const tc of tests) {
    const res = call(tc.m, `${BASE}${tc.p}`, tc.body);
    assertTmfError(res, tc.status, tc.code);
  }
  assertTmfError(call("GET", "/other/api/productOffering"), 404, "notFound");
  const list = call("GET", `${BASE}/productOffering`);
  assert.deepEqual(list.json.map((o) => [o.id, o.name]), [["1", "kept"]]);
});

test("a failing store answers 500 without its details and logs them", () => {
  const { call, env, logs } = catalog();
  env.store.set = () => {
    throw new Error("bucket offline at nats://10.0.0.1");
  };
  const res = call("POST", `${BASE}/category`, { name: "x" });
  assertTmfError(res, 500, "internalError");
  assert.equal(res.body.includes("10.0.0.1"), false);
  assert.equal(logs.length, 1);
  assert.equal(logs[0].level, "error");
  assert.match(logs[0].message, /bucket offline/);
});

test("relative request URLs give relative hrefs", () => {
  const { env } = catalog();
  const res = handle({ method: "POST", url: `${BASE}/category`, body: JSON.stringify({ name: "x" }) }, env);
  assert.equal(JSON.parse(res.body).href, `${BASE}/category/1`);
});

test("mergePatch follows RFC 7386", () => {
  const cases = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    assert.deepEqual(mergePatch(target, patch), want, JSON.stringify([target, patch]));
  }
});

// The request path uses no regular expressions (see isValidId in
// catalog.js): the hand-written checks must answer as the expressions did.
test("ids, numbers, sort signs and origins are checked as the regular expressions did", () => {
  const { call, env } = catalog();
  call("POST", `${BASE}/productOffering`, { name: "b" });
  call("POST", `${BASE}/productOffering`, { name: "a" });
  env.store.set("productOffering.A-z_9", JSON.stringify({ id: "A-z_9", name: "c" }));
  env.store.set(`productOffering.${"x".repeat(64)}`, JSON.stringify({ id: "x".repeat(64), name: "d" }));
  for (const [id, status] of [["A-z_9", 200], ["x".repeat(64), 200], ["x".repeat(65), 404], ["a.b", 404], ["é", 404], ["%20", 404], ["1", 200]]) {
    assert.equal(call("GET", `${BASE}/productOffering/${id}`).status, status, id);
  }
  const sorted = call("GET", `${BASE}/productOffering?sort=%2Bname&limit=2&offset=0`);
  assert.deepEqual(sorted.json.map((o) => o.name), ["a", "b"]);
  for (const q of ["?limit=", "?limit=007"]) {
    assert.equal(call("GET", `${BASE}/productOffering${q}`).status, 200, q);
  }
  for (const q of ["?limit=1e2", "?limit=+1", "?limit=١"]) {
    assertTmfError(call("GET", `${BASE}/productOffering${q}`), 400, "invalidQuery");
  }
  // An absolute request URL gives hrefs its origin; a path alone, none.
  const rel = handle({ method: "GET", url: `${BASE}/productOffering/1`, body: "" }, env);
  assert.equal(JSON.parse(rel.body).href, `${BASE}/productOffering/1`);
  const abs = handle({ method: "GET", url: `https://shop.example:8443${BASE}/productOffering/1`, body: "" }, env);
  assert.equal(JSON.parse(abs.body).href, `https://shop.example:8443${BASE}/productOffering/1`);
});
