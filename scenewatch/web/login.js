"use strict";
document.getElementById("login").onsubmit = async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const answer = await SW.api("/api/auth/login", { method: "POST", body: {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value } });
    sessionStorage.setItem("sw_csrf", answer.csrf_token);
    const next = new URLSearchParams(location.search).get("next") || "/ui/index.html";
    location.href = next.startsWith("/ui/") ? next : "/ui/index.html";  // never off-site
  } catch (e) { error.textContent = e.message; }
};
