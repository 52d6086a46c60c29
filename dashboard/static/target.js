// Refreshes a target page's status, charts and findings every 15 seconds
// without reloading it: the page is fetched again and its parts swapped,
// so nothing accumulates in the browser over hours.
"use strict";
(function () {
  const every = 15000;
  const parts = ["#target-status", "#target-charts", "#target-findings"];
  async function refresh() {
    try {
      const resp = await fetch(location.href, { cache: "no-store" });
      if (!resp.ok) return;
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      for (const sel of parts) {
        const fresh = doc.querySelector(sel), cur = document.querySelector(sel);
        if (fresh && cur) cur.replaceWith(fresh);
      }
    } catch (e) {
      // The daemon is restarting or gone; try again at the next tick.
    }
  }
  setInterval(refresh, every);
})();
