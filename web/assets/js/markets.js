// The market selector of the top bar, the favourites, and which tickers the page subscribes.
//
// - A button shows the current market (symbol and last price) and opens a popover with a
//   search box and the matching markets (marketsearch.js: at most MAX_ROWS rows are drawn, so
//   a venue with a thousand markets stays fast). The first match is highlighted; ArrowUp and
//   ArrowDown move, Enter selects, Shift+Enter stars, Esc closes; `/` opens it (trader.js).
// - The star of a row makes the market a favourite, kept in localStorage ("perpx.favourites",
//   a JSON array of symbols; symbols this venue does not list are ignored, and kept). The
//   favourites are the quick-access chips of the top bar; with none ever stored, the first
//   three markets are.
// - Tickers are subscribed only for what the page shows live: the current market, the
//   favourites and the markets of the account's positions (their marks drive the account
//   panel). A row of the search list shows the last price the page knows, or "—".

import { get } from "./api.js";
import { MAX_ROWS, searchMarkets } from "./marketsearch.js";
import { el, fmt } from "./num.js";

const STORE = "perpx.favourites";
const DEFAULT_CHIPS = 3;
const $ = (id) => document.getElementById(id);

export class MarketSelector {
  /** `onSelect(symbol)` switches the page to a market. */
  constructor(app, onSelect) {
    this.app = app;
    this.onSelect = onSelect;
    this.favourites = []; // symbols, in the order they were starred
    this.foreign = []; // stored symbols this venue does not list: not shown, kept when saving
    this.tickers = new Set(); // symbols whose ticker this page subscribed
    this.shown = []; // the markets of the open list's rows
    this.hl = 0; // the highlighted row
    this.chipPx = new Map(); // symbol -> price element of its chip
    this.rowPx = new Map(); // symbol -> price element of its row in the open list
    this.rowStar = new Map(); // symbol -> star button of its row in the open list
    this.root = $("mkt-select");
    this.opener = $("mkt-open");
    this.pop = $("mkt-pop");
    this.search = $("mkt-search");
    this.list = $("mkt-list");
    this.more = $("mkt-more");
    this.loadFavourites();
    this.bind();
    this.renderChips();
  }

  // ------------------------------------------------------------ favourites

  loadFavourites() {
    let stored = null;
    try {
      stored = JSON.parse(localStorage.getItem(STORE));
    } catch {
      stored = null;
    }
    if (!Array.isArray(stored)) {
      this.favourites = this.app.markets.slice(0, DEFAULT_CHIPS).map((m) => m.symbol);
      this.foreign = [];
      return;
    }
    const names = [...new Set(stored.filter((s) => typeof s === "string"))];
    this.favourites = names.filter((s) => this.app.bySymbol.has(s));
    this.foreign = names.filter((s) => !this.app.bySymbol.has(s));
  }

  saveFavourites() {
    try {
      localStorage.setItem(STORE, JSON.stringify([...this.favourites, ...this.foreign]));
    } catch (e) {
      console.warn("favourites not saved", e);
    }
  }

  isFavourite(symbol) {
    return this.favourites.includes(symbol);
  }

  toggleFavourite(symbol) {
    const i = this.favourites.indexOf(symbol);
    if (i >= 0) this.favourites.splice(i, 1);
    else this.favourites.push(symbol);
    this.saveFavourites();
    this.favouritesChanged();
    // The open list keeps its order (the row stays under the pointer); only the star changes.
    const star = this.rowStar.get(symbol);
    if (star) this.paintStar(star, symbol);
  }

  favouritesChanged() {
    this.renderChips();
    this.syncTickers();
  }

  // ------------------------------------------------------------ the top bar

  renderChips() {
    this.chipPx.clear();
    const current = this.app.symbol;
    $("markets").replaceChildren(
      ...this.favourites.map((s) => {
        const px = el("span", { class: "mkt-px" }, this.price(s));
        this.chipPx.set(s, px);
        const active = s === current;
        return el(
          "button",
          { type: "button", class: "mkt" + (active ? " active" : ""), "aria-current": active ? "true" : null, title: `${s} (favourite)`, dataset: { symbol: s }, onclick: () => this.onSelect(s) },
          el("b", {}, s),
          px,
        );
      }),
    );
  }

  /** The page shows `app.symbol` now. */
  setCurrent() {
    const s = this.app.symbol;
    $("mkt-cur").textContent = s;
    this.opener.setAttribute("aria-label", `Market ${s}: choose another (/)`);
    for (const b of $("markets").children) {
      const on = b.dataset.symbol === s;
      b.classList.toggle("active", on);
      if (on) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
    this.syncTickers();
    this.renderPrices();
  }

  /** The last price (the mark before the first trade) the page knows of `symbol`, or "—". */
  price(symbol) {
    const l = this.app.live.get(symbol);
    const m = this.app.bySymbol.get(symbol);
    return l && m ? fmt(l.last ?? l.mark, m.priceDp) : "—";
  }

  renderPrices() {
    const put = (node, text) => {
      if (node.textContent !== text) node.textContent = text;
    };
    if (this.app.symbol) put($("mkt-cur-px"), this.price(this.app.symbol));
    for (const [s, node] of this.chipPx) put(node, this.price(s));
    for (const [s, node] of this.rowPx) put(node, this.price(s));
  }

  // ------------------------------------------------------------ ticker subscriptions

  /** The markets whose ticker the page shows: current, favourites, positions. */
  wanted() {
    const w = new Set(this.favourites);
    if (this.app.symbol) w.add(this.app.symbol);
    for (const p of this.app.account?.positions || []) w.add(p.symbol);
    return w;
  }

  /** Subscribe what is wanted and not subscribed, unsubscribe the rest (feed.js re-sends the
   *  subscriptions after a reconnect). */
  syncTickers() {
    const want = this.wanted();
    for (const s of this.tickers) {
      if (!want.has(s)) {
        this.tickers.delete(s);
        this.app.feed.unsubscribe("ticker", s);
      }
    }
    for (const s of want) {
      if (this.tickers.has(s)) continue;
      this.tickers.add(s);
      this.app.feed.subscribe("ticker", s);
      this.prime(s);
    }
  }

  /** The ticker channel sends changes only: a newly shown market's price is read once. (The
   *  current market's is read with its statistics by trader.js.) */
  async prime(symbol) {
    const l = this.app.live.get(symbol);
    if (symbol === this.app.symbol || (l && (l.last != null || l.mark != null))) return;
    try {
      const m = await get(`/api/v1/markets/${encodeURIComponent(symbol)}`);
      const live = this.app.liveOf(symbol);
      live.last = live.last ?? m.last_price;
      live.mark = live.mark ?? m.mark_price;
      this.renderPrices();
    } catch (e) {
      console.warn("market price", symbol, e);
    }
  }

  // ------------------------------------------------------------ the popover

  bind() {
    this.opener.addEventListener("click", () => (this.isOpen() ? this.close(true) : this.open()));
    this.search.addEventListener("input", () => {
      this.hl = 0;
      this.renderList();
    });
    this.search.addEventListener("keydown", (ev) => this.onKey(ev));
    // A click on a row or its star leaves the focus in the search box.
    this.list.addEventListener("mousedown", (ev) => ev.preventDefault());
    document.addEventListener("pointerdown", (ev) => {
      if (this.isOpen() && !this.root.contains(ev.target)) this.close(false);
    });
    this.root.addEventListener("focusout", (ev) => {
      if (this.isOpen() && ev.relatedTarget && !this.root.contains(ev.relatedTarget)) this.close(false);
    });
    // Another tab of the terminal changed the favourites.
    window.addEventListener("storage", (ev) => {
      if (ev.key !== STORE && ev.key !== null) return;
      this.loadFavourites();
      this.favouritesChanged();
      for (const [s, star] of this.rowStar) this.paintStar(star, s);
    });
  }

  isOpen() {
    return !this.pop.classList.contains("hidden");
  }

  open() {
    if (this.isOpen()) {
      this.search.focus();
      return;
    }
    this.pop.classList.remove("hidden");
    this.opener.setAttribute("aria-expanded", "true");
    this.search.value = "";
    this.hl = 0;
    this.renderList();
    this.search.focus();
  }

  close(focusOpener) {
    if (!this.isOpen()) return;
    this.pop.classList.add("hidden");
    this.opener.setAttribute("aria-expanded", "false");
    this.search.removeAttribute("aria-activedescendant");
    this.list.replaceChildren();
    this.shown = [];
    this.rowPx.clear();
    this.rowStar.clear();
    if (focusOpener) this.opener.focus();
  }

  choose(symbol) {
    this.close(true);
    this.onSelect(symbol);
  }

  /** The markets the search matches; with no search, the favourites first. */
  matches() {
    const q = this.search.value;
    if (q.trim()) return searchMarkets(this.app.markets, q);
    const fav = new Set(this.favourites);
    return [...this.favourites.map((s) => this.app.bySymbol.get(s)), ...this.app.markets.filter((m) => !fav.has(m.symbol))];
  }

  renderList() {
    const all = this.matches();
    this.shown = all.slice(0, MAX_ROWS);
    this.rowPx.clear();
    this.rowStar.clear();
    this.list.replaceChildren(...this.shown.map((m, i) => this.row(m, i)));
    const rest = all.length - this.shown.length;
    this.more.textContent = !all.length ? `No market matches “${this.search.value.trim()}”` : rest > 0 ? `${rest} more — refine the search` : "";
    this.highlight(0);
  }

  row(m, i) {
    const s = m.symbol;
    const px = el("span", { class: "px" }, this.price(s));
    const star = el("button", {
      type: "button",
      tabindex: "-1",
      onclick: (ev) => {
        ev.stopPropagation();
        this.toggleFavourite(s);
      },
    });
    this.paintStar(star, s);
    this.rowPx.set(s, px);
    this.rowStar.set(s, star);
    return el(
      "div",
      { role: "option", id: "mkt-opt-" + i, class: "mkt-row" + (s === this.app.symbol ? " current" : ""), "aria-selected": "false", dataset: { symbol: s }, onclick: () => this.choose(s) },
      star,
      el("b", { class: "sym" }, s),
      el("span", { class: "base" }, m.base_asset),
      px,
    );
  }

  paintStar(star, symbol) {
    const on = this.isFavourite(symbol);
    star.className = "star" + (on ? " on" : "");
    star.textContent = on ? "★" : "☆";
    star.setAttribute("aria-pressed", on ? "true" : "false");
    star.setAttribute("aria-label", `Favourite ${symbol}`);
    star.title = on ? `Remove ${symbol} from the favourites (Shift+Enter)` : `Add ${symbol} to the favourites (Shift+Enter)`;
  }

  highlight(i) {
    const rows = this.list.children;
    if (!rows.length) {
      this.hl = 0;
      this.search.removeAttribute("aria-activedescendant");
      return;
    }
    const prev = rows[this.hl];
    this.hl = Math.max(0, Math.min(i, rows.length - 1));
    if (prev && prev !== rows[this.hl]) {
      prev.classList.remove("hl");
      prev.setAttribute("aria-selected", "false");
    }
    const row = rows[this.hl];
    row.classList.add("hl");
    row.setAttribute("aria-selected", "true");
    this.search.setAttribute("aria-activedescendant", row.id);
    row.scrollIntoView({ block: "nearest" });
  }

  onKey(ev) {
    const m = this.shown[this.hl];
    if (ev.key === "ArrowDown") this.highlight(this.hl + 1);
    else if (ev.key === "ArrowUp") this.highlight(this.hl - 1);
    else if (ev.key === "PageDown") this.highlight(this.hl + 10);
    else if (ev.key === "PageUp") this.highlight(this.hl - 10);
    else if (ev.key === "Enter") {
      if (m && ev.shiftKey) this.toggleFavourite(m.symbol);
      else if (m) this.choose(m.symbol);
    } else if (ev.key === "Escape") this.close(true);
    else return;
    ev.preventDefault();
    ev.stopPropagation();
  }
}
