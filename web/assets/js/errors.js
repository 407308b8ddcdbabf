// The API's stable error codes (docs/API.md, "Errors") in plain words for the trader. The code
// itself stays visible in small text next to the words, and the API's own message is the
// code's tooltip; a code without words here shows the API's message.

import { ApiError } from "./api.js";

const PLAIN = {
  INSUFFICIENT_MARGIN: "Not enough available margin for this order",
  INSUFFICIENT_BALANCE: "Not enough balance for this",
  INSUFFICIENT_ISOLATED_MARGIN: "That would leave the isolated position with less than its required margin",
  INVALID_PRICE: "The price is not valid here: it must be a positive multiple of the market's tick size",
  INVALID_QUANTITY: "The quantity is not valid here: it must be a multiple of the lot size, between the minimum and the maximum",
  MIN_NOTIONAL: "The order is too small: its value is below the market's minimum",
  PRICE_OUT_OF_BAND: "The price is too far from the mark price",
  PRICE_BAND: "The price is too far from the mark price",
  INVALID_LEVERAGE: "That leverage is not allowed in this market",
  WOULD_TRIGGER_IMMEDIATELY: "The trigger price is already crossed: the order would trigger at once",
  REDUCE_ONLY: "A reduce-only order must make your position smaller",
  REDUCE_ONLY_REJECTED: "A reduce-only order must make your position smaller, and there is nothing to reduce on this side",
  POST_ONLY_WOULD_TAKE: "A post-only order would have traded at once, so it was not placed",
  POSITION_LIMIT_EXCEEDED: "The position would be above the limit of this leverage: lower the leverage or the size",
  TOO_MANY_OPEN_ORDERS: "You already have the most open orders allowed in this market",
  MAX_OPEN_ORDERS: "You already have the most open orders allowed in this market",
  ACCOUNT_IN_LIQUIDATION: "The account (or this isolated position) is being liquidated: no new orders until it ends",
  INDEX_STALE: "Orders are paused in this market: its index price is out of date",
  RATE_LIMITED: "Too many requests: wait a moment and try again",
  OVERLOADED: "The exchange is busy and changed nothing: try again in a moment",
  NOT_PRIMARY: "This server does not take orders (it is a replica)",
  INTERNAL: "The exchange failed the request: look at your orders before trying again",
  NETWORK: "The server cannot be reached: check the connection",
  MARGIN_MODE_LOCKED: "The margin mode cannot change while you have a position or open orders in this market",
  POSITION_MODE_LOCKED: "The position mode cannot change while you have a position or open orders",
  NOT_ISOLATED: "This market uses cross margin for your account",
  NO_POSITION: "There is no open position on this side: nothing to set a take-profit or stop-loss on, or to move margin to or from",
  INVALID_TPSL:
    "Take-profit and stop-loss are on the wrong side: for a buy the take-profit must be above the price and the stop-loss below it (the reverse for a sell), and they cannot be attached to a reduce-only or closing order",
  POSITION_SIDE_MISMATCH: "The order's leg does not match the account's position mode",
  ORDER_NOT_FOUND: "That order does not exist (any more)",
  ORDER_NOT_OPEN: "That order is no longer open",
  ORDER_NOT_AMENDABLE: "This order cannot be amended: cancel it and place a new one",
  DUPLICATE_CLIENT_ORDER_ID: "An open order already uses that client order id",
  KEY_EXPIRED: "Your API key has expired",
  IP_NOT_ALLOWED: "Your API key may not be used from this address",
  PERMISSION_DENIED: "Your API key does not allow this",
  SIGNATURE_REPLAYED: "The request was signed twice: try again",
};

// Why an order closed, where the API's reason code alone says little to a trader: the three
// ways a take-profit / stop-loss goes without firing (docs/RULES.md §2a). Status `expired`.
const REASON_WORDS = {
  oco: "cancelled: the other of its TP/SL pair fired",
  position_closed: "cancelled: position closed",
  entry_unfilled: "cancelled: its entry never filled",
};

/** The plain words of a close reason (`oco`, `position_closed`, `entry_unfilled`), or null. */
export function reasonWords(reason) {
  return REASON_WORDS[reason] || null;
}

/** { text, code, detail }: the words for a person, "status CODE" (or "") and the API's message. */
export function explain(e) {
  if (!(e instanceof ApiError)) return { text: String(e.message || e), code: "", detail: "" };
  if (e.code === "FORM") return { text: e.detail, code: "", detail: "" };
  const words = PLAIN[e.code];
  const detail = e.detail || "";
  const text = words || (detail ? detail.charAt(0).toUpperCase() + detail.slice(1) : e.code);
  return { text, code: `${e.status ? e.status + " " : ""}${e.code}`, detail };
}

/** Put an explained error into a message element: the words, then the code in small text. */
export function renderError(box, e, codeEl) {
  const x = explain(e);
  const parts = [x.text];
  if (x.code) parts.push(codeEl(x.code, x.detail));
  box.replaceChildren(...parts);
  return x;
}
