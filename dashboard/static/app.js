// Refreshes the status badge and the figures from /api/v1/summary every few
// seconds. When the lists change (a new action, a new violation), it reloads
// the page, unless someone is typing in a form.
"use strict";
(function () {
  const every = 5000;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  function format(kind, v) {
    switch (kind) {
      case "bytes": { let i = 0; while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; } return v.toFixed(1) + " " + units[i]; }
      case "ratio": return (v * 100).toFixed(2) + " %";
      case "percent": return v.toFixed(1) + " %";
      case "ms": return v.toFixed(1) + " ms";
      case "rps": return v.toFixed(1) + " req/s";
    }
    return Number(v.toPrecision(4)).toString();
  }
  function shape(s) {
    const n = (a) => (a ? a.length : 0);
    return [s.status, n(s.violations), n(s.recommendations), n(s.optimizations), n(s.findings), n(s.modules)].join("/");
  }
  let last = null;
  async function refresh() {
    try {
      const resp = await fetch("api/v1/summary", { cache: "no-store" });
      if (!resp.ok) return;
      const s = await resp.json();
      const now = shape(s);
      const typing = document.activeElement && document.activeElement.tagName === "INPUT";
      if (last !== null && now !== last && !typing) { location.reload(); return; }
      last = now;
      const badge = document.getElementById("status");
      badge.textContent = s.status;
      badge.className = "badge " + s.status;
      document.title = "perfengine · " + s.status;
      const t = new Date(s.time);
      const updated = document.getElementById("updated");
      updated.textContent = t.toLocaleTimeString();
      updated.dateTime = s.time;
      for (const el of document.querySelectorAll("[data-metric]")) {
        const v = s.metrics ? s.metrics[el.dataset.metric] : undefined;
        if (typeof v === "number") el.textContent = format(el.dataset.format, v);
      }
    } catch (e) {
      // The daemon is restarting or gone; try again at the next tick.
    }
  }
  // The token is asked once per browser session: kept in sessionStorage
  // (gone with the tab), filled into every approve and undo form.
  const tokenKey = "perfengine-token";
  function fillTokens() {
    let saved = null;
    try { saved = sessionStorage.getItem(tokenKey); } catch (e) { return; }
    for (const input of document.querySelectorAll("input[name=token]")) {
      if (saved && !input.value) input.value = saved;
    }
  }
  document.addEventListener("submit", (ev) => {
    const input = ev.target.querySelector ? ev.target.querySelector("input[name=token]") : null;
    if (input && input.value) {
      try { sessionStorage.setItem(tokenKey, input.value); } catch (e) { /* storage off: asked each time */ }
    }
  });
  fillTokens();
  refresh();
  setInterval(refresh, every);
})();
