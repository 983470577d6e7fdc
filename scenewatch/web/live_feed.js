// The Live page's pictures with the overlay on: one streamed request for all the tiles shown
// (GET /api/live/frames?cameras=a,b,c) instead of a request per tile and frame. Each record is a
// line of JSON (camera, seq, size, the tracked objects, the JPEG's byte length) and then that
// frame's JPEG, so a box is drawn on the very frame it was found in.
"use strict";

const SWLiveFeed = {
  // Streams ``cameras`` to onFrame(head, jpeg) until close(); a dropped stream is reopened after
  // a pause that grows while it keeps failing (a camera removed: the page's refresh drops it).
  open(cameras, onFrame) {
    const controller = new AbortController();
    const url = `/api/live/frames?cameras=${cameras.map(encodeURIComponent).join(",")}`;
    (async () => {
      let pause = 1000;
      while (!controller.signal.aborted) {
        try {
          const response = await fetch(url, { credentials: "same-origin", cache: "no-store",
                                              signal: controller.signal });
          if (response.ok) {
            pause = 1000;
            await SWLiveFeed.read(response.body.getReader(), onFrame);
          }
        } catch (_) { /* dropped, or closed on purpose: the loop's test tells */ }
        if (controller.signal.aborted) break;
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(2 * pause, 10000);
      }
    })();
    return { key: cameras.join(","), close: () => controller.abort() };
  },

  // Splits the byte stream into records: a JSON line (empty lines keep the stream alive), then
  // ``jpeg`` bytes of picture.
  async read(reader, onFrame) {
    const text = new TextDecoder();
    let buffer = new Uint8Array(0);
    let head = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      for (;;) {
        if (head === null) {
          const end = buffer.indexOf(10);
          if (end < 0) break;
          const line = text.decode(buffer.subarray(0, end));
          buffer = buffer.subarray(end + 1);
          if (line) head = JSON.parse(line);
        } else if (buffer.length >= head.jpeg) {
          onFrame(head, buffer.slice(0, head.jpeg));
          buffer = buffer.subarray(head.jpeg);
          head = null;
        } else break;
      }
    }
  },
};
