// Live: the cameras you may see with their status badge, in a grid of 1, 4 or 9 that fills the
// screen (more cameras: pages), any one full screen; an overlay shows what the system sees: the
// tracker's boxes with class and track id on the frame they were found in, zones and lines.
"use strict";
(async () => {
  const user = await SW.start("index.html");
  // Without a live frame the server knows no person boxes and pixelates the whole picture (fail
  // closed); users who see people masked get a plain placeholder instead of that mosaic.
  const masked = !(user.unmasked || user.role === "admin");
  const LAYOUTS = [1, 4, 9];
  const main = document.getElementById("main");
  const stored = Number(localStorage.getItem("sw_live_layout"));
  let layout = LAYOUTS.includes(stored) ? stored : null;  // null: the smallest that fits them all
  let overlayOn = localStorage.getItem("sw_live_overlay") !== "off";
  let page = 0;
  let cameras = [];
  let feed = null;  // the one stream of frames and objects for the overlaid tiles shown (live_feed.js)

  const layoutButtons = LAYOUTS.map((n) => el("button", { id: `layout-${n}`, "data-layout": n,
    title: `${n} camera${n > 1 ? "s" : ""} at a time` }, String(n)));
  const overlayBox = el("input", { type: "checkbox", id: "overlay" });
  overlayBox.checked = overlayOn;
  const prev = el("button", { id: "page-prev", title: "previous cameras" }, "‹");
  const next = el("button", { id: "page-next", title: "next cameras" }, "›");
  const pageLabel = el("span", { class: "mute", id: "page" });
  const pager = el("span", { class: "row", id: "pager" }, prev, pageLabel, next);
  main.append(el("div", { class: "row live-head" }, el("h1", {}, "Live"),
    el("div", { class: "row live-tools" }, el("span", { class: "mute" }, "Cameras"), ...layoutButtons,
      el("label", { class: "check", for: "overlay" }, overlayBox, " Boxes, zones and lines"), pager)));
  const grid = el("div", { class: "grid live-grid", id: "cameras" });
  main.append(grid);
  const cards = new Map();  // camera name -> card element (with its overlay state)

  async function refresh() {
    cameras = await SW.api("/api/cameras");
    const names = new Set(cameras.map((c) => c.name));
    for (const [name, card] of cards) if (!names.has(name)) { card.remove(); cards.delete(name); }
    for (const cam of cameras) {
      let card = cards.get(cam.name);
      if (!card) {
        card = newCard(cam);
        cards.set(cam.name, card);
        grid.append(card);
      }
      card.cam = cam;
      const badge = card.querySelector(".badge");
      badge.className = "badge " + cam.status;
      badge.textContent = cam.status;
      // the badge says the state; the line adds only what was measured: no rate where none was,
      // no "no faults" beside "not watched" (nothing watches it, so nothing could be found)
      const parts = [`${cam.width || "?"}×${cam.height || "?"}`];
      if (cam.online_rate != null) parts.push(`online ${(100 * cam.online_rate).toFixed(1)} %`);
      const faults = cam.faults.map(SW.faultText).join(", ");
      if (faults || cam.status !== "not watched") parts.push(faults || "no faults");
      card.querySelector(".body").textContent = parts.join(" · ");
    }
    grid.querySelector("p.mute")?.remove();
    if (!cameras.length) grid.replaceChildren(el("p", { class: "mute" }, "No cameras you may see."));
    place();
    await loadGeometry();
  }

  function newCard(cam) {
    const full = el("button", { class: "fullscreen", title: "full screen (Esc to return)" }, "Full screen");
    const card = el("div", { class: "card camera", "data-camera": cam.name },
      el("div", { class: "head" }, el("strong", {}, cam.name),
        el("span", { class: "row" }, el("span", { class: "badge" }), full)),
      el("div", { class: "picture" }, el("img", { class: "view", alt: `live view of ${cam.name}` }),
        el("canvas", { class: "overlay", hidden: true })),
      el("div", { class: "body" }));
    card.overlay = { geometry: null, objects: [], width: cam.width, height: cam.height, seq: null };
    card.pending = null;  // the newest streamed frame not shown yet ...
    card.busy = false;  // ... while the one before it is being decoded
    full.hidden = !document.fullscreenEnabled;  // e.g. iPhones: only videos go full screen
    full.onclick = () => toggleFullscreen(card);
    card.querySelector(".picture").ondblclick = () => toggleFullscreen(card);
    const view = card.querySelector("img.view");
    view.onload = () => { if (view.dataset.feed !== "frames") draw(card); };  // nextFrame draws its own
    new ResizeObserver(() => draw(card)).observe(card.querySelector(".picture"));
    return card;
  }

  function toggleFullscreen(card) {
    if (document.fullscreenElement) document.exitFullscreen();
    else card.requestFullscreen?.().catch(() => {});
  }

  // The cameras of this page in the grid's cells; the others hidden, their streams ended.
  function place() {
    const size = layout || LAYOUTS.find((n) => n >= cameras.length) || LAYOUTS.at(-1);
    const pages = Math.max(1, Math.ceil(cameras.length / size));
    page = Math.min(page, pages - 1);
    grid.style.setProperty("--cols", Math.sqrt(size));
    grid.dataset.layout = size;
    for (const b of layoutButtons) b.classList.toggle("here", Number(b.dataset.layout) === size);
    pager.hidden = pages < 2;
    pageLabel.textContent = `${page + 1} / ${pages}`;
    const shown = new Set(cameras.slice(page * size, (page + 1) * size).map((c) => c.name));
    for (const [name, card] of cards) {
      card.hidden = !shown.has(name);
      const cam = card.cam;
      // without live frames only a file camera has a picture (its first frame), unmasked users only
      showPicture(card, cam, !card.hidden && (cam.streaming || (cam.configured && !cam.live && !masked)));
    }
    grid.querySelectorAll(".slot").forEach((s) => s.remove());
    if (cameras.length) {  // empty cells keep the grid's shape
      for (let i = shown.size; i < size; i++) grid.append(el("div", { class: "slot" }));
    }
    syncFeed();
  }

  // A camera with recorded data only has no picture at all (its snapshot answers 503). With the
  // overlay on, a streaming camera's frames come with the objects found on each (the page's one
  // feed), so that a box lies on the very frame it was found in; else the MJPEG stream.
  function showPicture(card, cam, picture) {
    const view = card.querySelector("img.view");
    card.querySelector(".stopped")?.remove();
    card.synced = picture && overlayOn && cam.streaming;
    const stream = picture && !card.synced;
    if (stream && view.dataset.feed !== "stream") setFeed(view, "stream", cam.live_url);
    if (!stream && view.dataset.feed === "stream") setFeed(view, null, null);  // ends the stream
    if (!picture) setFeed(view, null, null);
    view.hidden = !picture;
    if (!picture && !card.hidden) {
      view.after(el("div", { class: "stopped" }, cam.configured ? "camera stopped" : "recorded only",
        el("span", { class: "mute" }, "no live picture")));
    }
    draw(card);
  }

  // Zones and lines of the configured cameras on this page (the Zones page's source).
  async function loadGeometry() {
    if (!overlayOn) return;
    await Promise.all([...cards.values()].filter((c) => !c.hidden && c.cam.configured).map(async (card) => {
      try {
        card.overlay.geometry = await SW.api(`/api/config/cameras/${encodeURIComponent(card.cam.name)}`);
      } catch (_) { card.overlay.geometry = null; }  // removed meanwhile: the next refresh says so
      draw(card);
    }));
  }

  // The picture's source: the MJPEG stream, one fetched frame (a blob URL), or none.
  function setFeed(view, feed, url) {
    if (view.dataset.feed === "frames") URL.revokeObjectURL(view.src);
    if (url) view.src = url; else view.removeAttribute("src");
    if (feed) view.dataset.feed = feed; else delete view.dataset.feed;
  }

  // The page's feed streams the overlaid tiles shown (none while the page is hidden); it is opened
  // again only when that set of cameras changes.
  function syncFeed() {
    const wanted = document.visibilityState === "visible"
      ? [...cards.values()].filter((c) => !c.hidden && c.synced).map((c) => c.cam.name) : [];
    if ((feed?.key || "") === wanted.join(",")) return;
    feed?.close();
    feed = wanted.length ? SWLiveFeed.open(wanted, onFrame) : null;
  }

  // A streamed frame: shown, then its objects drawn on it; frames that come while one is being
  // decoded replace each other, so a slow tile shows the newest and never falls behind.
  function onFrame(head, jpeg) {
    const card = cards.get(head.camera);
    if (!card?.synced) return;
    card.pending = { head, jpeg };
    if (!card.busy) showFrames(card);
  }

  async function showFrames(card) {
    const view = card.querySelector("img.view");
    card.busy = true;
    while (card.pending && card.synced) {
      const { head, jpeg } = card.pending;
      card.pending = null;
      setFeed(view, "frames", URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" })));
      await view.decode().catch(() => {});
      if (!card.synced) break;  // switched to the MJPEG stream meanwhile
      const { seq, objects, width, height } = head;
      Object.assign(card.overlay, { seq, objects, width, height });
      draw(card);
    }
    card.busy = false;
  }

  function draw(card) {
    const picture = card.querySelector(".picture");
    const view = card.querySelector("img.view");
    const state = card.overlay;
    const geometry = state.geometry;
    // the boxes' frame size first (the objects answer says it), else the camera's, else the picture's
    const size = { width: state.width || geometry?.width || view.naturalWidth,
                   height: state.height || geometry?.height || view.naturalHeight };
    const on = overlayOn && !card.hidden && !view.hidden;
    card.dataset.objects = SWOverlay.draw(card.querySelector("canvas.overlay"), picture,
      { ...state, ...size, on, objects: on ? state.objects : [] });
  }

  for (const button of layoutButtons) {
    button.onclick = () => {
      layout = Number(button.dataset.layout);
      localStorage.setItem("sw_live_layout", String(layout));
      page = 0;
      place();
      loadGeometry();
    };
  }
  overlayBox.onchange = () => {
    overlayOn = overlayBox.checked;
    localStorage.setItem("sw_live_overlay", overlayOn ? "on" : "off");
    place();  // the picture's feed follows the overlay
    loadGeometry();
  };
  prev.onclick = () => { page = Math.max(0, page - 1); place(); loadGeometry(); };
  next.onclick = () => { page += 1; place(); loadGeometry(); };
  // browsers leave full screen on Esc themselves; this covers those that hand the key to the page
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.fullscreenElement) document.exitFullscreen();
  });
  document.addEventListener("fullscreenchange", () => {
    for (const card of cards.values()) {
      const full = document.fullscreenElement === card;
      const button = card.querySelector("button.fullscreen");
      button.textContent = full ? "Exit full screen" : "Full screen";
      button.title = full ? "back to the grid (Esc)" : "full screen (Esc to return)";
    }
  });

  document.addEventListener("visibilitychange", syncFeed);

  await refresh();
  setInterval(refresh, 10000);
})();
