// Messages under a form: an API error as "status CODE: message" (as the API sent it), or a
// confirmation.

import { ApiError } from "./api.js";

/** An error in words: the API's status, code and message, else the error's own message. */
export function describe(e) {
  return e instanceof ApiError ? `${e.status ? e.status + " " : ""}${e.code}: ${e.detail}` : String(e.message || e);
}

export function showError(box, e) {
  box.textContent = describe(e);
  box.className = "form-msg err";
}

export function showOk(box, text) {
  box.textContent = text;
  box.className = "form-msg ok";
}

export function clearMsg(box) {
  box.textContent = "";
  box.className = "form-msg";
}
