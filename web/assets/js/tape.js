// The trades tape of the shown market: the last trades from GET /trades, then live from the
// trades channel. New trades are inserted on top and the oldest rows dropped, so a paint
// touches only the rows of trades that arrived since the last one; paints happen in an
// animation frame at most 10 times a second (a faster tape cannot be read, and repainting it
// was the costliest part of a busy frame).

import { get } from "./api.js";
import { schedule, scheduleEvery } from "./frame.js";
import { clock, el, fmt } from "./num.js";

const ROWS = 60;

export class Tape {
  constructor(app, box) {
    this.app = app;
    this.box = box;
    this.trades = []; // newest first, at most ROWS
    this.fresh = []; // arrived since the last paint, oldest first
    this.reset = true; // repaint every row next time
  }

  clear() {
    this.trades = [];
    this.reset = true;
    schedule("tape", () => this.paint());
  }

  async load(symbol) {
    try {
      const rows = await get(`/api/v1/markets/${encodeURIComponent(symbol)}/trades?limit=${ROWS}`);
      if (symbol !== this.app.symbol) return;
      this.trades = rows.map((t) => ({ ...t, symbol }));
      const live = this.app.liveOf(symbol);
      if (rows.length && live.last == null) live.last = rows[0].price;
      this.reset = true;
      schedule("tape", () => this.paint());
    } catch (e) {
      console.warn("trades", e);
    }
  }

  /** A trade of the shown market from the WebSocket. */
  push(t) {
    this.trades.unshift(t);
    if (this.trades.length > ROWS) this.trades.length = ROWS;
    this.fresh.push(t);
    scheduleEvery("tape", 100, () => this.paint());
  }

  row(t, spec) {
    const r = el("div", { class: "trade " + (t.taker_side === "buy" ? "buy" : "sell"), dataset: { id: String(t.trade_id) } }, el("span"), el("span"), el("span"));
    r.children[0].textContent = fmt(t.price, spec.priceDp);
    r.children[1].textContent = fmt(t.quantity, spec.qtyDp);
    r.children[2].textContent = clock(t.time);
    return r;
  }

  paint() {
    const spec = this.app.spec();
    if (!spec) return;
    if (this.reset) {
      this.reset = false;
      this.fresh = [];
      this.box.replaceChildren(...this.trades.map((t) => this.row(t, spec)));
      return;
    }
    const fresh = this.fresh.slice(-ROWS);
    this.fresh = [];
    const frag = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) frag.append(this.row(fresh[i], spec));
    this.box.prepend(frag);
    while (this.box.children.length > ROWS) this.box.lastChild.remove();
  }
}
