// The control above the ladder: grouping (1, 10, 100 or 1000 ticks a row, shown as prices:
// 0.1 / 1 / 10 / 100 at a 0.1 tick) and depth (10 / 20 / 50 rows a side). Both are remembered
// per market in localStorage (perpx.book: {symbol: {group, depth}}), since a sensible grouping
// depends on the market's price and tick.

import { DEFAULT_DEPTH, DEPTHS, GROUPS, groupLabel } from "./bookgroup.js";

const KEY = "perpx.book";
const $ = (id) => document.getElementById(id);

function stored() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    return {};
  }
}

export class BookControls {
  /** `book`: the Book (book.js) whose view this sets. */
  constructor(book) {
    this.book = book;
    this.symbol = null;
    this.groupSel = $("book-group");
    this.depthSel = $("book-depth");
    this.depthSel.replaceChildren(...DEPTHS.map((d) => new Option(String(d), String(d))));
    this.groupSel.addEventListener("change", () => this.apply(true));
    this.depthSel.addEventListener("change", () => this.apply(true));
  }

  /** The shown market changed: its grouping labels and its remembered choice. */
  setMarket(spec) {
    this.symbol = spec.symbol;
    this.groupSel.replaceChildren(...GROUPS.map((g) => new Option(groupLabel(spec.tick_size, g), String(g))));
    const saved = stored()[spec.symbol] || {};
    this.groupSel.value = String(GROUPS.includes(saved.group) ? saved.group : 1);
    this.depthSel.value = String(DEPTHS.includes(saved.depth) ? saved.depth : DEFAULT_DEPTH);
    this.apply(false);
  }

  apply(save) {
    const group = Number(this.groupSel.value);
    const depth = Number(this.depthSel.value);
    this.book.setView(depth, group);
    if (!save || !this.symbol) return;
    const all = stored();
    all[this.symbol] = { group, depth };
    try {
      localStorage.setItem(KEY, JSON.stringify(all));
    } catch {
      /* storage refused: the choice holds for this page only */
    }
  }
}
