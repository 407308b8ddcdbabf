// A table of API keys (the API's KeyDto list): label with the primary and "this terminal"
// markers, the key, permissions, IP allow-list, expiry, creation, last use and a Revoke
// button. Used by the trader's own keys (keys.js) and the operator's per-account keys
// (acctkeys.js).

import { serverNow } from "./api.js";
import { el, stamp } from "./num.js";

const PERMS = ["read", "trade", "withdraw"];

function permTags(perms) {
  const sorted = [...perms].sort((a, b) => PERMS.indexOf(a) - PERMS.indexOf(b));
  return el("span", { class: "perms" }, ...sorted.map((p) => el("span", { class: "tag perm-" + p }, p)));
}

function expiry(ms) {
  if (ms == null) return el("span", { class: "muted" }, "never");
  const past = Number(ms) <= serverNow();
  return el("span", { class: past ? "down" : "" }, stamp(ms) + (past ? " (expired)" : ""));
}

/** An IP allow-list typed as "127.0.0.1, 10.0.0.0/8" (commas or spaces) as the API takes it. */
export function allowlist(text) {
  return text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * keys: [KeyDto]; opts: { current: api_key this page signs with (or null), canRevoke: bool,
 * lockedReason: title of a disabled Revoke, onRevoke(key) }.
 */
export function keyTable(keys, opts) {
  if (!keys.length) return el("p", { class: "empty" }, "No live keys.");
  const head = ["Label", "API key", "Permissions", "IP allow-list", "Expires", "Created", "Last used", ""];
  const rows = keys.map((k) => {
    const mine = opts.current && k.api_key === opts.current;
    return el(
      "tr",
      { dataset: { keyId: String(k.key_id), apiKey: k.api_key }, class: mine ? "current" : "" },
      el(
        "td",
        { class: "key-label" },
        el("span", { class: "label-text" }, k.label),
        k.primary ? el("span", { class: "tag primary", title: "The account's first key, made with the account" }, "primary") : null,
        mine ? el("span", { class: "tag mine", title: "This terminal is signed in with this key" }, "this terminal") : null,
      ),
      el("td", { class: "api-key", title: k.api_key }, k.api_key),
      el("td", {}, permTags(k.permissions)),
      el("td", { class: "ips" }, k.ip_allowlist && k.ip_allowlist.length ? k.ip_allowlist.join(", ") : el("span", { class: "muted" }, "any address")),
      el("td", { class: "expires" }, expiry(k.expires_at)),
      el("td", {}, k.created_at ? stamp(k.created_at) : el("span", { class: "muted", title: "made before keys were records" }, "—")),
      el("td", { class: "last-used" }, k.last_used == null ? el("span", { class: "muted" }, "never") : stamp(k.last_used)),
      el(
        "td",
        { class: "actions-cell" },
        el(
          "button",
          {
            type: "button",
            class: "btn small ghost revoke",
            dataset: { action: "revoke" },
            disabled: !opts.canRevoke,
            title: opts.canRevoke ? `Revoke key ${k.key_id}` : opts.lockedReason,
            onclick: () => opts.onRevoke(k),
          },
          "Revoke",
        ),
      ),
    );
  });
  return el(
    "table",
    { class: "grid-table keys-table" },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows),
  );
}
