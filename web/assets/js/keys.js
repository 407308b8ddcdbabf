// The trader's API keys (GET/POST /api/v1/keys, DELETE /api/v1/keys/{key_id}): the signed-in
// account's live keys, a form to create a read-only or trading key (optional IP allow-list and
// expiry) whose secret is shown once, and Revoke with a confirmation. Creating and revoking
// need the "trade" permission: with a key that lacks it the form is disabled and says why.
// Revoking the key this terminal signs with signs the terminal out at the next request's 401
// (api.js onUnauthorized, handled in trader.js).

import { credentials, serverNow, signed } from "./api.js";
import { confirmAction, showSecret } from "./dialogs.js";
import { allowlist, keyTable } from "./keytable.js";
import { clearMsg, showError, showOk } from "./msg.js";
import { el } from "./num.js";

const $ = (id) => document.getElementById(id);
const DAY = 86400e3;

/** A form mistake, shown like an API error. */
class FormError extends Error {}

export class KeysPanel {
  constructor(app) {
    this.app = app;
    this.keys = [];
    this.loaded = false;
    this.dialog = $("keys-dialog");
    $("keys-open").addEventListener("click", () => this.open());
    $("keys-close").addEventListener("click", () => this.dialog.close());
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create();
    });
    $("k-expiry").addEventListener("change", () => this.expiryKind());
    this.expiryKind();
  }

  signedIn() {
    $("keys-open").classList.remove("hidden");
  }

  signedOut() {
    $("keys-open").classList.add("hidden");
    if (this.dialog.open) this.dialog.close();
    this.keys = [];
    this.loaded = false;
    $("keys-list").replaceChildren();
  }

  open() {
    clearMsg($("keys-msg"));
    this.dialog.showModal();
    this.load();
  }

  /** The key this terminal signs with, as the list shows it (null until loaded). */
  currentKey() {
    const c = credentials();
    return c ? this.keys.find((k) => k.api_key === c.key) || null : null;
  }

  /** Whether the signed-in key may create and revoke keys (needs "trade"). */
  canManage() {
    const k = this.currentKey();
    return !k || k.permissions.includes("trade"); // unknown: let the server decide
  }

  async load() {
    $("keys-list").replaceChildren(el("p", { class: "empty" }, "Loading…"));
    try {
      this.keys = await signed("GET", "/api/v1/keys", null);
      this.loaded = true;
    } catch (e) {
      $("keys-list").replaceChildren(el("p", { class: "empty" }, "The keys could not be read."));
      if (this.app.loggedIn) showError($("keys-msg"), e);
      return;
    }
    this.render();
  }

  render() {
    const manage = this.canManage();
    const current = credentials();
    $("keys-list").replaceChildren(
      keyTable(this.keys, {
        current: current ? current.key : null,
        canRevoke: manage,
        lockedReason: "Revoking needs a key with the trade permission",
        onRevoke: (k) => this.revoke(k),
      }),
    );
    const mine = this.currentKey();
    $("keys-count").textContent = `${this.keys.length} live`;
    $("key-fieldset").disabled = !manage;
    $("key-locked").classList.toggle("hidden", manage);
    if (!manage) {
      $("key-locked").textContent =
        `This terminal is signed in with a ${mine.permissions.join(" + ")} key ("${mine.label}"): creating and revoking keys ` +
        `needs the trade permission. Sign in with a trading key to manage keys.`;
    }
  }

  expiryKind() {
    const kind = $("k-expiry").value;
    $("l-k-days").classList.toggle("hidden", kind !== "days");
    $("l-k-date").classList.toggle("hidden", kind !== "date");
  }

  /** The request body from the form, or a FormError. */
  body() {
    const label = $("k-label").value.trim();
    if (label.length < 1 || label.length > 64) throw new FormError("the label is 1 to 64 characters");
    const permissions = $("k-perms").value === "trade" ? ["read", "trade"] : ["read"];
    const ips = allowlist($("k-ips").value);
    const body = { label, permissions, ip_allowlist: ips };
    const kind = $("k-expiry").value;
    if (kind === "days") {
      const days = Number($("k-days").value);
      if (!(days > 0) || !Number.isFinite(days)) throw new FormError("the expiry in days is a positive number");
      body.expires_at = Math.round(serverNow() + days * DAY);
    } else if (kind === "date") {
      const v = $("k-date").value; // yyyy-mm-dd
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new FormError("choose the expiry date");
      const [y, m, d] = v.split("-").map(Number);
      const end = new Date(y, m - 1, d + 1).getTime() - 1; // the end of that day, local time
      if (end <= serverNow()) throw new FormError("the expiry date is in the past");
      body.expires_at = end;
    }
    return body;
  }

  async create() {
    const msg = $("keys-msg");
    let body;
    try {
      body = this.body();
    } catch (e) {
      showError(msg, e instanceof FormError ? { message: "Form: " + e.message } : e);
      return;
    }
    $("k-submit").disabled = true;
    try {
      const k = await signed("POST", "/api/v1/keys", body);
      showOk(msg, `Key ${k.key_id} "${k.label}" created (${k.permissions.join(" + ")})`);
      $("key-form").reset(); // the next key starts from a clean form
      this.expiryKind();
      this.keys = [...this.keys.filter((x) => x.key_id !== k.key_id), k];
      this.render();
      await showSecret({
        title: `API key ${k.key_id} created`,
        facts: [
          ["Label", k.label],
          ["Permissions", k.permissions.join(" + ")],
          ["API key", k.api_key],
        ],
        label: "API secret",
        secret: k.api_secret,
      });
      if (this.dialog.open) this.load();
    } catch (e) {
      showError(msg, e);
    } finally {
      $("k-submit").disabled = false;
    }
  }

  async revoke(k) {
    const mine = this.currentKey();
    const own = mine && mine.key_id === k.key_id;
    const yes = await confirmAction({
      title: `Revoke key ${k.key_id} "${k.label}"?`,
      text: own
        ? "This terminal is signed in with this key: revoking it signs the terminal out. Requests signed with it are refused from now on."
        : "Requests signed with this key are refused from now on. This cannot be undone.",
      ok: "Revoke",
    });
    if (!yes) return;
    const msg = $("keys-msg");
    try {
      await signed("DELETE", `/api/v1/keys/${k.key_id}`, null);
      showOk(msg, `Key ${k.key_id} "${k.label}" revoked`);
    } catch (e) {
      showError(msg, e);
    }
    // Re-read: with the own key revoked this request gets the 401 that signs the terminal out.
    await this.load();
  }
}
