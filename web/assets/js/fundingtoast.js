// A toast for each funding payment of an open position: "Funding BTC-PERP: paid 0.0087 USDT"
// (or "received"), the exact change of the position's `funding_paid`.
//
// The page gets no funding event. What it has: each position's cumulative `funding_paid` in
// every account it receives (the `account` channel, sent after order changes, and GET
// /api/v1/account), and each market's `next_funding_time` on the ticker. So:
// - every account the page takes in (tables.js onAccount) is compared with the last one: a
//   position whose `funding_paid` changed while its quantity did not (no fill on it in
//   between) was paid or paid funding, and the change is the amount;
// - the server sends no account after a settlement, but it moves `next_funding_time` on once
//   a settlement has been applied: when that happens in a market where the account holds a
//   position, the page reads the account once (the toast then comes from the comparison).
// An older account arriving after a newer one (a REST answer overtaken by a push) would show
// a `funding_paid` already seen: that is not a payment, and is skipped.

import { signed } from "./api.js";
import { cmpDec, subDec } from "./num.js";

const key = (p) => `${p.symbol}|${p.position_side || "both"}`;

export class FundingToasts {
  constructor(app) {
    this.app = app;
    this.positions = new Map(); // key -> { quantity, paid, seen: Set of funding_paid values }
    this.times = new Map(); // symbol -> the next funding time the ticker said last
    this.reading = false;
  }

  /** An account the page received (null at logout): compare its positions with the last. */
  see(a) {
    if (!a) {
      this.positions.clear();
      return;
    }
    const now = new Map();
    for (const p of a.positions || []) {
      if (Number(p.quantity) === 0) continue;
      const k = key(p);
      const was = this.positions.get(k);
      const paid = String(p.funding_paid);
      if (was && was.quantity === p.quantity && paid !== was.paid) {
        if (was.seen.has(paid)) {
          now.set(k, was); // an older state than the one shown: nothing happened
          continue;
        }
        this.toast(p, subDec(paid, was.paid), a.margin_asset);
        was.seen.add(paid);
        now.set(k, { ...was, paid });
        continue;
      }
      // New, or a fill changed it: what it paid so far is the baseline.
      now.set(k, was && was.quantity === p.quantity ? was : { quantity: p.quantity, paid, seen: new Set([paid]) });
    }
    this.positions = now;
  }

  toast(p, diff, asset) {
    const leg = p.position_side && p.position_side !== "both" ? ` ${p.position_side}` : "";
    const paid = cmpDec(diff, "0") > 0;
    const amount = paid ? diff : subDec("0", diff);
    this.app.toasts.show({ kind: "info", text: `Funding ${p.symbol}${leg}: ${paid ? "paid" : "received"} ${amount} ${asset || ""}`.trim() });
  }

  /** A ticker's `next_funding_time`: once it moves on, a settlement was applied. */
  fundingTime(symbol, t) {
    if (t == null) return;
    const before = this.times.get(symbol);
    this.times.set(symbol, t);
    if (before == null || !(t > before)) return;
    const a = this.app.account;
    if (this.app.loggedIn && a && a.positions.some((p) => p.symbol === symbol && Number(p.quantity) !== 0)) this.read();
  }

  /** Read the account once (one read at a time: markets settling together share it). */
  async read() {
    if (this.reading) return;
    this.reading = true;
    try {
      const a = await signed("GET", "/api/v1/account", null);
      if (this.app.loggedIn) {
        this.app.tables.onAccount(a);
        this.app.form.refreshPreview();
      }
    } catch (e) {
      console.warn("account after funding", e);
    } finally {
      this.reading = false;
    }
  }
}
