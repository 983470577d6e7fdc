// Live grid: every camera you may see as an MJPEG view with its status badge.
"use strict";
(async () => {
  await SW.start("index.html");
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
          el("img", { class: "view", alt: `live view of ${cam.name}`, src: cam.configured ? cam.live_url : cam.snapshot_url }),
          el("div", { class: "body" }));
        cards.set(cam.name, card);
        grid.append(card);
      }
      const badge = card.querySelector(".badge");
      badge.className = "badge " + cam.status;
      badge.textContent = cam.status;
      const rate = cam.online_rate == null ? "-" : (100 * cam.online_rate).toFixed(1) + " %";
      const faults = cam.faults.map((f) => f.fault).join(", ") || "no faults";
      card.querySelector(".body").textContent =
        `${cam.width || "?"}×${cam.height || "?"} · online ${rate} · ${faults}`;
    }
    if (!cameras.length) grid.replaceChildren(el("p", { class: "mute" }, "No cameras you may see."));
  }
  await refresh();
  setInterval(refresh, 10000);
})();
