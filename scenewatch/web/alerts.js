// Alerts: the latest events; new ones arrive over server-sent events without a reload.
"use strict";
(async () => {
  // the list is asked for beside the sign-in check: one round trip before the page shows
  const first = SW.api("/api/events?limit=50");
  const user = await SW.start("alerts.html");
  const canAct = user.role !== "viewer";
  const main = document.getElementById("main");
  const status = el("span", { class: "mute", id: "stream-status" }, "connecting …");
  const list = el("div", { id: "alerts" });
  const player = el("div", { class: "player" });
  main.append(el("div", { class: "row" }, el("h1", {}, "Alerts"), status), player, list);
  const cards = new Map();

  // What the rule found, where its detail says more than the rule's name (standing searches).
  function details(event) {
    const d = event.detail || {};
    if (event.rule_type !== "search" || !d.query) return [];
    const score = typeof d.score === "number" ? ` · score ${d.score.toFixed(2)}` : "";
    return [
      el("div", { class: "query" }, "matched ", el("q", {}, d.query), `${d.class ? " · " + d.class : ""}${score}`,
        " ", el("a", { href: "search.html?q=" + encodeURIComponent(d.query) }, "search")),
      (d.reasons || []).length ? el("div", { class: "reasons mute" }, d.reasons.join("; ")) : null,
    ];
  }

  function render(event, fresh) {
    const old = cards.get(event.id);
    const act = (verb) => async () => {
      try { render(await SW.api(`/api/events/${event.id}/${verb}`, { method: "POST" }), false); }
      catch (e) { alert(e.message); }
    };
    const card = el("div", { class: "card alert" + (fresh ? " fresh" : ""), "data-event": event.id },
      event.snapshot_url ? SW.lazyImage(event.snapshot_url, { alt: `snapshot of event ${event.id}` }) : el("div", { class: "mute" }, "no snapshot"),
      el("div", {},
        el("div", { class: "row" }, el("strong", {}, event.rule), el("span", { class: "badge " + event.state }, event.state),
          el("span", { class: "pill" }, event.rule_type)),
        ...details(event),
        el("div", {}, `${event.camera} · ${SW.time(event.start_ts)}`),
        el("div", { class: "mute" }, `tracks ${event.track_ids.join(", ") || "-"}`),
        el("div", { class: "row" },
          event.clip_url ? el("button", { class: "clip", onclick: () => SW.playClip(player, event.clip_url, {
            title: el("div", { class: "row" }, el("strong", {}, `${event.rule} on ${event.camera}`),
              el("span", { class: "mute" }, SW.time(event.start_ts))) }) }, "Play clip") : null,
          canAct && event.state === "new" ? el("button", { class: "ack", onclick: act("ack") }, "Acknowledge") : null,
          canAct && event.state !== "resolved" ? el("button", { class: "resolve", onclick: act("resolve") }, "Resolve") : null)));
    if (old) old.replaceWith(card); else list.prepend(card);
    cards.set(event.id, card);
  }

  const events = await first;
  for (const event of events.reverse()) render(event, false);
  if (!events.length) list.append(el("p", { class: "mute", id: "empty" }, "No alerts yet."));

  const source = new EventSource("/api/events/stream");
  source.onopen = () => { status.textContent = "live"; };
  source.onerror = () => { status.textContent = "reconnecting …"; };
  source.addEventListener("alert", (message) => {
    document.getElementById("empty")?.remove();
    render(JSON.parse(message.data), true);
  });
  source.addEventListener("gap", () => location.reload());
})();
