// What happens when a dragged order line is let go (chartlines.js does the dragging): the
// page checks the new price, asks, then amends the order with PATCH (tables.js amend).
// - A limit order's line moves its limit `price`: refused first if outside the price band
//   (checks.js), the question says when it would trade at once against the book. "Don't ask
//   again" is remembered as perpx.confirm.moveOrder.
// - A stop or take-profit waiting for its trigger (a dashed SL / TP / STOP line) moves its
//   `trigger_price`: refused first, in words, if the price it watches (last or mark, per its
//   trigger_by) already passed the new trigger — the server would refuse it with
//   WOULD_TRIGGER_IMMEDIATELY. Moving a stop changes when a position is closed, a different
//   risk from moving a limit order: its "Don't ask again" is its own, perpx.confirm.moveTrigger.
// A refusal (the page's or the server's) is a toast; the line goes back where the order is.

import { bandProblem } from "./checks.js";
import { confirmAction } from "./dialogs.js";
import { explain } from "./errors.js";
import { cmpDec, fmt } from "./num.js";
import { FIELD_WORDS } from "./openorders.js";
import { firesOnRise, passedTrigger, triggerName, watchedPrice } from "./triggers.js";

/** The field a line of this kind amends: "trigger" lines their trigger price, else the price. */
export function lineField(kind) {
  return kind === "trigger" ? "trigger_price" : "price";
}

/**
 * `held` ({ order, field, price }) was let go at `price`: check, ask, amend. `stillHeld()` says
 * whether the line is still the page's to move (the order may close while the dialog is open).
 */
export async function amendFromLine(app, held, stillHeld) {
  const o = held.order;
  const field = held.field;
  const spec = app.bySymbol.get(o.symbol);
  if (cmpDec(held.price, o[field]) === 0) return;
  const trigger = field === "trigger_price";
  const name = trigger ? `${triggerName(o)} ${o.order_id}` : `Order ${o.order_id}`;
  const problem = trigger ? passedTrigger(app, o, held.price, spec) : bandProblem(o.side, held.price, app.liveOf(o.symbol).mark, spec);
  if (problem) {
    app.toasts.show({ kind: "err", title: `${name} not moved`, text: problem });
    return;
  }
  const qty = o.close_position ? "close position" : fmt(o.remaining_quantity ?? o.quantity, spec.qtyDp);
  const what = `${o.side.toUpperCase()} ${qty} ${o.symbol}`;
  const from = fmt(o[field], spec.priceDp);
  const to = fmt(held.price, spec.priceDp);
  const yes = await confirmAction(trigger ? triggerQuestion(app, o, what, from, to) : limitQuestion(app, o, what, from, to, held.price, spec));
  if (!stillHeld()) return; // the order closed meanwhile: its line is gone
  if (!yes) return;
  const r = await app.tables.amend(o, field, held.price);
  if (r && r.order) {
    const words = trigger ? `${name} ${what}: trigger moved to` : `Order ${o.order_id} ${what} moved to`;
    app.toasts.show({ kind: "ok", title: trigger ? "Trigger moved" : "Order amended", text: `${words} ${fmt(r.order[field], spec.priceDp)}` });
  } else if (r && r.error) {
    const x = explain(r.error);
    app.toasts.show({ kind: "err", title: `${name} not moved`, text: x.text, code: x.code, detail: x.detail });
  }
}

function limitQuestion(app, o, what, from, to, price, spec) {
  const { bid, ask } = o.symbol === app.book.symbol ? app.book.best() : {};
  const takes = o.side === "buy" ? ask !== undefined && Number(price) >= ask : bid !== undefined && Number(price) <= bid;
  return {
    title: `Move order ${o.order_id} to ${to}?`,
    text:
      `The limit order ${what} is amended from ${from} to ${to}; it goes to the back of the queue at its new price.` +
      (takes ? ` At this price it trades at once against the book (best ${o.side === "buy" ? "ask" : "bid"} ${fmt(o.side === "buy" ? ask : bid, spec.priceDp)}).` : ""),
    ok: "Move order",
    no: "Keep it",
    remember: "perpx.confirm.moveOrder",
  };
}

function triggerQuestion(app, o, what, from, to) {
  const name = triggerName(o);
  const w = watchedPrice(app, o);
  const watched = w ? w.what : `${o.trigger_by || "last"} price`;
  return {
    title: `Move ${name.toLowerCase()} ${o.order_id} to ${to}?`,
    text: `The ${name.toLowerCase()} ${what} is amended to fire when the ${watched} ${firesOnRise(o) ? "rises" : "falls"} to ${to} instead of ${from}. It keeps its id and waits for the new ${FIELD_WORDS.trigger_price}.`,
    ok: "Move trigger",
    no: "Keep it",
    remember: "perpx.confirm.moveTrigger",
  };
}
