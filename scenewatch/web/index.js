// Live grid: every camera you may see as an MJPEG view with its status badge.
"use strict";
(async () => {
  const user = await SW.start("index.html");
  // Without a live frame the server knows no person boxes and pixelates the whole picture (fail
  // closed); users who see people masked get a plain placeholder instead of that mosaic.
  const masked = !(user.unmasked || user.role === "admin");
  const main = document.getElementById("main");
  main.append(el("h1", {}, "Live"));
  const grid = el("div", { class: "grid", id: "cameras" });
  main.append(grid);
  const cards = new Map();

  async function refresh() {
    const cameras = await SW.api("/api/cameras");
    const names = new Set(cameras.map((c) => c.name));
    for (const [name, card] of cards) if (!names.has(name)) { card.remove(); cards.delete(name); }
    for (const cam of cameras) {
      let card = cards.get(cam.name);
      if (!card) {
        card = el("div", { class: "card camera", "data-camera": cam.name },
          el("div", { class: "head" }, el("strong", {}, cam.name), el("span", { class: "badge" })),
          el("img", { class: "view", alt: `live view of ${cam.name}` }),
          el("div", { class: "body" }));
        cards.set(cam.name, card);
        grid.append(card);
      }
      // without live frames only a file camera has a picture (its first frame), unmasked users only
      showPicture(card, cam, cam.streaming || (cam.configured && !cam.live && !masked));
      const badge = card.querySelector(".badge");
      badge.className = "badge " + cam.status;
      badge.textContent = cam.status;
      const rate = cam.online_rate == null ? "-" : (100 * cam.online_rate).toFixed(1) + " %";
      const faults = cam.faults.map(SW.faultText).join(", ") || "no faults";
      card.querySelector(".body").textContent =
        `${cam.width || "?"}×${cam.height || "?"} · online ${rate} · ${faults}`;
    }
    if (!cameras.length) grid.replaceChildren(el("p", { class: "mute" }, "No cameras you may see."));
  }
  // A camera with recorded data only has no picture at all (its snapshot answers 503).
  function showPicture(card, cam, picture) {
    const view = card.querySelector("img.view");
    card.querySelector(".stopped")?.remove();
    if (picture && !view.getAttribute("src")) view.src = cam.live_url;
    if (!picture) view.removeAttribute("src");  // ends the stream
    view.hidden = !picture;
    if (!picture) {
      view.after(el("div", { class: "stopped" }, cam.configured ? "camera stopped" : "recorded only",
        el("span", { class: "mute" }, "no live picture")));
    }
  }

  await refresh();
  setInterval(refresh, 10000);
})();
