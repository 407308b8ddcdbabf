// Order-book grouping: the ladder's levels aggregated into price buckets of a tick multiple
// (1, 10, 100 or 1000 ticks). A bid bucket is the price rounded down to the bucket, an ask
// bucket the price rounded up, so a bucket never shows a better price than the levels in it.
// Quantities are summed as exact decimal strings (num.js addDec): a grouped row equals the
// API's book aggregated the same way, digit for digit.
//
// Prices are on the tick, so a price's step count is Math.round(price / tick), exact for any
// step count below 2^53; the bucket's price string is built from that count with BigInt
// (fromSteps), never from a float.

import { addDec, fromSteps, mulDec } from "./num.js";

export const GROUPS = [1, 10, 100, 1000]; // ticks per bucket
export const DEPTHS = [10, 20, 50]; // ladder rows per side
export const DEFAULT_DEPTH = 20;

/** A price's step count: how many ticks it is. */
export function stepsAt(price, tick) {
  return Math.round(Number(price) / Number(tick));
}

/** The bucket (as a step count) of a price of `steps` ticks: bids round down, asks up. */
export function bucketSteps(steps, mult, down) {
  return (down ? Math.floor(steps / mult) : Math.ceil(steps / mult)) * mult;
}

/** The grouping's width as a price, for the control: "0.1", "1", "10", "100" at tick 0.1. */
export function groupLabel(tick, mult) {
  return mulDec(tick, String(mult));
}

/**
 * The best `n` buckets of one side: `at(i)` is the side's i-th level [priceStr, qtyStr, qtyNum]
 * from the best (undefined past the last).
 * Returns [priceStr, qtyStr, qtyNum, steps] per bucket, best first; `steps` is the bucket's
 * step count (the own-order markers look it up). Stops reading levels once `n` buckets are
 * full, so the cost follows the rows shown, not the depth of the book.
 */
export function groupLevels(at, tick, mult, down, n) {
  const out = [];
  let cur = null;
  for (let i = 0, l = at(0); l; l = at(++i)) {
    const b = bucketSteps(stepsAt(l[0], tick), mult, down);
    if (cur && cur[3] === b) {
      cur[1] = addDec(cur[1], l[1]);
      continue;
    }
    if (cur) cur[2] = Number(cur[1]);
    if (out.length === n) return out;
    cur = [fromSteps(b, tick), l[1], 0, b];
    out.push(cur);
  }
  if (cur) cur[2] = Number(cur[1]);
  return out;
}

/**
 * The account's own open quantity per bucket: `orders` are resting orders of the shown market
 * ({side, price, remaining_quantity}); the answer maps "bid|steps" or "ask|steps" (the
 * bucket's step count) to the summed quantity as an exact decimal string.
 */
export function groupOwn(orders, tick, mult) {
  const own = new Map();
  for (const o of orders) {
    const bid = o.side === "buy";
    const key = (bid ? "bid|" : "ask|") + bucketSteps(stepsAt(o.price, tick), mult, bid);
    const q = o.remaining_quantity ?? o.quantity;
    own.set(key, own.has(key) ? addDec(own.get(key), q) : q);
  }
  return own;
}
