// syncctl ui: reveal a password on request, and filter the history as one types.
"use strict";
document.addEventListener("click", async (e) => {
  const button = e.target.closest("button.reveal");
  if (!button) return;
  const secret = document.querySelector(`.secret[data-id="${CSS.escape(button.dataset.id)}"]`);
  if (button.dataset.shown) {
    secret.textContent = "••••••••";
    delete button.dataset.shown;
    button.textContent = "Reveal";
    return;
  }
  const r = await fetch(`/passwords/${encodeURIComponent(button.dataset.id)}/reveal`,
    { method: "POST", headers: { "X-Syncctl-UI": "reveal" } });
  if (!r.ok) { secret.textContent = "(could not read it)"; return; }
  secret.textContent = await r.text();
  button.dataset.shown = "1";
  button.textContent = "Hide";
});
document.addEventListener("DOMContentLoaded", () => {
  const q = document.getElementById("q");
  if (!q) return;
  q.addEventListener("input", () => {
    const needle = q.value.toLowerCase();
    let shown = 0;
    for (const li of document.querySelectorAll("li.visit")) {
      const hit = li.dataset.text.toLowerCase().includes(needle);
      li.hidden = !hit;
      if (hit) shown++;
    }
    for (const day of document.querySelectorAll("section.day")) {
      day.hidden = !day.querySelector("li.visit:not([hidden])");
    }
    document.getElementById("count").textContent = `${shown} ${shown === 1 ? "page" : "pages"}`;
  });
});
