// Numbers for display and exact decimal strings for requests.
//
// The API speaks decimal strings. The page never does money arithmetic that is sent back:
// prices and quantities that go into an order are built as exact multiples of the market's
// tick and lot with BigInt (stepsOf / fromSteps); floats are used only for display and for
// the order preview, which is an estimate.

/** Decimal places of a step such as "0.001" (3) or "1" (0). */
export function decimalsOf(step) {
  const s = String(step);
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

function scaled(str, dp) {
  // "123.45" at dp 3 -> 123450n; null when not a plain non-negative decimal or too precise.
  const s = String(str).trim();
  if (!/^\d*\.?\d*$/.test(s) || s === "" || s === ".") return null;
  const [int, frac = ""] = s.split(".");
  if (frac.replace(/0+$/, "").length > dp) return null;
  return BigInt((int || "0") + frac.padEnd(dp, "0"));
}

/** How many `step`s make `value` exactly, as a BigInt; null when off-step or not a decimal. */
export function stepsOf(value, step) {
  const dp = Math.max(decimalsOf(step), decimalsOf(value));
  const v = scaled(value, dp);
  const st = scaled(step, dp);
  if (v === null || st === null || st === 0n || v % st !== 0n) return null;
  return v / st;
}

/** `n` steps as a decimal string with the step's decimals. */
export function fromSteps(n, step) {
  const dp = decimalsOf(step);
  const st = scaled(step, dp);
  const v = BigInt(n) * st;
  if (dp === 0) return v.toString();
  const s = v.toString().padStart(dp + 1, "0");
  return s.slice(0, s.length - dp) + "." + s.slice(s.length - dp);
}

/** The largest multiple of `step` not above the (float) `x`, as a string ("0" if none). */
export function floorToStep(x, step) {
  if (!(x > 0)) return fromSteps(0, step);
  const n = Math.floor(x / Number(step) + 1e-9);
  return fromSteps(n, step);
}

/** The nearest multiple of `step` to `x`, as a string. */
export function roundToStep(x, step) {
  return fromSteps(Math.max(0, Math.round(x / Number(step))), step);
}

const groupers = new Map();
/** A number with thousands separators and `dp` decimals; "—" for null/NaN. */
export function fmt(x, dp = 2) {
  if (x === null || x === undefined || x === "") return "—";
  const n = Number(x);
  if (!Number.isFinite(n)) return "—";
  let f = groupers.get(dp);
  if (!f) {
    f = new Intl.NumberFormat("en-US", { minimumFractionDigits: dp, maximumFractionDigits: dp });
    groupers.set(dp, f);
  }
  return f.format(n);
}

/** Signed with a "+" for positives. */
export function fmtSigned(x, dp = 2) {
  const n = Number(x);
  if (!Number.isFinite(n)) return "—";
  return (n > 0 ? "+" : "") + fmt(n, dp);
}

export function pct(x, dp = 2) {
  const n = Number(x);
  if (!Number.isFinite(n)) return "—";
  const text = (n * 100).toFixed(dp);
  if (Number(text) === 0) return (0).toFixed(dp) + "%"; // never "-0.00%"
  return (n > 0 ? "+" : "") + text + "%";
}

/** Compact volume: 1.2K, 3.4M. */
export function compact(x) {
  const n = Number(x);
  if (!Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "K";
  return fmt(n, a >= 100 ? 0 : 3);
}

/** "hh:mm:ss" local time of a millisecond timestamp. */
export function clock(ms) {
  const d = new Date(Number(ms));
  return d.toTimeString().slice(0, 8);
}

/** "yyyy-mm-dd hh:mm:ss" local time. */
export function stamp(ms) {
  const d = new Date(Number(ms));
  const p = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "3h 12m 05s" from milliseconds. */
export function countdown(ms) {
  if (!(ms > 0)) return "0s";
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}h ${String(m).padStart(2, "0")}m ${sec}s` : `${m}m ${sec}s`;
}

/** Create an element: el("td", {class: "x"}, "text" | Node, ...). */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// ---------------------------------------------------------------- what a person types

/**
 * A decimal as typed in a form, in the page's own format: thousands separators are accepted
 * ("49,000.5" → "49000.5"), an exponent ("1e3") and a sign are refused with a reason.
 * Returns { value } (a plain decimal string, "" when empty) or { error } in words.
 */
export function parseDecimalInput(raw, name = "Value") {
  const s = String(raw).trim().replace(/[\s\u00a0\u202f]/g, "");
  if (s === "") return { value: "" };
  if (/^[-−–]/.test(s)) return { error: `${name} must be positive` };
  if (/^\+/.test(s)) return { error: `${name}: type the number without a + sign` };
  if (/[eE]/.test(s) && /\d/.test(s)) return { error: `${name}: type plain digits, no exponent (1e3 is 1000)` };
  let plain = s;
  if (s.includes(",")) {
    if (!/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(s)) return { error: `${name}: commas only between groups of three digits, as in 49,000.5` };
    plain = s.replace(/,/g, "");
  }
  if (!/^(\d+\.?\d*|\.\d+)$/.test(plain)) return { error: `${name} is not a number` };
  if (plain.startsWith(".")) plain = "0" + plain;
  if (plain.endsWith(".")) plain = plain.slice(0, -1);
  plain = plain.replace(/^0+(?=\d)/, "");
  return { value: plain };
}

// Exact arithmetic on plain decimal strings (BigInt): comparisons and products of prices,
// quantities and limits, so a check never differs from the server's by a float rounding.

function parts(str) {
  let s = String(str).trim();
  const neg = s.startsWith("-");
  if (neg) s = s.slice(1);
  const [int, frac = ""] = s.split(".");
  const n = BigInt((int || "0") + frac);
  return { n: neg ? -n : n, dp: frac.length };
}

function aligned(a, b) {
  const x = parts(a);
  const y = parts(b);
  const dp = Math.max(x.dp, y.dp);
  return [x.n * 10n ** BigInt(dp - x.dp), y.n * 10n ** BigInt(dp - y.dp), dp];
}

function decString(n, dp) {
  const neg = n < 0n;
  let s = (neg ? -n : n).toString();
  if (dp > 0) {
    s = s.padStart(dp + 1, "0");
    s = (s.slice(0, s.length - dp) + "." + s.slice(s.length - dp)).replace(/\.?0+$/, "");
  }
  return (neg && s !== "0" ? "-" : "") + s;
}

/** -1, 0 or 1 as a < b, a = b, a > b (exact). */
export function cmpDec(a, b) {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** a × b, exact. */
export function mulDec(a, b) {
  const x = parts(a);
  const y = parts(b);
  return decString(x.n * y.n, x.dp + y.dp);
}

/** a + b, exact. */
export function addDec(a, b) {
  const [x, y, dp] = aligned(a, b);
  return decString(x + y, dp);
}

/** a − b, exact. */
export function subDec(a, b) {
  const [x, y, dp] = aligned(a, b);
  return decString(x - y, dp);
}
