// Search: type a query (English or Chinese), see what was understood and ignored, click to play.
// Operators and admins can keep a query as a standing search: "Alert me on new matches" adds a
// `search` rule to the cameras they pick (through the camera config API, like the zone editor).
"use strict";
(async () => {
  const listed = SW.api("/api/cameras");  // asked beside the sign-in check, used twice below
  const user = await SW.start("search.html");
  const main = document.getElementById("main");
  const input = el("input", { id: "q", placeholder: "e.g. person in a red top · 穿红色上衣的人", size: 48 });
  const go = el("button", { class: "primary", id: "go", type: "submit" }, "Search");
  // pickers beside the query: they narrow what the text says ("on yard", "yesterday after 6pm")
  const cameraPick = el("select", { id: "search-camera", multiple: true, size: 2, "aria-label": "cameras",
    title: "cameras to search (none picked: all of yours)" });
  const fromPick = el("input", { id: "search-from", type: "datetime-local", "aria-label": "from" });
  const toPick = el("input", { id: "search-to", type: "datetime-local", "aria-label": "to" });
  const form = el("form", { class: "row" }, input, el("label", { class: "check" }, "cameras ", cameraPick),
    el("label", { class: "check" }, "from ", fromPick), el("label", { class: "check" }, "to ", toPick), go);
  const understood = el("div", { class: "understood", id: "understood", hidden: true });
  const player = el("div", { class: "player", id: "player" });
  const results = el("div", { class: "results", id: "results" });
  const more = el("button", { id: "more", type: "button", hidden: true }, "More results");
  const error = el("div", { class: "error", id: "search-error" });
  const mayEdit = user.role !== "viewer";  // viewers never see the alert action
  const alertButton = mayEdit ? el("button", { id: "save-alert", type: "button" }, "Alert me on new matches") : null;
  const alertHint = el("span", { class: "mute", id: "save-alert-hint" });
  const actions = el("div", { class: "row", id: "search-actions", hidden: true }, alertButton, alertHint);
  const setup = el("div", { id: "alert-setup" });
  main.append(el("h1", {}, "Search"), form, error, understood, actions, setup, player, results, more);
  for (const cam of await listed) cameraPick.append(el("option", { value: cam.name }, cam.name));
  cameraPick.size = Math.min(4, Math.max(2, cameraPick.options.length));

  // The pickers as search parameters (times as UTC instants) and in words for the reading shown.
  function picked() {
    const cameras = [...cameraPick.selectedOptions].map((o) => o.value);
    const times = [["start", fromPick], ["end", toPick]].filter(([, i]) => i.value)
      .map(([name, i]) => [name, new Date(i.value)]);
    const params = cameras.map((c) => "&cameras=" + encodeURIComponent(c)).join("") +
      times.map(([name, d]) => `&${name}=` + encodeURIComponent(d.toISOString())).join("");
    const words = [cameras.length ? `cameras ${cameras.join(", ")}` : null,
      ...times.map(([name, d]) => `${name === "start" ? "from" : "to"} ${d.toLocaleString()}`)].filter(Boolean);
    return { params, words: words.join(" · ") };
  }

  const PAGE = 24;  // results a page; "More results" asks the API for the next page
  let last = null;  // { query, answer } of the search on screen
  let shown = null;  // { url, count } of the results on screen, for the next page

  // Which configured cameras this user may change rules on, and whether the server can save them.
  const editing = mayEdit ? (async () => {
    const cameras = (await listed).filter((c) => c.configured).map((c) => c.name);
    if (!cameras.length) return { cameras, writable: false, why: "no camera is configured on this server" };
    const geometry = await SW.api(`/api/config/cameras/${encodeURIComponent(cameras[0])}`);
    return { cameras, writable: geometry.editable,
             why: geometry.editable ? "" : "the server runs without a writable config file" };
  })().catch((e) => ({ cameras: [], writable: false, why: e.message })) : null;

  function describe(objects) {
    return objects.map((o) => {
      const words = [o.vehicle_type || o.class || "any object"];
      for (const [part, colours] of Object.entries(o.colours || {})) words.push(`${part} ${colours.map((c) => (c.shade ? `${c.shade} ` : "") + c.term).join("/")}`);
      for (const g of o.garments || []) if (["hood", "hat", "cap", "helmet"].includes(g)) words.push(`wearing a ${g}`);
      for (const c of o.carried || []) words.push(`carrying ${c.item}`);
      if (o.posture) words.push(o.posture);
      words.push(...Object.values(o.motion || {}).filter(Boolean));
      return words.join(", ");
    }).join("; ") || "any object";
  }

  function play(hit) {
    SW.playClip(player, hit.clip_url, { videoId: "clip", title:
      el("div", { class: "row" }, el("strong", {}, `track ${hit.track_id} on ${hit.camera}`),
        el("span", { class: "mute" }, SW.time(hit.start_ts)), SWSuppress.button(hit)) });
  }

  // A rule name from the query: "a white van in zone gate" -> "search-white-van-in-zone-gate";
  // text with other scripts (Chinese) gets a short hash of the query so that names stay distinct.
  function ruleName(query) {
    const words = (query.toLowerCase().match(/[a-z0-9]+/g) || []).filter((w) => !["a", "an", "the"].includes(w));
    let slug = words.join("-").slice(0, 48).replace(/-+$/, "");
    if (!slug || /[^\x00-\x7f]/.test(query)) {
      let hash = 0x811c9dc5;  // FNV-1a over the UTF-16 code units
      for (let i = 0; i < query.length; i++) hash = Math.imul(hash ^ query.charCodeAt(i), 0x01000193) >>> 0;
      slug = (slug ? slug + "-" : "") + hash.toString(16).padStart(8, "0");
    }
    return "search-" + slug;
  }

  async function showActions(query, answer) {
    last = { query, answer };
    setup.replaceChildren();
    if (!alertButton) return;
    actions.hidden = false;
    alertButton.disabled = true;
    alertHint.textContent = "";
    const can = await editing;
    if (last.query !== query) return;  // another search started meanwhile
    const usable = answer.understood && answer.understood.usable !== false && Object.keys(answer.understood).length;
    if (!can.writable) alertHint.textContent = `Alerts cannot be saved: ${can.why}.`;
    else if (!usable) alertHint.textContent = "Name an object, colour, zone or time to alert on this query.";
    else {
      alertButton.disabled = false;
      alertHint.textContent = "New tracks that match raise an alert.";
    }
  }

  function openSetup() {
    const { query, answer } = last;
    editing.then((can) => {
      const named = (answer.understood.cameras || []).filter((c) => can.cameras.includes(c));
      const chosen = new Set(named.length ? named : can.cameras);
      const boxes = can.cameras.map((name) => el("input", { type: "checkbox", name: "alert-camera", value: name,
        id: `alert-camera-${name}`, checked: chosen.has(name) }));
      const score = el("input", { id: "alert-score", type: "number", min: "0.05", max: "1", step: "0.05", value: "0.5" });
      const scoreNote = el("span", { class: "mute", id: "alert-score-note" });
      const name = el("input", { id: "alert-name", size: 40, maxlength: 64, value: ruleName(query) });
      const save = el("button", { class: "primary", id: "alert-save", type: "submit" }, "Save alert");
      const cancel = el("button", { id: "alert-cancel", type: "button", onclick: () => setup.replaceChildren() }, "Cancel");
      const message = el("div", { class: "ok-message", id: "alert-message" });
      const problem = el("div", { class: "error", id: "alert-error" });
      const countAbove = () => {
        const min = Number(score.value);
        const above = answer.results.filter((hit) => hit.score >= min).length;
        scoreNote.textContent = Number.isFinite(min) && score.value !== ""
          ? `${above} of the ${answer.results.length} results shown score at least ${min.toFixed(2)}` : "";
      };
      score.oninput = countAbove;
      countAbove();
      const panel = el("form", { class: "panel", id: "alert-form", novalidate: true },
        el("h2", {}, "Alert me on new matches"),
        el("p", { class: "mute" }, "Each new track on the chosen cameras is scored against ",
          el("q", {}, query), " once it is finished and described; a score at or above the minimum raises an " +
          "alert (Alerts page, and webhooks/MQTT where configured). Tracks already recorded do not alert."),
        el("fieldset", { id: "alert-cameras" }, el("legend", {}, "Cameras"),
          ...boxes.map((box) => el("label", { class: "check" }, box, " ", box.value)),
          can.cameras.length ? null : el("span", { class: "mute" }, "no camera you may edit")),
        el("label", { class: "field" }, el("span", {}, "Minimum score (0–1)"), score, scoreNote),
        el("label", { class: "field" }, el("span", {}, "Name"), name),
        el("div", { class: "row" }, save, cancel), message, problem);
      panel.onsubmit = async (event) => {
        event.preventDefault();
        message.textContent = "";
        problem.textContent = "";
        for (const input of [score, name]) input.classList.remove("invalid");
        const cameras = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!cameras.length) { problem.textContent = "Pick at least one camera."; return; }
        const rule = { type: "search", name: name.value.trim(), query };
        if (score.value.trim() !== "") rule.min_score = Number(score.value);
        save.disabled = true;
        message.textContent = "saving …";
        const outcome = await saveRule(rule, cameras);
        save.disabled = false;
        showOutcome(rule, outcome, { message, problem, score, name });
      };
      setup.replaceChildren(panel);
      panel.scrollIntoView({ block: "nearest" });
    });
  }

  // Adds (or, for a search rule of the same name, replaces) the rule on each camera in turn.
  async function saveRule(rule, cameras) {
    const saved = [], replaced = [], failed = [];
    for (const camera of cameras) {
      const path = `/api/config/cameras/${encodeURIComponent(camera)}`;
      try {
        const geometry = await SW.api(path);
        const old = geometry.rules.find((r) => r.name === rule.name && r.type === "search");
        const rules = geometry.rules.filter((r) => r !== old).concat([rule]);
        await SW.api(path, { method: "PUT", body: { zones: geometry.zones, lines: geometry.lines, rules } });
        saved.push(camera);
        if (old) replaced.push(camera);
      } catch (e) {
        failed.push({ camera, error: e });
      }
    }
    return { saved, replaced, failed };
  }

  function showOutcome(rule, { saved, replaced, failed }, { message, problem, score, name }) {
    message.replaceChildren();
    if (saved.length) {
      const min = (rule.min_score ?? 0.5).toFixed(2);
      message.append(`Saved alert “${rule.name}” on ${saved.join(", ")}: new tracks matching `, el("q", {}, rule.query),
        ` with a score of at least ${min} raise an alert on the `, el("a", { href: "alerts.html" }, "Alerts page"),
        ". It applies to the running camera at its next frame.",
        replaced.length ? ` It replaces the earlier alert of that name on ${replaced.join(", ")}.` : "");
    }
    // the same refusal on several cameras is said once
    const byMessage = new Map();
    for (const { camera, error } of failed) {
      const field = error.field ? ` (field ${error.field})` : "";
      const text = error.status === 409 ? error.message : `${error.message}${field}`;
      byMessage.set(text, [...(byMessage.get(text) || []), camera]);
      if (error.field && /min_score$/.test(error.field)) score.classList.add("invalid");
      if (error.field && /\.name$/.test(error.field)) name.classList.add("invalid");
    }
    problem.replaceChildren(...[...byMessage].map(([text, cameras]) =>
      el("div", {}, `Not saved on ${cameras.join(", ")}: ${text}`)));
  }

  if (alertButton) alertButton.onclick = () => { if (last) openSetup(); };

  function hitCard(hit) {
    const card = el("div", { class: "card hit", "data-track": hit.track_id },
      hit.thumbnail_url ? el("img", { src: hit.thumbnail_url, alt: `track ${hit.track_id}` }) : el("div", { class: "mute" }, "no thumbnail"),
      el("div", { class: "body" },
        el("div", {}, el("strong", {}, hit.class_name), ` · ${hit.camera} · score ${hit.score.toFixed(2)}`),
        el("div", {}, SW.time(hit.start_ts)),
        el("div", { class: "reasons" }, hit.reasons.join("; ")),
        SWSuppress.button(hit),
        hit.fragments > 1 ? fragmentList(hit) : null));
    card.onclick = () => play(hit);
    return card;
  }

  // One walk the tracker split into several tracks is one result; its fragments open below it,
  // each playing its own clip.
  function fragmentList(hit) {
    const list = el("div", { class: "fragments", hidden: true }, ...hit.members.map((m) => {
      const item = el("div", { class: "fragment", "data-track": m.track_id },
        m.thumbnail_url ? el("img", { src: m.thumbnail_url, alt: `track ${m.track_id}` }) : el("span", { class: "mute" }, "–"),
        el("span", {}, `${SW.time(m.start_ts)} · track ${m.track_id}` + (m.score === null ? "" : ` · ${m.score.toFixed(2)}`)));
      item.onclick = (event) => { event.stopPropagation(); play({ ...m, camera: hit.camera }); };
      return item;
    }));
    const toggle = el("button", { type: "button", class: "fragments-toggle", "aria-expanded": "false" }, `${hit.fragments} fragments`);
    toggle.onclick = (event) => {
      event.stopPropagation();
      list.hidden = !list.hidden;
      toggle.setAttribute("aria-expanded", String(!list.hidden));
    };
    return el("div", {}, toggle, list);
  }

  // A full page may have more behind it; a short one is the end.
  function showMore(url, count, pageLength) {
    shown = { url, count };
    more.hidden = pageLength < PAGE;
  }

  more.onclick = async () => {
    if (!shown) return;
    more.disabled = true;
    try {
      const answer = await SW.api(`${shown.url}&offset=${shown.count}`);
      results.append(...answer.results.map(hitCard));
      showMore(shown.url, shown.count + answer.results.length, answer.results.length);
    } catch (e) { error.textContent = e.message; }
    more.disabled = false;
  };

  form.onsubmit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    // nothing of an earlier search stays on screen while (or after) this one is answered
    understood.hidden = true;
    understood.replaceChildren();
    player.replaceChildren();
    more.hidden = true;
    shown = null;
    results.replaceChildren(el("p", { class: "mute" }, "searching ..."));
    const query = input.value.trim();
    const pick = picked();
    const url = `/api/search?limit=${PAGE}${pick.params}&q=` + encodeURIComponent(query);
    try {
      const answer = await SW.api(url);
      const u = answer.understood || {};
      understood.hidden = false;
      understood.replaceChildren(...[
        el("div", {}, el("strong", {}, "Understood: "), describe(u.objects || [])),
        u.time ? el("div", { id: "understood-time" }, el("strong", {}, "Time: "),
          [u.time.start, u.time.end].map((t) => (t ? new Date(t).toLocaleString() : "…")).join(" – ")) : null,
        pick.words ? el("div", { id: "understood-picked" }, el("strong", {}, "Picked: "), pick.words) : null,
        el("div", {}, el("strong", {}, "Ignored: "), answer.ignored.join(", ") || "nothing"),
        ...answer.notes.map((n) => el("div", { class: "mute" }, n)),
      ].filter(Boolean));
      results.replaceChildren(...answer.results.map(hitCard));
      if (!answer.results.length) results.replaceChildren(el("p", { class: "mute" }, "No results."));
      showMore(url, answer.results.length, answer.results.length);
      await showActions(query, answer);
    } catch (e) {
      error.textContent = e.message;
      results.replaceChildren();
      last = null;
      actions.hidden = true;
      setup.replaceChildren();
    }
  };
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) { input.value = initial; form.requestSubmit(); }
})();
