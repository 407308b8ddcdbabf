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
