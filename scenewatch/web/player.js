// The clip player of the search and alerts pages: says what the server is doing while it cuts
// and renders a clip (frames done of total), then plays it with the matched object's box drawn
// over the video, synced to its time (a toggle).
"use strict";
(() => {
  const POLL_MS = 300;
  const NEAR_S = 0.3;  // a box is drawn while the video is this close to its time
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  function stageText(p) {
    if (p.stage === "cutting") return "cutting the recording";
    if (p.stage === "rendering" && p.total) {
      return `rendering frame ${p.done} of ${p.total} (${Math.floor((100 * p.done) / p.total)} %)`;
    }
    if (p.stage === "rendering") return "rendering";
    return "waiting for a free renderer";
  }

  // The box of each track nearest to time t (boxes sorted by time), or none when none is near.
  function boxesAt(tracks, t) {
    const found = [];
    for (const track of tracks) {
      const list = track.boxes;
      let lo = 0, hi = list.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid][0] < t) lo = mid + 1; else hi = mid;
      }
      const near = [list[lo], list[lo - 1]].filter((b) => b && Math.abs(b[0] - t) <= NEAR_S)
        .sort((a, b) => Math.abs(a[0] - t) - Math.abs(b[0] - t))[0];
      if (near) found.push({ track, box: near });
    }
    return found;
  }

  function overlay(video, canvas, toggle, data) {
    const draw = () => {
      const ctx = canvas.getContext("2d");
      const w = video.clientWidth, h = video.clientHeight;
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      ctx.clearRect(0, 0, w, h);
      if (toggle.checked && video.videoWidth) {
        // the picture inside the element (letterboxed when the element's shape differs)
        const fit = Math.min(w / video.videoWidth, h / video.videoHeight);
        const pw = video.videoWidth * fit, ph = video.videoHeight * fit;
        const sx = pw / (data.width || video.videoWidth), sy = ph / (data.height || video.videoHeight);
        const ox = (w - pw) / 2, oy = (h - ph) / 2;
        ctx.lineWidth = 2;
        ctx.font = "12px sans-serif";
        for (const { track, box } of boxesAt(data.tracks, video.currentTime)) {
          const [, x1, y1, x2, y2, filled] = box;
          ctx.strokeStyle = filled ? "#ffd54f99" : "#ffd54f";
          ctx.strokeRect(ox + x1 * sx, oy + y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
          ctx.fillStyle = "#ffd54f";
          ctx.fillText(`${track.class} ${track.track_id}`, ox + x1 * sx + 2, Math.max(12, oy + y1 * sy - 4));
        }
      }
      canvas.dataset.drawn = String(toggle.checked ? boxesAt(data.tracks, video.currentTime).length : 0);
      if (video.isConnected) requestAnimationFrame(draw);
    };
    requestAnimationFrame(draw);
  }

  // Plays `url` (a clip route) in `container`; `title` goes above it, `videoId` names the video.
  SW.playClip = async function (container, url, { title = null, videoId = null } = {}) {
    const token = {};
    container.clipToken = token;  // a newer clip opened in the same player stops this one
    const join = url.includes("?") ? "&" : "?";
    const status = el("div", { class: "clip-status mute", role: "status" }, "preparing the clip …");
    container.replaceChildren(...[title, status].filter(Boolean));
    const started = performance.now();
    for (;;) {
      let p;
      try { p = await SW.api(url + join + "part=progress"); } catch (e) {
        status.textContent = `no clip: ${e.message}`;
        return;
      }
      if (container.clipToken !== token) return;
      const elapsed = ((performance.now() - started) / 1000).toFixed(1);
      if (p.stage === "ready") break;
      if (p.stage === "failed") { status.textContent = `no clip: ${p.message}`; return; }
      if (p.stage === "waiting") {
        status.textContent = `not recorded yet · ${elapsed} s · trying again in ${p.retry_after} s`;
        await sleep(p.retry_after * 1000);
      } else {
        status.textContent = `${stageText(p)} · ${elapsed} s`;
        await sleep(POLL_MS);
      }
      if (container.clipToken !== token) return;
    }
    const video = el("video", { id: videoId, src: url, controls: true, autoplay: true, muted: true });
    const canvas = el("canvas", { class: "clip-boxes", "aria-hidden": "true" });
    const toggle = el("input", { type: "checkbox", class: "show-boxes", checked: true });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status.textContent = `ready in ${seconds} s`;
    container.replaceChildren(...[title,
      el("div", { class: "clip-stage" }, video, canvas),
      el("div", { class: "row" }, el("label", { class: "check" }, toggle, " show the matched object's box"), status),
    ].filter(Boolean));
    try {
      const data = await SW.api(url + join + "part=boxes");
      if (container.clipToken === token && data.tracks.length) overlay(video, canvas, toggle, data);
      else toggle.disabled = true;
    } catch (_) { toggle.disabled = true; }  // the clip plays without boxes
  };
})();
