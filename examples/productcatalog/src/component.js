// The component's entry: binds catalog.handle to the fetch event
// (componentize-js exports it as wasi:http/incoming-handler), to a
// wasi:keyvalue bucket and to wasi:logging.
import { open } from "wasi:keyvalue/store@0.2.0-draft";
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft";
import { log } from "wasi:logging/logging@0.1.0-draft";
import { handle } from "./catalog.js";

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

async function serve(request) {
  const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
  let bucket;
  try {
    bucket = open(BUCKET);
  } catch (err) {
    log("error", "productcatalog", `open keyvalue bucket "${BUCKET}": ${describe(err)}`);
    return new Response(JSON.stringify({
      "@type": "Error", code: "storeUnavailable", reason: "Service Unavailable",
      message: "the catalog store is not available", status: "503",
    }), { status: 503, headers: { "content-type": "application/json;charset=utf-8" } });
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
