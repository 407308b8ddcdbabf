// The close dialog of a position (the positions table's "Close…"): a chosen quantity (the
// whole position by default, or 25 / 50 / 75 / 100 % of it cut to the lot) at market or at a
// limit price, sent as a reduce-only order (in hedge mode the leg's closing side, which is
// reduce-only by itself). Checked before anything is sent with the order form's own checks
// (checks.js: tick, lot, minimum and maximum quantity, the price band; exact decimal strings)
// and never above the position; then the same confirmation as the row's Close
// (perpx.confirm.close: its "Don't ask again" covers both).

import { signed } from "./api.js";
import { bandProblem, priceInput, quantityInput } from "./checks.js";
import { confirmAction } from "./dialogs.js";
import { cmpDec, fmt, fromSteps, roundToStep, stepsOf, subDec } from "./num.js";
import { closeRequest, positionName, positionSize } from "./position.js";

const $ = (id) => document.getElementById(id);

export class CloseDialog {
  constructor(app) {
    this.app = app;
    this.p = null; // the position as it was when the dialog opened
    this.type = "market";
    this.dialog = $("close-dialog");
    for (const b of document.querySelectorAll("#close-type [data-close-type]")) {
      b.addEventListener("click", () => this.setType(b.dataset.closeType));
    }
    for (const b of document.querySelectorAll("#close-dialog [data-close-pct]")) {
      b.addEventListener("click", () => this.setPercent(Number(b.dataset.closePct)));
    }
    for (const id of ["close-qty", "close-price"]) $(id).addEventListener("input", () => this.refresh());
    $("close-cancel").addEventListener("click", () => this.dialog.close());
    $("close-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
  }

  spec() {
    return this.app.bySymbol.get(this.p.symbol);
  }

  /** The position now (the account channel may have changed it since the dialog opened), or null. */
  position() {
    const a = this.app.account;
    const leg = this.p.position_side || "both";
    const p = a && a.positions.find((x) => x.symbol === this.p.symbol && (x.position_side || "both") === leg);
    return p && Number(p.quantity) !== 0 ? p : null;
  }

  open(p) {
    this.p = p;
    const s = this.spec();
    const long = Number(p.quantity) > 0;
    $("close-title").textContent = `Close ${positionName(p)}`;
    $("close-held").textContent =
      `${long ? "Long" : "Short"} ${fmt(positionSize(p), s.qtyDp)} ${s.base_asset} · entry ${fmt(p.entry_price, s.priceDp)} · mark ${fmt(p.mark_price, s.priceDp)}`;
    $("close-u-qty").textContent = s.base_asset;
    $("close-u-price").textContent = s.quote_asset;
    $("close-qty").value = positionSize(p);
    $("close-price").value = this.defaultPrice();
    this.setType("market");
    this.dialog.showModal();
    $("close-qty").focus();
    $("close-qty").select();
  }

  /** A limit close starts at the touch on the closing side (a long sells at the best ask), else the mark, on the tick. */
  defaultPrice() {
    const s = this.spec();
    const l = this.app.liveOf(this.p.symbol);
    const x = (Number(this.p.quantity) > 0 ? l.ask : l.bid) ?? l.mark ?? this.p.mark_price;
    if (x == null) return "";
    return stepsOf(String(x), s.tick_size) !== null ? String(x) : roundToStep(Number(x), s.tick_size);
  }

  setType(type) {
    this.type = type;
    for (const b of document.querySelectorAll("#close-type [data-close-type]")) {
      const on = b.dataset.closeType === type;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    $("close-l-price").classList.toggle("hidden", type !== "limit");
    this.refresh();
  }

  /** `pct` % of the position, cut down to the lot (exact: a whole number of lots). */
  setPercent(pct) {
    const s = this.spec();
    const p = this.position() || this.p;
    const lots = stepsOf(positionSize(p), s.lot_size);
    if (lots === null) return;
    $("close-qty").value = fromSteps((lots * BigInt(pct)) / 100n, s.lot_size);
    this.refresh();
  }

  /** Every problem by field, and the exact values the request is built from. */
  check() {
    const s = this.spec();
    const errs = {};
    const pos = this.position();
    const side = Number(this.p.quantity) > 0 ? "sell" : "buy";
    const q = quantityInput($("close-qty").value, s);
    if (!pos) errs.qty = "The position is closed";
    else if (q.error) errs.qty = q.error;
    else if (!q.value) errs.qty = "Enter a quantity";
    else if (cmpDec(q.value, positionSize(pos)) > 0) {
      errs.qty = `At most the position's ${positionSize(pos)} ${s.base_asset}: a close never opens the other side`;
    }
    let price = null;
    if (this.type === "limit") {
      const r = priceInput($("close-price").value, s);
      if (r.error) errs.price = r.error;
      else if (!r.value) errs.price = "Enter a price";
      else errs.price = bandProblem(side, r.value, this.app.liveOf(s.symbol).mark, s) || undefined;
      price = errs.price ? null : r.value;
    }
    return { errs, side, pos, qty: errs.qty ? null : q.value, price };
  }

  /** What the order does, in words (the summary line and the confirmation). */
  describe(c) {
    const s = this.spec();
    const verb = c.side === "sell" ? "sells" : "buys";
    const left = subDec(positionSize(c.pos), c.qty);
    const rest = cmpDec(left, "0") > 0 ? ` ${fmt(left, s.qtyDp)} ${s.base_asset} stay open.` : " That is the whole position.";
    if (this.type === "market") return `A reduce-only market order ${verb} ${c.qty} ${s.base_asset} now at the prices in the book.${rest}`;
    return `A reduce-only limit order ${verb} ${c.qty} ${s.base_asset} at ${fmt(c.price, s.priceDp)} or better; it rests in the book until it fills.${rest}`;
  }

  refresh() {
    if (!this.p) return;
    const c = this.check();
    for (const [k, input] of [["qty", "close-qty"], ["price", "close-price"]]) {
      const text = c.errs[k] || "";
      if ($("close-e-" + k).textContent !== text) $("close-e-" + k).textContent = text;
      if (text) $(input).setAttribute("aria-invalid", "true");
      else $(input).removeAttribute("aria-invalid");
    }
    const problem = c.errs.qty || c.errs.price;
    const btn = $("close-submit");
    btn.disabled = Boolean(problem);
    if (problem) btn.title = "Not possible: " + problem;
    else btn.removeAttribute("title");
    $("close-summary").textContent = problem ? "" : this.describe(c);
    btn.textContent = problem ? "Close" : this.type === "market" ? `Close ${c.qty} at market` : `Close ${c.qty} at ${fmt(c.price, this.spec().priceDp)}`;
  }

  async submit() {
    const c = this.check();
    if (c.errs.qty || c.errs.price) {
      this.refresh();
      return;
    }
    const p = this.p;
    const name = positionName(p);
    const text = this.describe(c);
    this.dialog.close();
    const yes = await confirmAction({
      title: `Close ${c.qty} of ${name}?`,
      text,
      ok: this.type === "market" ? "Close at market" : "Place the limit close",
      no: "Keep it",
      remember: "perpx.confirm.close",
    });
    if (!yes) return;
    try {
      const o = await signed("POST", `/api/v1/markets/${encodeURIComponent(p.symbol)}/orders`, closeRequest(c.pos, c.qty, c.price));
      this.app.tables.onOrder(o);
      this.app.showOrder(o, `Close ${name}: `);
    } catch (e) {
      this.app.error(e);
    }
  }
}
