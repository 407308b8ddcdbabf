// The operator view's keys of one account (GET/POST /api/v1/admin/accounts/{id}/keys, DELETE
// /api/v1/admin/accounts/{id}/keys/{key_id}): look an account up by id, list its live keys,
// revoke one with a confirmation, make a new one (any permissions; the secret is shown once).
// Writes are for the operator role only.

import { admin, serverNow } from "./api.js";
import { confirmAction, showSecret } from "./dialogs.js";
import { allowlist, keyTable } from "./keytable.js";
import { clearMsg, showError, showOk } from "./msg.js";
import { el } from "./num.js";
import { VIEWER_REASON, canWrite } from "./role.js";

const $ = (id) => document.getElementById(id);

export class AccountKeys {
  /** `write(method, path, body)`: an admin write (admin.js refreshes the audit log after it). */
  constructor(write) {
    this.write = write;
    this.account = null;
    this.keys = [];
    $("acct-keys-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("ak-account").value.trim();
      if (!/^\d+$/.test(id)) {
        showError($("acct-keys-msg"), { message: "Form: the account id is a number" });
        return;
      }
      this.show(Number(id));
    });
    $("ak-create-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create();
    });
  }

  clear() {
    $("ak-create-form").classList.add("hidden");
    this.account = null;
    this.keys = [];
    $("acct-keys-list").replaceChildren();
    clearMsg($("acct-keys-msg"));
  }

  async show(id) {
    clearMsg($("acct-keys-msg"));
    try {
      this.keys = await admin("GET", `/api/v1/admin/accounts/${id}/keys`, null);
      this.account = id;
    } catch (e) {
      this.clear();
      showError($("acct-keys-msg"), e);
      return;
    }
    this.render();
  }

  render() {
    if (this.account == null) return;
    $("ak-create-form").classList.remove("hidden");
    $("ak-create-account").textContent = String(this.account);
    const write = canWrite();
    $("acct-keys-list").replaceChildren(
      el("p", { class: "muted small" }, `Account ${this.account}: ${this.keys.length} live key(s)`),
      keyTable(this.keys, { current: null, canRevoke: write, lockedReason: VIEWER_REASON, onRevoke: (k) => this.revoke(k) }),
    );
  }

  async create() {
    const id = this.account;
    const msg = $("acct-keys-msg");
    const label = $("ak-label").value.trim();
    const days = $("ak-days").value.trim();
    if (label.length < 1 || label.length > 64) {
      showError(msg, { message: "Form: the label is 1 to 64 characters" });
      return;
    }
    if (days && !(Number(days) > 0)) {
      showError(msg, { message: "Form: the expiry in days is a positive number (empty: never)" });
      return;
    }
    const body = { label, permissions: $("ak-perms").value.split(","), ip_allowlist: allowlist($("ak-ips").value) };
    if (days) body.expires_at = Math.round(serverNow() + Number(days) * 86400e3);
    let k;
    try {
      k = await this.write("POST", `/api/v1/admin/accounts/${id}/keys`, body);
    } catch (e) {
      showError(msg, e);
      return;
    }
    $("ak-create-form").reset();
    await this.show(id);
    showOk(msg, `Key ${k.key_id} "${k.label}" of account ${id} created (${k.permissions.join(" + ")})`);
    await showSecret({
      title: `API key ${k.key_id} of account ${id} created`,
      facts: [
        ["Label", k.label],
        ["Permissions", k.permissions.join(" + ")],
        ["API key", k.api_key],
      ],
      label: "API secret",
      secret: k.api_secret,
    });
  }

  async revoke(k) {
    const id = this.account;
    const yes = await confirmAction({
      title: `Revoke key ${k.key_id} "${k.label}" of account ${id}?`,
      text: "Requests signed with this key are refused from now on. This cannot be undone.",
      ok: "Revoke",
    });
    if (!yes) return;
    try {
      await this.write("DELETE", `/api/v1/admin/accounts/${id}/keys/${k.key_id}`, null);
      showOk($("acct-keys-msg"), `Key ${k.key_id} of account ${id} revoked`);
    } catch (e) {
      showError($("acct-keys-msg"), e);
      return;
    }
    const msg = $("acct-keys-msg").textContent;
    await this.show(id);
    showOk($("acct-keys-msg"), msg);
  }
}
