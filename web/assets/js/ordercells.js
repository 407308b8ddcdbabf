// The cells an order's row shows in the open orders and the history (and their CSV): its side
// with the hedge leg, its type with a TP / SL badge for a position's take-profit or stop-loss,
// and why it closed in words; and the key of an open order. Shared by tables.js and openorders.js.

import { reasonWords } from "./errors.js";
import { el } from "./num.js";
import { isLeg } from "./position.js";
import { TP_TYPE, isTpSl } from "./tpsl.js";

/** Open orders are keyed by market and id: order ids count per market. */
export const orderKey = (o) => `${o.symbol}/${o.order_id}`;

/**
 * The side of an order or fill, with its leg in hedge mode: "buy", "buy · open long",
 * "sell · close long".
 */
export function sideCell(o) {
  return el("td", { class: o.side === "buy" ? "up" : "down" }, sideText(o));
}

export function sideText(o) {
  let text = o.side;
  if (isLeg(o)) {
    const closes = (o.position_side === "long") === (o.side === "sell");
    text += ` · ${closes ? "close" : "open"} ${o.position_side}`;
  }
  return text;
}

export function statusText(o) {
  // A TP/SL that went without firing: why, in words, rather than "expired (oco)".
  const words = reasonWords(o.reason);
  if (words) return words;
  return o.status + (o.reason ? ` (${o.reason.replace(/_/g, " ")})` : "");
}

/** The order's type in words, with "TP" or "SL" for a position's take-profit or stop-loss. */
export function typeText(o) {
  const t = o.type.replace(/_/g, " ");
  return isTpSl(o) ? `${t} ${o.type === TP_TYPE ? "TP" : "SL"}` : t;
}

/** The type cell: the same words, the TP / SL as a badge. */
export function typeCell(o) {
  if (!isTpSl(o)) return el("td", {}, typeText(o));
  const tp = o.type === TP_TYPE;
  const badge = el("span", { class: `tpsl-badge ${tp ? "tp" : "sl"}`, title: `${tp ? "Take-profit" : "Stop-loss"} of the position: closes all of it when it fires` }, tp ? "TP" : "SL");
  return el("td", {}, o.type.replace(/_/g, " "), " ", badge);
}
