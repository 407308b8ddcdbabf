// Last / Mid / Best beside the order form's price: each fills the price with an exact string
// on the market's tick, from what the page already has live (the trades and the book):
// - Last: the last trade's price;
// - Mid: halfway between the best bid and the best ask, on the tick, rounded toward the
//   side's cautious direction: down for a buy, up for a sell (never a worse price than mid);
// - Best: the best price on the order's own side of the book (Binance's "BBO" convention):
//   the best bid for a buy, the best ask for a sell, so the order joins that queue.
// Whole numbers of ticks with BigInt (num.js), never floats. A price that cannot be had (an
// empty side, no trade yet) is said in the form's message line; the price stays as it was.

import { ApiError } from "./api.js";
import { fromSteps, stepsOf } from "./num.js";

/**
 * The price `kind` (last, mid, best) for a `side` order: { price } on the tick `tick`, or
 * { error } in words. `last`, `bid`, `ask`: the API's exact strings (or undefined).
 */
export function fillPrice(kind, side, { last, bid, ask }, tick) {
  const ticks = (p) => stepsOf(p, tick);
  if (kind === "last") {
    if (last == null || last === "") return { error: "No trade yet: there is no last price" };
    const n = ticks(last);
    return { price: n === null ? String(last) : fromSteps(n, tick) };
  }
  if (kind === "best") {
    const p = side === "buy" ? bid : ask;
    if (p === undefined) return { error: `No ${side === "buy" ? "bid" : "ask"} in the book` };
    return { price: fromSteps(ticks(p), tick) };
  }
  if (bid === undefined || ask === undefined) return { error: `No ${bid === undefined ? "bid" : "ask"} in the book: there is no mid price` };
  const sum = ticks(bid) + ticks(ask);
  // Half the sum of the two tick counts, rounded down for a buy and up for a sell.
  const n = side === "buy" ? sum / 2n : (sum + 1n) / 2n;
  return { price: fromSteps(n, tick) };
}

export class PriceFill {
  constructor(form) {
    this.form = form;
    for (const b of document.querySelectorAll("#f-px-fill [data-fill]")) b.addEventListener("click", () => this.fill(b.dataset.fill));
  }

  /** The live values of the form's market: the last price and the book's best strings. */
  market() {
    const app = this.form.app;
    const symbol = this.form.spec.symbol;
    const synced = app.book.symbol === symbol && app.book.seq !== null;
    return { last: app.liveOf(symbol).last, ...(synced ? app.book.bestStrings() : {}) };
  }

  fill(kind) {
    const f = this.form;
    if (!f.spec) return;
    const r = fillPrice(kind, f.side, this.market(), f.spec.tick_size);
    if (r.error) f.app.error(new ApiError(0, "FORM", r.error));
    else f.setPrice(r.price);
  }
}
