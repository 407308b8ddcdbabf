// REST client for the native API (docs/API.md): public GETs, signed private requests
// (HMAC-SHA256 in the page with WebCrypto) and admin requests (bearer token).
//
// Signing: hex(HMAC-SHA256(api_secret, timestamp + METHOD + path_with_query + body)), where
// body is the exact string sent. The secret lives in sessionStorage only (gone when the tab
// closes) and never leaves the page except as signatures.

const CREDS = "perpx.creds";
const ADMIN = "perpx.admin";

/** An API failure: the contract's {"error":{"code","message"}} with the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.detail = message;
  }
}

/** WebCrypto (crypto.subtle) exists only in secure contexts: https, or http on localhost. */
export function canSign() {
  return Boolean(window.isSecureContext && window.crypto && window.crypto.subtle);
}

/** Why signing is impossible here, in words for a person, or null. */
export function signingProblem() {
  if (canSign()) return null;
  return (
    `This page is served over plain http from ${location.host}. Browsers only allow WebCrypto, ` +
    `which signs your requests, on https or on localhost, so trading is disabled here. ` +
    `Serve perpx behind https, or reach it as http://localhost (for example ` +
    `ssh -L 8080:127.0.0.1:8080 this-host) and open http://localhost:8080/.`
  );
}

async function parse(res) {
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new ApiError(res.status, e ? e.code : "HTTP_" + res.status, e ? e.message : String(text).slice(0, 200));
  }
  return body;
}

async function send(method, path, body, headers) {
  let res;
  try {
    res = await fetch(path, { method, headers, body: body || undefined, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "NETWORK", `server unreachable (${e.message})`);
  }
  return parse(res);
}

/** A public GET. */
export function get(path) {
  return send("GET", path, null, {});
}

// ---------------------------------------------------------------- credentials and signing

let keyCache = null; // { secret, key: CryptoKey }

async function hmacKey(secret) {
  if (keyCache && keyCache.secret === secret) return keyCache.key;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  keyCache = { secret, key };
  return key;
}

/** hex(HMAC-SHA256(secret, message)). */
export async function hmacHex(secret, message) {
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(message));
  return Array.from(new Uint8Array(sig), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CREDS) || "null");
    return c && c.key && c.secret ? c : null;
  } catch {
    return null;
  }
}

export function saveCredentials(key, secret) {
  sessionStorage.setItem(CREDS, JSON.stringify({ key, secret }));
}

export function forgetCredentials() {
  sessionStorage.removeItem(CREDS);
  keyCache = null;
}

/** Milliseconds to add to Date.now() to get server time (set from /health and pongs). */
let skew = 0;
export function setServerTime(serverMs, sentAt, receivedAt) {
  skew = Math.round(serverMs - (sentAt + receivedAt) / 2);
}
export function serverNow() {
  return Date.now() + skew;
}

/** A fresh timestamp for each signature: server time, but never the same millisecond twice in
 *  this tab, so two identical requests in one millisecond are not refused as a replayed
 *  signature (401 SIGNATURE_REPLAYED). */
let lastStamp = 0;
function signatureTime() {
  lastStamp = Math.max(serverNow(), lastStamp + 1);
  return lastStamp;
}

/** Called with the ApiError when a signed request is refused as unauthenticated (401: the key
 *  was revoked, expired or is unknown) with the credentials still in use; the trader view
 *  returns to the sign-in state. A replayed signature is not the key's fault and is left out. */
let unauthorized = null;
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** A signed private request; `body` is an object (serialized once, signed as sent) or null. */
export async function signed(method, path, body) {
  const c = credentials();
  if (!c) throw new ApiError(401, "UNAUTHORIZED", "log in with an API key and secret first");
  if (!canSign()) throw new ApiError(0, "INSECURE_CONTEXT", signingProblem());
  const text = body == null ? "" : JSON.stringify(body);
  const ts = String(signatureTime());
  const sig = await hmacHex(c.secret, ts + method + path + text);
  const headers = { "X-API-Key": c.key, "X-API-Timestamp": ts, "X-API-Signature": sig };
  if (text) headers["Content-Type"] = "application/json";
  try {
    return await send(method, path, text, headers);
  } catch (e) {
    const current = credentials();
    if (e.status === 401 && e.code !== "SIGNATURE_REPLAYED" && unauthorized && current && current.key === c.key) unauthorized(e);
    throw e;
  }
}

/** The WebSocket auth message. */
export async function wsAuth() {
  const c = credentials();
  if (!c || !canSign()) return null;
  const ts = signatureTime();
  return { op: "auth", api_key: c.key, timestamp: ts, signature: await hmacHex(c.secret, ts + "GET/ws") };
}

// ---------------------------------------------------------------- admin

export function adminToken() {
  return sessionStorage.getItem(ADMIN) || "";
}
export function saveAdminToken(t) {
  sessionStorage.setItem(ADMIN, t);
}
export function forgetAdminToken() {
  sessionStorage.removeItem(ADMIN);
}

/** An admin request with the bearer token. */
export function admin(method, path, body) {
  const headers = { Authorization: "Bearer " + adminToken() };
  const text = body == null ? "" : JSON.stringify(body);
  if (text) headers["Content-Type"] = "application/json";
  return send(method, path, text, headers);
}

/** Sync the clock offset with the server once (signed requests must be within the window). */
export async function syncClock() {
  const t0 = Date.now();
  try {
    const r = await fetch("/api/v1/health", { cache: "no-store" });
    const t1 = Date.now();
    const date = r.headers.get("Date");
    // /health has no time field; the Date header is second-precision, so it only corrects a
    // local clock that is off by seconds. WebSocket pongs (ms precision) refine it.
    if (date) {
      const off = Date.parse(date) + 500 - (t0 + t1) / 2;
      if (Math.abs(off) > 2000) skew = Math.round(off);
    }
  } catch {
    /* offline: keep the local clock */
  }
}
