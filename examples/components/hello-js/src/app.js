// A wasi:http handler in JavaScript: it echoes the method, path and body,
// so the runtime's end-to-end test can check a componentize-js component.
addEventListener("fetch", (event) =>
  event.respondWith(
    (async () => {
      const url = new URL(event.request.url);
      const body = await event.request.text();
      return new Response(`hello from js: ${event.request.method} ${url.pathname} ${body}`, {
        headers: { "content-type": "text/plain", "x-js": "yes" },
      });
    })(),
  ),
);
