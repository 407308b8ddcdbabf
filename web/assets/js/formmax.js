// "Max: 0.407 BTC" under the order form's quantity, signed in only: the largest quantity the
// order could have now (maxsize.js: the same formulas as the form's margin and position-limit
// checks, so Max passes them and one lot more does not); a click puts it in the quantity, in
// base units. For an order that can only reduce (reduce-only, a hedge-mode close) Max is the
// size of the position it reduces. The form's percentages are shares of it.

import { marginPrice, maxLots, reduceLots } from "./maxsize.js";
import { cmpDec, fmt, fromSteps, mulDec } from "./num.js";

const $ = (id) => document.getElementById(id);
const LIMIT_TYPES = new Set(["limit", "stop_limit", "take_profit_limit"]);

export class FormMax {
  constructor(form) {
    this.form = form;
    $("f-max").addEventListener("click", () => {
      if (!$("f-max").dataset.qty) return;
      $("f-qty-unit").value = "base";
      $("f-qty").value = $("f-max").dataset.qty;
      form.refreshPreview();
    });
  }

  /**
   * What the margin and position-limit checks need for the order as checked so far (`c`:
   * type, price, trigger), or null when the price it is margined at is not known yet.
   */
  sizing(c) {
    const f = this.form;
    const s = f.spec;
    if (!f.app.account) return null;
    const l = f.app.liveOf(s.symbol);
    const mark = l.mark != null && l.mark !== "" ? String(l.mark) : null;
    const price = marginPrice({ type: c.type, side: f.side, price: c.price, trigger: c.trigger, mark, reducing: f.reducing(), spec: s });
    if (!price || cmpDec(price, "0") <= 0) return null;
    const pos = f.position();
    return { spec: s, side: f.side, price, mark, held: pos ? String(pos.quantity) : "0", lev: f.leverage(), avail: this.available(), quote: s.quote_asset };
  }

  /**
   * The available balance as an exact string: the server's own figure while it does not move
   * with the marks (no cross position), else the page's at the live marks (account.js).
   */
  available() {
    const app = this.form.app;
    const a = app.account;
    const moving = a.positions.some((p) => p.margin_mode !== "isolated" && Number(p.quantity) !== 0);
    if (!moving) return String(a.available_balance);
    const d = app.tables ? app.tables.derived() : null;
    return (d ? Number(d.available_balance) : Number(a.available_balance)).toFixed(8);
  }

  /** The largest quantity now: { lots } (a BigInt count of lots), or { why } it is not known. */
  size(c) {
    const f = this.form;
    const s = f.spec;
    if (!f.app.account) return { why: "Log in to size by available margin" };
    if (f.reducing()) {
      const pos = f.position();
      const held = pos ? String(pos.quantity) : "0";
      // Only a position on the other side is reduced (a sell reduces a long).
      const reduces = cmpDec(mulDec(held, f.side === "buy" ? "1" : "-1"), "0") < 0;
      return { lots: reduces ? reduceLots(held, s) : 0n };
    }
    const o = this.sizing(c);
    if (!o) {
      if (LIMIT_TYPES.has(c.type)) return { why: "Type a price to see the largest size" };
      return { why: c.type === "market" ? "No mark price yet" : "Type a trigger price to see the largest size" };
    }
    return { lots: maxLots(o) };
  }

  render(c) {
    const f = this.form;
    const b = $("f-max");
    const s = f.spec;
    $("f-max-row").classList.toggle("hidden", !f.app.account);
    if (!f.app.account) return;
    const m = this.size(c);
    const qty = m.why ? "" : fromSteps(m.lots, s.lot_size);
    const text = `Max: ${m.why ? "—" : fmt(qty, s.qtyDp)} ${s.base_asset}`;
    if (b.textContent !== text) b.textContent = text;
    b.dataset.qty = qty;
    b.disabled = Boolean(m.why);
    b.title = m.why
      ? m.why
      : f.reducing()
        ? "The size of the position this order reduces: click to use it as the quantity"
        : `The largest quantity your available margin allows at ${f.leverage()}× (fees reserved, within the leverage's position limit and the market's maximum): click to use it`;
  }
}
