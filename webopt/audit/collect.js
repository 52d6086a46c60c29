// Evaluated after the page has loaded and settled: the vitals the observer
// gathered, the hero's timing, and the page's problems with the element to
// fix. Returns a JSON string.
(function () {
  var a = window.__perfengineAudit || {}, nav = performance.getEntriesByType("navigation")[0] || {};
  var res = performance.getEntriesByType("resource"), vh = innerHeight, out = [];
  function sel(n) {
    var s = [];
    for (var i = 0; n && n.nodeType == 1 && i < 3; i++, n = n.parentNode) {
      if (n.id) { s.unshift(n.localName + "#" + n.id); break; }
      var c = typeof n.className == "string" && n.className.trim().split(/\s+/)[0];
      s.unshift(c ? n.localName + "." + c : n.localName);
    }
    return s.join(">");
  }
  function timing(url) {
    for (var i = 0; i < res.length; i++) if (res[i].name == url) return res[i];
    return null;
  }
  // The hero: the LCP image, else the largest image rendered above the fold.
  var hero = null, best = 0, imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    var im = imgs[i], r = im.getBoundingClientRect(), area = r.width * r.height;
    if (r.top < vh && area > best) { best = area; hero = im; }
    if (!im.getAttribute("width") || !im.getAttribute("height"))
      out.push({ kind: "unsized_image", element: sel(im), url: im.currentSrc || im.src });
    if (r.top >= vh && im.loading != "lazy" && im.complete && im.currentSrc) {
      var t = timing(im.currentSrc);
      out.push({ kind: "offscreen_image", element: sel(im), url: im.currentSrc, bytes: t ? t.transferSize : 0 });
    }
  }
  var heroURL = a.lcp && a.lcp.url ? a.lcp.url : hero ? hero.currentSrc : "", ht = heroURL ? timing(heroURL) : null;
  res.forEach(function (e) {
    if (e.renderBlockingStatus == "blocking") out.push({ kind: "render_blocking", url: e.name, ms: e.responseEnd - e.startTime });
  });
  if (a.lcp && a.lcp.lazy) out.push({ kind: "lazy_lcp", element: a.lcp.sel, url: a.lcp.url });
  for (var s = 0; s < document.styleSheets.length; s++) {
    var rules;
    try { rules = document.styleSheets[s].cssRules; } catch (e) { continue; }
    for (var k = 0; k < rules.length; k++) {
      var ru = rules[k];
      if (ru.type == 5 && (!ru.style.getPropertyValue("font-display") || ru.style.getPropertyValue("font-display") == "auto"))
        out.push({ kind: "font_display", element: "@font-face " + ru.style.getPropertyValue("font-family"), url: document.styleSheets[s].href || "" });
    }
  }
  return JSON.stringify({
    lcp: a.lcp, cls: a.cls || 0, fcp: a.fcp, tbt: a.tbt || 0, ttfb: nav.responseStart || null,
    hero: heroURL, heroResponseEnd: ht ? ht.responseEnd : null, findings: out, lcpSupported: PerformanceObserver.supportedEntryTypes.indexOf("largest-contentful-paint") >= 0
  });
})()
