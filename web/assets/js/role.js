// Who the operator view's admin token is (GET /api/v1/admin/whoami): its name and role. A
// "viewer" may only read (GET routes); every control marked `data-write` in admin.html, and
// the Revoke buttons the panels draw, are disabled for it.

import { admin } from "./api.js";

const $ = (id) => document.getElementById(id);

export const me = { name: null, role: null, token_id: null };

export function canWrite() {
  return me.role === "operator";
}

/** Why a write control is disabled, for its title. */
export const VIEWER_REASON = "This admin token has the viewer role: GET routes only";

export async function loadWhoami() {
  const w = await admin("GET", "/api/v1/admin/whoami", null);
  Object.assign(me, { name: w.name, role: w.role, token_id: w.token_id ?? null });
  return me;
}

export function forgetWhoami() {
  Object.assign(me, { name: null, role: null, token_id: null });
}

/** Show who we are and enable or disable the write controls for the role. */
export function applyRole() {
  const who = $("whoami");
  who.replaceChildren();
  if (me.role) {
    const name = document.createElement("b");
    name.textContent = me.name;
    const role = document.createElement("span");
    role.className = "tag role-" + me.role;
    role.id = "whoami-role";
    role.textContent = me.role;
    who.append(name, " ", role);
    who.title = me.token_id == null ? "the bootstrap token" : `admin token ${me.token_id}`;
  }
  const write = canWrite();
  for (const e of document.querySelectorAll("[data-write]")) {
    e.disabled = !write;
    if (!write) e.title = VIEWER_REASON;
    else if (e.title === VIEWER_REASON) e.removeAttribute("title");
  }
  $("viewer-note").classList.toggle("hidden", !(me.role && !write));
}
