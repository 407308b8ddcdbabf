// Toasts: order results, own fills, triggers and liquidations where they are seen — fixed at
// the top right on a desktop, at the bottom on a phone (terminal.css). Each goes after about
// 6 s or with its × button; the box is a polite live region for assistive technology.

import { el } from "./num.js";

const TTL_MS = 6000;
const MAX_SHOWN = 5;

export class Toasts {
  constructor(box) {
    this.box = box;
  }

  /** kind: ok | warn | err | info. Returns the toast element. */
  show({ kind = "info", title, text, code, detail, ttl = TTL_MS }) {
    const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", title: "Dismiss" }, "×");
    const t = el(
      "div",
      { class: `toast ${kind}`, role: kind === "err" ? "alert" : null },
      el("div", { class: "toast-body" }, title ? el("b", { class: "toast-title" }, title) : null, el("span", { class: "toast-text" }, text), code ? el("span", { class: "code", title: detail || null }, code) : null),
      close,
    );
    const remove = () => {
      clearTimeout(timer);
      t.remove();
    };
    close.addEventListener("click", remove);
    const timer = setTimeout(remove, ttl);
    this.box.append(t);
    while (this.box.children.length > MAX_SHOWN) this.box.firstElementChild.remove();
    return t;
  }
}
