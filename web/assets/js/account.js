// The account panel: wallet, unrealized PnL, margin balance, position and order margin,
// available, withdrawable and the margin ratio bar, at the live marks. Isolated positions
// (docs/RULES.md §3a) count in the totals; available, withdrawable and the ratio are the
// cross pool's (the cross wallet and the cross positions).

import { fmt, fmtSigned } from "./num.js";

const $ = (id) => document.getElementById(id);

/**
 * The account at the live marks. The server pushes the account after each change of the
 * account's orders, not on every mark move, so the mark-dependent figures are recomputed
 * here from the ticker's mark (docs/RULES.md §3), starting from the server's exact cost
 * basis C = q·mark − unrealized_pnl of its last push. The next push replaces them.
 */
export function deriveAccount(app) {
  const a = app.account;
  if (!a) return null;
  let upnl = 0;
  let im = 0;
  let mm = 0;
  const crossPool = { upnl: 0, im: 0, mm: 0 };
  const positions = a.positions.map((p) => {
    const q = Number(p.quantity);
    const live = app.liveOf(p.symbol).mark;
    const mark = live != null ? Number(live) : Number(p.mark_price);
    const cost = q * Number(p.mark_price) - Number(p.unrealized_pnl);
    const pnl = q * mark - cost;
    const notional = Math.abs(q * mark);
    const spec = app.bySymbol.get(p.symbol);
    const tiers = spec ? spec.risk_tiers : [];
    const tier = tiers.find((t) => notional <= Number(t.notional_cap)) || tiers[tiers.length - 1];
    const pim = notional / p.leverage;
    const pmm = tier ? notional * Number(tier.maintenance_margin_rate) - Number(tier.maintenance_amount) : Number(p.maintenance_margin);
    upnl += pnl;
    im += pim;
    mm += pmm;
    if (p.margin_mode !== "isolated") {
      crossPool.upnl += pnl;
      crossPool.im += pim;
      crossPool.mm += pmm;
    }
    return { ...p, mark_price: mark, unrealized_pnl: pnl, initial_margin: pim, maintenance_margin: pmm };
  });
  const wallet = Number(a.wallet_balance);
  const crossWallet = a.cross_wallet_balance != null ? Number(a.cross_wallet_balance) : wallet;
  const orderMargin = Number(a.order_margin);
  const mb = wallet + upnl;
  const crossMb = crossWallet + crossPool.upnl;
  return {
    ...a,
    positions,
    cross_wallet_balance: crossWallet,
    unrealized_pnl: upnl,
    margin_balance: mb,
    position_margin: im,
    maintenance_margin: mm,
    available_balance: crossMb - crossPool.im - orderMargin,
    withdrawable: Math.max(0, crossWallet + Math.min(0, crossPool.upnl) - crossPool.im - orderMargin),
    margin_ratio: crossMb > 0 ? crossPool.mm / crossMb : 0,
  };
}

export function renderAccount(a) {
  const set = (id, v, cls) => {
    const e = $(id);
    e.textContent = v;
    e.className = cls || "";
  };
  const q = a ? " " + a.margin_asset : "";
  const sgn = (x) => (Number(x) > 0 ? "up" : Number(x) < 0 ? "down" : "");
  set("a-wallet", a ? fmt(a.wallet_balance, 2) + q : "—");
  const isolated = a ? Number(a.wallet_balance) - Number(a.cross_wallet_balance) : 0;
  $("a-wallet").title = a ? `cross ${fmt(a.cross_wallet_balance, 2)}${q} + isolated ${fmt(isolated, 2)}${q}` : "";
  set("a-upnl", a ? fmtSigned(a.unrealized_pnl, 2) + q : "—", a ? sgn(a.unrealized_pnl) : "");
  set("a-margin", a ? fmt(a.margin_balance, 2) + q : "—");
  set("a-pos", a ? fmt(a.position_margin, 2) + q : "—");
  set("a-ord", a ? fmt(a.order_margin, 2) + q : "—");
  set("a-avail", a ? fmt(a.available_balance, 2) + q : "—");
  set("a-withdraw", a ? fmt(a.withdrawable, 2) + q : "—");
  const ratio = a ? Number(a.margin_ratio) : 0;
  set("a-ratio", a ? (ratio * 100).toFixed(2) + "%" + (a.in_liquidation ? " — in liquidation" : "") : "—", ratio > 0.8 ? "down" : "");
  const bar = $("a-ratio-bar");
  bar.style.width = Math.min(100, ratio * 100).toFixed(1) + "%";
  bar.className = ratio > 0.8 ? "danger" : ratio > 0.5 ? "warn" : "";
}
