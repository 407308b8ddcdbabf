// A position's take-profit and stop-loss: the positions table's "TP / SL" cell (the trigger
// prices of the open close-position orders of that market and leg, and a "TP/SL" button) and
// the dialog that button opens to set, change or remove them.
//
// The server has no "amend a TP/SL": changing them cancels the current orders, then places the
// new pair with POST /markets/{symbol}/tpsl (one-cancels-other). The dialog says so, because
// between the two steps (or when the new pair is refused) the position has none. The prices
// are checked first as the order form checks them (tpsl.js): tick grid, and the take-profit
// beyond, the stop-loss before the price the triggers watch now (mark or last), which is
// where the server would refuse them as firing at once.

import { signed } from "./api.js";
import { renderError } from "./errors.js";
import { el, fmt } from "./num.js";
import { checkTpSl, isLong, pnlAt, pnlText, tpslOf } from "./tpsl.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

/** "BTC-PERP" in one-way mode, "BTC-PERP long" for a hedge leg. */
function positionName(p) {
  return p.position_side === "long" || p.position_side === "short" ? `${p.symbol} ${p.position_side}` : p.symbol;
}

const legOf = (p) => p.position_side || "both";

/** The positions table's cell of `p`: its TP and SL trigger prices and the dialog's button. */
export function tpslCell(app, p) {
  const spec = app.bySymbol.get(p.symbol) || { priceDp: 2 };
  const { tp, sl } = tpslOf(p, app.tables.open.values());
  const prices = (list, cls) =>
    list.length ? el("span", { class: cls }, list.map((o) => fmt(o.trigger_price, spec.priceDp)).join(", ")) : el("span", { class: "muted" }, "—");
  return el(
    "td",
    { class: "tpsl-cell", dataset: { tp: tp.map((o) => o.trigger_price).join(","), sl: sl.map((o) => o.trigger_price).join(",") } },
    prices(tp, "tp"),
    " / ",
    prices(sl, "sl"),
    el(
      "button",
      { type: "button", class: "btn small", dataset: { action: "tpsl" }, title: `Set, change or remove the take-profit and stop-loss of ${positionName(p)}`, onclick: () => openTpSlDialog(app, p) },
      "TP/SL",
    ),
  );
}

function dialog() {
  let d = $("tpsl-dialog");
  if (d) return d;
  const input = (id, name) => el("input", { id, inputmode: "decimal", "aria-describedby": `e-${id}`, "aria-label": name });
  d = el(
    "dialog",
    { id: "tpsl-dialog", class: "dialog tpsl-dialog", "aria-labelledby": "tpsl-title" },
    el(
      "form",
      { id: "tpsl-form", novalidate: true, autocomplete: "off" },
      el("h2", { id: "tpsl-title" }),
      el("dl", { class: "kv", id: "tpsl-facts" }),
      el("div", { class: "row2" }, el("label", {}, "Take-profit", input("d-tp", "Take-profit")), el("label", {}, "Stop-loss", input("d-sl", "Stop-loss"))),
      el("div", { id: "e-d-tp", class: "field-msg", "aria-live": "polite" }),
      el("div", { id: "e-d-sl", class: "field-msg", "aria-live": "polite" }),
      el("div", { id: "d-tp-pnl", class: "pnl" }),
      el("div", { id: "d-sl-pnl", class: "pnl" }),
      el(
        "label",
        {},
        "Trigger on",
        el("select", { id: "d-tpsl-by" }, new Option("Last price", "last"), new Option("Mark price", "mark")),
      ),
      el("p", { id: "tpsl-note", class: "note" }),
      el("div", { id: "tpsl-msg", class: "form-msg", role: "status" }),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", id: "tpsl-remove", class: "btn ghost" }, "Remove TP/SL"),
        el("span", { class: "spacer" }),
        el("button", { type: "button", id: "tpsl-cancel", class: "btn ghost" }, "Close"),
        el("button", { type: "submit", id: "tpsl-save", class: "btn" }, "Save"),
      ),
    ),
  );
  document.body.append(d);
  $("tpsl-cancel").addEventListener("click", () => d.close());
  return d;
}

/** The dialog for position `p` (found again by market and leg: the account changes under it). */
export function openTpSlDialog(app, p) {
  const d = dialog();
  const ctl = new TpSlDialog(app, p.symbol, legOf(p));
  // One controller at a time: the elements are reused, their handlers replaced.
  $("tpsl-form").onsubmit = (ev) => {
    ev.preventDefault();
    ctl.save();
  };
  $("tpsl-remove").onclick = () => ctl.remove();
  for (const id of ["d-tp", "d-sl"]) $(id).oninput = () => ctl.refresh();
  $("d-tpsl-by").onchange = () => ctl.refresh();
  ctl.fill();
  d.onclose = () => ctl.stop();
  d.showModal();
  $("d-tp").focus();
  return ctl;
}

class TpSlDialog {
  constructor(app, symbol, leg) {
    this.app = app;
    this.symbol = symbol;
    this.leg = leg;
    this.spec = app.bySymbol.get(symbol);
    this.busy = false;
    // The mark, the last price and the position move while the dialog is open.
    this.timer = setInterval(() => this.refresh(), 500);
  }

  stop() {
    clearInterval(this.timer);
    this.stopped = true;
  }

  position() {
    const a = this.app.account;
    if (!a) return null;
    return a.positions.find((p) => p.symbol === this.symbol && legOf(p) === this.leg && Number(p.quantity) !== 0) || null;
  }

  current(p) {
    return p ? tpslOf(p, this.app.tables.open.values()) : { tp: [], sl: [] };
  }

  /** The inputs from the current TP/SL (the nearest of each when there are several). */
  fill() {
    const p = this.position();
    const { tp, sl } = this.current(p);
    const long = p ? isLong(p) : true;
    const nearest = (list, first) => (list.length ? (first ? list[0] : list[list.length - 1]) : null);
    // A long's nearest take-profit is the lowest, its nearest stop-loss the highest.
    const t = nearest(tp, long);
    const s = nearest(sl, !long);
    $("d-tp").value = t ? t.trigger_price : "";
    $("d-sl").value = s ? s.trigger_price : "";
    $("d-tpsl-by").value = (t || s || { trigger_by: "last" }).trigger_by || "last";
    $("tpsl-msg").textContent = "";
    $("tpsl-msg").className = "form-msg";
    this.refresh();
  }

  /** The watched price now: what the server compares a new trigger with. */
  watched() {
    const l = this.app.liveOf(this.symbol);
    const by = $("d-tpsl-by").value;
    const p = by === "mark" ? l.mark : l.last ?? l.mark;
    const what = by === "mark" || l.last == null ? "the mark price now" : "the last price now";
    return p == null ? null : { price: String(p), what, now: true };
  }

  check() {
    const p = this.position();
    if (!p) return { problem: `No open ${this.symbol} position ${this.leg === "both" ? "" : `(${this.leg}) `}any more`, errs: {} };
    const long = isLong(p);
    const watched = this.watched();
    const r = checkTpSl({ spec: this.spec, long, tp: $("d-tp").value, sl: $("d-sl").value, refs: watched ? [watched] : [] });
    r.p = p;
    r.long = long;
    r.problem = Object.values(r.errs)[0] || (!r.tp && !r.sl ? "Enter a take-profit or a stop-loss price (or remove them)" : "");
    return r;
  }

  refresh() {
    if (this.stopped) return; // a closed dialog's controller (the next one owns the elements)
    const s = this.spec;
    const c = this.check();
    const p = c.p;
    const { tp, sl } = this.current(p);
    const l = this.app.liveOf(this.symbol);
    const qty = p ? p.quantity.replace(/^-/, "") : "0";
    $("tpsl-title").textContent = p ? `TP/SL — ${positionName(p)} ${isLong(p) ? "long" : "short"} ${qty} ${s.base_asset}` : `TP/SL — ${this.symbol}`;
    const facts = [
      ["Entry price", p ? fmt(p.entry_price, s.priceDp) : "—"],
      ["Mark price", fmt(l.mark, s.priceDp)],
      ["Last price", fmt(l.last, s.priceDp)],
      ["Take-profit now", tp.length ? tp.map((o) => `${fmt(o.trigger_price, s.priceDp)} (${o.trigger_by})`).join(", ") : "none"],
      ["Stop-loss now", sl.length ? sl.map((o) => `${fmt(o.trigger_price, s.priceDp)} (${o.trigger_by})`).join(", ") : "none"],
    ];
    $("tpsl-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    for (const [k, input] of [["tp", "d-tp"], ["sl", "d-sl"]]) {
      const text = c.errs[k] || "";
      if ($(`e-${input}`).textContent !== text) $(`e-${input}`).textContent = text;
      if (text) $(input).setAttribute("aria-invalid", "true");
      else $(input).removeAttribute("aria-invalid");
      // The estimated PnL of closing the whole position there (exact, before fees).
      const box = $(`${input}-pnl`);
      const at = c[k];
      const pnl = p && at && !text ? pnlAt(qty, p.entry_price, at, c.long) : "";
      box.textContent = pnl ? `Est. PnL at ${k === "tp" ? "take-profit" : "stop-loss"}: ${pnlText(pnl, s.quote_asset)} (before fees)` : "";
      box.dataset.pnl = pnl;
      box.className = "pnl" + (pnl ? (Number(pnl) >= 0 ? " up" : " down") : "");
    }
    const n = tp.length + sl.length;
    $("tpsl-note").textContent = n
      ? `Saving cancels the current ${n === 1 ? "order" : `${n} orders`} first, then places the new take-profit and stop-loss (one cancels the other); if the new ones are refused, the position is left without any. An empty field sets none.`
      : "Each closes the whole position when the price reaches it; when one fires the other is cancelled. An empty field sets none.";
    $("tpsl-remove").disabled = this.busy || n === 0;
    const save = $("tpsl-save");
    save.disabled = this.busy || Boolean(c.problem);
    if (c.problem) save.title = "Not possible: " + c.problem;
    else save.removeAttribute("title");
  }

  error(e, prefix = "") {
    const box = $("tpsl-msg");
    renderError(box, e, (code, detail) => el("span", { class: "code", title: detail || null }, code));
    if (prefix) box.prepend(prefix);
    box.className = "form-msg err";
  }

  /** Cancel `orders`; an order already gone (fired or cancelled meanwhile) is not an error. */
  async cancelAll(orders) {
    for (const o of orders) {
      try {
        this.app.tables.onOrder(await signed("DELETE", `/api/v1/markets/${enc(o.symbol)}/orders/${o.order_id}`, null));
      } catch (e) {
        if (e.code !== "ORDER_NOT_OPEN" && e.code !== "ORDER_NOT_FOUND") throw e;
      }
    }
  }

  async run(work) {
    if (this.busy) return;
    this.busy = true;
    this.refresh();
    try {
      await work();
    } finally {
      this.busy = false;
      this.refresh();
    }
  }

  save() {
    return this.run(async () => {
      const c = this.check();
      if (c.problem) {
        this.error(new Error(c.problem));
        return;
      }
      const p = c.p;
      const { tp, sl } = this.current(p);
      const old = [...tp, ...sl];
      try {
        await this.cancelAll(old);
      } catch (e) {
        this.error(e, "The current TP/SL could not be cancelled, nothing new was placed: ");
        return;
      }
      const body = { trigger_by: $("d-tpsl-by").value };
      if (c.tp) body.take_profit = c.tp;
      if (c.sl) body.stop_loss = c.sl;
      if (this.leg !== "both") body.position_side = this.leg;
      try {
        const placed = await signed("POST", `/api/v1/markets/${enc(this.symbol)}/tpsl`, body);
        for (const o of placed) this.app.tables.onOrder(o);
        const words = [c.tp && `take-profit ${c.tp}`, c.sl && `stop-loss ${c.sl}`].filter(Boolean).join(" and ");
        this.app.ok(`${positionName(p)}: ${words} (${body.trigger_by}) set`);
        $("tpsl-dialog").close();
      } catch (e) {
        this.error(e, old.length ? "The old TP/SL were cancelled, the new ones were refused: " : "");
      }
    });
  }

  remove() {
    return this.run(async () => {
      const p = this.position();
      const { tp, sl } = this.current(p);
      try {
        await this.cancelAll([...tp, ...sl]);
        this.app.ok(`${p ? positionName(p) : this.symbol}: take-profit and stop-loss removed`);
        $("tpsl-dialog").close();
      } catch (e) {
        this.error(e);
      }
    });
  }
}
