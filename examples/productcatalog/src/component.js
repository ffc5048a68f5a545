// The component's entry: binds catalog.handle to the fetch event
// (componentize-js exports it as wasi:http/incoming-handler), to a
// wasi:keyvalue bucket, to wasi:logging, to the canvas's
// wasmcanvas:observe (a span per request, a counter of offerings created)
// and to its wasmcanvas:identity (GET .../whoami: who the caller is, and a
// client-credentials token for a dependent API).
import { open } from "wasi:keyvalue/store@0.2.0-draft";
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft";
import { log } from "wasi:logging/logging@0.1.0-draft";
import { counterAdd } from "wasmcanvas:observe/metrics@0.2.0";
import { startSpan, endSpan } from "wasmcanvas:observe/tracing@0.2.0";
import { verify, accessToken } from "wasmcanvas:identity/tokens@0.1.0";
import { handle } from "./catalog.js";

// OFFERINGS_CREATED is the business counter the component records; the
// canvas serves it at the Component's metrics API (managementFunction).
const OFFERINGS_CREATED = "productcatalog_offerings_created_total";

// The bucket the host links to this component; "default" is the link name
// wasmCloud uses when a link has none.
const BUCKET = "default";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// keyvalueStore adapts a wasi:keyvalue bucket to catalog.js's store
// interface. Errors from the host surface as exceptions; catalog.handle
// turns them into a 500 and logs them.
function keyvalueStore(bucket) {
  return {
    get(key) {
      const v = bucket.get(key);
      return v === undefined ? null : decoder.decode(v);
    },
    set(key, value) {
      bucket.set(key, encoder.encode(value));
    },
    delete(key) {
      bucket.delete(key);
    },
    keys(prefix) {
      const out = [];
      let cursor;
      // Bounded: a host that keeps returning a cursor cannot hang the request.
      for (let page = 0; page < 10000; page++) {
        const res = bucket.listKeys(cursor);
        for (const k of res.keys) if (k.startsWith(prefix)) out.push(k);
        if (res.cursor === undefined || res.cursor === null) return out;
        cursor = res.cursor;
      }
      throw new Error("wasi:keyvalue list-keys returned more than 10000 pages");
    },
    increment(key) {
      return Number(increment(bucket, key, 1n));
    },
  };
}

function describe(err) {
  // wasi:keyvalue errors arrive as ComponentError with the variant in payload.
  if (err && err.payload) {
    const p = err.payload;
    return p.tag === "other" ? `keyvalue error: ${p.val}` : `keyvalue error: ${p.tag}`;
  }
  return String(err);
}

// observed runs f and never lets observability break a request: a refused
// call (no link, a bad name) is logged and the request goes on.
function observed(what, f) {
  try {
    return f();
  } catch (err) {
    log("warn", "productcatalog", `${what}: ${err && err.payload ? JSON.stringify(err.payload) : String(err)}`);
    return undefined;
  }
}

// serve answers one request inside a server span that continues the
// trace of the request the canvas's gateway is serving.
async function serve(request) {
  const path = new URL(request.url).pathname;
  const span = observed("start span", () => startSpan(`${request.method} ${path}`, "server", undefined));
  let status = 500;
  try {
    const res = await answer(request);
    status = res.status;
    if (request.method === "POST" && status === 201 && path.endsWith("/productOffering")) {
      observed("count the offering", () => counterAdd(OFFERINGS_CREATED, 1n, []));
    }
    return res;
  } finally {
    if (span) {
      const attrs = [{ key: "http.request.method", value: request.method }, { key: "http.response.status_code", value: String(status) }];
      observed("end span", () => endSpan(span, attrs, status >= 500 ? { tag: "error", val: `status ${status}` } : { tag: "ok" }));
    }
  }
}

// tmfError is a TMF630 error response.
function tmfError(status, code, reason, message, headers = {}) {
  return new Response(JSON.stringify({ "@type": "Error", code, reason, message, status: String(status) }),
    { status, headers: { "content-type": "application/json;charset=utf-8", ...headers } });
}

// identityError answers a wasmcanvas:identity error: invalid (the token
// was refused) is 401, unavailable (no securityFunction links the
// component to the canvas's identity, or the issuer is down) 503.
function identityError(err) {
  const p = err && err.payload;
  if (p && p.tag === "invalid") {
    return tmfError(401, "invalidToken", "Unauthorized", `the token was refused: ${p.val}`,
      { "www-authenticate": 'Bearer realm="productcatalog", error="invalid_token"' });
  }
  log("warn", "whoami", `wasmcanvas:identity: ${p ? `${p.tag}: ${p.val}` : String(err)}`);
  return tmfError(503, "identityUnavailable", "Service Unavailable", p ? p.val : "wasmcanvas:identity failed");
}

// whoami answers GET .../whoami with the caller as the canvas's
// wasmcanvas:identity verifies the request's bearer token (subject,
// issuer, audience, roles, expiresAt in seconds). With ?audience=A it also
// gets the component's own client-credentials token for calling A through
// access-token, and says it got one (never the token itself).
function whoami(request) {
  const m = /^bearer\s+(\S+)$/i.exec((request.headers.get("authorization") || "").trim());
  if (!m) {
    return tmfError(401, "missingToken", "Unauthorized", "send Authorization: Bearer <token>",
      { "www-authenticate": 'Bearer realm="productcatalog"' });
  }
  let claims;
  try {
    claims = verify(m[1]);
  } catch (err) {
    return identityError(err);
  }
  const body = { subject: claims.subject, issuer: claims.issuer, audience: claims.audience, roles: claims.roles, expiresAt: Number(claims.expiresAt) };
  const audience = new URL(request.url).searchParams.get("audience");
  if (audience) {
    try {
      const token = accessToken(audience);
      body.dependentToken = { audience, issued: token.split(".").length === 3 };
    } catch (err) {
      return identityError(err);
    }
  }
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json;charset=utf-8" } });
}

async function answer(request) {
  if (request.method === "GET" && new URL(request.url).pathname.endsWith("/whoami")) {
    return whoami(request);
  }
  const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
  let bucket;
  try {
    bucket = open(BUCKET);
  } catch (err) {
    log("error", "productcatalog", `open keyvalue bucket "${BUCKET}": ${describe(err)}`);
    return tmfError(503, "storeUnavailable", "Service Unavailable", "the catalog store is not available");
  }
  const res = handle(
    { method: request.method, url: request.url, body },
    {
      store: keyvalueStore(bucket),
      log: (level, context, message) => log(level, context, message),
      now: () => new Date(),
    },
  );
  // A 204 must have no body at all (the Response constructor refuses even "").
  return new Response(res.status === 204 ? null : res.body, { status: res.status, headers: res.headers });
}

addEventListener("fetch", (event) => event.respondWith(serve(event.request)));

