// Admin: users (add, role, camera grants, unmasked, password, disable, delete) and the audit log
// (filter by user, action and time, page back, verify, export).
"use strict";
(async () => {
  await SW.start("admin.html");
  const main = document.getElementById("main");
  const ROLES = ["viewer", "operator", "admin"];
  const users = el("table", { id: "users" });
  const audit = el("table", { id: "audit" });
  const verdict = el("span", { id: "verdict" });
  const error = el("div", { class: "error", id: "user-error" });
  const done = el("div", { class: "ok-message", id: "user-message" });
  const form = el("form", { class: "row", id: "add-user" },
    el("input", { name: "name", placeholder: "user name", required: true }),
    el("input", { name: "password", type: "password", placeholder: "password (10+)", required: true }),
    el("select", { name: "role" }, ...ROLES.map((r) => el("option", {}, r))),
    el("input", { name: "cameras", placeholder: "cameras (comma list; empty = all)" }),
    el("label", {}, el("input", { name: "unmasked", type: "checkbox" }), " unmasked"),
    el("button", { class: "primary" }, "Add user"));

  // the audit filters: user, action, a time range; pages go back with before_id
  const AUDIT_PAGE = 50;
  const filterUser = el("input", { id: "audit-user", placeholder: "user", size: 12 });
  const filterAction = el("input", { id: "audit-action", placeholder: "action", size: 12, list: "audit-actions" });
  const actions = el("datalist", { id: "audit-actions" }, ...["search", "track_view", "clip_view", "export", "config_change",
    "user_change", "event_state", "login", "login_failed", "logout"].map((a) => el("option", { value: a })));
  const since = el("input", { id: "audit-since", type: "datetime-local", "aria-label": "from" });
  const until = el("input", { id: "audit-until", type: "datetime-local", "aria-label": "until" });
  const filters = el("form", { class: "row", id: "audit-filters" }, filterUser, filterAction, actions,
    el("label", {}, "from ", since), el("label", {}, "until ", until),
    el("button", { type: "submit" }, "Filter"), el("button", { type: "reset", id: "audit-clear" }, "Clear"));
  const newer = el("button", { id: "audit-newest", type: "button" }, "Newest");
  const older = el("button", { id: "audit-older", type: "button" }, "Older");
  const auditError = el("div", { class: "error", id: "audit-error" });
  const pageNote = el("span", { class: "mute", id: "audit-page" });
  let before = null;  // the smallest id on screen, for the next page back

  main.append(el("h1", {}, "Users"), el("div", { class: "scroll" }, users), form, error, done,
    el("h2", {}, "Audit log"),
    el("div", { class: "row" }, el("button", { id: "verify" }, "Verify chain"), verdict,
      el("a", { href: "/api/audit/export?format=jsonl" }, "export JSONL"),
      el("a", { href: "/api/audit/export?format=csv" }, "export CSV")),
    filters, auditError, el("div", { class: "scroll" }, audit), el("div", { class: "row" }, newer, older, pageNote));

  // One change to one user; the answer (or the server's refusal) is said under the table.
  async function change(u, what, method, body = undefined, suffix = "") {
    error.textContent = ""; done.textContent = "";
    try {
      await SW.api(`/api/users/${u.id}${suffix}`, { method, body });
      done.textContent = `${u.name}: ${what}.`;
    } catch (e) { error.textContent = `${u.name}: ${e.message}`; }
    await loadUsers(); await loadAudit(true);
  }
  const cameraList = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  function userRow(u) {
    const self = u.id === SW.user.id;  // no demoting, disabling or deleting yourself
    const role = el("select", { class: "role", "aria-label": `role of ${u.name}`, disabled: self },
      ...ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
    role.onchange = () => change(u, `role is now ${role.value}`, "PATCH", { role: role.value });
    const cams = el("input", { class: "cameras", size: 14, value: (u.cameras || []).join(", "), placeholder: "all",
      "aria-label": `cameras of ${u.name}` });
    const grant = el("button", { class: "grant", onclick: () => {
      const list = cameraList(cams.value);
      change(u, list.length ? `cameras ${list.join(", ")}` : "all cameras",
        "PATCH", list.length ? { cameras: list } : { all_cameras: true });
    } }, "Set");
    const unmasked = u.role === "admin" ? "yes (admin)" : el("input", { type: "checkbox", class: "unmasked",
      checked: u.unmasked, "aria-label": `${u.name} sees people unmasked`,
      onchange: (event) => change(u, event.target.checked ? "sees people unmasked" : "sees people pixelated",
        "PATCH", { unmasked: event.target.checked }) });
    const password = el("input", { class: "password", type: "password", size: 12, placeholder: "new password",
      autocomplete: "new-password", "aria-label": `new password for ${u.name}` });
    const reset = el("button", { class: "reset", onclick: () => change(u, "password set", "POST",
      { password: password.value }, "/password") }, "Set password");
    const remove = el("button", { class: "delete" }, "Delete");
    remove.onclick = () => {  // a second click confirms
      if (remove.dataset.armed) change(u, "deleted", "DELETE");
      else { remove.dataset.armed = "1"; remove.textContent = `Really delete ${u.name}?`; remove.classList.add("danger"); }
    };
    const toggle = el("button", { class: "disable", onclick: () => change(u, u.disabled ? "enabled" : "disabled",
      "PATCH", { disabled: !u.disabled }) }, u.disabled ? "enable" : "disable");
    return el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, role),
      el("td", {}, el("div", { class: "row" }, cams, grant)), el("td", {}, unmasked),
      el("td", {}, u.disabled ? "disabled" : "active"),
      el("td", {}, el("div", { class: "row" }, password, reset)),
      el("td", {}, self ? el("span", { class: "mute" }, "you") : el("div", { class: "row" }, toggle, remove)));
  }

  async function loadUsers() {
    const rows = await SW.api("/api/users");
    users.replaceChildren(el("tr", {}, ...["name", "role", "cameras", "unmasked", "state", "password", ""].map((h) => el("th", {}, h))),
      ...rows.map(userRow));
  }

  function auditQuery() {
    const params = new URLSearchParams({ limit: AUDIT_PAGE });
    if (filterUser.value.trim()) params.set("user", filterUser.value.trim());
    if (filterAction.value.trim()) params.set("action", filterAction.value.trim());
    if (since.value) params.set("since", new Date(since.value).getTime() / 1000);
    if (until.value) params.set("until", new Date(until.value).getTime() / 1000);
    if (before !== null) params.set("before_id", before);
    return "/api/audit?" + params;
  }

  async function loadAudit(fromNewest) {
    if (fromNewest) before = null;
    auditError.textContent = "";
    let rows;
    try { rows = await SW.api(auditQuery()); }
    catch (e) { auditError.textContent = e.message; audit.replaceChildren(); return; }
    audit.replaceChildren(el("tr", {}, ...["time", "user", "action", "target", "detail", "hash"].map((h) => el("th", {}, h))),
      ...rows.map((r) => el("tr", { "data-id": r.id }, el("td", {}, SW.time(r.ts)), el("td", {}, r.user), el("td", {}, r.action),
        el("td", {}, r.target), el("td", { class: "mute" }, JSON.stringify(r.detail)), el("td", { class: "mute" }, r.hash.slice(0, 12)))));
    if (!rows.length) audit.append(el("tr", {}, el("td", { colspan: 6, class: "mute" }, "No rows match.")));
    older.disabled = rows.length < AUDIT_PAGE;
    newer.disabled = before === null;
    pageNote.textContent = rows.length ? `rows ${rows[rows.length - 1].id}–${rows[0].id}` : "";
    if (rows.length) older.dataset.next = rows[rows.length - 1].id;
  }

  form.onsubmit = async (event) => {
    event.preventDefault(); error.textContent = ""; done.textContent = "";
    const data = new FormData(form);
    const cams = cameraList(data.get("cameras"));
    try {
      await SW.api("/api/users", { method: "POST", body: { name: data.get("name"), password: data.get("password"),
        role: data.get("role"), cameras: cams.length ? cams : null, unmasked: data.get("unmasked") === "on" } });
      form.reset(); loadUsers(); loadAudit(true);
    } catch (e) { error.textContent = e.message; }
  };
  filters.onsubmit = (event) => { event.preventDefault(); loadAudit(true); };
  filters.onreset = () => setTimeout(() => loadAudit(true));  // after the fields are cleared
  older.onclick = () => { before = Number(older.dataset.next); loadAudit(false); };
  newer.onclick = () => loadAudit(true);
  document.getElementById("verify").onclick = async () => {
    const v = await SW.api("/api/audit/verify");
    verdict.textContent = v.ok ? `intact: ${v.rows} rows, head ${v.head.slice(0, 12)}` : `BROKEN at row ${v.first_bad}: ${v.reason}`;
    verdict.className = v.ok ? "badge ok" : "badge fault";
  };
  await loadUsers(); await loadAudit(true);
})();
