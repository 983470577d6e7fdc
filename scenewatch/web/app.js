// Shared by every page: the API client (session cookie + CSRF header), the navigation bar, helpers.
"use strict";

const SW = {
  csrf: sessionStorage.getItem("sw_csrf"),
  user: null,
  nearView: null,  // the IntersectionObserver of lazyImage

  async api(path, options = {}) {
    const opts = { credentials: "same-origin", ...options, headers: { ...(options.headers || {}) } };
    if (opts.body && typeof opts.body !== "string") {
      opts.body = JSON.stringify(opts.body);
      opts.headers["content-type"] = "application/json";
    }
    if (opts.method && opts.method !== "GET" && SW.csrf) opts.headers["x-csrf-token"] = SW.csrf;
    const response = await fetch(path, opts);
    if (response.status === 401 && !location.pathname.endsWith("login.html")) {
      location.href = "login.html?next=" + encodeURIComponent(location.pathname + location.search);
      return new Promise(() => {});  // the page is going away: nothing more to do here
    }
    if (!response.ok) {
      let message = response.statusText, field = null;
      try {
        const body = await response.json();
        message = body.error || message;
        field = body.field || null;
      } catch (_) { /* not JSON */ }
      // the server's validation messages may start with pydantic's "Value error, "
      const error = new Error(String(message).replace(/^Value error, /, ""));
      error.status = response.status;
      error.field = field;  // the request field the server names (e.g. "rules.0.search.min_score"), or null
      throw error;
    }
    if (response.status === 204) return null;
    return (response.headers.get("content-type") || "").includes("json") ? response.json() : response;
  },

  async start(page) {
    const me = await SW.api("/api/auth/me");
    SW.user = me.user;
    if (me.csrf_token) { SW.csrf = me.csrf_token; sessionStorage.setItem("sw_csrf", SW.csrf); }
    SW.nav(page);
    return me.user;
  },

  nav(page) {
    const pages = [["index.html", "Live"], ["search.html", "Search"], ["review.html", "Review"], ["alerts.html", "Alerts"],
                   ["health.html", "Health"], ["zones.html", "Zones"]];
    if (SW.user.role === "admin") pages.push(["admin.html", "Admin"]);
    const nav = document.querySelector("nav");
    nav.replaceChildren(el("span", { class: "brand" }, "SceneWatch"));
    for (const [href, label] of pages) {
      nav.append(el("a", { href, class: page === href ? "here" : "" }, label));
    }
    nav.append(el("span", { class: "who" }, `${SW.user.name} (${SW.user.role})`));
    const out = el("button", { id: "logout" }, "Sign out");
    out.onclick = async () => {
      await SW.api("/api/auth/logout", { method: "POST" }).catch(() => {});
      sessionStorage.removeItem("sw_csrf");
      location.href = "login.html";
    };
    nav.append(out);
  },

  time(ts) {
    return ts == null ? "-" : new Date(ts * 1000).toLocaleString();
  },

  // An <img> that asks for its picture once it comes within 300 px of the screen: a long list of
  // snapshots costs what is seen (the browser's loading="lazy" starts thousands of pixels ahead).
  lazyImage(src, attrs = {}) {
    SW.nearView ??= new IntersectionObserver((seen) => {
      for (const entry of seen) {
        if (!entry.isIntersecting) continue;
        entry.target.src = entry.target.dataset.src;
        SW.nearView.unobserve(entry.target);
      }
    }, { rootMargin: "300px" });
    const image = el("img", { ...attrs, "data-src": src });
    SW.nearView.observe(image);
    return image;
  },

  // One current fault in words, the same on every page ("lagging 4.2 s behind").
  faultText(f) {
    return f.fault === "lagging" && f.lag_s != null ? `lagging ${f.lag_s.toFixed(1)} s behind` : f.fault;
  },
};

// el("div", {class: "x"}, "text", child, ...): a DOM element; text is never parsed as HTML.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node[key] = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
