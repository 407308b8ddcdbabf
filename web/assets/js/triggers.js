// Stop and take-profit orders waiting for their trigger (docs/RULES.md §2): which way a
// trigger fires, the price it watches, what to call it, and whether a new trigger would fire
// at once. The server refuses such an amend (400 WOULD_TRIGGER_IMMEDIATELY); a dragged chart
// line asks here first, so the refusal is in words and nothing is sent. Exact decimal strings
// (num.js): the comparison is the server's, a float only formats.

import { cmpDec, fmt } from "./num.js";
import { isTpSl, tpslName } from "./tpsl.js";

/**
 * Whether `o` fires when the watched price rises to its trigger (a buy stop, a sell
 * take-profit) rather than falls to it (a sell stop, a buy take-profit).
 */
export function firesOnRise(o) {
  return o.type.startsWith("stop") === (o.side === "buy");
}

/** "Stop-loss", "Take-profit" or "Stop": what the order is to a trader. */
export function triggerName(o) {
  if (isTpSl(o)) return tpslName(o);
  if (o.type.startsWith("take_profit")) return "Take-profit";
  return o.reduce_only ? "Stop-loss" : "Stop";
}

/**
 * The price `o` watches as the page knows it now: { price (the API's string), what }, or null
 * when unknown (no trade yet for a `last` trigger). The market shown has its ticker and trades
 * live, so for its orders this is current.
 */
export function watchedPrice(app, o) {
  const l = app.liveOf(o.symbol);
  const byMark = o.trigger_by === "mark";
  const p = byMark ? l.mark : l.last;
  return p == null || p === "" ? null : { price: String(p), what: byMark ? "mark price" : "last price" };
}

/**
 * Why trigger `t` (an exact string) cannot be set on `o` now, in words, or null: the watched
 * price is already at or past it, so the order would fire the moment it is amended. The same
 * test as the server's (a rising trigger fires at price ≥ trigger, a falling one at ≤).
 */
export function passedTrigger(app, o, t, spec) {
  const w = watchedPrice(app, o);
  if (!w) return null;
  const rise = firesOnRise(o);
  const c = cmpDec(w.price, t);
  if (rise ? c < 0 : c > 0) return null;
  const dp = spec ? spec.priceDp : 2;
  return (
    `The ${w.what} is ${fmt(w.price, dp)} now: a trigger at ${fmt(t, dp)} would fire at once. ` +
    `This ${triggerName(o).toLowerCase()} fires when the ${w.what} ${rise ? "rises" : "falls"} to its trigger, so it must be ${rise ? "above" : "below"} ${fmt(w.price, dp)}.`
  );
}
