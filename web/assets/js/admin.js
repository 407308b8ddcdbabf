// Operator view (/admin): live metrics from /metrics, markets with mark/index/funding/open
// interest (a filter and at most MAX_ROWS rows; only the rows shown are live: their tickers
// subscribed, their open interest and volume read every 5 s while the page is visible), index
// pushes, account creation (secret shown once) and deposits, solvency with the conserved flag,
// the insurance fund and live liquidations; who the token is (role.js), the admin tokens
// (tokens.js), an account's API keys (acctkeys.js) and the audit log (audit.js).
// Admin routes use the bearer token kept in this tab's sessionStorage.

import { ApiError, admin, adminToken, forgetAdminToken, get, saveAdminToken, saveCredentials } from "./api.js";
import { AccountKeys } from "./acctkeys.js";
import { AuditLog } from "./audit.js";
import { Feed } from "./feed.js";
import { schedule } from "./frame.js";
import { MAX_ROWS, searchMarkets } from "./marketsearch.js";
import { showError, showOk } from "./msg.js";
import { compact, countdown, decimalsOf, el, fmt, stamp } from "./num.js";
import { applyRole, forgetWhoami, loadWhoami, me } from "./role.js";
import { TokensPanel } from "./tokens.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const state = { markets: [], shown: [], tickers: new Set(), live: new Map(), liquidations: [], lastScrape: null, created: null, me };
window.perpxAdmin = state;

const show = showError;
const ok = showOk;

const audit = new AuditLog();
/** An admin write from this page; the audit log's newest page is re-read after it (refused
 *  writes are audited too). */
async function write(method, path, body) {
  try {
    return await admin(method, path, body);
  } finally {
    audit.changed();
  }
}
const tokens = new TokensPanel(write);
const accountKeys = new AccountKeys(write);
let feed = null;

// ---------------------------------------------------------------- token

async function checkToken() {
  const badge = $("token-state");
  const signedOff = () => {
    forgetWhoami();
    applyRole();
    tokens.clear();
    audit.clear();
    accountKeys.clear();
  };
  if (!adminToken()) {
    badge.textContent = "no token";
    badge.className = "badge bad";
    $("token-forget").classList.add("hidden");
    signedOff();
    return false;
  }
  try {
    try {
      await loadWhoami();
    } catch (e) {
      // A server without access control has no whoami: its one token can do everything.
      if (e.status !== 404) throw e;
      Object.assign(me, { name: "admin token", role: "operator", token_id: null });
    }
    await loadSolvency();
    await loadInLiquidation();
    badge.textContent = "token ok";
    badge.className = "badge ok";
    badge.title = "";
    $("token-forget").classList.remove("hidden");
    $("admin-msg").classList.add("hidden");
    applyRole();
    await Promise.all([tokens.load(), audit.load()]);
    return true;
  } catch (e) {
    badge.textContent = e.status === 401 || e.status === 403 ? "wrong token" : "error";
    badge.className = "badge bad";
    badge.title = e instanceof ApiError ? `${e.status} ${e.code}: ${e.detail}` : String(e.message || e);
    signedOff();
    return false;
  }
}

function bindToken() {
  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    saveAdminToken($("token").value.trim());
    $("token").value = "";
    await checkToken();
  });
  $("token-forget").addEventListener("click", () => {
    forgetAdminToken();
    checkToken();
  });
}

// ---------------------------------------------------------------- markets

async function loadMarkets() {
  const list = await get("/api/v1/markets");
  state.markets = list.map((m) => ({ ...m, priceDp: decimalsOf(m.tick_size), qtyDp: decimalsOf(m.lot_size) }));
  $("index-symbol").replaceChildren(...state.markets.map((m) => new Option(m.symbol, m.symbol)));
  filterMarkets();
  await refreshMarkets();
}

/** The rows to show: the markets the filter matches, at most MAX_ROWS. */
function filterMarkets() {
  const all = searchMarkets(state.markets, $("markets-filter").value);
  state.shown = all.slice(0, MAX_ROWS);
  const rest = all.length - state.shown.length;
  $("markets-count").textContent = `${all.length} of ${state.markets.length} markets`;
  const more = $("markets-more");
  more.textContent = all.length ? `${rest} more — refine the filter` : "No market matches the filter.";
  more.classList.toggle("hidden", all.length > 0 && rest <= 0);
  syncTickers();
  schedule("markets", renderMarkets);
}

/** Tickers of the rows shown only (feed.js re-sends them after a reconnect). */
function syncTickers() {
  if (!feed) return;
  const want = new Set(state.shown.map((m) => m.symbol));
  for (const s of state.tickers) {
    if (!want.has(s)) {
      state.tickers.delete(s);
      feed.unsubscribe("ticker", s);
    }
  }
  for (const s of want) {
    if (state.tickers.has(s)) continue;
    state.tickers.add(s);
    feed.subscribe("ticker", s);
  }
}

/** Read the rows shown (GET /markets/{symbol} each): open interest and volume are not on the
 *  ticker. */
async function refreshMarkets() {
  const rows = await Promise.all(state.shown.map((m) => get(`/api/v1/markets/${enc(m.symbol)}`).catch(() => null)));
  for (const r of rows) {
    if (!r) continue;
    const l = state.live.get(r.symbol) || {};
    Object.assign(l, {
      mark: r.mark_price,
      index: r.index_price,
      last: r.last_price,
      bid: r.best_bid,
      ask: r.best_ask,
      funding: r.funding_rate,
      next: r.next_funding_time,
      oi: r.open_interest,
      vol: r.volume_24h,
    });
    state.live.set(r.symbol, l);
  }
  schedule("markets", renderMarkets);
}

function renderMarkets() {
  const body = $("markets-table").tBodies[0];
  body.replaceChildren(
    ...state.shown.map((m) => {
      const l = state.live.get(m.symbol) || {};
      const dp = m.priceDp;
      return el(
        "tr",
        { dataset: { symbol: m.symbol } },
        el("td", {}, el("b", {}, m.symbol)),
        el("td", {}, fmt(l.mark, dp)),
        el("td", {}, fmt(l.index, dp)),
        el("td", {}, fmt(l.last, dp)),
        el("td", {}, fmt(l.bid, dp)),
        el("td", {}, fmt(l.ask, dp)),
        el("td", { class: Number(l.funding) >= 0 ? "up" : "down" }, l.funding == null ? "—" : (Number(l.funding) * 100).toFixed(4) + "%"),
        el("td", {}, l.next ? countdown(l.next - Date.now()) : "—"),
        el("td", {}, l.oi == null ? "—" : `${fmt(l.oi, m.qtyDp)} ${m.base_asset}`),
        el("td", {}, l.vol == null ? "—" : `${compact(l.vol)} ${m.base_asset}`),
      );
    }),
  );
}

function onMessage(m) {
  if (m.type === "ticker") {
    const l = state.live.get(m.symbol) || {};
    Object.assign(l, {
      mark: m.mark_price,
      index: m.index_price,
      bid: m.best_bid,
      ask: m.best_ask,
      funding: m.funding_rate,
      next: m.next_funding_time,
    });
    if (m.last_price != null) l.last = m.last_price;
    state.live.set(m.symbol, l);
    schedule("markets", renderMarkets);
  } else if (m.type === "liquidation") {
    state.liquidations.unshift(m);
    state.liquidations.length = Math.min(state.liquidations.length, 50);
    schedule("liquidations", renderLiquidations);
  }
}

function renderLiquidations() {
  const rows = state.liquidations.map((q) =>
    el("tr", {}, el("td", {}, stamp(q.time)), el("td", {}, q.symbol), el("td", { class: q.side === "buy" ? "up" : "down" }, q.side), el("td", {}, q.price), el("td", {}, q.quantity)),
  );
  $("liquidations").replaceChildren(
    rows.length
      ? el("table", { class: "grid-table" }, el("thead", {}, el("tr", {}, ...["Time", "Market", "Side", "Price", "Quantity"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows))
      : el("p", { class: "empty" }, "No liquidation since this page opened."),
  );
}

// ---------------------------------------------------------------- forms

function bindForms() {
  $("index-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const symbol = $("index-symbol").value;
    try {
      const r = await write("POST", `/api/v1/admin/markets/${enc(symbol)}/index-price`, { price: $("index-price").value.trim() });
      ok($("index-msg"), `${r.symbol}: index ${r.index_price}, mark ${r.mark_price}`);
      refreshMarkets();
    } catch (e) {
      show($("index-msg"), e);
    }
  });
  $("create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await write("POST", "/api/v1/admin/accounts", { label: $("create-label").value.trim() || "web" });
      state.created = r;
      $("created-text").textContent = `account_id ${r.account_id}\napi_key ${r.api_key}\napi_secret ${r.api_secret}`;
      $("created").classList.remove("hidden");
      $("deposit-account").value = String(r.account_id);
      $("ak-account").value = String(r.account_id);
      ok($("account-msg"), `Account ${r.account_id} created`);
    } catch (e) {
      show($("account-msg"), e);
    }
  });
  $("use-created").addEventListener("click", () => {
    if (!state.created) return;
    saveCredentials(state.created.api_key, state.created.api_secret);
    location.href = "/";
  });
  $("deposit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = $("deposit-account").value.trim();
    if (!/^\d+$/.test(id)) {
      show($("account-msg"), new ApiError(0, "FORM", "account id is a number"));
      return;
    }
    try {
      const r = await write("POST", `/api/v1/admin/accounts/${id}/deposits`, { amount: $("deposit-amount").value.trim() });
      ok($("account-msg"), `Account ${r.account_id}: wallet balance ${r.wallet_balance}`);
      loadSolvency().catch(() => {});
    } catch (e) {
      show($("account-msg"), e);
    }
  });
}

// ---------------------------------------------------------------- accounts in liquidation

async function loadInLiquidation() {
  const list = await admin("GET", "/api/v1/admin/liquidations", null);
  const box = $("in-liquidation");
  if (!list.length) {
    box.replaceChildren(el("p", { class: "empty" }, "None."));
    return;
  }
  const rows = list.map((a) =>
    el(
      "tr",
      {},
      el("td", {}, String(a.account_id)),
      el("td", {}, fmt(a.margin_balance, 2)),
      el("td", {}, fmt(a.maintenance_margin, 2)),
      el("td", { class: "down" }, (Number(a.margin_ratio) * 100).toFixed(1) + "%"),
      el("td", {}, a.positions.map((p) => `${p.symbol} ${p.quantity}`).join(", ")),
    ),
  );
  box.replaceChildren(
    el("table", { class: "grid-table" }, el("thead", {}, el("tr", {}, ...["Account", "Margin balance", "Maintenance", "Margin ratio", "Positions"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)),
  );
}

// ---------------------------------------------------------------- solvency

async function loadSolvency() {
  const [s, fund] = await Promise.all([admin("GET", "/api/v1/admin/solvency", null), get("/api/v1/insurance-fund")]);
  const labels = {
    total_deposits: "Total deposits",
    total_withdrawals: "Total withdrawals",
    user_wallets: "User wallets",
    fee_account: "Fee account",
    insurance_fund: "Insurance fund (ledger)",
    open_cost_basis: "Open cost basis",
  };
  $("solvency").replaceChildren(...Object.entries(labels).flatMap(([k, label]) => [el("dt", {}, label), el("dd", {}, fmt(s[k], 2))]));
  const c = $("conserved");
  c.textContent = s.conserved ? "conserved" : "NOT conserved";
  c.className = "badge " + (s.conserved ? "ok" : "bad");
  $("insurance").textContent = fmt(fund.balance, 2);
  return s;
}

// ---------------------------------------------------------------- metrics

/** Prometheus text → Map(name -> [{labels, value}]). */
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value: Number(m[4]) });
  }
  return out;
}

function sum(metrics, name, filter) {
  return (metrics.get(name) || []).filter((s) => !filter || filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

/** Cumulative buckets of a histogram summed over its other labels: Map(le -> count). */
function buckets(metrics, name) {
  const b = new Map();
  for (const s of metrics.get(name + "_bucket") || []) b.set(s.labels.le, (b.get(s.labels.le) || 0) + s.value);
  return b;
}

/** The q-quantile's upper bucket bound of the observations between two scrapes. */
function quantile(prev, cur, q) {
  const les = Array.from(cur.keys()).sort((a, b) => (a === "+Inf" ? 1 : b === "+Inf" ? -1 : Number(a) - Number(b)));
  const delta = les.map((le) => [le, (cur.get(le) || 0) - ((prev && prev.get(le)) || 0)]);
  const total = delta.length ? delta[delta.length - 1][1] : 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  for (const [le, n] of delta) if (n >= rank) return le === "+Inf" ? Infinity : Number(le);
  return null;
}

function ms(seconds) {
  if (seconds === null) return "idle";
  if (seconds === Infinity) return "> max bucket";
  return seconds < 0.001 ? `≤ ${(seconds * 1e6).toFixed(0)} µs` : `≤ ${(seconds * 1e3).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
}

async function scrape() {
  let text;
  try {
    const r = await fetch("/metrics", { cache: "no-store" });
    text = await r.text();
  } catch {
    return;
  }
  const now = performance.now();
  const m = parseMetrics(text);
  const cur = {
    t: now,
    orders: sum(m, "perpx_orders_total", (l) => l.outcome !== "retry"),
    trades: sum(m, "perpx_trades_total"),
    http: sum(m, "perpx_http_requests_total"),
    latency: buckets(m, "perpx_order_latency_seconds"),
    journal: buckets(m, "perpx_journal_commit_seconds"),
  };
  const prev = state.lastScrape;
  state.lastScrape = cur;
  $("m-ws").textContent = fmt(sum(m, "perpx_ws_connections"), 0);
  $("m-liq").textContent = fmt(sum(m, "perpx_liquidations_total"), 0);
  $("m-over").textContent = fmt(sum(m, "perpx_overloaded_total"), 0);
  if (!prev) return;
  const dt = (now - prev.t) / 1000;
  $("m-orders").textContent = fmt((cur.orders - prev.orders) / dt, 0);
  $("m-trades").textContent = fmt((cur.trades - prev.trades) / dt, 0);
  $("m-http").textContent = fmt((cur.http - prev.http) / dt, 0);
  $("m-p99").textContent = ms(quantile(prev.latency, cur.latency, 0.99));
  $("m-journal").textContent = ms(quantile(prev.journal, cur.journal, 0.99));
}

// ---------------------------------------------------------------- start

async function start() {
  bindToken();
  bindForms();
  try {
    await loadMarkets();
  } catch (e) {
    $("admin-msg").textContent = "Cannot load the markets: " + e.message;
    $("admin-msg").classList.remove("hidden");
  }
  feed = new Feed(onMessage, (s) => {
    const c = $("conn");
    c.textContent = s === "live" ? "live" : s === "resynced" ? "resynced" : s + "…";
    c.className = "conn " + s;
  });
  syncTickers();
  // Liquidations of every market: the operator watches them all (one channel per market).
  for (const m of state.markets) feed.subscribe("liquidations", m.symbol);
  feed.connect();
  let filtering = null;
  $("markets-filter").addEventListener("input", () => {
    filterMarkets();
    clearTimeout(filtering);
    filtering = setTimeout(() => refreshMarkets().catch(() => {}), 250);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshMarkets().catch(() => {});
  });
  if (!(await checkToken())) {
    $("admin-msg").textContent = "Enter the admin token (the server's PERPX_ADMIN_TOKEN, or the content of data/admin.token) to use the admin routes.";
    $("admin-msg").classList.remove("hidden");
  }
  await scrape();
  setInterval(scrape, 2000);
  setInterval(() => {
    if (document.visibilityState === "visible") refreshMarkets().catch(() => {});
  }, 5000);
  setInterval(() => {
    if (adminToken()) loadSolvency().catch(() => {});
  }, 5000);
  setInterval(() => {
    if (adminToken()) loadInLiquidation().catch(() => {});
  }, 2000);
  setInterval(() => schedule("markets", renderMarkets), 1000); // funding countdowns
}

start().catch((e) => console.error("start failed", e));
