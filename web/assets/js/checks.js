// The pre-send checks that do not depend on a form: a typed price on the tick, a quantity on
// the lot within the market's limits, and a limit price inside the band around the mark. The
// order form, the close dialog and a dragged order line all ask these, so a problem reads the
// same wherever it is caught. Exact decimal strings throughout (num.js), never floats.

import { addDec, cmpDec, fmt, mulDec, parseDecimalInput, stepsOf, subDec } from "./num.js";

/** A typed price: { value } ("" when empty) or { error } in words. */
export function priceInput(raw, spec, name = "Price") {
  const r = parseDecimalInput(raw, name);
  if (r.error || !r.value) return r;
  if (cmpDec(r.value, "0") <= 0) return { error: `${name} must be greater than 0` };
  if (stepsOf(r.value, spec.tick_size) === null) return { error: `${name} must be a multiple of ${spec.tick_size}` };
  return r;
}

/** What is wrong with a quantity (a plain decimal string) in this market, or null. */
export function quantityProblem(qty, spec) {
  const base = spec.base_asset;
  if (spec.min_quantity && cmpDec(qty, spec.min_quantity) < 0) return `Quantity must be at least ${spec.min_quantity} ${base}`;
  if (spec.max_quantity && cmpDec(qty, spec.max_quantity) > 0) return `Quantity must be at most ${fmt(spec.max_quantity, spec.qtyDp)} ${base}`;
  if (stepsOf(qty, spec.lot_size) === null) return `Quantity must be a multiple of ${spec.lot_size} ${base}`;
  return null;
}

/** A typed quantity in base units: { value } ("" when empty) or { error } in words. */
export function quantityInput(raw, spec) {
  const r = parseDecimalInput(raw, "Quantity");
  if (r.error || !r.value) return r;
  if (cmpDec(r.value, "0") <= 0) return { error: "Quantity must be greater than 0" };
  const problem = quantityProblem(r.value, spec);
  return problem ? { error: problem } : r;
}

/**
 * The price band of a limit order: a buy at most mark × (1 + band), a sell at least
 * mark × (1 − band). The problem in words, or null (also when mark or band are unknown).
 */
export function bandProblem(side, price, mark, spec) {
  if (!price || !spec.price_band || mark == null || !(Number(spec.price_band) > 0)) return null;
  const bandPct = `${+(Number(spec.price_band) * 100).toFixed(4)}%`;
  if (side === "buy") {
    const max = mulDec(String(mark), addDec("1", spec.price_band));
    if (cmpDec(price, max) > 0) return `A buy may be at most ${bandPct} above the mark: price at most ${fmt(max, spec.priceDp)}`;
  } else {
    const min = mulDec(String(mark), subDec("1", spec.price_band));
    if (cmpDec(price, min) < 0) return `A sell may be at most ${bandPct} below the mark: price at least ${fmt(min, spec.priceDp)}`;
  }
  return null;
}
