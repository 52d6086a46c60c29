package webopt

import (
	"encoding/json"
	"regexp"
	"strings"
)

// lazyJS loads the images that wait in data-src and the lazy components as
// they near the viewport, with one IntersectionObserver. Without one (old
// browsers) it loads everything at once rather than nothing. A component's
// <template> child is put in place and a bubbling "lazy-component" event
// names it, for the page's code to mount.
const lazyJS = `(function(){var c=%CFG%,d=document;` +
	`function L(e){if(e.matches(c.c)){var t=e.querySelector("template");if(t){e.appendChild(t.content.cloneNode(true));t.remove()}` +
	`e.setAttribute("data-lazy-loaded","");e.dispatchEvent(new CustomEvent("lazy-component",{bubbles:true,detail:e.getAttribute("data-lazy-component")}));return}` +
	`if(c.f>0){e.style.transition="opacity "+c.f+"ms";e.style.opacity=0;e.addEventListener("load",function(){e.style.opacity=1},{once:true})}` +
	`if(e.dataset.srcset){e.srcset=e.dataset.srcset;e.removeAttribute("data-srcset")}if(e.dataset.src){e.src=e.dataset.src;e.removeAttribute("data-src")}}` +
	`var a=d.querySelectorAll(c.i+","+c.c);if(!("IntersectionObserver"in window)){a.forEach(L);return}` +
	`var o=new IntersectionObserver(function(es){es.forEach(function(x){if(x.isIntersecting){o.unobserve(x.target);L(x.target)}})},{rootMargin:c.m,threshold:c.t});` +
	`a.forEach(function(e){o.observe(e)})})();`

func lazyScript(l LazyOptions) []byte {
	fade := l.FadeInDuration.Milliseconds()
	if fade < 0 {
		fade = 0
	}
	cfg, _ := json.Marshal(struct {
		I string  `json:"i"`
		C string  `json:"c"`
		M string  `json:"m"`
		T float64 `json:"t"`
		F int64   `json:"f"`
	}{l.ImageSelector, l.ComponentSelector, l.RootMargin, l.Threshold, fade})
	return scriptElement(strings.Replace(lazyJS, "%CFG%", string(cfg), 1))
}

// scriptElement wraps JavaScript in a <script> element it cannot end early.
func scriptElement(js string) []byte {
	js = endScript.ReplaceAllString(js, `<\/$1`)
	return []byte("<script>" + js + "</script>")
}

var endScript = regexp.MustCompile(`(?i)</(script)`)
