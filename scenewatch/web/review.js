// Review: one camera's day (or hours of it) as a time bar: recorded footage, tracks in view by
// class, events by rule. Hover shows the time and the nearest track or event; a click plays the
// footage from there. One request per view: a bucket per pixel of the bar, counted by the server.
"use strict";
(async () => {
  const listed = SW.api("/api/cameras");  // asked beside the sign-in check
  await SW.start("review.html");
  const main = document.getElementById("main");
  const params = new URLSearchParams(location.search);
  const HOUR = 3600;
  const REST_MS = 150;  // the pointer still this long on the bar: its preview picture is fetched
  const CLIP_S = 10;  // seconds played from a clicked moment: short, so that it is cut quickly
  const TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
  const LANES = { footage: [0, 10], tracks: [14, 78], events: [82, 96], axis: [98, 112] };
  const CLASS_COLOURS = { person: "#3b9eff", car: "#d29922", truck: "#db6d28", bus: "#a371f7",
                          bicycle: "#2ea043", motorcycle: "#f778ba" };
  const RULE_COLOURS = ["#f85149", "#e3b341", "#56d4dd", "#bc8cff", "#7ee787", "#ff9bce"];

  const pick = (id, label) => el("select", { id, "aria-label": label });
  const camera = pick("rv-camera", "camera");
  const day = el("input", { id: "rv-day", type: "date", "aria-label": "day" });
  const from = pick("rv-from", "from hour");
  const to = pick("rv-to", "to hour");
  for (let h = 0; h <= 24; h++) {
    const label = `${String(h).padStart(2, "0")}:00`;
    if (h < 24) from.append(el("option", { value: h }, label));
    if (h > 0) to.append(el("option", { value: h }, label));
  }
  from.value = "0";
  to.value = "24";
  const klass = pick("rv-class", "class");
  const zone = pick("rv-zone", "zone");
  const rule = pick("rv-rule", "rule");
  const whole = el("button", { id: "rv-whole", type: "button", hidden: true }, "Whole day");
  const controls = el("form", { class: "row review-controls", id: "rv-controls" }, camera, day,
    el("span", { class: "row" }, from, "–", to), klass, zone, rule, whole);
  const canvas = el("canvas", { id: "rv-bar", "aria-label": "timeline: hover to preview, click to play" });
  const cursor = el("div", { class: "rv-cursor", hidden: true });
  const chosen = el("div", { class: "rv-select", hidden: true });  // a range being dragged out
  const hover = el("div", { class: "rv-hover", id: "rv-hover", hidden: true });
  const bar = el("div", { class: "rv-timeline", id: "rv-timeline" }, canvas, cursor, chosen, hover);
  const legend = el("div", { class: "row rv-legend", id: "rv-legend" });
  const summary = el("div", { class: "mute", id: "rv-summary" });
  const error = el("div", { class: "error", id: "rv-error" });
  const player = el("div", { class: "player", id: "rv-player" });
  const list = el("ul", { class: "rv-events", id: "rv-events" });
  const more = el("button", { id: "rv-more", type: "button", hidden: true }, "More events");
  const hint = el("div", { class: "mute rv-hint" }, "Click the bar to play from there; drag across it to zoom in.");
  main.append(el("h1", {}, "Review"), controls, legend, bar, hint, summary, error, player,
    el("h2", {}, "Events in view"), list, more);

  const cameras = await listed;
  for (const cam of cameras) camera.append(el("option", { value: cam.name }, cam.name));
  if (!cameras.length) {
    main.append(el("p", { class: "mute" }, "No cameras you may see."));
    return;
  }
  if (params.get("camera") && cameras.some((c) => c.name === params.get("camera"))) camera.value = params.get("camera");
  // an exact window (epoch seconds) from a link wins over the day and hours
  let exact = params.has("start") && params.has("end") ? [Number(params.get("start")), Number(params.get("end"))] : null;
  day.value = params.get("day") || isoDay(exact ? new Date(exact[0] * 1000) : new Date());
  let view = null;  // the answer on screen
  let asked = 0;  // a newer view supersedes an older answer still on its way

  function isoDay(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  function windowOf() {
    if (exact) return exact;
    const midnight = new Date(`${day.value}T00:00:00`).getTime() / 1000;
    const start = midnight + Number(from.value) * HOUR;
    return [start, Math.max(start + HOUR, midnight + Number(to.value) * HOUR)];
  }

  function fill(select, values, all) {
    const keep = select.value;
    const known = new Set([...select.options].map((o) => o.value));
    if (!known.has("")) select.append(el("option", { value: "" }, all));
    for (const v of values) if (!known.has(v)) select.append(el("option", { value: v }, v));
    select.value = keep;
  }

  async function load() {
    const [start, end] = windowOf();
    const buckets = Math.max(1, Math.min(2000, Math.floor(bar.clientWidth)));
    const query = new URLSearchParams({ start, end, buckets });
    for (const [name, select] of [["class", klass], ["zone", zone], ["rule", rule]]) {
      if (select.value) query.set(name, select.value);
    }
    const mine = ++asked;
    error.textContent = "";
    try {
      const answer = await SW.api(`/api/review/${encodeURIComponent(camera.value)}?${query}`);
      if (mine !== asked) return;
      view = answer;
      hover.hidden = cursor.hidden = true;  // what it showed belongs to the old view
      fill(klass, answer.classes, "all classes");
      fill(zone, answer.zones, "all zones");
      fill(rule, answer.rules, "all rules");
      draw();
      listEvents(answer.events, answer.events_next, false);
      remember();
    } catch (e) {
      if (mine === asked) error.textContent = e.message;
    }
  }

  function remember() {
    whole.hidden = !exact;
    const state = new URLSearchParams({ camera: camera.value, day: day.value });
    if (exact) { state.set("start", exact[0]); state.set("end", exact[1]); }
    history.replaceState(null, "", `?${state}`);
  }

  function colourOfRule(name) {
    return RULE_COLOURS[view.rules.indexOf(name) % RULE_COLOURS.length] || RULE_COLOURS[0];
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = bar.clientWidth, height = LANES.axis[1];
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = `${height}px`;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.fillStyle = "#0b0f14";
    g.fillRect(0, 0, width, LANES.events[1]);
    const x = (ts) => ((ts - view.start) / (view.end - view.start)) * width;
    const step = width / view.buckets;
    // footage: where a click has something to play
    g.fillStyle = "#3d4d5e";
    for (const span of view.spans) g.fillRect(x(span.start), LANES.footage[0], Math.max(1, x(span.end) - x(span.start)), LANES.footage[1]);
    // tracks in view, stacked by class, against the busiest bucket
    const classes = Object.keys(view.track_counts);
    const totals = new Array(view.buckets).fill(0);
    for (const c of classes) view.track_counts[c].forEach((n, i) => { totals[i] += n; });
    const peak = Math.max(1, ...totals);
    const [top, bottom] = LANES.tracks;
    const base = new Array(view.buckets).fill(0);
    for (const c of classes) {
      g.fillStyle = CLASS_COLOURS[c] || "#8b9bab";
      view.track_counts[c].forEach((n, i) => {
        if (!n) return;
        const h = ((bottom - top) * n) / peak;
        g.fillRect(i * step, bottom - base[i] - h, Math.max(1, step), h);
        base[i] += h;
      });
    }
    // events: a tick where a rule fired
    for (const [name, counts] of Object.entries(view.event_counts)) {
      g.fillStyle = colourOfRule(name);
      counts.forEach((n, i) => { if (n) g.fillRect(i * step, LANES.events[0], Math.max(2, step), LANES.events[1] - LANES.events[0]); });
    }
    // a time axis with ticks at least 64 px apart, on whole local seconds, minutes or hours
    const span = view.end - view.start;
    const every = TICKS.find((s) => (width * s) / span >= 64) || TICKS[TICKS.length - 1];
    const shape = every < 60 ? { hour: "2-digit", minute: "2-digit", second: "2-digit" } : { hour: "2-digit", minute: "2-digit" };
    g.fillStyle = "#8b9bab";
    g.font = "11px system-ui, sans-serif";
    const zone = new Date(view.start * 1000).getTimezoneOffset() * 60;  // ticks fall on local hours
    for (let t = Math.ceil((view.start - zone) / every) * every + zone; t <= view.end; t += every) {
      g.fillRect(x(t), LANES.events[1], 1, 3);
      g.fillText(new Date(t * 1000).toLocaleTimeString([], shape), x(t) + 2, LANES.axis[1] - 2);
    }
    legend.replaceChildren(
      el("span", { class: "rv-key footage" }, "recorded"),
      ...classes.map((c) => key(CLASS_COLOURS[c] || "#8b9bab", c)),
      ...Object.keys(view.event_counts).map((r) => key(colourOfRule(r), `${r} (event)`)));
    const events = Object.values(view.event_counts).flat().reduce((a, b) => a + b, 0);
    const bucket = view.bucket_s >= 60 ? `${Math.round(view.bucket_s / 60)} min` : `${view.bucket_s.toFixed(1)} s`;
    summary.textContent = `${SW.time(view.start)} – ${SW.time(view.end)} · busiest ${bucket}: ${Math.max(0, ...totals)} tracks · ${events} events` +
      (view.spans.length ? "" : " · no recorded footage in this range");
  }

  function key(colour, label) {
    const swatch = el("span", { class: "rv-swatch" });
    swatch.style.background = colour;
    return el("span", { class: "rv-key" }, swatch, label);
  }

  function timeAt(clientX) {
    const box = canvas.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    return { f, ts: view.start + f * (view.end - view.start), bucket: Math.min(view.buckets - 1, Math.floor(f * view.buckets)) };
  }

  // The track (one entering each bucket) or event nearest to a time, within 40 px of the bar.
  function nearest(ts) {
    const reach = (40 * (view.end - view.start)) / bar.clientWidth;
    let best = null;
    for (const [bucket, track] of view.samples) {
      const at = view.start + (bucket + 0.5) * view.bucket_s;
      if (Math.abs(at - ts) <= reach && (!best || Math.abs(at - ts) < best.gap)) {
        best = { gap: Math.abs(at - ts), image: `/api/tracks/${track}/thumbnail.jpg`, label: `track ${track}` };
      }
    }
    for (const e of view.events) {
      if (Math.abs(e.start_ts - ts) <= reach && (!best || Math.abs(e.start_ts - ts) <= best.gap)) {
        best = { gap: Math.abs(e.start_ts - ts), image: e.snapshot_url, label: `${e.rule} at ${SW.time(e.start_ts)}` };
      }
    }
    return best;
  }

  // The hover's picture is asked for once the pointer rests on a track or event: sweeping across
  // the bar (or dragging out a range) passes hundreds of them, one a pixel.
  let resting = null;
  function preview(near) {
    clearTimeout(resting);
    const image = hover.querySelector("img");
    if (!near) { image?.remove(); return; }
    if (image?.getAttribute("src") === near.image) return;
    image?.remove();  // another track's picture would mislead until the new one comes
    resting = setTimeout(() => hover.prepend(el("img", { src: near.image, alt: near.label })), REST_MS);
  }

  canvas.addEventListener("mousemove", (e) => {
    if (!view) return;
    const { f, ts, bucket } = timeAt(e.clientX);
    cursor.hidden = false;
    cursor.style.left = `${f * 100}%`;
    const counts = Object.entries(view.track_counts).filter(([, c]) => c[bucket]).map(([k, c]) => `${c[bucket]} ${k}`);
    const near = nearest(ts);
    preview(near && near.image && !pressed ? near : null);
    hover.querySelector(".rv-hover-text")?.remove();
    hover.append(el("div", { class: "rv-hover-text" }, el("strong", {}, new Date(ts * 1000).toLocaleTimeString()),
      el("div", { class: "mute" }, counts.join(", ") || "no tracks"), near ? el("div", {}, near.label) : null));
    hover.hidden = false;
    hover.style.left = `${Math.min(f * 100, 80)}%`;
  });
  canvas.addEventListener("mouseleave", () => { cursor.hidden = true; hover.hidden = true; preview(null); });
  // a click plays from its time; a drag across the bar zooms in on the range dragged
  let pressed = null;
  canvas.addEventListener("mousedown", (e) => { if (view) pressed = timeAt(e.clientX); });
  window.addEventListener("mousemove", (e) => {
    if (!pressed) return;
    const here = timeAt(e.clientX);
    chosen.hidden = Math.abs(here.f - pressed.f) * bar.clientWidth < 5;
    chosen.style.left = `${Math.min(here.f, pressed.f) * 100}%`;
    chosen.style.width = `${Math.abs(here.f - pressed.f) * 100}%`;
  });
  window.addEventListener("mouseup", (e) => {
    if (!pressed) return;
    const down = pressed, up = timeAt(e.clientX);
    pressed = null;
    chosen.hidden = true;
    if (Math.abs(up.f - down.f) * bar.clientWidth >= 5) {
      exact = [Math.min(up.ts, down.ts), Math.max(up.ts, down.ts)];
      load();
    } else if (e.target === canvas) {
      play(`/api/review/${encodeURIComponent(camera.value)}/clip?at=${down.ts.toFixed(2)}&seconds=${CLIP_S}`,
        `${camera.value} from ${SW.time(down.ts)}`);
    }
  });
  whole.addEventListener("click", () => { exact = null; load(); });

  function play(url, title) {
    const video = el("video", { id: "rv-clip", src: url, controls: true, autoplay: true, muted: true });
    const note = el("div", { class: "mute", id: "rv-clip-note" }, "preparing the clip …");
    video.addEventListener("loadeddata", () => note.remove());
    video.addEventListener("error", async () => {
      // the video element does not tell why: ask once more for the message (no footage, not cut yet)
      try { await SW.api(url); note.textContent = "this clip cannot be played here"; }
      catch (err) { note.textContent = err.message; note.className = "error"; }
    });
    player.replaceChildren(el("div", { class: "row" }, el("strong", {}, title)), note, video);
  }

  function listEvents(events, next, append) {
    if (!append) list.replaceChildren();
    for (const e of events) {
      list.append(el("li", { "data-event": e.id },
        e.snapshot_url ? SW.lazyImage(e.snapshot_url, { alt: `snapshot of event ${e.id}` }) : null,
        el("span", {}, el("strong", {}, e.rule), ` · ${SW.time(e.start_ts)} `, el("span", { class: "pill" }, e.rule_type)),
        el("button", { type: "button", onclick: () => play(e.clip_url, `${e.rule} at ${SW.time(e.start_ts)}`) }, "Play")));
    }
    if (!list.children.length) list.append(el("li", { class: "mute" }, "No events in this range."));
    more.hidden = !next;
    more.onclick = async () => {
      const [start, end] = windowOf();
      const query = new URLSearchParams({ start, end, buckets: 1, events_after: next });
      if (rule.value) query.set("rule", rule.value);
      if (zone.value) query.set("zone", zone.value);
      const page = await SW.api(`/api/review/${encodeURIComponent(camera.value)}?${query}`);
      listEvents(page.events, page.events_next, true);
    };
  }

  for (const control of [camera, day, from, to]) control.addEventListener("change", () => { exact = null; load(); });
  for (const control of [klass, zone, rule]) control.addEventListener("change", load);
  controls.addEventListener("submit", (e) => e.preventDefault());
  // a new width redraws the same buckets (a scroll bar coming and going); asks again only when
  // the buckets are much coarser or finer than the pixels
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => {
      if (!view) return;
      const wanted = Math.min(2000, bar.clientWidth);
      if (Math.abs(wanted - view.buckets) > 0.25 * wanted) load(); else draw();
    }, 250);
  });
  await load();
})();
