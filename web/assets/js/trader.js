// Trader view: market selector and ticker, ladder (grouping and depth, own orders marked) and
// depth, trades tape, candles with the account's order, entry and liquidation lines (an order
// line drags to amend its price, a stop's its trigger), order entry, account panel and the
// positions/orders/history/fills/funding tabs (a position closes in full or in part, at market
// or at a limit price), and toasts for order results, fills, triggers and funding payments.
// Everything live comes from one WebSocket (feed.js); REST is used for the first state and
// history tables.

import { ApiError, canSign, credentials, forgetCredentials, get, onUnauthorized, saveCredentials, signed, signingProblem, syncClock } from "./api.js";
import { Book } from "./book.js";
import { BookControls } from "./bookctl.js";
import { CandleChart, INTERVALS } from "./chart.js";
import { ChartLines } from "./chartlines.js";
import { CloseDialog } from "./closedialog.js";
import { Feed } from "./feed.js";
import { FundingToasts } from "./fundingtoast.js";
import { schedule, scheduleEvery, stats } from "./frame.js";
import { KeysPanel } from "./keys.js";
import { MarketSelector } from "./markets.js";
import { reasonWords, renderError } from "./errors.js";
import { OrderForm } from "./orderform.js";
import { Tables, orderKey } from "./tables.js";
import { Tape } from "./tape.js";
import { Toasts } from "./toasts.js";
import { tpslToast } from "./tpsl.js";
import { compact, countdown, decimalsOf, el, fmt, pct } from "./num.js";

const $ = (id) => document.getElementById(id);

/** Shared state of the page; the modules read it, trader.js owns it. */
export const app = {
  markets: [], // specs from GET /markets, plus priceDp / qtyDp
  bySymbol: new Map(),
  live: new Map(), // symbol -> { last, mark, index, funding, nextFunding, bid, ask, oi, vol24, open24 }
  symbol: null,
  account: null,
  loggedIn: false,
  feed: null,
  book: null,
  chart: null,
  form: null,
  tables: null,
  selector: null, // markets.js: the market selector, the favourites and the ticker subscriptions
  /** Show an API error (or any error) where the user acted. */
  error(e, where) {
    const box = where || $("form-msg");
    // A lost connection is cleared from the message line once the feed is back (onState).
    if (!where) this.msgOrder = null;
    box.dataset.kind = e instanceof ApiError && e.code === "NETWORK" ? "conn" : "";
    // Plain words, the API's code in small text (its message as the code's tooltip).
    const x = renderError(box, e, (code, detail) => el("span", { class: "code", title: detail || null }, code));
    box.className = "form-msg err";
    console.warn(x.code ? `${x.code}: ${x.detail}` : x.text);
  },
  ok(text, where) {
    const box = where || $("form-msg");
    if (!where) this.msgOrder = null;
    box.textContent = text;
    box.className = "form-msg ok";
    box.dataset.kind = "";
  },
  /** The message line cleared (a market switch, a message that is no longer true). */
  clearMsg() {
    const box = $("form-msg");
    box.textContent = "";
    box.className = "form-msg";
    box.dataset.kind = "";
    this.msgOrder = null;
  },
  toasts: null,
  msgOrder: null, // the order the message line speaks of: it follows that order's updates
  /** A placed (or closing) order's outcome in the message line and as a toast. */
  showOrder(o, prefix = "") {
    const x = orderOutcome(o);
    const box = $("form-msg");
    box.textContent = prefix + x.text;
    box.className = "form-msg " + x.kind;
    box.dataset.kind = "order";
    this.msgOrder = orderKey(o);
    this.msgPrefix = prefix;
    // A fully filled order is already told by its fills' toast ("Filled (taker)", added up
    // per order): a second toast for the same event would only hide the book.
    const toldByFills = o.status === "filled" && Array.isArray(o.fills) && o.fills.length > 0;
    if (this.toasts && !toldByFills) this.toasts.show({ kind: x.kind, title: x.title, text: prefix + x.text });
  },
  spec() {
    return this.bySymbol.get(this.symbol);
  },
  liveOf(symbol) {
    let l = this.live.get(symbol);
    if (!l) {
      l = {};
      this.live.set(symbol, l);
    }
    return l;
  },
};
window.perpxApp = app; // for the browser test and the console

// ---------------------------------------------------------------- start

/** Narrow screens: the #views tab bar chooses the one panel shown (CSS reads body[data-view]). */
function bindViews() {
  const tabs = Array.from(document.querySelectorAll("#views [data-view]"));
  for (const b of tabs) {
    b.addEventListener("click", () => showView(b.dataset.view));
  }
}

export function showView(view) {
  document.body.dataset.view = view;
  for (const b of document.querySelectorAll("#views [data-view]")) b.setAttribute("aria-selected", String(b.dataset.view === view));
  if (window.matchMedia("(max-width: 899px)").matches) window.scrollTo(0, 0);
}
app.showView = showView;

// ---------------------------------------------------------------- order outcomes and notifications

const REASONS = {
  market_remainder: "no more liquidity within the market order's price limit",
  ioc_remainder: "the rest of an immediate-or-cancel order",
  fok_unfillable: "a fill-or-kill order that could not fill in full",
  self_trade: "it would have traded with your own order",
  user: "cancelled by you",
  liquidation: "liquidation",
  reduce_only: "it would no longer reduce the position",
};

/**
 * An order's outcome in words and its colour: green for placed or filled; amber (never green)
 * for an order that expired or was cancelled, with "nothing filled" when nothing did.
 */
export function orderOutcome(o) {
  const id = `Order ${o.order_id}`;
  const filledQty = Number(o.filled_quantity) > 0;
  const why = o.reason ? ` (${REASONS[o.reason] || reasonWords(o.reason) || o.reason})` : "";
  if (o.status === "expired" || o.status === "cancelled") {
    if (!filledQty) return { kind: "warn", title: "Nothing filled", text: `${id} ${o.status} — nothing filled${why}` };
    return { kind: "warn", title: "Partly filled", text: `${id} ${o.status} after a partial fill: ${o.filled_quantity} @ ${o.average_price}${why}` };
  }
  const filled = filledQty ? `, filled ${o.filled_quantity} @ ${o.average_price}` : "";
  const title = o.status === "filled" ? "Filled" : o.status === "untriggered" ? "Waiting for its trigger" : "Order placed";
  return { kind: "ok", title, text: `${id} ${o.status}${o.reason ? " (" + o.reason + ")" : ""}${filled}` };
}

/** Fills that came while the tab was hidden: counted in the title until it is seen again. */
let unreadFills = 0;
function setTitle() {
  document.title = `${unreadFills ? `(${unreadFills}) ` : ""}${app.symbol || "perpx"} — perpx`;
}

/** The fill toast of each order while it is shown: the fills of one order (a market order
 *  taking several levels) add up in one toast instead of one toast each. */
const fillToasts = new Map(); // orderKey -> { toast, qty, cost, n }

function onOwnFill(f) {
  const spec = app.bySymbol.get(f.symbol);
  const dp = spec ? spec.priceDp : 2;
  const qdp = spec ? spec.qtyDp : 3;
  const base = spec ? spec.base_asset : "";
  const leg = f.position_side && f.position_side !== "both" ? ` ${f.position_side}` : "";
  const verb = `${f.side === "buy" ? "Bought" : "Sold"}${leg}`;
  let g = fillToasts.get(orderKey(f));
  if (g && g.toast.isConnected) {
    g.qty += Number(f.quantity);
    g.cost += Number(f.quantity) * Number(f.price);
    g.n += 1;
    g.toast.querySelector(".toast-text").textContent =
      `${verb} ${fmt(g.qty, qdp)} ${base} ${f.symbol} @ ${fmt(g.cost / g.qty, dp)} on average (${g.n} fills)`;
  } else {
    const toast = app.toasts.show({
      kind: "ok",
      title: `Filled (${f.liquidity || "fill"})`,
      text: `${verb} ${f.quantity} ${base} ${f.symbol} @ ${fmt(f.price, dp)}`,
    });
    g = { toast, qty: Number(f.quantity), cost: Number(f.quantity) * Number(f.price), n: 1 };
    fillToasts.set(orderKey(f), g);
    for (const [id, x] of fillToasts) if (!x.toast.isConnected) fillToasts.delete(id);
  }
  if (document.visibilityState === "hidden") {
    unreadFills += 1;
    setTitle();
  }
}

/** An order update: a trigger, a liquidation, and the message line when it speaks of it. */
function onOwnOrder(o, was) {
  // A take-profit or stop-loss has its own words (fired, or gone with its pair or position).
  const tpsl = tpslToast(app.toasts, app.bySymbol.get(o.symbol), o, was);
  if (!tpsl && was && was.status === "untriggered" && o.status !== "untriggered") {
    app.toasts.show({ kind: "info", title: "Triggered", text: `Order ${o.order_id} (${o.type.replace(/_/g, " ")}) triggered: ${o.status}` });
  }
  if (o.reason === "liquidation") {
    app.toasts.show({ kind: "err", title: "Liquidation", text: `Order ${o.order_id} ${o.symbol}: ${o.status} by liquidation` });
  }
  if (app.msgOrder === orderKey(o) && (!was || was.status !== o.status || was.filled_quantity !== o.filled_quantity)) {
    const x = orderOutcome(o);
    const box = $("form-msg");
    box.textContent = (app.msgPrefix || "") + x.text;
    box.className = "form-msg " + x.kind;
  }
}

async function start() {
  bindViews();
  app.toasts = new Toasts($("toasts"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && unreadFills) {
      unreadFills = 0;
      setTitle();
    }
  });
  const problem = signingProblem();
  if (problem) {
    $("insecure").textContent = problem;
    $("insecure").classList.remove("hidden");
  }
  await syncClock();
  let list;
  try {
    list = await get("/api/v1/markets");
  } catch (e) {
    $("insecure").textContent = "Cannot load the markets: " + e.message;
    $("insecure").classList.remove("hidden");
    return;
  }
  for (const m of list) {
    m.priceDp = decimalsOf(m.tick_size);
    m.qtyDp = decimalsOf(m.lot_size);
    app.bySymbol.set(m.symbol, m);
  }
  app.markets = list;
  app.book = new Book($("ladder"), $("depth"), (p) => app.form.setPrice(p), (s) => app.feed.resync(s));
  app.bookControls = new BookControls(app.book);
  app.chart = new CandleChart($("chart"), (e) => app.error(e));
  app.lines = new ChartLines(app, app.chart, $("chart"));
  app.tape = new Tape(app, $("tape"));
  app.form = new OrderForm(app);
  app.fundingToasts = new FundingToasts(app);
  app.tables = new Tables(app);
  app.tables.onChange(followOrders);
  app.closeDialog = new CloseDialog(app);
  app.keys = new KeysPanel(app);
  app.feed = new Feed(onMessage, onState);
  // Tickers only for what is shown (the current market, favourites, positions): the selector
  // subscribes them as that changes.
  app.selector = new MarketSelector(app, selectMarket);
  buildIntervals();
  app.feed.connect();
  const wanted = decodeURIComponent(location.hash.slice(1));
  await selectMarket(app.bySymbol.has(wanted) ? wanted : list[0].symbol);
  window.addEventListener("hashchange", () => {
    const s = decodeURIComponent(location.hash.slice(1));
    if (app.bySymbol.has(s)) selectMarket(s);
  });
  setInterval(tickClock, 1000);
  bindLogin();
  bindKeys();
  if (credentials() && canSign()) await login(credentials().key, credentials().secret, true);
}

/** The ladder's own-order marks and the chart's lines follow the account's open orders and
 *  positions: worked out once per frame, however many changes came in it. */
function followOrders() {
  schedule("own-orders", () => {
    app.book.setOwn(app.tables.open.values());
    app.lines.sync();
  });
}

function buildIntervals() {
  const box = $("intervals");
  box.replaceChildren(
    ...Object.keys(INTERVALS).map((iv) =>
      el("button", { type: "button", class: iv === "1m" ? "active" : "", dataset: { interval: iv }, onclick: () => chooseInterval(iv) }, iv),
    ),
  );
}

function chooseInterval(iv) {
  for (const b of $("intervals").children) b.classList.toggle("active", b.dataset.interval === iv);
  app.chart.load(app.symbol, iv);
}

async function selectMarket(symbol) {
  const old = app.symbol;
  if (old === symbol) return;
  if (old) {
    app.feed.unsubscribe("book", old);
    app.feed.unsubscribe("trades", old);
  }
  app.symbol = symbol;
  history.replaceState(null, "", "#" + symbol);
  setTitle();
  if (old) app.clearMsg(); // what the line said was about the other market
  const spec = app.spec();
  app.selector.setCurrent();
  app.book.show(symbol, spec);
  app.bookControls.setMarket(spec);
  followOrders(); // the new market's own orders and lines; the old market's go
  app.feed.subscribe("book", symbol);
  app.feed.subscribe("trades", symbol);
  app.chart.setPrecision(spec.priceDp, spec.tick_size);
  const iv = (Array.from($("intervals").children).find((b) => b.classList.contains("active")) || {}).dataset?.interval || "1m";
  app.tape.clear();
  await Promise.all([app.chart.load(symbol, iv), loadStats(symbol), app.tape.load(symbol)]);
  app.form.setMarket(spec);
  app.tables.setMarket(symbol);
  renderTicker();
}

// ---------------------------------------------------------------- ticker and stats

/** Open interest and 24 h volume are not on the ticker channel: read once per market and
 *  again at most every 10 s while trades happen (event driven, not a timer). */
const statsLoadedAt = new Map();
async function loadStats(symbol) {
  statsLoadedAt.set(symbol, performance.now());
  try {
    const [m, hours] = await Promise.all([
      get(`/api/v1/markets/${encodeURIComponent(symbol)}`),
      get(`/api/v1/markets/${encodeURIComponent(symbol)}/candles?interval=1h&limit=24`),
    ]);
    const l = app.liveOf(symbol);
    l.last = l.last ?? m.last_price;
    l.mark = m.mark_price;
    l.index = m.index_price;
    l.funding = m.funding_rate;
    l.nextFunding = m.next_funding_time;
    l.bid = m.best_bid;
    l.ask = m.best_ask;
    l.oi = m.open_interest;
    l.vol24 = m.volume_24h;
    const dayAgo = Date.now() - 86400e3;
    const first = hours.find((c) => c.open_time >= dayAgo - 3600e3);
    l.open24 = first ? first.open : null;
    renderTicker();
  } catch (e) {
    console.warn("market stats", e);
  }
}

function maybeRefreshStats(symbol) {
  if (performance.now() - (statsLoadedAt.get(symbol) || 0) > 10000) loadStats(symbol);
}

function renderTicker() {
  const s = app.symbol;
  const spec = app.spec();
  if (!s || !spec) return;
  const l = app.liveOf(s);
  const dp = spec.priceDp;
  const lastEl = $("t-last");
  lastEl.textContent = fmt(l.last, dp);
  lastEl.className = l.lastDir > 0 ? "up" : l.lastDir < 0 ? "down" : "";
  $("t-mark").textContent = fmt(l.mark, dp);
  $("t-index").textContent = fmt(l.index, dp);
  const ch = l.open24 && l.last ? Number(l.last) / Number(l.open24) - 1 : null;
  const chEl = $("t-change");
  chEl.textContent = ch === null ? "—" : pct(ch);
  chEl.className = ch > 0 ? "up" : ch < 0 ? "down" : "";
  $("t-volume").textContent = l.vol24 == null ? "—" : `${compact(l.vol24)} ${spec.base_asset}`;
  $("t-oi").textContent = l.oi == null ? "—" : `${fmt(l.oi, spec.qtyDp)} ${spec.base_asset}`;
  const fEl = $("t-funding");
  fEl.textContent = l.funding == null ? "—" : (Number(l.funding) * 100).toFixed(4) + "%";
  fEl.className = Number(l.funding) > 0 ? "up" : Number(l.funding) < 0 ? "down" : "";
  tickClock();
  app.selector.renderPrices();
  app.form.refreshPreview();
}

function tickClock() {
  const l = app.liveOf(app.symbol);
  $("t-countdown").textContent = l.nextFunding ? countdown(l.nextFunding - Date.now()) : "—";
}

// ---------------------------------------------------------------- WebSocket messages

function onMessage(m) {
  switch (m.type) {
    case "book_snapshot":
      app.book.snapshot(m);
      break;
    case "book_update":
      app.book.update(m);
      break;
    case "trade": {
      stats.trades += 1;
      const l = app.liveOf(m.symbol);
      if (l.last != null) l.lastDir = Number(m.price) - Number(l.last);
      l.last = m.price;
      if (m.symbol === app.symbol) {
        app.tape.push(m);
        app.chart.trade(m);
        maybeRefreshStats(m.symbol);
      }
      scheduleEvery("ticker", 100, renderTicker);
      break;
    }
    case "ticker": {
      const l = app.liveOf(m.symbol);
      if (m.last_price != null) l.last = m.last_price;
      l.mark = m.mark_price;
      l.index = m.index_price;
      l.funding = m.funding_rate;
      l.nextFunding = m.next_funding_time;
      l.bid = m.best_bid;
      l.ask = m.best_ask;
      app.fundingToasts.fundingTime(m.symbol, m.next_funding_time); // a settlement: funding toasts
      scheduleEvery("ticker", 100, renderTicker);
      app.tables.markChanged(m.symbol);
      break;
    }
    case "order": {
      // `type` names the message; the order's own type is `order_type`.
      const o = { ...m, type: m.order_type };
      const was = app.tables.open.get(orderKey(o));
      app.tables.onOrder(o);
      onOwnOrder(o, was);
      break;
    }
    case "fill": {
      const seen = app.tables.fills.some((x) => x.trade_id === m.trade_id && x.order_id === m.order_id && x.symbol === m.symbol);
      app.tables.onFill(m);
      if (!seen) onOwnFill(m);
      break;
    }
    case "account":
      app.account = m;
      app.tables.onAccount(m);
      app.selector.syncTickers(); // a position's market keeps its ticker
      app.form.refreshPreview();
      break;
    case "error":
      console.warn("WebSocket error message", m.code, m.message);
      if ((m.code === "UNAUTHORIZED" || m.code === "KEY_EXPIRED") && app.loggedIn) {
        app.error(new ApiError(401, m.code, m.message));
        // A revoked key's session is closed and its new sign-in refused: ask the REST API,
        // whose 401 signs the terminal out (onUnauthorized); a clock problem does not.
        signed("GET", "/api/v1/account", null).catch(() => {});
      }
      break;
    default:
      break;
  }
}

function onState(s) {
  const c = $("conn");
  const text = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", resynced: "resynced" }[s] || s;
  c.textContent = text;
  c.className = "conn " + s;
  // "server unreachable" is no longer true once the feed is back.
  if ((s === "live" || s === "resynced") && $("form-msg").dataset.kind === "conn") app.clearMsg();
  if (s === "resynced") {
    // Whatever happened while disconnected: re-read the state the feed does not replay.
    if (app.loggedIn) app.tables.reload();
    loadStats(app.symbol);
    app.tape.load(app.symbol);
    app.chart.load(app.symbol, app.chart.interval);
  }
}

// ---------------------------------------------------------------- login

function bindLogin() {
  const dlg = $("login");
  // A 401 on a signed request while signed in: the key was revoked, expired or is unknown.
  onUnauthorized((e) => {
    if (!app.loggedIn) return;
    logout();
    const text = `Signed out — ${e.status} ${e.code}: ${e.detail}. Log in again with a live key.`;
    app.error(new Error(text));
    app.error(new Error(text), $("login-msg"));
  });
  $("login-open").addEventListener("click", () => {
    if (!canSign()) {
      app.error(new ApiError(0, "INSECURE_CONTEXT", signingProblem()));
      $("insecure").classList.remove("hidden");
      return;
    }
    if (!$("login-msg").textContent.startsWith("Signed out")) $("login-msg").textContent = "";
    dlg.showModal();
    $("l-key").focus();
  });
  $("login-cancel").addEventListener("click", () => dlg.close());
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await login($("l-key").value.trim(), $("l-secret").value.trim(), false);
    if (ok) {
      $("l-secret").value = "";
      dlg.close();
    }
  });
  $("logout").addEventListener("click", logout);
}

async function login(key, secret, silent) {
  saveCredentials(key, secret);
  try {
    const acct = await signed("GET", "/api/v1/account", null);
    app.account = acct;
    app.loggedIn = true;
    $("who").textContent = `account ${acct.account_id}`;
    $("acct-id").textContent = `#${acct.account_id}`;
    $("login-open").classList.add("hidden");
    $("logout").classList.remove("hidden");
    $("login-msg").textContent = "";
    app.keys.signedIn();
    document.body.classList.add("logged-in");
    app.feed.subscribe("orders");
    app.feed.subscribe("fills");
    app.feed.subscribe("account");
    await app.feed.auth();
    app.tables.onAccount(acct);
    app.selector.syncTickers();
    await app.tables.reload();
    app.form.refreshPreview();
    return true;
  } catch (e) {
    forgetCredentials();
    if (!silent) app.error(e, $("login-msg"));
    return false;
  }
}

function logout() {
  forgetCredentials();
  app.loggedIn = false;
  app.account = null;
  app.feed.logout();
  $("who").textContent = "";
  $("acct-id").textContent = "";
  $("login-open").classList.remove("hidden");
  $("logout").classList.add("hidden");
  app.keys.signedOut();
  document.body.classList.remove("logged-in");
  app.tables.clear();
  app.selector.syncTickers();
  app.form.refreshPreview(); // the position-mode switch and the form back to one-way
}

// ---------------------------------------------------------------- keyboard

function bindKeys() {
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const typing = t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]")) return;
    if (typing) return;
    const k = ev.key.toLowerCase();
    if (k === "/") app.selector.open();
    else if (k === "b") app.form.setSide("buy");
    else if (k === "s") app.form.setSide("sell");
    else if (k === "l") app.form.setType("limit");
    else if (k === "m") app.form.setType("market");
    else if (k === "q") $("f-qty").focus();
    else if (k >= "1" && k <= "5") app.tables.showTab(["positions", "open", "history", "fills", "funding"][Number(k) - 1]);
    else return;
    ev.preventDefault();
  });
}

start().catch((e) => {
  console.error("start failed", e);
});
