// "Not a person": an operator marks a tracked object as not what the detector took it for (a stone,
// a poster, a bin). Its camera then drops detections of that class with that box (size and place);
// people passing by are still tracked. Search results and the track detail get the button; the
// Zones page lists a camera's marks with Undo. Viewers see the list only.
"use strict";
const SWSuppress = {
  panel: el("section", { class: "panel", id: "suppressions" }),

  may() { return SW.user && SW.user.role !== "viewer"; },

  label(cls) { return `Not ${/^[aeiou]/i.test(cls) ? "an" : "a"} ${cls}`; },

  path(camera, id) {
    return `/api/cameras/${encodeURIComponent(camera)}/suppressions` + (id ? `/${id}` : "");
  },

  // The button for one track (a search hit or the track on show); null for viewers.
  button(hit) {
    if (!SWSuppress.may() || !hit.camera || !hit.track_id) return null;
    const cls = hit.class_name || "person";
    const box = el("span", { class: "suppress", "data-track": hit.track_id });
    const problem = el("span", { class: "error" });
    const offer = () => {
      const mark = el("button", { type: "button", class: "suppress-add", title: `The camera stops reporting this object as ${cls}` },
        SWSuppress.label(cls));
      mark.onclick = async (event) => {
        event.stopPropagation();
        mark.disabled = true;
        problem.textContent = "";
        try {
          const made = await SW.api(SWSuppress.path(hit.camera), { method: "POST", body: { track_id: hit.track_id } });
          marked(made);
        } catch (e) { problem.textContent = e.message; mark.disabled = false; }
      };
      box.replaceChildren(mark, " ", problem);
    };
    const marked = (made) => {
      const undo = el("button", { type: "button", class: "suppress-undo" }, "Undo");
      undo.onclick = async (event) => {
        event.stopPropagation();
        undo.disabled = true;
        try { await SW.api(SWSuppress.path(hit.camera, made.id), { method: "DELETE" }); offer(); } catch (e) {
          problem.textContent = e.message; undo.disabled = false;
        }
      };
      box.replaceChildren(el("span", { class: "ok-message" }, `Marked: ${SWSuppress.label(cls).toLowerCase()} on ${hit.camera}`),
        " ", undo, " ", problem);
    };
    offer();
    return box;
  },

  // The Zones page's list for ``camera``, each with Undo (operators and admins).
  async render(camera) {
    const panel = SWSuppress.panel;
    panel.replaceChildren(el("h2", {}, "Marked “not a …”"), el("p", { class: "mute" }, "loading …"));
    let rows;
    try { rows = await SW.api(SWSuppress.path(camera)); } catch (e) {
      panel.replaceChildren(el("h2", {}, "Marked “not a …”"), el("div", { class: "error" }, e.message));
      return;
    }
    const problem = el("div", { class: "error", id: "suppress-error" });
    const items = rows.map((s) => {
      const [x1, y1, x2, y2] = s.box.map(Math.round);
      const undo = SWSuppress.may() ? el("button", { type: "button", class: "suppress-undo" }, "Undo") : null;
      if (undo) undo.onclick = async () => {
        undo.disabled = true;
        try { await SW.api(SWSuppress.path(camera, s.id), { method: "DELETE" }); await SWSuppress.render(camera); } catch (e) {
          problem.textContent = e.message; undo.disabled = false;
        }
      };
      return el("li", { "data-suppression": s.id }, el("span", { class: "pill" }, `not a ${s.class_name}`),
        ` at (${x1}, ${y1})–(${x2}, ${y2}) from track ${s.track_id ?? "–"}, by ${s.created_by}, ${SW.time(s.created_at)}`,
        s.reason ? ` (${s.reason})` : "", " ", undo);
    });
    panel.replaceChildren(el("h2", {}, "Marked “not a …”"),
      el("p", { class: "mute" }, "Objects operators marked from Search: the camera drops detections of that class with " +
        "that box. Undo to have them tracked again."),
      items.length ? el("ul", { class: "shapes", id: "suppression-list" }, ...items)
        : el("p", { class: "mute", id: "suppression-list" }, "None on this camera."),
      problem);
  },
};
