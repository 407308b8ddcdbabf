// Two modal dialogs shared by the trader and operator views, built once on first use (no
// inline markup, so nothing for the CSP to allow):
// - confirmAction: "are you sure?" before revoking a key or a token, cancelling every order or
//   closing a position; with `remember` (a localStorage key) a "Don't ask again" box, and once
//   it was ticked the action is confirmed without asking;
// - showSecret: a secret the server returns only once (a new API secret or admin token), with
//   a Copy button and a warning; the secret is removed from the page when the dialog closes.

import { el } from "./num.js";

const $ = (id) => document.getElementById(id);

function confirmDialog() {
  let d = $("confirm-dialog");
  if (d) return d;
  d = el(
    "dialog",
    { id: "confirm-dialog", class: "dialog" },
    el(
      "div",
      { class: "dialog-body" },
      el("h2", { id: "confirm-title" }),
      el("p", { id: "confirm-text", class: "small" }),
      el("label", { id: "confirm-remember-row", class: "check hidden" }, el("input", { type: "checkbox", id: "confirm-remember" }), "Don't ask again"),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", id: "confirm-cancel", class: "btn ghost" }, "Cancel"),
        el("button", { type: "button", id: "confirm-ok", class: "btn danger" }, "Confirm"),
      ),
    ),
  );
  document.body.append(d);
  return d;
}

/** Ask before a destructive action; resolves true when confirmed. */
export function confirmAction({ title, text, ok = "Confirm", no = "Cancel", remember = null }) {
  if (remember && remembered(remember)) return Promise.resolve(true);
  const d = confirmDialog();
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-cancel").textContent = no;
  $("confirm-remember-row").classList.toggle("hidden", !remember);
  $("confirm-remember").checked = false;
  return new Promise((resolve) => {
    let answered = false;
    const done = (yes) => {
      if (answered) return;
      answered = true;
      $("confirm-ok").removeEventListener("click", yes_);
      $("confirm-cancel").removeEventListener("click", no_);
      d.removeEventListener("close", no_);
      if (d.open) d.close();
      if (yes && remember && $("confirm-remember").checked) {
        try {
          localStorage.setItem(remember, "1");
        } catch {
          /* storage refused: ask again next time */
        }
      }
      resolve(yes);
    };
    const yes_ = () => done(true);
    const no_ = () => done(false);
    $("confirm-ok").addEventListener("click", yes_);
    $("confirm-cancel").addEventListener("click", no_);
    d.addEventListener("close", no_);
    d.showModal();
    $("confirm-cancel").focus();
  });
}

function remembered(key) {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
}

function secretDialog() {
  let d = $("secret-dialog");
  if (d) return d;
  d = el(
    "dialog",
    { id: "secret-dialog", class: "dialog secret-dialog", "aria-labelledby": "secret-title" },
    el(
      "div",
      { class: "dialog-body" },
      el("h2", { id: "secret-title" }),
      el("p", { class: "warn-text small", id: "secret-warning" }),
      el("dl", { class: "kv secret-facts", id: "secret-facts" }),
      el("label", { id: "secret-label", class: "secret-label" }),
      el("div", { class: "secret", id: "secret-value", tabindex: "0" }),
      el("div", { id: "secret-msg", class: "form-msg", role: "status" }),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", id: "secret-copy", class: "btn" }, "Copy"),
        el("button", { type: "button", id: "secret-close", class: "btn ghost" }, "I have stored it — close"),
      ),
    ),
  );
  document.body.append(d);
  $("secret-copy").addEventListener("click", () => copySecret());
  // Shown once: nothing of it stays in the page. Wiped before the dialog closes (the
  // `close` event comes a task later, after the dialog already looks closed) and again on
  // `close` (Escape closes it without the button).
  const wipe = () => {
    $("secret-value").textContent = "";
    $("secret-facts").replaceChildren();
    $("secret-msg").textContent = "";
    const sel = window.getSelection();
    if (sel) sel.removeAllRanges();
  };
  $("secret-close").addEventListener("click", () => {
    wipe();
    d.close();
  });
  d.addEventListener("close", wipe);
  return d;
}

function selectSecret() {
  const box = $("secret-value");
  const range = document.createRange();
  range.selectNodeContents(box);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  box.focus();
}

async function copySecret() {
  const text = $("secret-value").textContent;
  const msg = $("secret-msg");
  try {
    if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error("no clipboard API");
    await navigator.clipboard.writeText(text);
    msg.textContent = "Copied to the clipboard.";
    msg.className = "form-msg ok";
  } catch {
    // The clipboard API needs a secure context and the page's focus: select the text instead.
    selectSecret();
    msg.textContent = "The browser refused the clipboard: the secret is selected, press Ctrl+C (⌘C) to copy it.";
    msg.className = "form-msg err";
  }
}

/**
 * Show a secret the server returns only once. `facts` are [label, value] pairs shown above it
 * (key id, API key, ...); `label` names the secret. Resolves when the dialog is closed.
 */
export function showSecret({ title, facts, label, secret, warning }) {
  const d = secretDialog();
  $("secret-title").textContent = title;
  $("secret-warning").textContent =
    warning || "Copy it now: it is shown only this once and cannot be read again, here or from the server.";
  $("secret-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  $("secret-label").textContent = label;
  $("secret-value").textContent = secret;
  $("secret-msg").textContent = "";
  $("secret-msg").className = "form-msg";
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(), { once: true });
    d.showModal();
    $("secret-copy").focus();
  });
}
