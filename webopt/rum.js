// perfengine RUM collector: Core Web Vitals of real page views, sent as one
// JSON beacon when the page is hidden. Our own code, kept tiny on purpose.
(function () {
  var P = window.PerformanceObserver, perf = performance, d = document;
  if (!P || !navigator.sendBeacon) return;
  var url = "__ENDPOINT__", v = {}, sent = {}, hidden = d.visibilityState == "hidden" ? 0 : 1 / 0;
  function obs(type, f, o) {
    try {
      var p = new P(function (l) { l.getEntries().forEach(f); });
      o = o || {}; o.type = type; o.buffered = true; p.observe(o);
    } catch (e) {}
  }
  // A short CSS selector that names the element: tag#id, or tag.class under
  // up to two ancestors.
  function sel(n) {
    var s = [];
    for (var i = 0; n && n.nodeType == 1 && i < 3; i++, n = n.parentNode) {
      var t = n.localName;
      if (n.id) { s.unshift(t + "#" + n.id); break; }
      var c = typeof n.className == "string" && n.className.trim().split(/\s+/)[0];
      s.unshift(c ? t + "." + c : t);
    }
    return s.join(">").slice(0, 200);
  }
  var nav = perf.getEntriesByType("navigation")[0];
  if (nav) v.TTFB = { v: Math.max(nav.responseStart, 0) };
  obs("paint", function (e) {
    if (e.name == "first-contentful-paint" && e.startTime < hidden) v.FCP = { v: e.startTime };
  });
  obs("largest-contentful-paint", function (e) {
    if (e.startTime < hidden) v.LCP = { v: e.startTime, s: sel(e.element), u: (e.url || "").slice(0, 300) };
  });
  // CLS: the largest session window of shifts without recent input, a window
  // ending after a 1 s gap or 5 s in all.
  var cls = 0, win = 0, first = 0, last = 0;
  obs("layout-shift", function (e) {
    if (e.hadRecentInput) return;
    if (win && e.startTime - last < 1000 && e.startTime - first < 5000) win += e.value;
    else { win = e.value; first = e.startTime; }
    last = e.startTime;
    if (win > cls) { cls = win; v.CLS = { v: cls }; }
  });
  // INP as web-vitals estimates it: each interaction's longest event, the 10
  // longest kept, and the one at index (interactions / 50) reported, which
  // is the p98 of the page's interactions.
  var its = {}, top = [], n = 0;
  function ev(e) {
    var id = e.interactionId;
    if (!id) return;
    if (!its[id]) { its[id] = { d: 0 }; n++; }
    var it = its[id];
    if (e.duration <= it.d) return;
    it.d = e.duration;
    if (top.indexOf(it) < 0) top.push(it);
    top.sort(function (a, b) { return b.d - a.d; });
    if (top.length > 10) top.pop();
    var c = perf.interactionCount || n;
    v.INP = { v: top[Math.min(top.length - 1, Math.floor(c / 50))].d };
  }
  obs("event", ev, { durationThreshold: 16 });
  obs("first-input", ev);
  function send() {
    var m = [];
    for (var k in v) if (sent[k] !== v[k].v) { sent[k] = v[k].v; v[k].n = k; m.push(v[k]); }
    if (m.length) navigator.sendBeacon(url, JSON.stringify({ r: location.pathname, m: m }));
  }
  addEventListener("visibilitychange", function () {
    if (d.visibilityState == "hidden") { hidden = Math.min(hidden, perf.now()); send(); }
  }, true);
  addEventListener("pagehide", send, true);
})();
