// Admin: users (add, role, cameras, unmasked, disable) and the audit log (verify, export).
"use strict";
(async () => {
  await SW.start("admin.html");
  const main = document.getElementById("main");
  const users = el("table", { id: "users" });
  const audit = el("table", { id: "audit" });
  const verdict = el("span", { id: "verdict" });
  const error = el("div", { class: "error" });
  const form = el("form", { class: "row", id: "add-user" },
    el("input", { name: "name", placeholder: "user name", required: true }),
    el("input", { name: "password", type: "password", placeholder: "password (10+)", required: true }),
    el("select", { name: "role" }, ...["viewer", "operator", "admin"].map((r) => el("option", {}, r))),
    el("input", { name: "cameras", placeholder: "cameras (comma list; empty = all)" }),
    el("label", {}, el("input", { name: "unmasked", type: "checkbox" }), " unmasked"),
    el("button", { class: "primary" }, "Add user"));
  main.append(el("h1", {}, "Users"), users, form, error,
    el("h2", {}, "Audit log"),
    el("div", { class: "row" }, el("button", { id: "verify" }, "Verify chain"), verdict,
      el("a", { href: "/api/audit/export?format=jsonl" }, "export JSONL"),
      el("a", { href: "/api/audit/export?format=csv" }, "export CSV")), audit);

  async function loadUsers() {
    const rows = await SW.api("/api/users");
    users.replaceChildren(el("tr", {}, ...["name", "role", "cameras", "unmasked", "state", ""].map((h) => el("th", {}, h))),
      ...rows.map((u) => el("tr", {}, el("td", {}, u.name), el("td", {}, u.role),
        el("td", {}, u.cameras ? u.cameras.join(", ") : "all"), el("td", {}, u.role === "admin" ? "yes (admin)" : u.unmasked ? "yes" : "no"),
        el("td", {}, u.disabled ? "disabled" : "active"),
        el("td", {}, u.id === SW.user.id ? "" : el("button", { onclick: async () => {
          await SW.api(`/api/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled } }); loadUsers(); } },
          u.disabled ? "enable" : "disable")))));
  }
  async function loadAudit() {
    const rows = await SW.api("/api/audit?limit=100");
    audit.replaceChildren(el("tr", {}, ...["time", "user", "action", "target", "detail", "hash"].map((h) => el("th", {}, h))),
      ...rows.map((r) => el("tr", {}, el("td", {}, SW.time(r.ts)), el("td", {}, r.user), el("td", {}, r.action),
        el("td", {}, r.target), el("td", { class: "mute" }, JSON.stringify(r.detail)), el("td", { class: "mute" }, r.hash.slice(0, 12)))));
  }
  form.onsubmit = async (event) => {
    event.preventDefault(); error.textContent = "";
    const data = new FormData(form);
    const cams = data.get("cameras").split(",").map((s) => s.trim()).filter(Boolean);
    try {
      await SW.api("/api/users", { method: "POST", body: { name: data.get("name"), password: data.get("password"),
        role: data.get("role"), cameras: cams.length ? cams : null, unmasked: data.get("unmasked") === "on" } });
      form.reset(); loadUsers(); loadAudit();
    } catch (e) { error.textContent = e.message; }
  };
  document.getElementById("verify").onclick = async () => {
    const v = await SW.api("/api/audit/verify");
    verdict.textContent = v.ok ? `intact: ${v.rows} rows, head ${v.head.slice(0, 12)}` : `BROKEN at row ${v.first_bad}: ${v.reason}`;
    verdict.className = v.ok ? "badge ok" : "badge fault";
  };
  await loadUsers(); await loadAudit();
})();
