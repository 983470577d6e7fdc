// Camera health: online rate, current faults, history.
"use strict";
(async () => {
  await SW.start("health.html");
  const main = document.getElementById("main");
  const pct = (v) => (v == null ? "-" : (100 * v).toFixed(1) + " %");
  const report = await SW.api("/api/health");
  const history = await SW.api("/api/health/events?limit=100");
  main.append(el("h1", {}, "Camera health"),
    el("p", {}, `Site online rate (24 h): `, el("strong", { id: "site-rate" }, pct(report.site_online_rate)),
      // cameras may be watched by another process (`scenewatch run` beside `serve --no-pipeline`)
      ` · pipeline ${report.pipeline.running ? "running"
        : report.cameras.some((c) => c.watched) ? "running in another process" : "not running"}`),
    el("table", { id: "fleet" },
      el("tr", {}, ...["camera", "status", "online", "online rate", "current faults"].map((h) => el("th", {}, h))),
      ...report.cameras.map((c) => el("tr", {},
        el("td", {}, c.camera), el("td", {}, el("span", { class: "badge " + c.status }, c.status)),
        el("td", {}, c.online == null ? "-" : c.online ? "yes" : "no"), el("td", {}, pct(c.online_rate)),
        el("td", {}, [...c.faults.map((f) => `${SW.faultText(f)} since ${SW.time(f.since)}`),
          ...(c.capped ? ["capped to its share of the detector"] : [])].join(", ") || "none")))),
    el("h2", {}, "History"),
    el("table", { id: "history" },
      el("tr", {}, ...["camera", "fault", "state", "severity", "from", "to"].map((h) => el("th", {}, h))),
      ...history.map((h) => el("tr", {}, el("td", {}, h.camera), el("td", {}, h.fault),
        el("td", {}, el("span", { class: "badge " + h.state }, h.state)), el("td", {}, h.severity),
        el("td", {}, SW.time(h.start_ts)),
        el("td", {}, h.state === "raised" ? "open" : h.state === "info" ? "-" : SW.time(h.end_ts)
          + (h.detail && h.detail.closed ? ` (${h.detail.closed})` : ""))))));
  if (!report.cameras.length) main.append(el("p", { class: "mute" }, "No health reports yet: start the pipeline."));
  if (!history.length) main.append(el("p", { class: "mute" }, "No faults recorded."));
})();
