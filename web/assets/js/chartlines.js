// The account's orders and position on the chart, as price lines of the candle series
// (lightweight-charts createPriceLine): one line per open order of the shown market (a limit
// order at its price, "BUY 0.010" / "SELL 0.010" in the side's colour; an untriggered stop or
// take-profit dashed at its trigger price, "SL" / "STOP" / "TP"), and per position leg its
// entry price and its liquidation price. The lines follow the open orders and the account the
// page already keeps (tables.js onChange): added, moved and removed as those change, and gone
// on a market switch or at logout, since only the shown market's are wanted.
//
// An order's line can be dragged: a limit order's to amend its price, a waiting stop's or
// take-profit's to amend its trigger price. A mouse press within a few pixels of the line
// grabs it (the chart's own pan and zoom only see presses elsewhere: the press is stopped in
// the capture phase before the chart's handlers), the line follows the pointer on the tick,
// and on release linemove.js checks the price, asks (dialogs.js, with "Don't ask again") and
// amends with PATCH (tables.js amend: the price is a whole number of ticks built with BigInt,
// never a float). Escape while dragging, "Keep it" or a refused amend put the line back where
// the order is.

import { LineStyle } from "/assets/vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs";
import { amendFromLine, lineField } from "./linemove.js";
import { cmpDec, fmt, roundToStep } from "./num.js";
import { orderKey } from "./ordercells.js";

const GRAB_PX = 6; // how near the line a press grabs it

/** "SL" for a stop that only reduces, "STOP" for one that may open, "TP" for a take-profit. */
function triggerTag(o) {
  if (o.type.startsWith("take_profit")) return "TP";
  return o.reduce_only ? "SL" : "STOP";
}

export class ChartLines {
  /** `chart`: the CandleChart (chart.js); `container`: its element. */
  constructor(app, chart, container) {
    this.app = app;
    this.chart = chart;
    this.series = chart.candles;
    this.container = container;
    this.lines = new Map(); // key -> { line, w: what it shows, sig }
    this.held = null; // { key, order, field, price }: a line being dragged, or waiting for its amend
    this.dragging = false;
    container.addEventListener("mousedown", (ev) => this.down(ev), true);
    container.addEventListener("mousemove", (ev) => this.hover(ev), true);
    // On the window, in the capture phase: a drag goes on outside the chart, and the
    // container's hover handler stops the chart's own mousemove handling during a drag.
    window.addEventListener("mousemove", (ev) => this.move(ev), true);
    window.addEventListener("mouseup", () => this.up(), true);
    document.addEventListener("keydown", (ev) => {
      if (this.dragging && ev.key === "Escape") {
        this.dragging = false;
        this.container.classList.remove("line-drag");
        this.drop();
      }
    });
    // The lines take their colours from the theme (terminal.css), like the chart's surface.
    if (window.matchMedia) window.matchMedia("(prefers-color-scheme: light)").addEventListener("change", () => this.sync());
    // Read-only, for the browser tests: what each line shows and where.
    window.__chartLines = () => this.snapshot();
  }

  /** The lines the shown market should have now: key -> { kind, price, title, colour, style, ... }. */
  wanted() {
    const out = new Map();
    const app = this.app;
    const spec = app.spec();
    if (!app.loggedIn || !spec) return out;
    const css = getComputedStyle(document.documentElement);
    const colour = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const up = colour("--up", "#26a69a");
    const down = colour("--down", "#ef5350");
    for (const o of app.tables.open.values()) {
      if (o.symbol !== spec.symbol) continue;
      const waiting = o.status === "untriggered";
      const price = waiting ? o.trigger_price : o.price;
      if (price == null) continue;
      // A close-position order has no quantity until it fires: it closes all of the position.
      const qty = o.close_position ? "all" : fmt(o.remaining_quantity ?? o.quantity, spec.qtyDp);
      out.set("order|" + orderKey(o), {
        kind: waiting ? "trigger" : "order",
        price,
        title: `${waiting ? triggerTag(o) + " " : ""}${o.side.toUpperCase()} ${qty}`,
        colour: o.side === "buy" ? up : down,
        style: waiting ? LineStyle.Dashed : LineStyle.Solid,
        order: o,
        draggable: true,
      });
    }
    const entry = colour("--link", "#6ea8fe");
    const liq = colour("--warn", "#f5a623");
    for (const p of app.account ? app.account.positions : []) {
      const q = Number(p.quantity);
      if (p.symbol !== spec.symbol || q === 0) continue;
      const leg = q > 0 ? "long" : "short";
      const id = p.position_side || "both";
      const size = fmt(Math.abs(q), spec.qtyDp);
      out.set(`entry|${id}`, { kind: "entry", price: p.entry_price, title: `Entry ${leg} ${size}`, colour: entry, style: LineStyle.Dotted });
      if (p.liquidation_price != null) {
        out.set(`liq|${id}`, { kind: "liquidation", price: p.liquidation_price, title: `Liq. ${leg}`, colour: liq, style: LineStyle.LargeDashed });
      }
    }
    return out;
  }

  /** Add, move and remove lines to match wanted(); a held line stays where it is held. */
  sync() {
    const want = this.wanted();
    if (this.held && !want.has(this.held.key)) {
      // The order closed (filled, cancelled) while held: nothing is left to amend.
      this.held = null;
      this.dragging = false;
      this.container.classList.remove("line-drag");
    }
    if (this.held) Object.assign(want.get(this.held.key), { price: this.held.price, held: true });
    for (const [key, x] of this.lines) {
      if (want.has(key)) continue;
      this.series.removePriceLine(x.line);
      this.lines.delete(key);
    }
    for (const [key, w] of want) {
      const opts = {
        price: Number(w.price),
        color: w.colour,
        lineWidth: w.held ? 2 : 1,
        lineStyle: w.style,
        lineVisible: true,
        axisLabelVisible: true,
        title: w.title,
      };
      const sig = JSON.stringify(opts);
      const have = this.lines.get(key);
      if (!have) {
        this.lines.set(key, { line: this.series.createPriceLine(opts), w, sig });
      } else {
        have.w = w;
        if (have.sig !== sig) {
          have.line.applyOptions(opts);
          have.sig = sig;
        }
      }
    }
  }

  snapshot() {
    return Array.from(this.lines, ([key, x]) => {
      const o = x.line.options();
      return {
        key,
        kind: x.w.kind,
        price: x.w.price,
        value: o.price,
        title: o.title,
        color: o.color,
        style: o.lineStyle,
        draggable: Boolean(x.w.draggable),
        orderId: x.w.order ? x.w.order.order_id : null,
        y: this.series.priceToCoordinate(o.price),
      };
    });
  }

  // ------------------------------------------------------------ dragging an order line

  /** The pointer's place in the chart's pane, or null outside it (price axis, time axis). */
  inPane(ev) {
    const r = this.container.getBoundingClientRect();
    const x = ev.clientX - r.left;
    const y = ev.clientY - r.top;
    const pane = this.chart.chart.paneSize();
    return x >= 0 && y >= 0 && x <= pane.width && y <= pane.height ? { x, y, pane } : null;
  }

  /** The draggable line within GRAB_PX of the pointer (the nearest), or null. */
  grabbable(ev) {
    if (this.held) return null;
    const at = this.inPane(ev);
    if (!at) return null;
    let best = null;
    for (const [key, x] of this.lines) {
      if (!x.w.draggable) continue;
      const y = this.series.priceToCoordinate(Number(x.w.price));
      if (y == null) continue;
      const d = Math.abs(y - at.y);
      if (d <= GRAB_PX && (!best || d < best.d)) best = { key, d, w: x.w };
    }
    return best;
  }

  hover(ev) {
    if (this.dragging) {
      ev.stopPropagation(); // the chart's crosshair stays out of a drag
      return;
    }
    this.container.classList.toggle("line-hover", Boolean(this.grabbable(ev)));
  }

  down(ev) {
    if (ev.button !== 0) return;
    const g = this.grabbable(ev);
    if (!g) return; // not near a line: the chart pans and zooms as usual
    ev.preventDefault();
    ev.stopPropagation();
    this.held = { key: g.key, order: g.w.order, field: lineField(g.w.kind), price: g.w.price };
    this.dragging = true;
    this.container.classList.add("line-drag");
    this.sync();
  }

  move(ev) {
    if (!this.dragging) return;
    const r = this.container.getBoundingClientRect();
    const pane = this.chart.chart.paneSize();
    const y = Math.min(Math.max(ev.clientY - r.top, 0), pane.height);
    const raw = this.series.coordinateToPrice(y);
    if (raw == null || !(raw > 0)) return;
    // The nearest whole number of ticks: the float only picks the count, the string is exact.
    const price = roundToStep(raw, this.app.bySymbol.get(this.held.order.symbol).tick_size);
    if (cmpDec(price, "0") <= 0 || price === this.held.price) return;
    this.held.price = price;
    this.sync();
  }

  up() {
    if (!this.dragging) return;
    this.dragging = false;
    this.container.classList.remove("line-drag");
    this.commit();
  }

  /** Put a held line back where its order is. */
  drop() {
    this.held = null;
    this.sync();
  }

  /** The line was let go: check, ask, then amend the order to the price it was let go at. */
  async commit() {
    const held = this.held;
    await amendFromLine(this.app, held, () => this.held === held);
    if (this.held === held) this.drop();
  }
}
