// Zone and line editor: draw on a live snapshot, save (validated by the server), see them applied.
"use strict";
(async () => {
  const user = await SW.start("zones.html");
  const main = document.getElementById("main");
  const cameras = (await SW.api("/api/cameras")).filter((c) => c.configured);
  const select = el("select", { id: "camera" }, ...cameras.map((c) => el("option", { value: c.name }, c.name)));
  const image = el("img", { id: "snapshot", alt: "camera snapshot" });
  const canvas = el("canvas", { id: "canvas" });
  const list = el("ul", { class: "shapes", id: "shapes" });
  const name = el("input", { id: "shape-name", placeholder: "name", size: 12 });
  const message = el("div", { class: "mute", id: "message" });
  const error = el("div", { class: "error", id: "error" });
  const modes = ["zone", "line"].concat(user.role === "admin" ? ["privacy"] : []);
  const modeButtons = modes.map((m) => el("button", { "data-mode": m, id: `mode-${m}` }, `Draw ${m === "privacy" ? "privacy zone" : m}`));
  const finish = el("button", { id: "finish" }, "Finish shape");
  const save = el("button", { class: "primary", id: "save" }, "Save");
  // only users who may edit see the tools; the others get the shapes and a word on why
  const tools = el("div", { id: "tools" },
    el("p", { class: "mute" }, "Pick a tool, click points on the picture, name it, then Finish shape. Save applies it."),
    el("div", { class: "row" }, ...modeButtons), el("div", { class: "row" }, "Name ", name, finish));
  const readOnly = el("p", { class: "mute", id: "read-only", hidden: true });
  const maskNote = el("p", { class: "mute", id: "mask-note", hidden: true });
  main.append(el("h1", {}, "Zones and lines"),
    el("div", { class: "editor" },
      el("div", { class: "stage" }, image, canvas),
      el("div", {}, el("div", { class: "row" }, "Camera ", select), maskNote, tools, readOnly,
        list, el("div", { class: "row" }, save), message, error, SWRules.panel, SWSuppress.panel)));

  let geometry = null, privacy = [], mode = "zone", points = [];
  const colour = { zone: "#3b9eff", line: "#ffb020", privacy: "#000000" };

  async function load() {
    const camera = select.value;
    if (!camera) { error.textContent = "no configured camera"; return; }
    geometry = await SW.api(`/api/config/cameras/${encodeURIComponent(camera)}`);
    privacy = geometry.privacy_zones;
    tools.hidden = save.hidden = !geometry.editable;
    readOnly.hidden = geometry.editable;
    readOnly.textContent = user.role === "viewer" ? "Viewers see zones and lines; changing them needs an operator or admin."
      : "Zones cannot be changed here: the server runs without a writable config file (start it with --config FILE).";
    // fetched rather than linked: the answer says when people could not be found on the picture
    const answer = await fetch(`/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg?t=${Date.now()}`);
    maskNote.textContent = answer.ok ? answer.headers.get("x-mask-note") || "" : "";
    maskNote.hidden = !maskNote.textContent;
    const picture = answer.ok ? await answer.blob() : null;
    if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
    if (picture) await new Promise((resolve) => { image.onload = resolve; image.onerror = resolve;
      image.src = URL.createObjectURL(picture); });
    else image.removeAttribute("src");
    canvas.width = geometry.width || image.naturalWidth;
    canvas.height = geometry.height || image.naturalHeight;
    points = [];
    draw();
    SWSuppress.render(camera);  // the camera's "not a person" marks, with Undo
  }

  function draw() {
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.lineWidth = 3; g.font = "16px sans-serif";
    const poly = (pts, stroke, fill, label) => {
      g.beginPath(); pts.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y))); g.closePath();
      g.fillStyle = fill; g.fill(); g.strokeStyle = stroke; g.stroke();
      if (label) { g.fillStyle = "#fff"; g.fillText(label, pts[0][0] + 4, pts[0][1] + 18); }
    };
    for (const p of privacy) poly(p, "#ff3b3b", "rgba(0,0,0,0.85)", "privacy");
    for (const z of geometry.zones) poly(z.polygon, colour.zone, "rgba(59,158,255,0.25)", z.name);
    for (const l of geometry.lines) {
      g.beginPath(); g.moveTo(...l.a); g.lineTo(...l.b); g.strokeStyle = colour.line; g.stroke();
      g.fillStyle = "#fff"; g.fillText(l.name, l.a[0] + 4, l.a[1] - 6);
    }
    g.fillStyle = "#fff";
    for (const [x, y] of points) { g.beginPath(); g.arc(x, y, 5, 0, 7); g.fill(); }
    if (points.length > 1) {
      g.beginPath(); points.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
      g.strokeStyle = colour[mode]; g.setLineDash([6, 4]); g.stroke(); g.setLineDash([]);
    }
    list.replaceChildren(
      ...geometry.zones.map((z, i) => item(`zone ${z.name}`, () => geometry.zones.splice(i, 1))),
      ...geometry.lines.map((l, i) => item(`line ${l.name}`, () => geometry.lines.splice(i, 1))),
      ...privacy.map((_, i) => item(`privacy zone ${i + 1}`, user.role === "admin" ? () => privacy.splice(i, 1) : null)));
    canvas.style.cursor = geometry.editable ? "" : "default";
    SWRules.render({ geometry, camera: select.value, editable: geometry.editable, reload: load,
      fail: (text) => { error.textContent = text; } });
  }

  function item(label, remove) {
    return el("li", {}, el("span", { class: "pill" }, label), " ",
      remove && geometry.editable ? el("button", { onclick: () => { remove(); draw(); } }, "delete") : null);
  }

  canvas.onclick = (event) => {
    if (!geometry.editable) return;
    const box = canvas.getBoundingClientRect();
    const x = Math.round(((event.clientX - box.left) * canvas.width) / box.width);
    const y = Math.round(((event.clientY - box.top) * canvas.height) / box.height);
    points.push([x, y]);
    if (mode === "line" && points.length === 2) finishShape(); else draw();
  };

  function finishShape() {
    error.textContent = "";
    const label = name.value.trim() || (mode === "line" ? "" : `${mode}${Date.now() % 1000}`);
    if (!label) { error.textContent = "type a name for the line (rules name it), then Finish shape"; return; }
    if (mode === "line") {
      if (points.length !== 2) { error.textContent = "a line needs two points"; return; }
      geometry.lines.push({ name: label, a: points[0], b: points[1] });
    } else {
      if (points.length < 3) { error.textContent = "a zone needs at least three points"; return; }
      if (mode === "zone") geometry.zones.push({ name: label, polygon: points });
      else privacy.push(points);
    }
    points = []; name.value = ""; draw();
  }

  for (const button of modeButtons) button.onclick = () => { mode = button.dataset.mode; points = []; draw(); };
  finish.onclick = finishShape;
  select.onchange = load;
  save.onclick = async () => {
    error.textContent = ""; message.textContent = "saving …";
    const camera = encodeURIComponent(select.value);
    try {
      await SW.api(`/api/config/cameras/${camera}`, { method: "PUT",
        body: { zones: geometry.zones, lines: geometry.lines, rules: geometry.rules } });
      if (user.role === "admin") await SW.api(`/api/config/cameras/${camera}/privacy`, { method: "PUT", body: { polygons: privacy } });
      await load();
      message.textContent = `Saved at ${new Date().toLocaleTimeString()}: ${geometry.zones.length} zone(s), ` +
        `${geometry.lines.length} line(s) applied to the running camera at its next frame.`;
    } catch (e) { error.textContent = e.message; message.textContent = ""; }
  };
  await load();
})();
