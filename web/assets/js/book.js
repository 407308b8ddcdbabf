// The order book of the shown market: a local copy kept from the WebSocket (snapshot, then
// diffs whose prev_sequence must equal the last applied sequence; any gap asks for a fresh
// snapshot), a price ladder painted once per animation frame, and a depth chart.
//
// Levels are kept as sorted arrays of numeric prices (bids descending, asks ascending) plus a
// map from price to [price string, quantity string]: a diff is a binary search and at most one
// splice, and a paint reads the first rows straight from the arrays.
//
// The ladder shows `depth` rows a side, optionally grouped into buckets of `group` ticks
// (bookgroup.js), and marks the levels where the logged-in account has resting orders with
// its own quantity there. The marks are computed when the account's orders change (setOwn),
// not per paint: a paint only looks each shown row up in a small map.

import { compact, el, fmt } from "./num.js";
import { schedule, scheduleEvery, stats } from "./frame.js";
import { DEFAULT_DEPTH, groupLevels, groupOwn, stepsAt } from "./bookgroup.js";

const RESTING = new Set(["new", "partially_filled"]);

function search(arr, x, desc) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (desc ? arr[mid] > x : arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class Side {
  constructor(desc) {
    this.desc = desc;
    this.prices = [];
    this.levels = new Map(); // number -> [priceStr, qtyStr, qtyNum]
  }

  clear() {
    this.prices = [];
    this.levels.clear();
  }

  set(priceStr, qtyStr) {
    const p = Number(priceStr);
    const q = Number(qtyStr);
    const had = this.levels.has(p);
    if (q === 0) {
      if (had) {
        this.levels.delete(p);
        const i = search(this.prices, p, this.desc);
        if (this.prices[i] === p) this.prices.splice(i, 1);
      }
      return;
    }
    this.levels.set(p, [priceStr, qtyStr, q]);
    if (!had) this.prices.splice(search(this.prices, p, this.desc), 0, p);
  }

  top(n) {
    const out = [];
    for (let i = 0; i < Math.min(n, this.prices.length); i++) out.push(this.levels.get(this.prices[i]));
    return out;
  }
}

export class Book {
  /**
   * @param root element holding the ladder
   * @param depthCanvas canvas of the depth chart
   * @param onPrice called with a price string when a level is clicked
   * @param resync called with the symbol when a fresh snapshot is needed
   */
  constructor(root, depthCanvas, onPrice, resync) {
    this.bids = new Side(true);
    this.asks = new Side(false);
    this.symbol = null;
    this.seq = null; // null: waiting for a snapshot
    this.spec = null;
    this.onPrice = onPrice;
    this.resync = resync;
    this.depthCanvas = depthCanvas;
    this.pendingApplied = 0;
    this.depth = DEFAULT_DEPTH; // rows per side
    this.group = 1; // ticks per row
    this.ownOrders = []; // the account's resting orders in this market
    this.own = new Map(); // "bid|steps" -> own quantity (exact string), for the current grouping
    this.root = root;
    this.build();
  }

  build() {
    const row = (side) => {
      const bar = el("div", { class: "bar " + side });
      const price = el("span", { class: "px " + side });
      const size = el("span", { class: "sz" });
      const cum = el("span", { class: "cum" });
      const own = el("span", { class: "own", "aria-label": "your orders" });
      const r = el("div", { class: "lvl " + side, role: "button", tabindex: "-1" }, bar, price, size, cum, own);
      r.addEventListener("click", () => {
        if (r.dataset.price) this.onPrice(r.dataset.price);
      });
      return { r, bar, price, size, cum, own, key: "" };
    };
    this.askRows = Array.from({ length: this.depth }, () => row("ask"));
    this.bidRows = Array.from({ length: this.depth }, () => row("bid"));
    this.spreadEl = el("div", { class: "spread" });
    // Asks are shown best-last (nearest the spread): their box stacks bottom-up (CSS
    // column-reverse), so the best ask is its first row and a deep ladder scrolls away from
    // the spread on each side.
    this.root.replaceChildren(
      el("div", { class: "lvl head" }, el("span", {}, "Price"), el("span", {}, "Size"), el("span", {}, "Total")),
      el("div", { class: "side-rows asks" }, ...this.askRows.map((x) => x.r)),
      this.spreadEl,
      el("div", { class: "side-rows bids" }, ...this.bidRows.map((x) => x.r)),
    );
  }

  /** Rows per side and ticks per row (bookctl.js: the control above the ladder). */
  setView(depth, group) {
    const rebuild = depth !== this.depth;
    this.depth = depth;
    this.group = group;
    if (rebuild) this.build();
    else for (const r of [...this.askRows, ...this.bidRows]) r.key = null; // every row repainted, emptied ones too
    this.groupOwn();
    this.paint();
  }

  /** The account's open orders (any market): the levels of this market's resting ones are marked. */
  setOwn(orders) {
    const mine = [];
    for (const o of orders) if (o.symbol === this.symbol && RESTING.has(o.status) && o.price != null) mine.push(o);
    const sig = mine.map((o) => `${o.side}${o.price}|${o.remaining_quantity}`).sort().join(",");
    if (sig === this.ownSig) return;
    this.ownSig = sig;
    this.ownOrders = mine;
    this.groupOwn();
    schedule("ladder", () => this.paint());
  }

  groupOwn() {
    this.own = this.spec && this.ownOrders.length ? groupOwn(this.ownOrders, this.spec.tick_size, this.group) : new Map();
  }

  /** Show `symbol` (spec from GET /markets); waits for its snapshot. */
  show(symbol, spec) {
    this.symbol = symbol;
    this.spec = spec;
    this.seq = null;
    this.bids.clear();
    this.asks.clear();
    this.ownOrders = [];
    this.ownSig = "";
    this.own = new Map();
    this.paint();
  }

  snapshot(m) {
    if (m.symbol !== this.symbol) return;
    stats.snapshots += 1;
    this.bids.clear();
    this.asks.clear();
    for (const [p, q] of m.bids) this.bids.set(p, q);
    for (const [p, q] of m.asks) this.asks.set(p, q);
    this.seq = m.sequence;
    this.changed();
  }

  update(m) {
    if (m.symbol !== this.symbol) return;
    stats.delivered += 1;
    if (this.seq === null) return; // resyncing: the snapshot will cover it
    if (m.sequence <= this.seq) return; // already in the snapshot
    if (m.prev_sequence !== this.seq) {
      stats.gaps += 1;
      this.seq = null;
      this.resync(this.symbol);
      return;
    }
    for (const [p, q] of m.bids) this.bids.set(p, q);
    for (const [p, q] of m.asks) this.asks.set(p, q);
    this.seq = m.sequence;
    stats.applied += 1;
    this.pendingApplied += 1;
    this.changed();
  }

  changed() {
    schedule("ladder", () => this.paint());
    scheduleEvery("depth", 500, () => this.paintDepth());
  }

  best() {
    const b = this.bids.prices[0];
    const a = this.asks.prices[0];
    return { bid: b, ask: a };
  }

  /** The best bid and ask as the API's exact strings (undefined for an empty side). */
  bestStrings() {
    const b = this.bids.levels.get(this.bids.prices[0]);
    const a = this.asks.levels.get(this.asks.prices[0]);
    return { bid: b && b[0], ask: a && a[0] };
  }

  /** The top `n` levels as [[price, qty], ...] strings (for tests and the depth chart). */
  levels(n) {
    const pick = (s) => s.top(n).map(([p, q]) => [p, q]);
    return { sequence: this.seq, bids: pick(this.bids), asks: pick(this.asks) };
  }

  /** The rows of one side as shown: [priceStr, qtyStr, qtyNum, steps] best first. */
  rowsOf(side, down) {
    const n = this.depth;
    if (this.group > 1 && this.spec) {
      const at = (i) => (i < side.prices.length ? side.levels.get(side.prices[i]) : undefined);
      return groupLevels(at, this.spec.tick_size, this.group, down, n);
    }
    return side.top(n);
  }

  /** What the ladder shows, for tests: { group, depth, bids, asks } as [price, qty] strings. */
  shown() {
    const pick = (rows) => rows.map(([p, q]) => [p, q]);
    return { group: this.group, depth: this.depth, bids: pick(this.rowsOf(this.bids, true)), asks: pick(this.rowsOf(this.asks, false)) };
  }

  paint() {
    stats.frames += 1;
    stats.rendered += this.pendingApplied;
    this.pendingApplied = 0;
    const dp = this.spec ? this.spec.qtyDp : 3;
    const pdp = this.spec ? this.spec.priceDp : 1;
    const bids = this.rowsOf(this.bids, true);
    const asks = this.rowsOf(this.asks, false);
    const cum = (lv) => {
      let t = 0;
      return lv.map((l) => (t += l[2]));
    };
    const cb = cum(bids);
    const ca = cum(asks);
    const max = Math.max(cb[cb.length - 1] || 0, ca[ca.length - 1] || 0) || 1;
    const own = this.own;
    const tick = this.spec ? this.spec.tick_size : "1";
    const fill = (rows, lv, c, sideKey) => {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const l = lv[i];
        // Only with own orders in this market is a row looked up (ungrouped rows carry no step count).
        const mine = l && own.size ? own.get(sideKey + (l[3] ?? stepsAt(l[0], tick))) : undefined;
        const key = l ? l[0] + "|" + l[1] + "|" + c[i] + "|" + (mine || "") : "";
        if (key === row.key) continue;
        row.key = key;
        if (mine) {
          row.own.textContent = fmt(mine, dp);
          row.r.dataset.own = mine;
          row.r.classList.add("mine");
        } else if (row.r.dataset.own) {
          row.own.textContent = "";
          delete row.r.dataset.own;
          row.r.classList.remove("mine");
        }
        if (!l) {
          row.price.textContent = "";
          row.size.textContent = "";
          row.cum.textContent = "";
          row.bar.style.transform = "scaleX(0)";
          delete row.r.dataset.price;
          continue;
        }
        row.r.dataset.price = l[0];
        row.price.textContent = fmt(l[0], pdp);
        row.size.textContent = fmt(l[1], dp);
        row.cum.textContent = fmt(c[i], dp);
        // A transform, not a width: no layout per update.
        row.bar.style.transform = `scaleX(${(c[i] / max).toFixed(3)})`;
      }
    };
    fill(this.bidRows, bids, cb, "bid|");
    fill(this.askRows, asks, ca, "ask|");
    const { bid, ask } = this.best();
    if (bid !== undefined && ask !== undefined) {
      const spread = ask - bid;
      const bps = (spread / ((ask + bid) / 2)) * 1e4;
      this.spreadEl.textContent = `Spread ${fmt(spread, pdp)} (${bps.toFixed(1)} bp)`;
    } else {
      this.spreadEl.textContent = this.seq === null ? "Syncing book…" : "Spread —";
    }
  }

  paintDepth() {
    const cv = this.depthCanvas;
    if (!cv || !cv.isConnected) return;
    const w = cv.clientWidth;
    const h = cv.clientHeight;
    if (!w || !h) return;
    const ratio = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(w * ratio)) {
      cv.width = Math.round(w * ratio);
      cv.height = Math.round(h * ratio);
    }
    const g = cv.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const bids = this.bids.top(200);
    const asks = this.asks.top(200);
    if (!bids.length && !asks.length) return;
    const mid = bids.length && asks.length ? (Number(bids[0][0]) + Number(asks[0][0])) / 2 : Number((bids[0] || asks[0])[0]);
    // Show ±2 % around the mid, or the whole book when it is narrower.
    const span = mid * 0.02;
    const lo = mid - span;
    const hi = mid + span;
    const x = (p) => ((p - lo) / (hi - lo)) * w;
    let tb = 0;
    let ta = 0;
    const pb = [];
    const pa = [];
    for (const l of bids) {
      if (Number(l[0]) < lo) break;
      tb += l[2];
      pb.push([Number(l[0]), tb]);
    }
    for (const l of asks) {
      if (Number(l[0]) > hi) break;
      ta += l[2];
      pa.push([Number(l[0]), ta]);
    }
    const top = Math.max(tb, ta) * 1.1 || 1;
    const y = (v) => h - 14 - (v / top) * (h - 20);
    const area = (pts, color, fillColor, towardLeft) => {
      if (!pts.length) return;
      g.beginPath();
      g.moveTo(x(pts[0][0]), h - 14);
      let prevY = h - 14;
      for (const [p, v] of pts) {
        g.lineTo(x(p), prevY);
        g.lineTo(x(p), y(v));
        prevY = y(v);
      }
      g.lineTo(towardLeft ? 0 : w, prevY);
      g.lineTo(towardLeft ? 0 : w, h - 14);
      g.closePath();
      g.fillStyle = fillColor;
      g.fill();
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.stroke();
    };
    area(pb, "#26a69a", "rgba(38,166,154,0.18)", true);
    area(pa, "#ef5350", "rgba(239,83,80,0.18)", false);
    g.fillStyle = "#8b93a7";
    g.font = "10px system-ui, sans-serif";
    const pdp = this.spec ? this.spec.priceDp : 1;
    g.fillText(fmt(lo, pdp), 2, h - 2);
    const midText = fmt(mid, pdp);
    g.fillText(midText, w / 2 - g.measureText(midText).width / 2, h - 2);
    const hiText = fmt(hi, pdp);
    g.fillText(hiText, w - g.measureText(hiText).width - 2, h - 2);
    g.fillText(compact(top / 1.1), 2, 10);
  }
}
