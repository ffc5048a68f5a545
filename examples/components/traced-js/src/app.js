// A wasi:http handler in JavaScript for the canvas's trace test: each
// request opens a span of its own through wasmcanvas:observe (a child of
// the gateway's span for the request), calls the provider Component at
// http://<the request's host>/provider<path> with that span's traceparent,
// ends the span and answers with the provider's status and body (its
// x-path header as x-provider-path).
import { startSpan, endSpan } from "wasmcanvas:observe/tracing@0.2.0";

// describe names a refused wasmcanvas:observe call (a ComponentError
// carrying the error variant) or any other exception.
function describe(err) {
  return err && err.payload ? JSON.stringify(err.payload) : String(err);
}

async function handle(request) {
  const url = new URL(request.url);
  let span;
  try {
    span = startSpan("call provider", "internal", undefined);
  } catch (err) {
    return new Response(`start span: ${describe(err)}\n`, { status: 500 });
  }
  let res;
  try {
    res = await fetch(`http://${url.host}/provider${url.pathname}${url.search}`, {
      headers: { traceparent: span.context.traceparent },
    });
  } catch (err) {
    endSpan(span, [], { tag: "error", val: String(err) });
    return new Response(`call provider: ${String(err)}\n`, { status: 502 });
  }
  const body = await res.text();
  endSpan(span, [{ key: "http.response.status_code", value: String(res.status) }],
    res.status >= 500 ? { tag: "error", val: `provider answered ${res.status}` } : { tag: "ok" });
  return new Response(body, {
    status: res.status,
    headers: { "content-type": "text/plain", "x-provider-path": res.headers.get("x-path") ?? "" },
  });
}

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));
