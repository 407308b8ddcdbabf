// The operator view's admin tokens (GET/POST /api/v1/admin/tokens, DELETE
// /api/v1/admin/tokens/{token_id}): the list, a form to create a token with a name and a role
// (the token is shown once, with Copy) and Revoke with a confirmation. Writes are for the
// operator role only.

import { admin } from "./api.js";
import { confirmAction, showSecret } from "./dialogs.js";
import { clearMsg, showError, showOk } from "./msg.js";
import { el, stamp } from "./num.js";
import { VIEWER_REASON, canWrite, me } from "./role.js";

const $ = (id) => document.getElementById(id);

export class TokensPanel {
  /** `write(method, path, body)`: an admin write (admin.js refreshes the audit log after it). */
  constructor(write) {
    this.write = write;
    this.tokens = [];
    $("token-create-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create();
    });
  }

  clear() {
    this.tokens = [];
    $("tokens-list").replaceChildren(el("p", { class: "empty" }, "Enter an admin token to list the tokens."));
    clearMsg($("tokens-msg"));
  }

  async load() {
    try {
      this.tokens = await admin("GET", "/api/v1/admin/tokens", null);
    } catch (e) {
      showError($("tokens-msg"), e);
      return;
    }
    this.render();
  }

  render() {
    if (!this.tokens.length) {
      $("tokens-list").replaceChildren(el("p", { class: "empty" }, "No admin token besides the bootstrap token."));
      return;
    }
    const write = canWrite();
    const head = ["Id", "Name", "Role", "Created", "Created by", "Last used", ""];
    const rows = this.tokens.map((t) =>
      el(
        "tr",
        { dataset: { tokenId: String(t.token_id) }, class: t.token_id === me.token_id ? "current" : "" },
        el("td", {}, String(t.token_id)),
        el("td", { class: "token-name" }, t.name, t.token_id === me.token_id ? el("span", { class: "tag mine" }, "this page") : null),
        el("td", {}, el("span", { class: "tag role-" + t.role }, t.role)),
        el("td", {}, stamp(t.created_at)),
        el("td", {}, t.created_by),
        el("td", {}, t.last_used == null ? el("span", { class: "muted" }, "never") : stamp(t.last_used)),
        el(
          "td",
          { class: "actions-cell" },
          el(
            "button",
            {
              type: "button",
              class: "btn small ghost revoke",
              dataset: { action: "revoke" },
              disabled: !write,
              title: write ? `Revoke token ${t.token_id}` : VIEWER_REASON,
              onclick: () => this.revoke(t),
            },
            "Revoke",
          ),
        ),
      ),
    );
    $("tokens-list").replaceChildren(
      el("table", { class: "grid-table tokens-table" }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)),
    );
  }

  async create() {
    const msg = $("tokens-msg");
    const name = $("tk-name").value.trim();
    if (name.length < 1 || name.length > 64) {
      showError(msg, { message: "Form: the name is 1 to 64 characters" });
      return;
    }
    const role = $("tk-role").value;
    try {
      const t = await this.write("POST", "/api/v1/admin/tokens", { name, role });
      showOk(msg, `Token ${t.token_id} "${t.name}" (${t.role}) created`);
      $("tk-name").value = "";
      const { token, ...row } = t;
      this.tokens = [...this.tokens.filter((x) => x.token_id !== t.token_id), row];
      this.render();
      await showSecret({
        title: `Admin token ${t.token_id} created`,
        facts: [
          ["Name", t.name],
          ["Role", t.role],
        ],
        label: "Bearer token",
        secret: token,
      });
      this.load();
    } catch (e) {
      showError(msg, e);
    }
  }

  async revoke(t) {
    const own = t.token_id === me.token_id;
    const yes = await confirmAction({
      title: `Revoke admin token ${t.token_id} "${t.name}"?`,
      text: own
        ? "This page uses this token: the admin routes refuse it from now on, here too."
        : "The admin routes refuse this token from now on. This cannot be undone.",
      ok: "Revoke",
    });
    if (!yes) return;
    try {
      await this.write("DELETE", `/api/v1/admin/tokens/${t.token_id}`, null);
      showOk($("tokens-msg"), `Token ${t.token_id} "${t.name}" revoked`);
    } catch (e) {
      showError($("tokens-msg"), e);
    }
    await this.load();
  }
}
