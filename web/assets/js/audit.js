// The operator view's audit log (GET /api/v1/admin/audit): every admin write, refused ones
// included, newest first, a page at a time. "Older" follows next_before; "Newer" goes back a
// page; "Newest" returns to the first page, which is re-read after each write from this page
// and every 5 s.

import { admin } from "./api.js";
import { clearMsg, showError } from "./msg.js";
import { el, stamp } from "./num.js";

const $ = (id) => document.getElementById(id);

export class AuditLog {
  constructor() {
    this.records = [];
    this.before = null; // the page shown: records with id < before (null: the newest)
    this.newer = []; // the `before` of each newer page, for "Newer"
    this.next = null; // next_before of the page shown
    this.active = false;
    $("audit-older").addEventListener("click", () => {
      if (this.next == null) return;
      this.newer.push(this.before);
      this.show(this.next);
    });
    $("audit-newer").addEventListener("click", () => {
      if (!this.newer.length) return;
      this.show(this.newer.pop());
    });
    $("audit-newest").addEventListener("click", () => {
      this.newer = [];
      this.show(null);
    });
    $("audit-limit").addEventListener("change", () => {
      this.newer = [];
      this.show(null);
    });
    setInterval(() => {
      if (this.active && this.before == null && document.visibilityState === "visible") this.show(null, true);
    }, 5000);
  }

  clear() {
    this.active = false;
    this.records = [];
    this.newer = [];
    this.before = null;
    this.next = null;
    $("audit-list").replaceChildren(el("p", { class: "empty" }, "Enter an admin token to read the audit log."));
    this.renderPager();
    clearMsg($("audit-msg"));
  }

  /** Start (after a token is accepted) at the newest page. */
  load() {
    this.active = true;
    this.newer = [];
    return this.show(null);
  }

  /** After a write from this page: its record is at the top of the newest page. */
  changed() {
    if (this.active && this.before == null) this.show(null, true);
  }

  async show(before, quiet) {
    const limit = $("audit-limit").value;
    const q = before == null ? `limit=${limit}` : `before=${before}&limit=${limit}`;
    let page;
    try {
      page = await admin("GET", `/api/v1/admin/audit?${q}`, null);
    } catch (e) {
      if (!quiet) showError($("audit-msg"), e);
      return;
    }
    clearMsg($("audit-msg"));
    this.before = before;
    this.records = page.records;
    this.next = page.next_before ?? null;
    this.render();
  }

  renderPager() {
    $("audit-older").disabled = this.next == null;
    $("audit-newer").disabled = !this.newer.length;
    $("audit-newest").disabled = this.before == null && !this.newer.length;
    const r = this.records;
    $("audit-page").textContent = r.length ? `records ${r[0].id} … ${r[r.length - 1].id}${this.before == null ? " (newest)" : ""}` : "";
  }

  render() {
    this.renderPager();
    if (!this.records.length) {
      $("audit-list").replaceChildren(el("p", { class: "empty" }, this.before == null ? "No admin write yet." : "No older record."));
      return;
    }
    const head = ["Time", "Actor", "IP", "Method", "Path", "Body", "Status", "Code"];
    const rows = this.records.map((r) =>
      el(
        "tr",
        { dataset: { auditId: String(r.id) } },
        el("td", { title: `record ${r.id}` }, stamp(r.time)),
        el("td", { class: "actor", title: r.token_id == null ? "bootstrap token" : `token ${r.token_id}` }, r.actor),
        el("td", {}, r.ip),
        el("td", {}, r.method),
        el("td", { class: "path" }, r.path),
        el("td", { class: "body", title: r.body }, r.body),
        el("td", { class: r.status < 400 ? "status up" : "status down" }, String(r.status)),
        el("td", { class: "code" }, r.code == null ? "—" : r.code),
      ),
    );
    $("audit-list").replaceChildren(
      el("table", { class: "grid-table audit-table" }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)),
    );
  }
}
