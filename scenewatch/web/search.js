// Search: type a query (English or Chinese), see what was understood and ignored, click to play.
"use strict";
(async () => {
  await SW.start("search.html");
  const main = document.getElementById("main");
  const input = el("input", { id: "q", placeholder: "e.g. person in a red top · 穿红色上衣的人", size: 48 });
  const go = el("button", { class: "primary", id: "go", type: "submit" }, "Search");
  const form = el("form", { class: "row" }, input, go);
  const understood = el("div", { class: "understood", id: "understood", hidden: true });
  const player = el("div", { class: "player", id: "player" });
  const results = el("div", { class: "results", id: "results" });
  const error = el("div", { class: "error" });
  main.append(el("h1", {}, "Search"), form, error, understood, player, results);

  function describe(objects) {
    return objects.map((o) => {
      const words = [o.vehicle_type || o.class || "any object"];
      for (const [part, colours] of Object.entries(o.colours || {})) words.push(`${part} ${colours.map((c) => c.term).join("/")}`);
      for (const c of o.carried || []) words.push(`carrying ${c.item}`);
      if (o.posture) words.push(o.posture);
      words.push(...Object.values(o.motion || {}).filter(Boolean));
      return words.join(", ");
    }).join("; ") || "any object";
  }

  function play(hit) {
    player.replaceChildren(
      el("div", { class: "row" }, el("strong", {}, `track ${hit.track_id} on ${hit.camera}`),
        el("span", { class: "mute" }, SW.time(hit.start_ts))),
      el("video", { id: "clip", src: hit.clip_url, controls: true, autoplay: true, muted: true }));
  }

  form.onsubmit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    results.replaceChildren(el("p", { class: "mute" }, "searching ..."));
    try {
      const answer = await SW.api("/api/search?limit=24&q=" + encodeURIComponent(input.value));
      const u = answer.understood || {};
      understood.hidden = false;
      understood.replaceChildren(...[
        el("div", {}, el("strong", {}, "Understood: "), describe(u.objects || [])),
        u.time ? el("div", {}, el("strong", {}, "Time: "), `${u.time.start || "…"} – ${u.time.end || "…"}`) : null,
        el("div", {}, el("strong", {}, "Ignored: "), answer.ignored.join(", ") || "nothing"),
        ...answer.notes.map((n) => el("div", { class: "mute" }, n)),
      ].filter(Boolean));
      results.replaceChildren(...answer.results.map((hit) => {
        const card = el("div", { class: "card hit", "data-track": hit.track_id },
          hit.thumbnail_url ? el("img", { src: hit.thumbnail_url, alt: `track ${hit.track_id}` }) : el("div", { class: "mute" }, "no thumbnail"),
          el("div", { class: "body" },
            el("div", {}, el("strong", {}, hit.class_name), ` · ${hit.camera} · score ${hit.score.toFixed(2)}`),
            el("div", {}, SW.time(hit.start_ts)),
            el("div", { class: "reasons" }, hit.reasons.join("; "))));
        card.onclick = () => play(hit);
        return card;
      }));
      if (!answer.results.length) results.replaceChildren(el("p", { class: "mute" }, "No results."));
    } catch (e) { error.textContent = e.message; results.replaceChildren(); }
  };
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) { input.value = initial; form.requestSubmit(); }
})();
