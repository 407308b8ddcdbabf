// A position's name and the order that closes it, shared by the positions table's Close and
// the close dialog (closedialog.js).

/** Whether `p` (a position, order or fill) is on a hedge-mode leg (`long` or `short`). */
export function isLeg(p) {
  return p.position_side === "long" || p.position_side === "short";
}

/** "BTC-PERP" in one-way mode, "BTC-PERP long" for a hedge leg. */
export function positionName(p) {
  return isLeg(p) ? `${p.symbol} ${p.position_side}` : p.symbol;
}

/** The position's size without its sign, as the API's exact string. */
export function positionSize(p) {
  return String(p.quantity).replace(/^-/, "");
}

/**
 * The request of an order closing `quantity` of `p`: the opposite side, reduce-only; in hedge
 * mode the leg's closing side (sell + long, buy + short), which is reduce-only by itself (the
 * API refuses `reduce_only` there). A market order without `price`, else a GTC limit order.
 */
export function closeRequest(p, quantity, price = null) {
  const body = { side: Number(p.quantity) > 0 ? "sell" : "buy", type: price ? "limit" : "market", quantity };
  if (price) {
    body.price = price;
    body.time_in_force = "gtc";
  }
  if (isLeg(p)) body.position_side = p.position_side;
  else body.reduce_only = true;
  return body;
}
