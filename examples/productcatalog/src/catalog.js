// TMF620 Product Catalog Management v4 (productOffering and category) with
// the TMF630 conventions, as a pure function of a request and a store.
// The component (component.js) binds it to wasi:http, wasi:keyvalue and
// wasi:logging; the tests bind it to an in-memory store. Nothing here
// touches WASI, so both run the same code.

// The API root this component serves, under whatever ODA component name
// prefixes it (e.g. /productcatalog/tmf-api/productCatalogManagement/v4).
const API_ROOT = "/tmf-api/productCatalogManagement/v4";

// Keys and ids are kept to characters every key-value backend accepts
// (JetStream KV keys allow [-/_=.a-zA-Z0-9]): /^[A-Za-z0-9_-]{1,64}$/.
//
// The request path uses no regular expression: StarlingMonkey compiles a
// regular expression the first time an instance runs it, and every request
// runs in a fresh instance, so each one would pay ~0.2 ms per expression
// (BenchmarkJSSplit, README "Where a JavaScript request's time goes").
function isValidId(id) {
  if (id.length < 1 || id.length > 64) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return true;
}

// isDigits reports whether s is one or more ASCII digits: /^[0-9]+$/.
function isDigits(s) {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// hasScheme reports whether url starts with a URI scheme and "://":
// /^[a-z][a-z0-9+.-]*:\/\//i.
function hasScheme(url) {
  const at = url.indexOf("://");
  if (at < 1) return false;
  for (let i = 0; i < at; i++) {
    const c = url.charCodeAt(i) | 0x20;
    const letter = c >= 97 && c <= 122;
    if (i === 0 ? !letter : !(letter || (url.charCodeAt(i) >= 48 && url.charCodeAt(i) <= 57) || "+.-".includes(url[i]))) return false;
  }
  return true;
}

// Query parameters with a TMF630 meaning; any other parameter filters on
// the attribute of that name.
const RESERVED_PARAMS = new Set(["fields", "offset", "limit", "sort"]);

// The largest page a list returns when the client asks for no limit.
const DEFAULT_LIMIT = 1000;

// Attributes the server owns: a client cannot set or patch them.
const SERVER_ATTRIBUTES = ["id", "href", "@type", "lastUpdate"];

// Each resource: its @type, the attributes that must be booleans or
// strings, and which arrays hold references ({id, ...}).
const RESOURCES = {
  productOffering: {
    type: "ProductOffering",
    strings: ["name", "description", "lifecycleStatus", "version", "statusReason"],
    booleans: ["isBundle", "isSellable"],
    refArrays: ["category", "bundledProductOffering", "productOfferingPrice", "channel", "place"],
  },
  category: {
    type: "Category",
    strings: ["name", "description", "lifecycleStatus", "version", "parentId"],
    booleans: ["isRoot"],
    refArrays: ["productOffering", "subCategory"],
  },
};

// TMF630 error: the HTTP status plus a JSON body {code, reason, message, status}.
export class ApiError extends Error {
  constructor(status, code, reason, message) {
    super(message);
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

function errorResponse(err) {
  return json(err.status, {
    "@type": "Error",
    code: err.code,
    reason: err.reason,
    message: err.message,
    status: String(err.status),
  });
}

function json(status, body, headers = {}) {
  return {
    status,
    headers: { "content-type": "application/json;charset=utf-8", ...headers },
    body: body === undefined ? "" : JSON.stringify(body),
  };
}

function notFound(message) {
  return new ApiError(404, "notFound", "Not Found", message);
}

// splitPath finds the API root in path and what follows it.
function splitPath(path) {
  const at = path.indexOf(API_ROOT);
  if (at < 0) return null;
  const end = at + API_ROOT.length;
  const rest = path.slice(end);
  if (rest !== "" && !rest.startsWith("/")) return null;
  return { base: path.slice(0, end), segments: rest.split("/").filter((s) => s !== "") };
}

function parseBody(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalidBody", "Bad Request", `the request body is not valid JSON: ${e.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError(400, "invalidBody", "Bad Request", "the request body must be a JSON object");
  }
  return value;
}

// validate checks the attributes this component gives a meaning to; the
// rest of a TMF620 resource is stored as sent.
function validate(kind, item) {
  const spec = RESOURCES[kind];
  if (typeof item.name !== "string" || item.name.trim() === "") {
    throw new ApiError(422, "missingAttribute", "Unprocessable Entity", `${kind}.name is mandatory and must be a non-empty string`);
  }
  for (const a of spec.strings) {
    if (a in item && typeof item[a] !== "string") {
      throw new ApiError(422, "invalidAttribute", "Unprocessable Entity", `${kind}.${a} must be a string`);
    }
  }
  for (const a of spec.booleans) {
    if (a in item && typeof item[a] !== "boolean") {
      throw new ApiError(422, "invalidAttribute", "Unprocessable Entity", `${kind}.${a} must be true or false`);
    }
  }
  for (const a of spec.refArrays) {
    if (!(a in item)) continue;
    const refs = item[a];
    if (!Array.isArray(refs)) {
      throw new ApiError(422, "invalidAttribute", "Unprocessable Entity", `${kind}.${a} must be an array of references`);
    }
    refs.forEach((r, i) => {
      if (r === null || typeof r !== "object" || typeof r.id !== "string" || r.id === "") {
        throw new ApiError(422, "invalidAttribute", "Unprocessable Entity", `${kind}.${a}[${i}] must be an object with a string id`);
      }
    });
  }
  if ("validFor" in item && (item.validFor === null || typeof item.validFor !== "object" || Array.isArray(item.validFor))) {
    throw new ApiError(422, "invalidAttribute", "Unprocessable Entity", `${kind}.validFor must be an object {startDateTime, endDateTime}`);
  }
}

function rejectServerAttributes(kind, input, verb) {
  for (const a of SERVER_ATTRIBUTES) {
    if (a in input && a !== "@type") {
      throw new ApiError(400, "nonPatchableAttribute", "Bad Request", `${kind}.${a} is set by the server and cannot be ${verb}`);
    }
  }
  if ("@type" in input && input["@type"] !== RESOURCES[kind].type) {
    throw new ApiError(400, "invalidAttribute", "Bad Request", `${kind}.@type must be "${RESOURCES[kind].type}"`);
  }
}

// mergePatch applies an RFC 7386 JSON merge patch.
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// selectFields keeps the attributes named in the TMF630 fields parameter
// (comma separated; "none" keeps only the identity), always with id, href
// and @type.
function selectFields(item, fields) {
  if (fields === null) return item;
  const keep = new Set(["id", "href", "@type"]);
  for (const f of fields.split(",")) {
    const name = f.trim();
    if (name !== "" && name !== "none") keep.add(name);
  }
  const out = {};
  for (const [k, v] of Object.entries(item)) if (keep.has(k)) out[k] = v;
  return out;
}

function nonNegativeInt(params, name, fallback) {
  const raw = params.get(name);
  if (raw === null || raw === "") return fallback;
  if (!isDigits(raw)) {
    throw new ApiError(400, "invalidQuery", "Bad Request", `query parameter ${name} must be a non-negative integer, got "${raw}"`);
  }
  return Number(raw);
}

// matchesFilters applies TMF630 attribute filtering: ?lifecycleStatus=Active
// keeps items whose attribute equals the value (as text); a comma lists
// alternatives.
function matchesFilters(item, params) {
  for (const [name, value] of params) {
    if (RESERVED_PARAMS.has(name)) continue;
    const actual = item[name];
    if (actual === undefined || actual === null || typeof actual === "object") return false;
    if (!value.split(",").includes(String(actual))) return false;
  }
  return true;
}

// sortItems orders by the TMF630 sort parameter: attribute names, comma
// separated, a leading "-" for descending. Items lacking an attribute go last.
function sortItems(items, sort) {
  if (sort === null || sort.trim() === "") return;
  const keys = sort.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) =>
    s.startsWith("-") ? { name: s.slice(1), dir: -1 } : { name: s.startsWith("+") ? s.slice(1) : s, dir: 1 });
  items.sort((a, b) => {
    for (const { name, dir } of keys) {
      const x = a[name];
      const y = b[name];
      if (x === y) continue;
      if (x === undefined || x === null) return 1;
      if (y === undefined || y === null) return -1;
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      if (c !== 0) return c * dir;
    }
    return 0;
  });
}

function keyOf(kind, id) {
  return `${kind}.${id}`;
}

function withIdentity(kind, stored, base, origin) {
  return { id: stored.id, href: `${origin}${base}/${kind}/${stored.id}`, "@type": RESOURCES[kind].type, ...without(stored, ["id", "href", "@type"]) };
}

function without(obj, names) {
  const out = { ...obj };
  for (const n of names) delete out[n];
  return out;
}

function load(store, kind, id) {
  if (!isValidId(id)) return null;
  const raw = store.get(keyOf(kind, id));
  if (raw === null || raw === undefined) return null;
  return JSON.parse(raw);
}

function list(store, kind, params, base, origin) {
  const offset = nonNegativeInt(params, "offset", 0);
  const limit = nonNegativeInt(params, "limit", DEFAULT_LIMIT);
  const fields = params.get("fields");
  // Numeric ids sort in creation order; others after them, by text.
  const ids = store
    .keys(`${kind}.`)
    .map((k) => k.slice(kind.length + 1))
    .sort((a, b) => (Number(a) - Number(b)) || a.localeCompare(b));
  const matched = [];
  for (const id of ids) {
    const stored = load(store, kind, id);
    if (stored === null) continue; // deleted between listing and reading
    const item = withIdentity(kind, stored, base, origin);
    if (matchesFilters(item, params)) matched.push(item);
  }
  sortItems(matched, params.get("sort"));
  const page = matched.slice(offset, offset + limit).map((i) => selectFields(i, fields));
  return json(200, page, { "x-total-count": String(matched.length), "x-result-count": String(page.length) });
}

// handle serves one request. req: {method, url (absolute or path with
// query), body (text)}; env: {store, log(level, context, message), now()}.
// store: get(key) -> string|null, set(key, string), delete(key),
// keys(prefix) -> string[], increment(key) -> number.
// It returns {status, headers, body (text)}.
export function handle(req, env) {
  const url = new URL(req.url, "http://localhost");
  const origin = hasScheme(req.url) ? url.origin : "";
  try {
    return route(req, url, origin, env);
  } catch (err) {
    if (err instanceof ApiError) return errorResponse(err);
    env.log("error", "productcatalog", `${req.method} ${url.pathname}: ${err && err.stack ? err.stack : err}`);
    return errorResponse(new ApiError(500, "internalError", "Internal Server Error", "the catalog could not complete the request; see the component log"));
  }
}

function route(req, url, origin, env) {
  const parts = splitPath(url.pathname);
  if (parts === null) throw notFound(`no TMF620 resource at ${url.pathname}: paths start with .../tmf-api/productCatalogManagement/v4`);
  const { base, segments } = parts;
  const kind = segments[0];
  if (!(kind in RESOURCES) || segments.length > 2) {
    throw notFound(`no TMF620 resource at ${url.pathname}: this component serves ${base}/productOffering and ${base}/category`);
  }
  const { store } = env;
  const method = req.method.toUpperCase();

  if (segments.length === 1) {
    if (method === "GET") return list(store, kind, url.searchParams, base, origin);
    if (method === "POST") {
      const input = parseBody(req.body);
      rejectServerAttributes(kind, input, "set");
      validate(kind, input);
      const id = String(store.increment(`seq.${kind}`));
      const stored = { id, ...without(input, ["@type"]), lastUpdate: env.now().toISOString() };
      store.set(keyOf(kind, id), JSON.stringify(stored));
      const item = withIdentity(kind, stored, base, origin);
      env.log("info", kind, `created ${kind} ${id} (${stored.name})`);
      return json(201, selectFields(item, url.searchParams.get("fields")), { location: item.href });
    }
    throw new ApiError(405, "methodNotAllowed", "Method Not Allowed", `${method} is not allowed on ${url.pathname}; use GET or POST`);
  }

  const id = segments[1];
  const stored = load(store, kind, id);
  if (method !== "GET" && method !== "PATCH" && method !== "DELETE") {
    throw new ApiError(405, "methodNotAllowed", "Method Not Allowed", `${method} is not allowed on ${url.pathname}; use GET, PATCH or DELETE`);
  }
  if (stored === null) throw notFound(`${kind} ${id} does not exist`);

  if (method === "GET") {
    return json(200, selectFields(withIdentity(kind, stored, base, origin), url.searchParams.get("fields")));
  }
  if (method === "DELETE") {
    store.delete(keyOf(kind, id));
    env.log("info", kind, `deleted ${kind} ${id}`);
    return { status: 204, headers: {}, body: "" };
  }
  const patch = parseBody(req.body);
  rejectServerAttributes(kind, patch, "patched");
  const next = mergePatch(stored, without(patch, ["@type"]));
  validate(kind, next);
  next.id = stored.id;
  next.lastUpdate = env.now().toISOString();
  store.set(keyOf(kind, id), JSON.stringify(next));
  env.log("info", kind, `patched ${kind} ${id}`);
  return json(200, selectFields(withIdentity(kind, next, base, origin), url.searchParams.get("fields")));
}

// memoryStore is the store interface over a Map: the tests use it, and it
// documents what the component's wasi:keyvalue binding must do.
export function memoryStore() {
  const m = new Map();
  return {
    get: (k) => (m.has(k) ? m.get(k) : null),
    set: (k, v) => void m.set(k, v),
    delete: (k) => void m.delete(k),
    keys: (prefix) => [...m.keys()].filter((k) => k.startsWith(prefix)),
    increment: (k) => {
      const n = Number(m.get(k) ?? 0) + 1;
      m.set(k, String(n));
      return n;
    },
  };
}
