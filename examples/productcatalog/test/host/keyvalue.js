// wasi:keyvalue/{store,atomics}@0.2.0-draft for the component test:
// one in-memory bucket per identifier, shared by every component instance
// of the process (the server runs a fresh instance per request).
const buckets = new Map();
let refuse = false;

// failOpen makes open answer no-such-store, as a host without a linked bucket does.
export function failOpen(on) {
  refuse = on;
}

export class Bucket {
  #data;
  constructor(data) {
    this.#data = data;
  }
  get(key) {
    return this.#data.get(key);
  }
  set(key, value) {
    this.#data.set(key, Uint8Array.from(value));
  }
  delete(key) {
    this.#data.delete(key);
  }
  exists(key) {
    return this.#data.has(key);
  }
  // Pages of two keys, so the component's cursor loop is exercised.
  listKeys(cursor) {
    const keys = [...this.#data.keys()].sort();
    const from = cursor === undefined ? 0 : Number(cursor);
    const next = from + 2;
    return { keys: keys.slice(from, next), cursor: next < keys.length ? BigInt(next) : undefined };
  }
  static counter(bucket, key, delta) {
    const prev = bucket.#data.has(key) ? BigInt(new TextDecoder().decode(bucket.#data.get(key))) : 0n;
    const n = prev + delta;
    bucket.#data.set(key, new TextEncoder().encode(String(n)));
    return n;
  }
}

export function open(identifier) {
  if (refuse || identifier !== "default") {
    throw { tag: "no-such-store" };
  }
  if (!buckets.has(identifier)) buckets.set(identifier, new Map());
  return new Bucket(buckets.get(identifier));
}

export function increment(bucket, key, delta) {
  return Bucket.counter(bucket, key, delta);
}
