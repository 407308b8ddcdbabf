// The account panel and the tabs: positions (with the leg of a hedge-mode account, a
// reduce-only market "Close" of the whole position, "Close…" for a chosen quantity at market or
// at a limit price (closedialog.js), the margin mode, and the isolated wallet with "+"/"−" to
// add or reduce isolated margin; each names the leg), open orders
// (openorders.js: cancel, cancel all, inline amend of price, quantity and a waiting stop's
// trigger), order history, fills and funding payments. Positions, open orders, fills and the account are live from the private
// channels; history, fills and funding are first read over REST (history tables only).
// Whatever follows the account's open orders and positions (the ladder's own-order marks, the
// chart's lines) registers with onChange and is told after each change of them.
// A position's TP/SL cell and dialog are tpsldialog.js; a TP/SL order (close-position) is
// marked by a TP or SL badge and "Close position" for its quantity.

import { ApiError, signed } from "./api.js";
import { schedule, scheduleEvery } from "./frame.js";
import { deriveAccount, renderAccount } from "./account.js";
import { confirmAction } from "./dialogs.js";
import { el, fmt, fmtSigned, pct, stamp } from "./num.js";
import { FIELD_WORDS, openOrdersTable } from "./openorders.js";
import { orderKey, sideCell, sideText, statusText, typeCell, typeText } from "./ordercells.js";
import { closeRequest, isLeg, positionName, positionSize } from "./position.js";
import { tpslCell } from "./tpsldialog.js";

// Open orders are keyed by market and id (order ids count per market): ordercells.js.
export { orderKey };

const $ = (id) => document.getElementById(id);
const OPEN = new Set(["new", "partially_filled", "untriggered"]);
const enc = encodeURIComponent;

export class Tables {
  constructor(app) {
    this.app = app;
    this.tab = "positions";
    this.open = new Map(); // orderKey -> order (all markets)
    this.history = [];
    this.fills = [];
    this.funding = null; // null: not loaded; {rows} or {missing: message}
    this.incomeType = "funding_fee"; // or "" for every kind of income
    this.editing = null; // { id, field }
    this.amendErrors = new Map(); // orderKey -> the error of the last inline amend, shown on its row
    this.listeners = []; // called after the open orders or the account changed
    for (const b of document.querySelectorAll(".tabs [data-tab]")) b.addEventListener("click", () => this.showTab(b.dataset.tab));
    $("cancel-all").addEventListener("click", () => this.cancelAll());
    this.render();
  }

  /** Call `fn` after every change of the open orders or the account (positions). */
  onChange(fn) {
    this.listeners.push(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }

  setMarket() {
    if (this.tab === "history") this.loadHistory();
    this.render();
  }

  showTab(tab) {
    this.tab = tab;
    for (const b of document.querySelectorAll(".tabs [data-tab]")) b.classList.toggle("active", b.dataset.tab === tab);
    if (tab === "history") this.loadHistory();
    if (tab === "fills") this.loadFills();
    if (tab === "funding") this.loadFunding();
    this.render();
  }

  clear() {
    this.open.clear();
    this.amendErrors.clear();
    this.history = [];
    this.fills = [];
    this.funding = null;
    this.onAccount(null);
    this.render();
    this.changed();
  }

  /** Re-read everything (after login or a reconnect). */
  async reload() {
    if (!this.app.loggedIn) return;
    // Every market's open orders in one request (a venue may list hundreds of markets).
    const list = await signed("GET", "/api/v1/account/open_orders", null).catch((e) => {
      this.app.error(e);
      return [];
    });
    this.open.clear();
    for (const o of list) this.open.set(orderKey(o), o);
    this.changed();
    try {
      this.onAccount(await signed("GET", "/api/v1/account", null));
    } catch (e) {
      this.app.error(e);
    }
    await this.loadFills();
    if (this.tab === "history") await this.loadHistory();
    if (this.tab === "funding") await this.loadFunding();
    this.render();
  }

  async loadHistory() {
    if (!this.app.loggedIn) return;
    try {
      this.history = await signed("GET", `/api/v1/markets/${enc(this.app.symbol)}/orders?status=closed&limit=100`, null);
    } catch (e) {
      this.app.error(e);
    }
    this.render();
  }

  async loadFills() {
    if (!this.app.loggedIn) return;
    try {
      this.fills = await signed("GET", "/api/v1/account/fills?limit=100", null);
    } catch (e) {
      this.app.error(e);
    }
    this.render();
  }

  async loadFunding() {
    if (!this.app.loggedIn) return;
    try {
      const type = this.incomeType ? `type=${this.incomeType}&` : "";
      this.funding = { rows: await signed("GET", `/api/v1/account/income?${type}limit=100`, null) };
    } catch (e) {
      this.funding =
        e instanceof ApiError && e.status === 404
          ? { missing: "This server has no income log (GET /api/v1/account/income): per-position totals below." }
          : { missing: e.message };
    }
    this.render();
  }

  // ------------------------------------------------------------ live updates

  onOrder(o) {
    const was = this.open.get(orderKey(o));
    if (was && was.updated_at > o.updated_at) return; // an older message than what we show
    // An amend error speaks of the order as it was: a change of the order clears it.
    if (!was || was.updated_at !== o.updated_at || !OPEN.has(o.status)) this.amendErrors.delete(orderKey(o));
    if (OPEN.has(o.status)) this.open.set(orderKey(o), { ...was, ...o });
    else {
      this.open.delete(orderKey(o));
      if (o.symbol === this.app.symbol) {
        this.history = [o, ...this.history.filter((h) => h.order_id !== o.order_id)].slice(0, 100);
      }
    }
    schedule("tables", () => this.render());
    this.changed();
  }

  onFill(f) {
    if (this.fills.some((x) => x.trade_id === f.trade_id && x.order_id === f.order_id && x.symbol === f.symbol)) return;
    this.fills.unshift(f);
    if (this.fills.length > 200) this.fills.length = 200;
    schedule("tables", () => this.render());
  }

  markChanged(symbol) {
    const a = this.app.account;
    if (a && a.positions.some((p) => p.symbol === symbol)) {
      scheduleEvery("account", 250, () => this.renderAccount());
      if (this.tab === "positions") scheduleEvery("positions", 250, () => this.render());
    }
  }

  onAccount(a) {
    if (a) this.app.account = a;
    else this.app.account = null;
    // Every account the page takes in, pushed or read: funding paid since the last one.
    if (this.app.fundingToasts) this.app.fundingToasts.see(a);
    this.renderAccount();
    schedule("tables", () => this.render());
    this.changed();
  }

  derived() {
    return deriveAccount(this.app);
  }

  renderAccount() {
    renderAccount(deriveAccount(this.app));
  }

  // ------------------------------------------------------------ actions

  async cancel(o) {
    try {
      const r = await signed("DELETE", `/api/v1/markets/${enc(o.symbol)}/orders/${o.order_id}`, null);
      this.onOrder(r);
      this.app.ok(`Order ${o.order_id} cancelled`);
    } catch (e) {
      this.app.error(e);
    }
  }

  async cancelAll() {
    const symbols = new Set(Array.from(this.open.values(), (o) => o.symbol));
    const n0 = this.open.size;
    const where = symbols.size === 1 ? `in ${[...symbols][0]}` : `in ${symbols.size} markets`;
    const yes = await confirmAction({
      title: `Cancel all ${n0} open order${n0 === 1 ? "" : "s"}?`,
      text: `Every open order ${where} is cancelled, untriggered stops and take-profits included.`,
      ok: "Cancel all orders",
      no: "Keep them",
      remember: "perpx.confirm.cancelAll",
    });
    if (!yes) return;
    let n = 0;
    for (const s of symbols) {
      try {
        const r = await signed("DELETE", `/api/v1/markets/${enc(s)}/orders`, null);
        n += r.cancelled.length;
        for (const id of r.cancelled) this.open.delete(orderKey({ symbol: s, order_id: id }));
        this.changed();
      } catch (e) {
        this.app.error(e);
        return;
      }
    }
    this.app.ok(`Cancelled ${n} order(s)`);
    this.render();
  }

  /**
   * Amend `field` of order `o` to `value`. The answer: { order } (amended), { error } (refused:
   * shown on the order's row, or in the message line once the order is gone), or null when
   * nothing was sent (the same value).
   */
  async amend(o, field, value) {
    this.editing = null;
    const v = value.trim();
    this.amendErrors.delete(orderKey(o)); // the next amend clears the last one's error
    if (!v || v === o[field]) {
      this.render();
      return null;
    }
    let out;
    try {
      const r = await signed("PATCH", `/api/v1/markets/${enc(o.symbol)}/orders/${o.order_id}`, { [field]: v });
      this.onOrder(r);
      this.app.ok(`Order ${o.order_id} amended: ${FIELD_WORDS[field] || field} ${v}`);
      out = { order: r };
    } catch (e) {
      out = { error: e };
      // On the order's own row, not in the order form's message line.
      if (this.open.has(orderKey(o))) this.amendErrors.set(orderKey(o), { field, value: v, error: e });
      else this.app.error(e);
      console.warn(`amend ${orderKey(o)} ${field} ${v}: ${e.message || e}`);
    }
    this.render();
    return out;
  }

  /** Add (`+`) or reduce (`−`) the isolated margin of position `p` by the typed `amount`. */
  async moveMargin(p, direction, amount) {
    this.editing = null;
    const v = amount.trim();
    if (!v) {
      this.render();
      return;
    }
    try {
      const body = { amount: v, direction };
      if (p.position_side) body.position_side = p.position_side; // the leg, in hedge mode
      const r = await signed("POST", `/api/v1/markets/${enc(p.symbol)}/isolated_margin`, body);
      this.app.ok(`${positionName(p)} isolated margin ${direction === "add" ? "+" : "−"}${v}: isolated wallet ${fmt(r.isolated_wallet, 2)}`);
      // The account channel brings the new account; read it now so the row is right at once.
      this.onAccount(await signed("GET", "/api/v1/account", null));
    } catch (e) {
      this.app.error(e);
    }
    this.render();
  }

  /** A market order closing `p`: reduce-only, or in hedge mode the closing side of its leg. */
  async close(p) {
    const q = Number(p.quantity);
    const spec = this.spec(p.symbol);
    const yes = await confirmAction({
      title: `Close ${positionName(p)}?`,
      text: `A reduce-only market order ${q > 0 ? "sells" : "buys"} ${positionSize(p)} ${spec.base_asset || ""} at the prices in the book now.`,
      ok: "Close position",
      no: "Keep it",
      remember: "perpx.confirm.close",
    });
    if (!yes) return;
    const body = closeRequest(p, positionSize(p));
    try {
      const o = await signed("POST", `/api/v1/markets/${enc(p.symbol)}/orders`, body);
      this.onOrder(o);
      this.app.showOrder(o, `Close ${positionName(p)}: `);
    } catch (e) {
      this.app.error(e);
    }
  }

  // ------------------------------------------------------------ rendering

  spec(symbol) {
    return this.app.bySymbol.get(symbol) || { priceDp: 2, qtyDp: 3 };
  }

  render() {
    const a = this.derived();
    const positions = a ? a.positions.filter((p) => Number(p.quantity) !== 0) : [];
    $("c-positions").textContent = positions.length ? String(positions.length) : "";
    $("c-open").textContent = this.open.size ? String(this.open.size) : "";
    $("cancel-all").classList.toggle("hidden", !(this.tab === "open" && this.open.size));
    if (this.editing) return; // do not replace an input the user is typing in
    const body = $("tab-body");
    if (!this.app.loggedIn) {
      body.replaceChildren(el("p", { class: "empty" }, "Log in with an API key to see positions, orders and fills."));
      return;
    }
    const view = {
      positions: () => this.positionsTable(positions),
      open: () => this.openTable(),
      history: () => this.historyTable(),
      fills: () => this.fillsTable(),
      funding: () => this.fundingTable(positions),
    }[this.tab];
    body.replaceChildren(view());
  }

  table(headers, rows, empty) {
    if (!rows.length) return el("p", { class: "empty" }, empty);
    return el(
      "table",
      { class: "grid-table" },
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows),
    );
  }

  positionsTable(positions) {
    const rows = positions.map((p) => {
      const s = this.spec(p.symbol);
      const q = Number(p.quantity);
      return el(
        "tr",
        { dataset: { symbol: p.symbol, positionSide: p.position_side || "both" } },
        el("td", {}, p.symbol),
        isLeg(p) ? el("td", { class: `leg-tag ${p.position_side}` }, p.position_side.toUpperCase()) : el("td", { class: "muted" }, "—"),
        el("td", { class: q > 0 ? "up" : "down" }, `${q > 0 ? "Long" : "Short"} ${fmt(Math.abs(q), s.qtyDp)}`),
        el("td", {}, fmt(p.entry_price, s.priceDp)),
        el("td", {}, fmt(p.mark_price, s.priceDp)),
        el("td", { class: "warn-text" }, p.liquidation_price == null ? "—" : fmt(p.liquidation_price, s.priceDp)),
        el("td", { class: Number(p.unrealized_pnl) >= 0 ? "up" : "down" }, fmtSigned(p.unrealized_pnl, 2)),
        roeCell(p),
        el("td", { class: Number(p.realized_pnl) >= 0 ? "up" : "down" }, fmtSigned(p.realized_pnl, 2)),
        el("td", {}, fmt(p.initial_margin, 2)),
        el("td", {}, `${p.leverage}×`),
        el("td", { class: `mode-tag ${p.margin_mode || "cross"}` }, p.margin_mode === "isolated" ? "Isolated" : "Cross"),
        this.isolatedCell(p),
        tpslCell(this.app, p),
        el(
          "td",
          {},
          el(
            "span",
            { class: "close-btns" },
            el("button", { type: "button", class: "btn small", dataset: { action: "close" }, title: "Close the whole position at market", onclick: () => this.close(p) }, "Close"),
            el("button", { type: "button", class: "btn small ghost", dataset: { action: "close-some" }, title: "Close a chosen quantity, at market or at a limit price", onclick: () => this.app.closeDialog.open(p) }, "Close…"),
          ),
        ),
      );
    });
    return this.table(
      ["Market", "Side", "Size", "Entry", "Mark", "Liq. price", "Unrealized PnL", "ROE %", "Realized PnL", "Margin", "Lev.", "Mode", "Isolated wallet", "TP / SL", ""],
      rows,
      "No open positions.",
    );
  }

  /** The isolated wallet of an isolated position, with "+" and "−" opening an amount input. */
  isolatedCell(p) {
    if (p.margin_mode !== "isolated") return el("td", { class: "muted" }, "—");
    const td = el("td", { class: "iso-cell" });
    const show = () => {
      td.replaceChildren(
        el(
          "span",
          { class: "iso" },
          el("span", { class: "iso-wallet" }, fmt(p.isolated_wallet, 2)),
          el("button", { type: "button", class: "btn small", title: "Add isolated margin (from the cross wallet)", "aria-label": "add isolated margin", dataset: { action: "add" }, onclick: () => edit("add") }, "+"),
          el("button", { type: "button", class: "btn small", title: "Reduce isolated margin (back to the cross wallet)", "aria-label": "reduce isolated margin", dataset: { action: "reduce" }, onclick: () => edit("reduce") }, "−"),
        ),
      );
    };
    const id = `${p.symbol}|${p.position_side || "both"}`;
    const edit = (direction) => {
      this.editing = { id, field: direction };
      const input = el("input", {
        class: "inline-edit",
        inputmode: "decimal",
        placeholder: direction === "add" ? "add amount" : "reduce amount",
        "aria-label": `${direction} isolated margin`,
        dataset: { direction },
      });
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          this.moveMargin(p, direction, input.value);
        } else if (ev.key === "Escape") {
          this.editing = null;
          this.render();
        }
      });
      input.addEventListener("blur", () => {
        if (this.editing && this.editing.id === id) {
          this.editing = null;
          this.render();
        }
      });
      td.replaceChildren(el("span", { class: "iso" }, el("span", { class: "muted" }, direction === "add" ? "+" : "−"), input));
      input.focus();
    };
    show();
    return td;
  }

  openTable() {
    return openOrdersTable(this);
  }

  /** Closed orders, newest first: by `updated_at`, then `created_at`, then id. */
  historySorted() {
    return [...this.history].sort((a, b) => b.updated_at - a.updated_at || b.created_at - a.created_at || b.order_id - a.order_id);
  }

  /**
   * The History or Fills tab as CSV: `{ name, text }`, a header row and the columns shown, the
   * numbers as the API's exact strings. The Export button downloads exactly this.
   */
  csv(tab) {
    const date = stamp(Date.now()).slice(0, 10);
    if (tab === "history") {
      const rows = this.historySorted().map((o) => [
        stamp(o.updated_at), o.symbol, typeText(o), sideText(o), o.price == null ? "market" : o.price,
        o.quantity, o.filled_quantity, o.average_price == null ? "" : o.average_price, statusText(o),
      ]);
      return { name: `perpx-orders-${this.app.symbol}-${date}.csv`, text: toCsv(HISTORY_COLUMNS, rows) };
    }
    const rows = this.fills.map((f) => [
      stamp(f.time), f.symbol, sideText(f), f.price, f.quantity, f.fee, f.liquidity, f.realized_pnl, `#${f.order_id} / ${f.trade_id}`,
    ]);
    return { name: `perpx-fills-${date}.csv`, text: toCsv(FILLS_COLUMNS, rows) };
  }

  /** Download `csv(tab)` as a file (a Blob URL through an <a download>). */
  exportCsv(tab) {
    const { name, text } = this.csv(tab);
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return name;
  }

  exportTools(tab, n) {
    const b = el("button", { type: "button", class: "btn small", dataset: { action: "export-csv" }, title: "Download this table as CSV", onclick: () => this.exportCsv(tab) }, "Export CSV");
    b.disabled = !n;
    return el("div", { class: "tab-tools" }, b);
  }

  historyTable() {
    const rows = this.historySorted().map((o) => {
      const s = this.spec(o.symbol);
      return el(
        "tr",
        { dataset: { historyId: String(o.order_id) } },
        el("td", {}, stamp(o.updated_at)),
        el("td", {}, o.symbol),
        typeCell(o),
        sideCell(o),
        el("td", {}, o.price == null ? "market" : fmt(o.price, s.priceDp)),
        // A close-position order that never fired closed nothing: its quantity stays "0".
        o.close_position && Number(o.quantity) === 0 ? el("td", { class: "close-pos" }, "Close position") : el("td", {}, fmt(o.quantity, s.qtyDp)),
        el("td", {}, fmt(o.filled_quantity, s.qtyDp)),
        el("td", {}, o.average_price == null ? "—" : fmt(o.average_price, s.priceDp)),
        el("td", { title: o.reason ? `${o.status} (${o.reason})` : null }, statusText(o)),
      );
    });
    return el("div", {}, this.exportTools("history", rows.length), this.table(HISTORY_COLUMNS, rows, `No closed orders in ${this.app.symbol}.`));
  }

  fillsTable() {
    const rows = this.fills.map((f) => {
      const s = this.spec(f.symbol);
      return el(
        "tr",
        {},
        el("td", {}, stamp(f.time)),
        el("td", {}, f.symbol),
        sideCell(f),
        el("td", {}, fmt(f.price, s.priceDp)),
        el("td", {}, fmt(f.quantity, s.qtyDp)),
        el("td", {}, fmt(f.fee, 4)),
        el("td", {}, f.liquidity),
        el("td", { class: Number(f.realized_pnl) >= 0 ? "up" : "down" }, fmtSigned(f.realized_pnl, 2)),
        el("td", { class: "muted" }, `#${f.order_id} / ${f.trade_id}`),
      );
    });
    return el("div", {}, this.exportTools("fills", rows.length), this.table(FILLS_COLUMNS, rows, "No fills yet."));
  }

  fundingTable(positions) {
    const f = this.funding;
    const pick = el(
      "select",
      { class: "income-type", "aria-label": "Income type", onchange: (ev) => {
        this.incomeType = ev.target.value;
        this.funding = null;
        this.loadFunding();
      } },
      new Option("Funding payments", "funding_fee"),
      new Option("All income (funding, PnL, fees, transfers…)", ""),
    );
    pick.value = this.incomeType;
    const parts = [el("div", { class: "tab-tools" }, pick)];
    if (f && f.rows) {
      const rows = f.rows.map((r) =>
        el(
          "tr",
          { dataset: { incomeId: String(r.id) } },
          el("td", {}, stamp(r.time)),
          el("td", {}, r.type.replace(/_/g, " ")),
          el("td", {}, r.symbol || "—"),
          el("td", { class: Number(r.amount) >= 0 ? "up" : "down" }, fmtSigned(r.amount, 8)),
          el("td", { class: "muted" }, r.trade_id == null ? "" : `trade ${r.trade_id}`),
        ),
      );
      parts.push(this.table(["Time", "Type", "Market", "Amount (+ credited)", ""], rows, this.incomeType ? "No funding payments yet." : "No income yet."));
    } else if (f && f.missing) {
      parts.push(el("p", { class: "empty" }, f.missing));
    } else {
      parts.push(el("p", { class: "empty" }, "Loading…"));
    }
    if (positions.length) {
      const rows = positions.map((p) => el("tr", {}, el("td", {}, p.symbol), el("td", { class: Number(p.funding_paid) > 0 ? "down" : "up" }, fmt(p.funding_paid, 8))));
      parts.push(el("h3", { class: "sub" }, "Funding paid by open positions (− received)"), this.table(["Market", "Funding paid"], rows, ""));
    }
    return el("div", {}, ...parts);
  }
}

/**
 * Return on equity: unrealized PnL over the position's initial margin, in percent; "—" when
 * there is no margin to divide by.
 */
function roeCell(p) {
  const pnl = Number(p.unrealized_pnl);
  const im = Number(p.initial_margin);
  if (!Number.isFinite(pnl) || !(im > 0)) return el("td", { class: "muted roe" }, "—");
  const r = pnl / im;
  return el("td", { class: `roe ${r >= 0 ? "up" : "down"}` }, pct(r, 2));
}

const HISTORY_COLUMNS = ["Updated", "Market", "Type", "Side", "Price", "Quantity", "Filled", "Avg. price", "Status"];
const FILLS_COLUMNS = ["Time", "Market", "Side", "Price", "Quantity", "Fee", "Role", "Realized PnL", "Order / trade"];

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled; CRLF lines. */
function toCsv(header, rows) {
  const field = (v) => {
    const s = v == null ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}
