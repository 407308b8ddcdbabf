// The order form's margin and position-limit checks, and the largest quantity that passes them
// (the "Max" under the quantity). One set of formulas serves both, so Max is exactly the
// boundary: a quantity of Max passes the form's checks and Max plus one lot does not.
//
// The formulas are the server's R1 check (docs/RULES.md §3; src/risk/margin.rs) for the order
// alone, in exact decimal strings (num.js), so the page and the server agree at the boundary:
// - the order is margined at its limit price; a market order at mark × (1 ± market_take_bound);
//   a stop or take-profit market order at the worse of its trigger and the mark, bounded the
//   same way (its trigger when it only reduces): the worst fill it may get;
// - it needs (the lots it opens) × price / leverage, plus the open loss of a price worse than
//   the mark and the fee reserve (the higher of the taker and maker rates) on its whole
//   notional, and that must not be above the available balance;
// - the exposure on its side if it filled (the position at the mark plus its notional) must
//   not be above the position cap of the leverage (the largest tier cap allowing it).
// Other open orders of the market are not counted (the server nets them: it can only need
// less for them, except for orders on the same side, whose margin adds up).

import { addDec, cmpDec, fmt, fromSteps, mulDec, stepsOf, subDec } from "./num.js";

const LIMIT_TYPES = new Set(["limit", "stop_limit", "take_profit_limit"]);
const max = (a, b) => (cmpDec(a, b) >= 0 ? a : b);
const min = (a, b) => (cmpDec(a, b) <= 0 ? a : b);
const abs = (a) => (cmpDec(a, "0") < 0 ? subDec("0", a) : String(a));

/** The fee rate an order reserves: the higher of taker and maker, never below zero. */
export function feeReserve(spec) {
  return max(max(spec.taker_fee || "0", spec.maker_fee || "0"), "0");
}

/** The position cap at leverage `lev`: the last tier allowing it (tiers ascend), or null. */
export function positionCap(spec, lev) {
  const ok = (spec.risk_tiers || []).filter((t) => Number(t.max_leverage) >= lev);
  return ok.length ? ok[ok.length - 1].notional_cap : null;
}

/**
 * The price the server margins an order at (exact string), or null when it cannot be known
 * yet (no price typed, no mark). `price` / `trigger` are the typed values ("" when empty).
 */
export function marginPrice({ type, side, price, trigger, mark, reducing, spec }) {
  const bound = (x) => mulDec(x, side === "buy" ? addDec("1", spec.market_take_bound || "0") : subDec("1", spec.market_take_bound || "0"));
  if (LIMIT_TYPES.has(type)) return price || null;
  if (type === "market") return mark == null ? null : bound(mark);
  if (!trigger) return null;
  if (reducing) return trigger;
  if (mark == null) return bound(trigger);
  return bound(side === "buy" ? max(trigger, mark) : min(trigger, mark));
}

/**
 * The margin and position-limit problems of an order of `qty` (exact string) in words, by
 * field: { cost, lev } (either may be absent). `o`: { spec, side, price (the margin price),
 * mark (or null), held (the position's signed quantity, "0" when flat), lev, avail (exact),
 * quote }. A reducing order (reduce-only, a hedge close) is not checked: it opens nothing.
 */
export function sizeProblems(qty, o) {
  const errs = {};
  const { spec, side, price, lev, avail, quote } = o;
  const dir = side === "buy" ? "1" : "-1";
  const held = o.held || "0";
  const mark = o.mark == null ? price : String(o.mark);
  // What the order opens: a buy against a short (a sell against a long) first closes it.
  const opposite = cmpDec(mulDec(held, dir), "0") < 0;
  const opening = opposite ? max(subDec(qty, abs(held)), "0") : qty;
  const L = String(lev);
  if (cmpDec(opening, "0") > 0) {
    const loss = max(mulDec(dir, subDec(price, mark)), "0");
    const costs = mulDec(qty, addDec(loss, mulDec(price, feeReserve(spec))));
    // margin = opening × price / L + costs; compared times L, so the test stays exact.
    const timesL = addDec(mulDec(opening, price), mulDec(L, costs));
    if (cmpDec(timesL, mulDec(L, avail)) > 0) {
      const margin = Number(timesL) / lev;
      errs.cost = `Margin ${fmt(margin, 2)} ${quote} (cost ${fmt(mulDec(opening, price), 2)} ${quote} at ${lev}×) exceeds your available ${fmt(Math.max(0, Number(avail)), 2)} ${quote}`;
    }
  }
  const cap = positionCap(spec, lev);
  const exposure = addDec(mulDec(mulDec(dir, held), mark), mulDec(qty, price));
  if (cap != null && cmpDec(exposure, cap) > 0) {
    errs.lev = `A position of ${fmt(exposure, 0)} ${quote} is above the ${fmt(cap, 0)} ${quote} limit at ${lev}×: lower the leverage or the size`;
  }
  return errs;
}

/**
 * The largest quantity on the lot grid, up to the market's max_quantity, that sizeProblems()
 * passes: a whole number of lots (BigInt). Both problems only grow with the quantity, so a
 * binary search over the lots finds the boundary exactly.
 */
export function maxLots(o) {
  const lot = o.spec.lot_size;
  const passes = (n) => {
    const e = sizeProblems(fromSteps(n, lot), o);
    return !e.cost && !e.lev;
  };
  let hi = o.spec.max_quantity ? floorSteps(o.spec.max_quantity, lot) : null;
  if (hi === null) {
    // No maximum: the first power of two that fails bounds the search.
    hi = 1n;
    while (passes(hi) && hi < 1n << 60n) hi *= 2n;
  }
  if (passes(hi)) return hi;
  let lo = 0n; // passes (nothing needs nothing)
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** How many whole `step`s fit in `value` (exact, rounded down), as a BigInt. */
export function floorSteps(value, step) {
  const v = abs(value);
  const [i, f = ""] = v.split(".");
  const [si, sf = ""] = String(step).split(".");
  const dp = Math.max(f.length, sf.length);
  const scaled = (a, b) => BigInt((a || "0") + b.padEnd(dp, "0"));
  return scaled(i, f) / scaled(si, sf);
}

/** The position's size on the lot grid (for a reduce-only Max), at most the market's maximum. */
export function reduceLots(held, spec) {
  const n = stepsOf(abs(held), spec.lot_size) ?? floorSteps(held, spec.lot_size);
  const cap = spec.max_quantity ? floorSteps(spec.max_quantity, spec.lot_size) : null;
  return cap !== null && cap < n ? cap : n;
}
