// Order entry: side, the six order types, time in force, reduce-only, leverage (PUT
// /leverage), the market's margin mode (PUT /margin_mode: cross or isolated), the account's
// position mode (PUT /account/position_mode: one-way or hedge; in hedge mode an Open / Close
// choice names the leg, sent as `position_side`), the price filled from the book with Last /
// Mid / Best (pricefill.js), quantity in base units or as % of the largest size ("Max" under
// the quantity, which fills it when clicked), and a preview of cost, margin, fee and an
// estimated liquidation price. The request is built from exact decimal strings (multiples of
// tick and lot); the preview alone uses floats.
//
// Every order is checked here before it is sent (check(); the checks shared with the close
// dialog and the chart's order lines are in checks.js): the page's number format (thousands
// separators accepted, exponents and signs refused), tick and lot size, minimum and maximum
// quantity, minimum notional, the price band around the mark, the margin the order needs
// against the available balance, and the position limit of the leverage (maxsize.js: the same
// formulas give Max, formmax.js, so Max passes and one lot more does not). Each problem is shown
// in words under its field, the preview says the order is not possible, and the submit button
// is disabled with the reason as its title; nothing is sent while a problem stands.
//
// The optional TP/SL section (tpslform.js) attaches a take-profit and a stop-loss to the
// order; its problems join the others here.

import { ApiError, signed } from "./api.js";
import { bandProblem, priceInput, quantityProblem } from "./checks.js";
import { FormMax } from "./formmax.js";
import { sizeProblems } from "./maxsize.js";
import { cmpDec, fmt, fromSteps, mulDec, parseDecimalInput } from "./num.js";
import { PriceFill } from "./pricefill.js";
import { FormTpSl } from "./tpslform.js";

const $ = (id) => document.getElementById(id);
const LIMIT_TYPES = new Set(["limit", "stop_limit", "take_profit_limit"]);
const TRIGGER_TYPES = new Set(["stop_market", "stop_limit", "take_profit_market", "take_profit_limit"]);
const LEVERAGE_KEY = "perpx.leverage";
const MODE_KEY = "perpx.marginMode";

export class OrderForm {
  constructor(app) {
    this.app = app;
    this.side = "buy";
    this.posAction = "open"; // hedge mode: open or close a leg
    this.spec = null;
    this.busy = false;
    for (const b of document.querySelectorAll(".sides .side")) b.addEventListener("click", () => this.setSide(b.dataset.side));
    $("f-type").addEventListener("change", () => this.setType($("f-type").value));
    $("f-leverage").addEventListener("change", () => this.applyLeverage());
    for (const b of document.querySelectorAll("#f-margin-mode [data-mode]")) {
      b.addEventListener("click", () => this.applyMarginMode(b.dataset.mode));
    }
    for (const b of document.querySelectorAll("#f-position-mode [data-pmode]")) {
      b.addEventListener("click", () => this.applyPositionMode(b.dataset.pmode));
    }
    for (const b of document.querySelectorAll("#f-pos-action [data-pos-action]")) {
      b.addEventListener("click", () => this.setPosAction(b.dataset.posAction));
    }
    for (const id of ["f-price", "f-qty", "f-trigger", "f-qty-unit", "f-reduce", "f-tif", "f-trigger-by"]) {
      $(id).addEventListener("input", () => this.refreshPreview());
    }
    for (const b of document.querySelectorAll(".pcts button")) {
      b.addEventListener("click", () => {
        $("f-qty-unit").value = "pct";
        $("f-qty").value = b.dataset.pct;
        this.refreshPreview();
      });
    }
    this.max = new FormMax(this);
    this.tpsl = new FormTpSl(this);
    this.priceFill = new PriceFill(this);
    $("order-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.setType("limit");
  }

  setMarket(spec) {
    this.spec = spec;
    $("u-price").textContent = spec.quote_asset;
    $("f-qty-unit").options[0].textContent = spec.base_asset;
    $("f-price").placeholder = spec.tick_size;
    $("f-trigger").placeholder = spec.tick_size;
    $("f-qty").placeholder = spec.min_quantity;
    const sel = $("f-leverage");
    const choices = [1, 2, 3, 5, 10, 20, 25, 50, 75, 100, 125].filter((x) => x <= spec.max_leverage);
    if (!choices.includes(spec.max_leverage)) choices.push(spec.max_leverage);
    const lev = this.leverage();
    if (!choices.includes(lev)) choices.push(lev);
    choices.sort((a, b) => a - b);
    sel.replaceChildren(...choices.map((x) => new Option(x + "×", String(x))));
    sel.value = String(lev);
    this.renderMarginMode();
    $("f-price").value = "";
    this.tpsl.setMarket(spec);
    this.refreshPreview();
  }

  /** The leverage in use for this market: the position's, else the last set here, else the default. */
  leverage() {
    const s = this.spec;
    if (!s) return 1;
    const pos = this.marketPosition();
    if (pos && pos.leverage) return pos.leverage;
    const saved = this.savedLeverage()[this.key()];
    return saved || s.default_leverage;
  }

  key() {
    const a = this.app.account;
    return (a ? a.account_id : "-") + "|" + this.spec.symbol;
  }

  savedLeverage() {
    return saved(LEVERAGE_KEY);
  }

  /**
   * The margin mode of this market: the position's, else the last one the server confirmed
   * here (the native API shows the mode on positions only), else cross, the default.
   */
  marginMode() {
    if (!this.spec) return "cross";
    const pos = this.marketPosition();
    if (pos && pos.margin_mode) return pos.margin_mode;
    return saved(MODE_KEY)[this.key()] || "cross";
  }

  renderMarginMode() {
    const mode = this.marginMode();
    const pos = this.marketPosition();
    if (pos && pos.margin_mode) this.saveMarginMode(pos.margin_mode); // still known once flat
    for (const b of document.querySelectorAll("#f-margin-mode [data-mode]")) {
      const on = b.dataset.mode === mode;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
    }
  }

  saveMarginMode(mode) {
    const modes = saved(MODE_KEY);
    if (modes[this.key()] === mode) return;
    modes[this.key()] = mode;
    sessionStorage.setItem(MODE_KEY, JSON.stringify(modes));
  }

  async applyMarginMode(mode) {
    if (!this.app.loggedIn) {
      this.app.error(new ApiError(401, "UNAUTHORIZED", "log in to set the margin mode"));
      return;
    }
    const symbol = this.spec.symbol;
    try {
      const r = await signed("PUT", `/api/v1/markets/${encodeURIComponent(symbol)}/margin_mode`, { margin_mode: mode });
      this.saveMarginMode(r.margin_mode);
      this.app.ok(`Margin mode ${r.symbol}: ${r.margin_mode}${r.changed ? "" : " (unchanged)"}`);
    } catch (e) {
      // MARGIN_MODE_LOCKED says why (a position or open orders in this market).
      this.app.error(e);
    }
    this.renderMarginMode();
    this.refreshPreview();
  }

  /** The account's position mode: `one_way` (also logged out) or `hedge`. */
  positionMode() {
    const a = this.app.account;
    return a && a.position_mode === "hedge" ? "hedge" : "one_way";
  }

  hedge() {
    return this.positionMode() === "hedge";
  }

  /**
   * The leg the order trades, as `position_side`: none in one-way mode (the API's default,
   * `both`); in hedge mode open: buy → long, sell → short; close: sell → long, buy → short.
   */
  positionSide() {
    if (!this.hedge()) return null;
    const long = (this.side === "buy") === (this.posAction === "open");
    return long ? "long" : "short";
  }

  /** The switch, the Open / Close row, the reduce-only box and the side labels for the mode. */
  renderPositionMode() {
    const mode = this.positionMode();
    for (const b of document.querySelectorAll("#f-position-mode [data-pmode]")) {
      const on = b.dataset.pmode === mode;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    const hedge = mode === "hedge";
    $("f-hedge-row").classList.toggle("hidden", !hedge);
    $("l-reduce").classList.toggle("hidden", hedge);
    for (const b of document.querySelectorAll("#f-pos-action [data-pos-action]")) {
      const on = b.dataset.posAction === this.posAction;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    const label = (side) => {
      if (!hedge) return side === "buy" ? "Buy / Long" : "Sell / Short";
      if (this.posAction === "open") return side === "buy" ? "Open long" : "Open short";
      return side === "buy" ? "Close short" : "Close long";
    };
    for (const b of document.querySelectorAll(".sides .side")) {
      const t = label(b.dataset.side);
      if (b.textContent !== t) b.textContent = t;
    }
    const t = label(this.side);
    if ($("submit").textContent !== t) $("submit").textContent = t;
  }

  setPosAction(action) {
    this.posAction = action;
    this.refreshPreview();
  }

  async applyPositionMode(mode) {
    if (!this.app.loggedIn) {
      this.app.error(new ApiError(401, "UNAUTHORIZED", "log in to set the position mode"));
      return;
    }
    try {
      const r = await signed("PUT", "/api/v1/account/position_mode", { position_mode: mode });
      if (this.app.account) this.app.account = { ...this.app.account, position_mode: r.position_mode };
      const name = r.position_mode === "hedge" ? "hedge" : "one-way";
      this.app.ok(`Position mode: ${name}${r.changed ? "" : " (unchanged)"}`);
    } catch (e) {
      // POSITION_MODE_LOCKED says why (a position or open orders in some market).
      this.app.error(e);
    }
    this.refreshPreview();
    this.app.tables.render();
  }

  async applyLeverage() {
    const lev = Number($("f-leverage").value);
    if (!this.app.loggedIn) {
      this.app.error(new ApiError(401, "UNAUTHORIZED", "log in to set leverage"));
      return;
    }
    try {
      const r = await signed("PUT", `/api/v1/markets/${encodeURIComponent(this.spec.symbol)}/leverage`, { leverage: lev });
      const saved = this.savedLeverage();
      saved[this.key()] = r.leverage;
      sessionStorage.setItem(LEVERAGE_KEY, JSON.stringify(saved));
      this.app.ok(`Leverage ${r.leverage}× (max notional ${fmt(r.max_notional, 0)} ${this.spec.quote_asset})`);
    } catch (e) {
      this.app.error(e);
      $("f-leverage").value = String(this.leverage());
    }
    this.refreshPreview();
  }

  /** The position the order trades: this market's, on the order's leg in hedge mode. */
  position() {
    const a = this.app.account;
    if (!a || !this.spec) return null;
    const leg = this.positionSide();
    return a.positions.find((p) => p.symbol === this.spec.symbol && (!leg || p.position_side === leg)) || null;
  }

  /** Any position of this market (its legs share leverage and margin mode). */
  marketPosition() {
    const a = this.app.account;
    if (!a || !this.spec) return null;
    return a.positions.find((p) => p.symbol === this.spec.symbol) || null;
  }

  setSide(side) {
    this.side = side;
    for (const b of document.querySelectorAll(".sides .side")) b.classList.toggle("active", b.dataset.side === side);
    const btn = $("submit");
    btn.classList.toggle("buy", side === "buy");
    btn.classList.toggle("sell", side === "sell");
    this.renderPositionMode();
    this.refreshPreview();
  }

  setType(type) {
    $("f-type").value = type;
    $("l-price").classList.toggle("hidden", !LIMIT_TYPES.has(type));
    $("l-tif").classList.toggle("hidden", !LIMIT_TYPES.has(type));
    $("l-trigger").classList.toggle("hidden", !TRIGGER_TYPES.has(type));
    this.refreshPreview();
  }

  setPrice(p) {
    const type = $("f-type").value;
    if (!LIMIT_TYPES.has(type)) this.setType("limit");
    $("f-price").value = p;
    this.refreshPreview();
  }

  /** The price the order is expected to execute at, for the preview (a float). */
  refPrice() {
    const type = $("f-type").value;
    const l = this.app.liveOf(this.spec.symbol);
    if (LIMIT_TYPES.has(type)) {
      const p = Number(parseDecimalInput($("f-price").value).value);
      if (p > 0) return p;
    }
    if (TRIGGER_TYPES.has(type)) {
      const t = Number(parseDecimalInput($("f-trigger").value).value);
      if (t > 0) return t;
    }
    const touch = this.side === "buy" ? l.ask : l.bid;
    return Number(touch || l.mark || l.last || 0);
  }

  /** Whether the order can only reduce a position (reduce-only, or a hedge-mode close). */
  reducing() {
    return this.hedge() ? this.posAction === "close" : $("f-reduce").checked;
  }

  /**
   * The quantity as an exact decimal string, or null with a reason in `this.qtyProblem`
   * (empty field: null and no reason). `c`: the check so far (type, price, trigger), which a
   * percentage needs: it is a share of the largest size, cut to the lot.
   */
  quantity(c) {
    const s = this.spec;
    const raw = $("f-qty").value.trim();
    this.qtyProblem = null;
    if (!raw) return null;
    let str;
    if ($("f-qty-unit").value === "pct") {
      const r = parseDecimalInput(raw, "Percent");
      const pctv = Number(r.value);
      if (r.error || !(pctv > 0 && pctv <= 100)) {
        this.qtyProblem = r.error || "Percent must be between 0 and 100";
        return null;
      }
      const m = this.max.size(c);
      if (m.why) {
        this.qtyProblem = m.why;
        return null;
      }
      // A share of a whole number of lots, rounded down: never more than Max.
      const n = BigInt(Math.floor((Number(m.lots) * pctv) / 100 + 1e-9));
      if (n <= 0n) {
        this.qtyProblem = `${pctv}% of your available margin is less than one lot (${s.lot_size} ${s.base_asset})`;
        return null;
      }
      str = fromSteps(n, s.lot_size);
    } else {
      const r = parseDecimalInput(raw, "Quantity");
      if (r.error) {
        this.qtyProblem = r.error;
        return null;
      }
      str = r.value;
      if (cmpDec(str, "0") <= 0) {
        this.qtyProblem = "Quantity must be greater than 0";
        return null;
      }
    }
    this.qtyProblem = quantityProblem(str, s);
    return this.qtyProblem ? null : str;
  }

  /** A price field (limit or trigger price) as an exact decimal string, or { error }. */
  priceField(id, name) {
    return priceInput($(id).value, this.spec, name);
  }

  /**
   * Every problem of the order as typed, by field (price, trigger, qty, lev, cost), with the
   * exact values the request is built from. Empty fields are not problems here (request()
   * asks for them), so a fresh form shows no red.
   */
  check() {
    const s = this.spec;
    const type = $("f-type").value;
    const errs = {};
    const out = { errs, type, price: "", trigger: "", qty: null };
    const quote = s.quote_asset;
    if (LIMIT_TYPES.has(type)) {
      const p = this.priceField("f-price", "Price");
      if (p.error) errs.price = p.error;
      else out.price = p.value;
    }
    if (TRIGGER_TYPES.has(type)) {
      const t = this.priceField("f-trigger", "Trigger price");
      if (t.error) errs.trigger = t.error;
      else out.trigger = t.value;
    }
    out.qty = this.quantity(out);
    if (this.qtyProblem) errs.qty = this.qtyProblem;
    const l = this.app.liveOf(s.symbol);
    const mark = l.mark != null ? String(l.mark) : null;
    // The price band: a buy above mark × (1 + band) or a sell below mark × (1 − band).
    if (type === "limit" && out.price) {
      const band = bandProblem(this.side, out.price, mark, s);
      if (band) errs.price = band;
    }
    // The order's value: the limit price, else the trigger, else the mark.
    const at = out.price || out.trigger || mark;
    if (out.qty && at && !errs.price && !errs.trigger) {
      const notional = mulDec(out.qty, at);
      out.notional = notional;
      if (s.min_notional && !this.reducing() && cmpDec(notional, s.min_notional) < 0) {
        errs.qty = `Order value ${fmt(notional, 2)} ${quote} is below the minimum ${fmt(s.min_notional, 2)} ${quote}`;
      }
      // The margin it needs and the position limit of the leverage (maxsize.js), as the
      // server checks them: `cost` and `lev`.
      const sizing = !errs.qty && !this.reducing() ? this.max.sizing(out) : null;
      if (sizing) Object.assign(errs, sizeProblems(out.qty, sizing));
    }
    this.tpsl.check(out);
    return out;
  }

  /** Each problem under its field, the inputs marked invalid, the submit button disabled with why. */
  renderChecks(c) {
    const fields = { price: "f-price", trigger: "f-trigger", qty: "f-qty", lev: "f-leverage", cost: null, tp: "f-tp", sl: "f-sl", tpsl: null };
    for (const [k, input] of Object.entries(fields)) {
      const box = $("e-" + k);
      const text = c.errs[k] || "";
      if (box.textContent !== text) box.textContent = text;
      if (input) {
        if (text) $(input).setAttribute("aria-invalid", "true");
        else $(input).removeAttribute("aria-invalid");
      }
    }
    const first = Object.values(c.errs)[0] || "";
    const btn = $("submit");
    this.blocked = first;
    btn.disabled = this.busy || Boolean(first);
    if (first) btn.title = "Not possible: " + first;
    else btn.removeAttribute("title");
    $("preview").classList.toggle("impossible", Boolean(first));
    $("p-verdict").textContent = first ? "Not possible: " + first : "";
  }

  refreshPreview() {
    const s = this.spec;
    if (!s) return;
    this.renderMarginMode();
    this.renderPositionMode();
    const c = this.check();
    this.renderChecks(c);
    this.max.render(c);
    this.tpsl.preview(c);
    const qty = c.qty;
    const price = this.refPrice();
    const lev = this.leverage();
    const q = Number(qty);
    const set = (id, v) => ($(id).textContent = v);
    $("p-cost").classList.toggle("bad", Boolean(c.errs.cost));
    const fieldProblem = c.errs.price || c.errs.trigger || (!qty && this.qtyProblem);
    if (!qty || !(q > 0) || !price || fieldProblem) {
      set("p-qty", fieldProblem ? "—" : "—");
      for (const id of ["p-cost", "p-margin", "p-fee", "p-liq"]) set(id, "—");
      return;
    }
    const notional = q * price;
    const type = $("f-type").value;
    const fee = notional * Number(type === "limit" && $("f-tif").value === "post_only" ? s.maker_fee : s.taker_fee);
    set("p-qty", `${qty} ${s.base_asset}`);
    set("p-cost", `${fmt(notional, 2)} ${s.quote_asset}`);
    set("p-margin", `${fmt(notional / lev, 2)} ${s.quote_asset} @ ${lev}×`);
    set("p-fee", `≤ ${fmt(fee, 4)} ${s.quote_asset}`);
    if (c.errs.cost || c.errs.lev) {
      set("p-liq", "— (order not possible)");
      return;
    }
    const liq = this.estimateLiquidation(q, price, fee);
    // A liquidation price on the wrong side of the price (above a long's, below a short's)
    // means the margin would not even cover maintenance: never shown as a price.
    const dir = this.resultingDirection(q);
    const wrong = liq !== null && ((dir > 0 && liq >= price) || (dir < 0 && liq <= price));
    set("p-liq", liq === null ? "none" : wrong ? "at once (not enough margin)" : fmt(liq, s.priceDp));
  }

  /** The sign of the position after the order fills (1 long, −1 short, 0 flat). */
  resultingDirection(orderQty) {
    const pos = this.position();
    const held = pos ? Number(pos.quantity) : 0;
    let add = (this.side === "buy" ? 1 : -1) * orderQty;
    if (this.reducing()) add = Math.sign(add) * Math.min(Math.abs(add), Math.abs(held));
    return Math.sign(held + add);
  }

  /**
   * Estimated liquidation price of this market's position after the order fills at `price`
   * (docs/RULES.md §3, cross margin): the price P where margin balance equals maintenance
   * margin, other positions held at their current PnL and maintenance:
   *   W + q·P − C = MM_other + |q|·P·mmr − amount   ⇒   P = (MM_other − amount + C − W) / (q − |q|·mmr)
   * with W the margin balance without this market's unrealized PnL, less the fee. An isolated
   * position (docs/RULES.md §3a) stands alone: W is its isolated wallet plus the initial
   * margin of the lots the order opens, MM_other is 0.
   */
  estimateLiquidation(orderQty, price, fee) {
    const s = this.spec;
    const a = this.app.account;
    const pos = this.position();
    const dir = this.side === "buy" ? 1 : -1;
    let q = pos ? Number(pos.quantity) : 0;
    let cost = pos ? Number(pos.entry_price) * q : 0;
    // Reduce-only (in hedge mode: a close) never takes the leg past flat.
    if (this.reducing()) orderQty = pos ? Math.min(orderQty, Math.abs(q)) : 0;
    const add = dir * orderQty;
    if (q === 0 || Math.sign(q) === Math.sign(add)) {
      cost += add * price;
      q += add;
    } else if (Math.abs(add) <= Math.abs(q)) {
      cost *= (q + add) / q;
      q += add;
    } else {
      q += add;
      cost = q * price;
    }
    if (Math.abs(q) < 1e-12) return null;
    const isolated = this.marginMode() === "isolated";
    const wallet = isolated
      ? this.isolatedWalletAfter(pos, add, q, price)
      : a
        ? cross(a) - (pos ? Number(pos.unrealized_pnl) : 0)
        : (Math.abs(q) * price) / this.leverage();
    const mmOther = isolated ? 0 : a ? crossMaintenance(a) - (pos ? Number(pos.maintenance_margin) : 0) : 0;
    const notional = Math.abs(q) * price;
    const tier = s.risk_tiers.find((t) => notional <= Number(t.notional_cap)) || s.risk_tiers[s.risk_tiers.length - 1];
    const mmr = Number(tier.maintenance_margin_rate);
    const amount = Number(tier.maintenance_amount);
    const denom = q - Math.abs(q) * mmr;
    const p = (mmOther - amount + cost - (wallet - fee)) / denom;
    return p > 0 && Number.isFinite(p) ? p : null;
  }

  /**
   * The isolated wallet after a fill of `add` lots (signed) at `price` takes the position to
   * `q` (docs/RULES.md §3a): realized PnL of what it closes stays in it, a flip returns it to
   * the cross wallet, and the lots it opens bring their initial margin.
   */
  isolatedWalletAfter(pos, add, q, price) {
    const before = pos ? Number(pos.quantity) : 0;
    const flipped = before !== 0 && Math.sign(q) !== Math.sign(before);
    const opened = flipped || before === 0 ? Math.abs(q) : Math.max(0, Math.abs(q) - Math.abs(before));
    const margin = (opened * price) / this.leverage();
    if (flipped || !pos) return margin;
    const closed = Math.sign(add) !== Math.sign(before) ? Math.min(Math.abs(add), Math.abs(before)) : 0;
    const realized = closed * (price - Number(pos.entry_price)) * Math.sign(before);
    return Number(pos.isolated_wallet) + realized + margin;
  }

  /** The order request as the API wants it, or throws an ApiError-like problem. */
  request() {
    const c = this.check();
    const problem = Object.values(c.errs)[0];
    if (problem) throw new ApiError(0, "FORM", problem);
    const type = c.type;
    const qty = c.qty;
    if (!qty) throw new ApiError(0, "FORM", "Enter a quantity");
    const body = { side: this.side, type, quantity: qty };
    if (LIMIT_TYPES.has(type)) {
      if (!c.price) throw new ApiError(0, "FORM", "Enter a price");
      body.price = c.price;
      body.time_in_force = $("f-tif").value;
    }
    if (TRIGGER_TYPES.has(type)) {
      if (!c.trigger) throw new ApiError(0, "FORM", "Enter a trigger price");
      body.trigger_price = c.trigger;
      body.trigger_by = $("f-trigger-by").value;
    }
    const leg = this.positionSide();
    if (leg) body.position_side = leg; // hedge mode: a close is reduce-only by its side
    else if ($("f-reduce").checked) body.reduce_only = true;
    if (c.tpsl) Object.assign(body, c.tpsl); // take_profit / stop_loss / tpsl_trigger_by
    // Prices and quantities are sent exactly as typed (separators removed), never rounded.
    return body;
  }

  async submit() {
    if (this.busy) return;
    if (!this.app.loggedIn) {
      this.app.error(new ApiError(401, "UNAUTHORIZED", "log in with an API key to trade"));
      return;
    }
    let body;
    try {
      body = this.request();
    } catch (e) {
      this.app.error(e);
      return;
    }
    this.busy = true;
    $("submit").disabled = true;
    try {
      const o = await signed("POST", `/api/v1/markets/${encodeURIComponent(this.spec.symbol)}/orders`, body);
      this.app.tables.onOrder(o);
      this.app.showOrder(o); // amber, not green, when nothing filled
    } catch (e) {
      this.app.error(e);
    } finally {
      this.busy = false;
      this.refreshPreview(); // enables the button again unless the form now has a problem
    }
  }
}

function saved(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || "{}");
  } catch {
    return {};
  }
}

/** The cross pool's margin balance: the cross wallet and the cross positions' unrealized PnL. */
function cross(a) {
  const wallet = a.cross_wallet_balance != null ? Number(a.cross_wallet_balance) : Number(a.wallet_balance);
  return a.positions.reduce((sum, p) => (p.margin_mode === "isolated" ? sum : sum + Number(p.unrealized_pnl)), wallet);
}

/** The cross positions' maintenance margin. */
function crossMaintenance(a) {
  return a.positions.reduce((sum, p) => (p.margin_mode === "isolated" ? sum - Number(p.maintenance_margin) : sum), Number(a.maintenance_margin));
}
