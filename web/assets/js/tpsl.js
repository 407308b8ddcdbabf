// Take-profit / stop-loss (docs/RULES.md §2a), the rules the order form's TP/SL section and
// the position dialog share: which open orders are a position's TP and SL, the checks made
// before anything is sent, the estimated PnL at a trigger, and the toasts when one fires or
// goes without firing.
//
// A position's TP/SL are close-position orders (`close_position: true`, quantity "0" until
// they fire, then the whole position): a `take_profit_market` and a `stop_market` on the side
// that closes it. Prices are exact decimal strings (num.js); floats only format them.

import { reasonWords } from "./errors.js";
import { cmpDec, fmt, mulDec, parseDecimalInput, stepsOf, subDec } from "./num.js";

export const TP_TYPE = "take_profit_market";
export const SL_TYPE = "stop_market";

/** Whether `o` is a take-profit or stop-loss of a position (a close-position order). */
export function isTpSl(o) {
  return o.close_position === true && (o.type === TP_TYPE || o.type === SL_TYPE);
}

/** "Take-profit" or "Stop-loss". */
export function tpslName(o) {
  return o.type === TP_TYPE ? "Take-profit" : "Stop-loss";
}

/** Whether `p` is long: a hedge leg by its name, a one-way position by its sign. */
export function isLong(p) {
  if (p.position_side === "long" || p.position_side === "short") return p.position_side === "long";
  return Number(p.quantity) > 0;
}

/**
 * The open TP and SL orders of position `p`, each list by trigger price: the close-position
 * orders of its market and leg on the side that closes it (a long's are sells). A pair
 * attached to an order still waiting to fill is listed too: it closes this position once
 * the order fills.
 */
export function tpslOf(p, openOrders) {
  const side = isLong(p) ? "sell" : "buy";
  const leg = p.position_side || "both";
  const tp = [];
  const sl = [];
  for (const o of openOrders) {
    if (o.symbol !== p.symbol || !isTpSl(o) || o.side !== side || (o.position_side || "both") !== leg) continue;
    (o.type === TP_TYPE ? tp : sl).push(o);
  }
  const byTrigger = (a, b) => cmpDec(a.trigger_price, b.trigger_price);
  return { tp: tp.sort(byTrigger), sl: sl.sort(byTrigger) };
}

/** A trigger price as typed: { value } (exact, on the tick; "" when empty) or { error }. */
function triggerField(raw, name, spec) {
  const r = parseDecimalInput(raw, name);
  if (r.error || !r.value) return r;
  if (cmpDec(r.value, "0") <= 0) return { error: `${name} must be greater than 0` };
  if (stepsOf(r.value, spec.tick_size) === null) return { error: `${name} must be a multiple of ${spec.tick_size}` };
  return r;
}

/**
 * The problems of a take-profit / stop-loss as typed, by field (`tp`, `sl`), and their exact
 * values. `long`: they close a long (the entry is a buy), so the take-profit must be above
 * each reference price and the stop-loss below it (the reverse for a short). `refs`:
 * [{ price, what, now }], the entry's price and the price the triggers watch now; equal is
 * refused as the server does (a trigger at the watched price fires at once).
 */
export function checkTpSl({ spec, long, tp, sl, refs }) {
  const errs = {};
  const out = { errs, tp: "", sl: "" };
  const fields = [
    ["tp", tp, "Take-profit", long ? 1 : -1],
    ["sl", sl, "Stop-loss", long ? -1 : 1],
  ];
  for (const [k, raw, name, dir] of fields) {
    const r = triggerField(raw, name, spec);
    if (r.error) {
      errs[k] = r.error;
      continue;
    }
    if (!r.value) continue;
    const bad = refs.find((ref) => ref.price != null && ref.price !== "" && cmpDec(r.value, ref.price) !== dir);
    if (bad) {
      const where = dir > 0 ? "above" : "below";
      errs[k] = `${name} must be ${where} ${bad.what} (${fmt(bad.price, spec.priceDp)})${bad.now ? ": it would fire at once" : ""}`;
    } else out[k] = r.value;
  }
  // With no reference price (a market order before the market's first trade) the pair must
  // still be in order, as the server checks: the take-profit beyond the stop-loss.
  if (out.tp && out.sl && cmpDec(out.tp, out.sl) !== (long ? 1 : -1)) {
    errs.tp = `Take-profit must be ${long ? "above" : "below"} the stop-loss (${fmt(out.sl, spec.priceDp)})`;
    out.tp = "";
  }
  return out;
}

/**
 * The PnL of closing `qty` (unsigned) bought (`long`) or sold at `entry` at price `exit`,
 * exact, before fees: qty × (exit − entry) for a long, qty × (entry − exit) for a short.
 */
export function pnlAt(qty, entry, exit, long) {
  return mulDec(qty, long ? subDec(exit, entry) : subDec(entry, exit));
}

/** "+12.34 USDT" / "−5.00 USDT" for a PnL string. */
export function pnlText(pnl, quote) {
  const n = Number(pnl);
  return `${n > 0 ? "+" : ""}${fmt(n, 2)} ${quote}`;
}

/**
 * The toast of a TP/SL order's update (`was`: what the page had before), if it is one: it
 * fired (was waiting for its trigger, is not now), or it went without firing because its
 * pair sibling fired, the position closed or its entry never filled. Returns whether `o` is
 * a TP/SL, so the caller does not add its generic "Triggered" toast.
 */
export function tpslToast(toasts, spec, o, was) {
  if (!isTpSl(o)) return false;
  const name = `${tpslName(o)} ${o.order_id} ${o.symbol}`;
  const dp = spec ? spec.priceDp : 2;
  const words = reasonWords(o.reason);
  if (words) {
    if (!was || was.status !== o.status) toasts.show({ kind: "info", title: `${tpslName(o)} cancelled`, text: `${name} ${words}` });
    return true;
  }
  if (was && was.status === "untriggered" && o.status !== "untriggered") {
    const closed = Number(o.filled_quantity) > 0 ? `: closed ${o.filled_quantity} @ ${fmt(o.average_price, dp)}` : `: ${o.status.replace(/_/g, " ")}`;
    toasts.show({
      kind: o.type === TP_TYPE ? "ok" : "warn",
      title: `${tpslName(o)} fired`,
      text: `${name} reached its trigger ${fmt(o.trigger_price, dp)} (${o.trigger_by || "last"})${closed}`,
    });
  }
  return true;
}
