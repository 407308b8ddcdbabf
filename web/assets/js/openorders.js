// The open orders tab: one row per open order of every market, newest first, with its Cancel
// button and inline amends. A click (or Enter) on the price, the quantity or — for a stop or
// take-profit still waiting for its trigger — the trigger price opens an input in the cell;
// Enter sends the PATCH (tables.js amend), Escape or leaving the input keeps the order as it
// is. The server checks the new value (a trigger the watched price already passed is
// WOULD_TRIGGER_IMMEDIATELY); a refusal is shown on a line under the order's own row, in
// words with the code, not in the order form's message line.

import { renderError } from "./errors.js";
import { el, fmt, stamp } from "./num.js";
import { orderKey, sideCell, typeCell } from "./ordercells.js";

/** What each amendable field is called in the page's words. */
export const FIELD_WORDS = { price: "price", quantity: "quantity", trigger_price: "trigger price" };

/** The open orders table of `t` (the Tables instance: its orders, amend, cancel, spec). */
export function openOrdersTable(t) {
  const list = Array.from(t.open.values()).sort((a, b) => b.created_at - a.created_at);
  const rows = list.flatMap((o) => {
    const s = t.spec(o.symbol);
    const row = el(
      "tr",
      { dataset: { orderId: String(o.order_id), market: o.symbol } },
      el("td", {}, stamp(o.created_at)),
      el("td", {}, o.symbol),
      typeCell(o),
      sideCell(o),
      o.price == null ? el("td", {}, "market") : editable(t, o, "price"),
      o.close_position ? el("td", { class: "close-pos", title: "Closes the whole position when it fires" }, "Close position") : editable(t, o, "quantity"),
      el("td", {}, fmt(o.filled_quantity, s.qtyDp)),
      triggerCell(t, o),
      el("td", {}, (o.time_in_force || "").replace("_", "-") + (o.reduce_only ? " · reduce" : "")),
      el("td", {}, o.status.replace("_", " ")),
      el("td", {}, el("button", { type: "button", class: "btn small ghost", onclick: () => t.cancel(o) }, "Cancel")),
    );
    const bad = t.amendErrors.get(orderKey(o));
    if (!bad) return [row];
    row.classList.add("has-error");
    const msg = el("span", { class: "amend-msg" });
    renderError(msg, bad.error, (code, detail) => el("span", { class: "code", title: detail || null }, code));
    const line = el(
      "tr",
      { class: "amend-error", dataset: { errorFor: orderKey(o) } },
      el("td", { colspan: "11" }, el("span", { class: "muted" }, `Amend ${FIELD_WORDS[bad.field] || bad.field} to ${bad.value} refused: `), msg),
    );
    return [row, line];
  });
  return t.table(["Time", "Market", "Type", "Side", "Price", "Quantity", "Filled", "Trigger", "TIF", "Status", ""], rows, "No open orders.");
}

/**
 * The trigger cell: "48,000.0 (mark)". Only an order still waiting for its trigger can have
 * it moved (the server refuses a trigger on anything else), so only that one is editable.
 */
function triggerCell(t, o) {
  if (o.trigger_price == null) return el("td", {}, "—");
  const by = ` (${o.trigger_by || "last"})`;
  if (o.status !== "untriggered") return el("td", {}, fmt(o.trigger_price, t.spec(o.symbol).priceDp) + by);
  return editable(t, o, "trigger_price", by);
}

/** A cell showing `o[field]` that turns into an input on a click; Enter amends. */
function editable(t, o, field, suffix = "") {
  const s = t.spec(o.symbol);
  const words = FIELD_WORDS[field];
  const shown = (field === "quantity" ? fmt(o.quantity, s.qtyDp) : fmt(o[field], s.priceDp)) + suffix;
  const td = el("td", { class: "editable", title: `Click to amend the ${words}`, tabindex: "0", dataset: { field } }, shown);
  const startEdit = () => {
    t.editing = { id: orderKey(o), field };
    const input = el("input", { class: "inline-edit", value: o[field], "aria-label": `new ${words}`, dataset: { field } });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        t.amend(o, field, input.value);
      } else if (ev.key === "Escape") {
        t.editing = null;
        t.render();
      }
    });
    input.addEventListener("blur", () => {
      if (t.editing && t.editing.id === orderKey(o)) {
        t.editing = null;
        t.render();
      }
    });
    td.replaceChildren(input);
    input.focus();
    input.select();
  };
  td.addEventListener("click", startEdit);
  td.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") startEdit();
  });
  return td;
}
