// The order form's optional TP/SL section: a take-profit and a stop-loss attached to the new
// order (sent as `take_profit` / `stop_loss` / `tpsl_trigger_by`), placed by the server as a
// one-cancels-other pair of close-position orders that wait for the order to fill.
//
// Collapsed by default: while its box is unticked nothing of it is checked or sent. Open, its
// prices are checked like the form's other fields (tpsl.js): tick grid, then the take-profit
// beyond and the stop-loss before the entry price (the limit price, or the trigger of a stop
// or take-profit market order) and the price the triggers watch now (last or mark), both of
// which the server checks too; a market order has no entry price, so only the watched price
// (the mark before the market's first trade). The preview shows each trigger with the
// estimated PnL there, in exact decimals, from the entry price (a market order's: the touch).

import { cmpDec, fmt } from "./num.js";
import { checkTpSl, pnlAt, pnlText } from "./tpsl.js";

const $ = (id) => document.getElementById(id);
const LIMIT_TYPES = new Set(["limit", "stop_limit", "take_profit_limit"]);

export class FormTpSl {
  constructor(form) {
    this.form = form;
    $("f-tpsl").addEventListener("change", () => {
      $("f-tpsl-box").classList.toggle("hidden", !this.on());
      form.refreshPreview();
    });
    for (const id of ["f-tp", "f-sl", "f-tpsl-by"]) {
      $(id).addEventListener("input", () => form.refreshPreview());
      $(id).addEventListener("change", () => form.refreshPreview());
    }
  }

  on() {
    return $("f-tpsl").checked;
  }

  /** Another market: the prices typed were for the last one. */
  setMarket(spec) {
    $("f-tp").value = "";
    $("f-sl").value = "";
    $("f-tp").placeholder = spec.tick_size;
    $("f-sl").placeholder = spec.tick_size;
  }

  /** The price the triggers watch now, as the API's string (null before the first trade). */
  watched() {
    const l = this.form.app.liveOf(this.form.spec.symbol);
    const by = $("f-tpsl-by").value;
    const p = by === "mark" ? l.mark : l.last;
    return p == null || p === "" ? null : { price: String(p), what: `the ${by} price now`, now: true };
  }

  /**
   * The entry price the server compares the pair with: the limit price, else the trigger
   * (stop and take-profit market orders); a market order has none, and is estimated at the
   * touch (the best ask for a buy) for the PnL only.
   */
  entry(c) {
    if (LIMIT_TYPES.has(c.type)) return c.price ? { price: c.price, what: "the order's price" } : null;
    if (c.trigger) return { price: c.trigger, what: "the order's trigger price" };
    return null;
  }

  /** Adds the section's problems to `c.errs` (tp, sl, tpsl) and its request fields to `c.tpsl`. */
  check(c) {
    c.tpsl = null;
    if (!this.on()) return;
    const form = this.form;
    const long = form.side === "buy";
    const entry = this.entry(c);
    let watched = this.watched();
    if (!entry && !watched) {
      // A market order in a market that has not traded yet: it fills near the mark, and a
      // trigger on the wrong side of that would fire as soon as it has.
      const mark = form.app.liveOf(form.spec.symbol).mark;
      if (mark != null) watched = { price: String(mark), what: "the mark price now" };
    }
    const refs = [entry, watched].filter(Boolean);
    const r = checkTpSl({ spec: form.spec, long, tp: $("f-tp").value, sl: $("f-sl").value, refs });
    Object.assign(c.errs, r.errs);
    if ((r.tp || r.sl) && form.reducing()) {
      c.errs.tpsl = "TP/SL attach only to an order that opens a position: untick reduce-only (or use a position's TP/SL)";
    }
    c.tpslValues = r;
    if (!r.tp && !r.sl) return;
    c.tpsl = { tpsl_trigger_by: $("f-tpsl-by").value };
    if (r.tp) c.tpsl.take_profit = r.tp;
    if (r.sl) c.tpsl.stop_loss = r.sl;
  }

  /** The preview's TP and SL rows: each trigger and the estimated PnL there (exact). */
  preview(c) {
    const on = this.on();
    for (const e of document.querySelectorAll(".tpsl-row")) e.classList.toggle("hidden", !on);
    if (!on) return;
    const form = this.form;
    const s = form.spec;
    const long = form.side === "buy";
    const v = c.tpslValues || {};
    let entry = this.entry(c);
    if (!entry) {
      const l = form.app.liveOf(s.symbol);
      const touch = long ? l.ask : l.bid;
      const p = touch || l.mark || l.last;
      entry = p ? { price: String(p) } : null;
    }
    const show = (id, k) => {
      const dd = $(id);
      const trigger = v[k];
      let text = "—";
      let pnl = "";
      if (trigger && !c.errs[k]) {
        text = `${fmt(trigger, s.priceDp)} (${$("f-tpsl-by").value})`;
        if (c.qty && entry && cmpDec(entry.price, "0") > 0) {
          pnl = pnlAt(c.qty, entry.price, trigger, long);
          text += ` → est. PnL ${pnlText(pnl, s.quote_asset)}`;
        }
      }
      if (dd.textContent !== text) dd.textContent = text;
      dd.dataset.pnl = pnl;
      dd.classList.toggle("up", pnl !== "" && Number(pnl) > 0);
      dd.classList.toggle("down", pnl !== "" && Number(pnl) < 0);
    };
    show("p-tp", "tp");
    show("p-sl", "sl");
  }
}
