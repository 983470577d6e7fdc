// Rules of the camera on the Zones page: list them, and (editors) add, edit, delete and try them on
// the stored past with a form. zones.js calls SWRules.render(state) after each (re)draw.
"use strict";
const SWRules = (() => {
  const TYPES = {  // the form's own fields of each type, as the config's rule models name them
    intrusion: { place: "zone", fields: [] },
    loitering: { place: "zone", fields: [["time_s", "seconds in the zone", 60]] },
    crowd: { place: "zone", fields: [["count", "objects", 5], ["time_s", "held for seconds", 2]] },
    line_crossing: { place: "line", fields: [], direction: "direction" },
    wrong_way: { place: "line", fields: [], direction: "allowed" },
  };
  const CLASSES = ["person", "bicycle", "car", "motorcycle", "bus", "truck"];
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const panel = el("section", { id: "rules" });
  let state = null, editing = null;  // editing: index in state.geometry.rules, -1 for a new rule
  let formNode = null;  // kept across redraws of the picture, so typed values stay

  function describe(r) {
    const place = r.zone ? `zone ${r.zone}` : r.line ? `line ${r.line}` : "anywhere";
    const extra = ["time_s", "count", "direction", "allowed"].filter((k) => r[k] !== undefined).map((k) => `${k} ${r[k]}`);
    const when = r.schedule ? ` · ${r.schedule.windows.map((w) => `${w.start}-${w.end}`).join(", ")}` : "";
    return `${r.name}: ${r.type} on ${place}${extra.length ? ", " + extra.join(", ") : ""}${when}`;
  }

  function render(next) {
    state = next;
    const g = state.geometry;
    const rows = g.rules.map((r, i) => el("li", { class: "rule" }, el("span", { class: "pill" }, describe(r)), " ",
      state.editable && TYPES[r.type] ? el("button", { onclick: () => open(i) }, "edit") : null, " ",
      state.editable ? el("button", { onclick: () => remove(i) }, "delete") : null));
    panel.replaceChildren(...[el("h2", {}, "Rules"),
      rows.length ? el("ul", { class: "shapes", id: "rule-list" }, ...rows) : el("p", { class: "mute" }, "No rules yet."),
      state.editable ? el("button", { id: "add-rule", onclick: () => open(-1) }, "Add rule") : null,
      state.editable && editing !== null ? (formNode ||= form()) : null].filter((n) => n));
  }

  function open(index) { editing = index; formNode = null; render(state); }
  function close() { editing = null; formNode = null; }

  async function remove(index) {
    const rules = state.geometry.rules.filter((_, i) => i !== index);
    await put(rules, null);
  }

  function input(field, attrs) {
    return el("label", { class: "field" }, `${attrs.label} `, el("input", { "data-field": field, ...attrs, label: null }),
      el("span", { class: "error field-error", "data-error": field }));
  }

  function form() {
    const g = state.geometry;
    const rule = editing >= 0 ? g.rules[editing] : { type: "intrusion", classes: ["person"], cooldown_s: 30 };
    const type = el("select", { "data-field": "type", id: "rule-type" },
      ...Object.keys(TYPES).map((t) => el("option", { value: t, selected: t === rule.type ? "" : null }, t)));
    const body = el("div", { id: "rule-fields" });
    const result = el("div", { id: "rule-test" });
    const node = el("form", { id: "rule-form", class: "rule-form", onsubmit: (e) => { e.preventDefault(); save(node); } },
      el("h3", {}, editing >= 0 ? `Edit rule ${rule.name}` : "New rule"),
      el("label", { class: "field" }, "Type ", type), body,
      el("div", { class: "row" }, el("button", { class: "primary", type: "submit", id: "rule-save" }, "Save rule"),
        el("button", { type: "button", onclick: () => { close(); render(state); } }, "Cancel"),
        " over the last ", el("select", { id: "rule-since" }, ...["1d", "7d", "30d"].map((s) => el("option", { value: s, selected: s === "7d" ? "" : null }, s))),
        el("button", { type: "button", id: "rule-try", onclick: () => tryPast(node, result) }, "Try on the past")),
      el("div", { class: "error", "data-error": "" }), result);
    const fill = () => {
      const spec = TYPES[type.value];
      const places = (spec.place === "zone" ? g.zones : g.lines).map((p) => p.name);
      const chosen = rule[spec.place] && places.includes(rule[spec.place]) ? rule[spec.place] : places[0];
      const parts = [
        input("name", { label: "Name", value: rule.type === type.value ? rule.name || "" : "", placeholder: `${type.value}-${chosen || ""}` }),
        el("label", { class: "field" }, `${spec.place === "zone" ? "Zone" : "Line"} `,
          el("select", { "data-field": spec.place }, ...places.map((p) => el("option", { value: p, selected: p === chosen ? "" : null }, p))),
          el("span", { class: "error field-error", "data-error": spec.place }),
          places.length ? null : el("span", { class: "mute" }, ` draw a ${spec.place} first`)),
        el("fieldset", { class: "row" }, el("legend", {}, "Classes"), ...CLASSES.map((c) => el("label", {},
          el("input", { type: "checkbox", "data-class": c, checked: (rule.classes || ["person"]).includes(c) ? "" : null }), ` ${c} `)),
          el("span", { class: "error field-error", "data-error": "classes" })),
        ...spec.fields.map(([f, label, value]) => input(f, { label, type: "number", step: "any", value: rule[f] ?? value })),
      ];
      if (spec.direction) {
        const line = g.lines.find((l) => l.name === chosen) || {};
        const names = spec.direction === "direction" ? ["both", line.positive || "positive", line.negative || "negative"]
          : [line.positive || "positive", line.negative || "negative"];
        parts.push(el("label", { class: "field" }, `${spec.direction === "direction" ? "Direction" : "Allowed direction"} `,
          el("select", { "data-field": spec.direction }, ...names.map((d) => el("option", { value: d, selected: d === rule[spec.direction] ? "" : null }, d))),
          el("span", { class: "error field-error", "data-error": spec.direction })));
      }
      const window = (rule.schedule && rule.schedule.windows[0]) || null;
      parts.push(input("cooldown_s", { label: "Cooldown (s)", type: "number", step: "any", min: 0, value: rule.cooldown_s ?? 30 }),
        el("fieldset", {}, el("legend", {}, "Schedule (empty: always armed)"),
          ...DAYS.map((d) => el("label", {}, el("input", { type: "checkbox", "data-day": d,
            checked: window && (window.days || DAYS).includes(d) ? "" : null }), ` ${d} `)),
          input("start", { label: "from", placeholder: "22:00", value: window ? window.start : "", size: 5 }),
          input("end", { label: "to", placeholder: "06:00", value: window ? window.end : "", size: 5 })));
      body.replaceChildren(...parts);
    };
    type.onchange = fill;
    fill();
    return node;
  }

  function collect(node) {  // the form as the config's rule: only what was given, so defaults apply
    const value = (f) => { const x = node.querySelector(`[data-field="${f}"]`); return x ? x.value.trim() : ""; };
    const type = value("type"), spec = TYPES[type];
    const rule = { type, [spec.place]: value(spec.place) };
    if (value("name")) rule.name = value("name");
    rule.classes = [...node.querySelectorAll("[data-class]")].filter((c) => c.checked).map((c) => c.dataset.class);
    for (const [f] of spec.fields) if (value(f) !== "") rule[f] = Number(value(f));
    if (spec.direction) rule[spec.direction] = value(spec.direction);
    if (value("cooldown_s") !== "") rule.cooldown_s = Number(value("cooldown_s"));
    const days = [...node.querySelectorAll("[data-day]")].filter((c) => c.checked).map((c) => c.dataset.day);
    if (value("start") || value("end") || days.length) {
      rule.schedule = { windows: [{ start: value("start"), end: value("end"), ...(days.length ? { days } : {}) }] };
    }
    return rule;
  }

  function showError(node, e) {  // next to the field the server names (its last part), else under the form
    node.querySelectorAll("[data-error]").forEach((s) => { s.textContent = ""; });
    const parts = String(e.field || "").split(".");
    const spot = parts.reverse().filter((p) => p).map((p) => node.querySelector(`[data-error="${p}"]`)).find((s) => s) ||
      node.querySelector('[data-error=""]');
    spot.textContent = e.message;
  }

  function withRule(node) {
    const rules = state.geometry.rules.slice();
    const rule = collect(node);
    if (editing >= 0) rules[editing] = rule; else rules.push(rule);
    return { rules, rule };
  }

  async function put(rules, node) {
    const g = state.geometry;
    try {
      await SW.api(`/api/config/cameras/${encodeURIComponent(state.camera)}`, { method: "PUT",
        body: { zones: g.zones, lines: g.lines, rules } });
      close();
      await state.reload();
    } catch (e) { if (node) showError(node, e); else state.fail(e.message); }
  }

  async function save(node) { await put(withRule(node).rules, node); }

  async function tryPast(node, out) {
    const g = state.geometry;
    const { rules, rule } = withRule(node);
    const name = rule.name || `${rule.type}-${rule.zone || rule.line}`;
    out.replaceChildren(el("p", { class: "mute" }, "replaying the stored tracks …"));
    try {
      const r = await SW.api(`/api/config/cameras/${encodeURIComponent(state.camera)}/rules/test`, { method: "POST",
        body: { zones: g.zones, lines: g.lines, rules, rule: name, since: node.querySelector("#rule-since").value } });
      showError(node, { message: "", field: "" });
      out.replaceChildren(el("p", { id: "rule-test-count" },
        `${r.count} event(s) would have been raised (${r.replayed} of ${r.tracks} tracks replayed in ${r.seconds.toFixed(2)} s).`),
        el("ul", { class: "hits" }, ...r.events.slice(0, 50).map((e) => el("li", {},
          e.thumbnail_urls.length ? el("img", { src: e.thumbnail_urls[0], alt: `track ${e.track_ids[0]}`, height: 64 }) : null, " ",
          `${new Date(e.start * 1000).toLocaleString()} · ${e.end !== null ? (e.end - e.start).toFixed(1) + " s" : "open"} · tracks ${e.track_ids.join(", ") || "-"}`))));
    } catch (e) { out.replaceChildren(); showError(node, e); }
  }

  return { panel, render };
})();
