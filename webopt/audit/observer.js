// Installed with Page.addScriptToEvaluateOnNewDocument, so it runs before
// the page's own scripts and sees every entry from the start. The audit
// reads window.__perfengineAudit with Runtime.evaluate, which (unlike
// chromedp.Poll) is no user gesture and so does not end LCP recording.
(function () {
  var a = window.__perfengineAudit = { lcp: null, cls: 0, fcp: null, tbt: 0, longTasks: 0 };
  function obs(type, f) {
    try { new PerformanceObserver(function (l) { l.getEntries().forEach(f); }).observe({ type: type, buffered: true }); } catch (e) {}
  }
  function sel(n) {
    var s = [];
    for (var i = 0; n && n.nodeType == 1 && i < 3; i++, n = n.parentNode) {
      if (n.id) { s.unshift(n.localName + "#" + n.id); break; }
      var c = typeof n.className == "string" && n.className.trim().split(/\s+/)[0];
      s.unshift(c ? n.localName + "." + c : n.localName);
    }
    return s.join(">");
  }
  obs("largest-contentful-paint", function (e) {
    var el = e.element;
    a.lcp = { t: e.startTime, sel: sel(el), url: e.url || "", tag: el ? el.localName : "",
      lazy: !!(el && el.getAttribute && el.getAttribute("loading") == "lazy") };
  });
  obs("paint", function (e) { if (e.name == "first-contentful-paint") a.fcp = e.startTime; });
  var win = 0, first = 0, last = 0;
  obs("layout-shift", function (e) {
    if (e.hadRecentInput) return;
    if (win && e.startTime - last < 1000 && e.startTime - first < 5000) win += e.value;
    else { win = e.value; first = e.startTime; }
    last = e.startTime;
    a.cls = Math.max(a.cls, win);
  });
  // TBT, the lab's stand-in for INP: the part of each long task after FCP
  // beyond 50 ms.
  obs("longtask", function (e) {
    a.longTasks++;
    var start = Math.max(e.startTime, a.fcp || 0), end = e.startTime + e.duration;
    if (end - start > 50) a.tbt += end - start - 50;
  });
})();
