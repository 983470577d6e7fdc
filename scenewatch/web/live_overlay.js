// The Live page's overlay: what the tracker reports (boxes, class, track id) and the camera's zones
// and lines, drawn on a canvas laid exactly over the picture as the <img> shows it (object-fit:
// contain), in the frame's own pixels, so it stays aligned at any tile size, phone or full screen.
"use strict";

const SWOverlay = {
  ZONE: "#3b9eff",
  LINE: "#ffb020",
  // by class, so that a glance tells people from vehicles; other classes share the last colour
  COLOURS: { person: "#00e676", car: "#ff4081", truck: "#ff4081", bus: "#ff4081",
             motorcycle: "#ff4081", bicycle: "#ff4081", other: "#ffd600" },

  colour(name) { return SWOverlay.COLOURS[name] || SWOverlay.COLOURS.other; },

  // Where the picture's pixels lie inside a box of boxW x boxH when a frameW x frameH image is
  // fitted with object-fit: contain.
  fit(boxW, boxH, frameW, frameH) {
    const scale = Math.min(boxW / frameW, boxH / frameH);
    const width = frameW * scale, height = frameH * scale;
    return { scale, width, height, left: (boxW - width) / 2, top: (boxH - height) / 2 };
  },

  // Draw onto ``canvas`` (a child of ``picture``, over its <img>): ``state`` holds the frame size
  // (width, height), the geometry (zones, lines) and the objects of the latest frame.
  draw(canvas, picture, state) {
    const g = canvas.getContext("2d");
    const width = state.width, height = state.height;
    if (!state.on || !width || !height || !picture.clientWidth || !picture.clientHeight) {
      g.clearRect(0, 0, canvas.width, canvas.height);
      canvas.hidden = true;
      return 0;
    }
    const at = SWOverlay.fit(picture.clientWidth, picture.clientHeight, width, height);
    const ratio = window.devicePixelRatio || 1;
    Object.assign(canvas.style, { left: `${at.left}px`, top: `${at.top}px`,
                                  width: `${at.width}px`, height: `${at.height}px` });
    canvas.width = Math.max(1, Math.round(at.width * ratio));
    canvas.height = Math.max(1, Math.round(at.height * ratio));
    canvas.hidden = false;
    const px = 1 / at.scale;  // one screen pixel in frame pixels: lines and text keep their size
    g.setTransform(at.scale * ratio, 0, 0, at.scale * ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.lineWidth = 2 * px;
    g.font = `${12 * px}px sans-serif`;
    g.textBaseline = "top";
    const geometry = state.geometry || { zones: [], lines: [] };
    for (const zone of geometry.zones) {
      g.beginPath();
      zone.polygon.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
      g.closePath();
      g.fillStyle = "rgba(59,158,255,0.15)"; g.fill();
      g.strokeStyle = SWOverlay.ZONE; g.stroke();
      SWOverlay.label(g, zone.name, zone.polygon[0][0], zone.polygon[0][1], SWOverlay.ZONE, px, width);
    }
    for (const line of geometry.lines) {
      g.beginPath(); g.moveTo(...line.a); g.lineTo(...line.b);
      g.strokeStyle = SWOverlay.LINE; g.stroke();
      SWOverlay.label(g, line.name, line.a[0], line.a[1], SWOverlay.LINE, px, width);
    }
    g.lineWidth = 3 * px;
    for (const object of state.objects) {
      const [x1, y1, x2, y2] = object.box;
      const colour = SWOverlay.colour(object.class);
      g.strokeStyle = colour;
      g.strokeRect(x1, y1, x2 - x1, y2 - y1);
      SWOverlay.label(g, `${object.class} #${object.track_id}`, x1, y1 - 16 * px, colour, px, width);
    }
    return state.objects.length;
  },

  // A text tag on a filled background in ``colour`` at (x, y), kept inside a frame ``width`` wide.
  label(g, text, x, y, colour, px, width) {
    const w = g.measureText(text).width + 6 * px, h = 16 * px;
    const left = Math.max(0, Math.min(x, width - w)), top = Math.max(0, y);
    g.fillStyle = colour;
    g.fillRect(left, top, w, h);
    g.fillStyle = "#000";
    g.fillText(text, left + 3 * px, top + 2 * px);
  },
};
