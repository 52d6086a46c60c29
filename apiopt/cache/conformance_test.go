package cache

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// These tests follow RFC 9111 (HTTP caching), RFC 9213 (targeted cache
// control) and RFC 8297 (103 Early Hints), one behaviour each.

// twice sends two GETs of /a through a fresh cache in front of an origin
// answering with hdr, the clock moved by advance in between, and returns
// both responses and the origin's call count.
func twice(t *testing.T, cfg Config, hdr http.Header, advance time.Duration, second ...string) (a, b *httptest.ResponseRecorder, calls int64) {
	t.Helper()
	clk := newClock()
	c := newCache(t, clk, cfg)
	o := &origin{header: hdr}
	h := c.Middleware(o)
	a = do(h, "GET", "/a")
	clk.Add(advance)
	b = do(h, "GET", "/a", second...)
	return a, b, o.calls.Load()
}

func TestTargetedCacheControl(t *testing.T) {
	past := "Thu, 01 Jan 2026 00:00:00 GMT"
	tests := []struct {
		name      string
		hdr       http.Header
		advance   time.Duration
		wantCalls int64
	}{
		{"CDN-Cache-Control overrides no-store", http.Header{"Cdn-Cache-Control": {"max-age=60"}, "Cache-Control": {"no-store"}}, 0, 1},
		{"CDN-Cache-Control max-age=0 overrides max-age=60", http.Header{"Cdn-Cache-Control": {"max-age=0"}, "Cache-Control": {"max-age=60"}}, time.Second, 2},
		{"our own field comes first", http.Header{DefaultTargetedField: {"no-store"}, "Cdn-Cache-Control": {"max-age=60"}}, 0, 2},
		{"our own field alone", http.Header{DefaultTargetedField: {"max-age=60"}, "Cache-Control": {"private"}}, 0, 1},
		{"s-maxage in the targeted field", http.Header{"Cdn-Cache-Control": {"s-maxage=60"}}, 30 * time.Second, 1},
		{"private in the targeted field", http.Header{"Cdn-Cache-Control": {"private"}, "Cache-Control": {"public, max-age=60"}}, 0, 2},
		{"Expires is ignored too", http.Header{"Cdn-Cache-Control": {"max-age=60"}, "Expires": {past}}, 0, 1},
		{"invalid field is ignored: trailing comma", http.Header{"Cdn-Cache-Control": {"max-age=60,"}, "Cache-Control": {"no-store"}}, 0, 2},
		{"invalid field is ignored: bad key", http.Header{"Cdn-Cache-Control": {"Max-Age=60"}, "Cache-Control": {"max-age=60"}}, 0, 1},
		{"invalid field falls back to the next one", http.Header{DefaultTargetedField: {"max-age=="}, "Cdn-Cache-Control": {"max-age=60"}, "Cache-Control": {"no-store"}}, 0, 1},
		{"decimal max-age is ignored, field still wins", http.Header{"Cdn-Cache-Control": {"max-age=1.5"}, "Cache-Control": {"max-age=60"}}, 0, 2},
		{"string max-age is ignored", http.Header{"Cdn-Cache-Control": {`max-age="60"`}, "Cache-Control": {"max-age=60"}}, 0, 2},
		{"parameters are ignored", http.Header{"Cdn-Cache-Control": {"max-age=60;foo=bar"}, "Cache-Control": {"no-store"}}, 0, 1},
		{"no-cache in the targeted field", http.Header{"Cdn-Cache-Control": {"no-cache, max-age=60"}, "Cache-Control": {"max-age=60"}}, 0, 2},
		{"empty field is ignored", http.Header{"Cdn-Cache-Control": {""}, "Cache-Control": {"max-age=60"}}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, calls := twice(t, Config{}, tc.hdr, tc.advance)
			if calls != tc.wantCalls {
				t.Errorf("origin calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestTargetedFieldIsNotForwarded(t *testing.T) {
	hdr := http.Header{"Cdn-Cache-Control": {"max-age=60"}, DefaultTargetedField: {"max-age=60"}}
	for _, forward := range []bool{false, true} {
		a, b, _ := twice(t, Config{ForwardTargeted: forward}, hdr, 0)
		for i, w := range []*httptest.ResponseRecorder{a, b} {
			got := w.Header().Get("Cdn-Cache-Control") != "" || w.Header().Get(DefaultTargetedField) != ""
			if got != forward {
				t.Errorf("ForwardTargeted=%v: response %d carries targeted fields = %v (%v)", forward, i+1, got, w.Header())
			}
		}
	}
}

func TestTargetedFieldNameIsConfigurable(t *testing.T) {
	hdr := http.Header{"Edge-Cache-Control": {"max-age=60"}, "Cache-Control": {"no-store"}}
	if _, _, calls := twice(t, Config{TargetedFields: []string{"edge-cache-control"}}, hdr, 0); calls != 1 {
		t.Errorf("origin calls = %d with the configured field, want 1", calls)
	}
	hdr = http.Header{"Cdn-Cache-Control": {"max-age=60"}, "Cache-Control": {"no-store"}}
	if _, _, calls := twice(t, Config{TargetedFields: []string{}}, hdr, 0); calls != 2 {
		t.Errorf("origin calls = %d with targeted fields off, want 2", calls)
	}
}

func TestStrictFreshness(t *testing.T) {
	date := "Fri, 02 Jan 2026 03:04:05 GMT" // the test clock's now
	tests := []struct {
		name      string
		hdr       http.Header
		wantCalls int64
	}{
		{"valid Expires", http.Header{"Date": {date}, "Expires": {"Fri, 02 Jan 2026 03:05:05 GMT"}}, 1},
		{"Expires with a one-digit hour", http.Header{"Date": {date}, "Expires": {"Fri, 02 Jan 2026 3:05:05 GMT"}}, 2},
		{"Expires with several spaces", http.Header{"Date": {date}, "Expires": {"Fri,  02 Jan 2026 03:05:05 GMT"}}, 2},
		{"Expires in rfc850 form", http.Header{"Date": {date}, "Expires": {"Friday, 02-Jan-26 03:05:05 GMT"}}, 1},
		{"Expires in asctime form", http.Header{"Date": {date}, "Expires": {"Fri Jan  2 03:05:05 2026"}}, 1},
		{"Age list is read by its first member", http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"7200, 0"}}, 2},
		{"small Age keeps it fresh", http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"10"}}, 1},
		{"invalid Age is ignored", http.Header{"Cache-Control": {"max-age=3600"}, "Age": {"-5"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, b, calls := twice(t, Config{}, tc.hdr, time.Second)
			if calls != tc.wantCalls {
				t.Errorf("origin calls = %d, want %d (second Cache-Status %q)", calls, tc.wantCalls, b.Header().Get("Cache-Status"))
			}
		})
	}
}

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},
		{"Sun Nov  6 08:49:37 1994", true},
		{"Sun, 06 Nov 1994 8:49:37 GMT", false},
		{"Sun,  06 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", false},
		{"Sun, 31 Feb 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 24:49:37 GMT", false},
		{"Sun Nov 6 08:49:37 1994", false},
		{"Sunday, 06-Nov-1994 08:49:37 GMT", false},
		{"0", false},
		{"", false},
	}
	for _, tc := range tests {
		got, err := parseHTTPDate(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !got.Equal(want)) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want ok=%v", tc.in, got, err, tc.ok)
		}
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

func TestOriginCodedResponseIsStoredAsSent(t *testing.T) {
	body := gzipped(t, strings.Repeat("already compressed by the origin ", 40))
	var calls int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"gz1"`)
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("X-Origin", "yes")
		w.Write(body)
	})
	c := newCache(t, newClock(), Config{})
	m := c.Middleware(h)
	first := do(m, "GET", "/g", "Accept-Encoding", "gzip, br")
	second := do(m, "GET", "/g", "Accept-Encoding", "gzip")
	if calls != 1 {
		t.Fatalf("origin calls = %d, want 1: the coded response was not stored (%q)", calls, first.Header().Get("Cache-Status"))
	}
	for i, w := range []*httptest.ResponseRecorder{first, second} {
		if !bytes.Equal(w.Body.Bytes(), body) {
			t.Errorf("response %d body differs from what the origin sent", i+1)
		}
		if got := w.Header().Get("Content-Encoding"); got != "gzip" {
			t.Errorf("response %d Content-Encoding = %q, want gzip", i+1, got)
		}
		if got := w.Header().Get("ETag"); got != `"gz1"` {
			t.Errorf("response %d ETag = %q, want the origin's", i+1, got)
		}
		if got := w.Header().Get("X-Origin"); got != "yes" {
			t.Errorf("response %d lost the origin's header fields", i+1)
		}
	}
	// Varied on Accept-Encoding: a client that takes no gzip is not given it.
	do(m, "GET", "/g", "Accept-Encoding", "br;q=1, gzip;q=0")
	if calls != 2 {
		t.Errorf("origin calls = %d after a request refusing gzip, want 2", calls)
	}
}

func TestOriginETagIsKept(t *testing.T) {
	for _, tag := range []string{`W/"v1"`, `"v1"`} {
		t.Run(tag, func(t *testing.T) {
			hdr := http.Header{"Cache-Control": {"max-age=60"}, "Etag": {tag}}
			a, _, _ := twice(t, Config{}, hdr, 0)
			if got := a.Header().Get("ETag"); got != tag {
				t.Fatalf("ETag = %q, want the origin's %q", got, tag)
			}
			for _, inm := range []string{tag, `"v1"`, `W/"v1"`, `"x", ` + tag} {
				_, b, calls := twice(t, Config{}, hdr, 0, "If-None-Match", inm)
				if b.Code != http.StatusNotModified || calls != 1 {
					t.Errorf("If-None-Match %s: status %d, origin calls %d; want 304 from store", inm, b.Code, calls)
				}
			}
			if _, b, _ := twice(t, Config{}, hdr, 0, "If-None-Match", `"v2"`); b.Code != http.StatusOK {
				t.Errorf("If-None-Match \"v2\": status %d, want 200", b.Code)
			}
		})
	}
}

func TestVaryNormalisation(t *testing.T) {
	tests := []struct {
		name         string
		vary, lang   string
		field        string
		first, later string
		wantHit      bool
	}{
		{"case", "X-Flavour", "", "X-Flavour", "Mint", "mint", true},
		{"whitespace", "X-Flavour", "", "X-Flavour", "a,b", " a , b ", true},
		{"member order", "X-Flavour", "", "X-Flavour", "a, b", "b, a", true},
		{"parameter spacing", "X-Flavour", "", "X-Flavour", "a;q=0.5", "a; q=0.5", true},
		{"different value", "X-Flavour", "", "X-Flavour", "a", "b", false},
		{"language by selection", "Accept-Language", "en", "Accept-Language", "en-US, fr;q=0.5", "en", true},
		{"language first preference", "Accept-Language", "en", "Accept-Language", "en", "fr;q=0.4, en;q=0.9", true},
		{"language not selected", "Accept-Language", "en", "Accept-Language", "en", "de, en;q=0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"Cache-Control": {"max-age=60"}, "Vary": {tc.vary}}
			if tc.lang != "" {
				hdr.Set("Content-Language", tc.lang)
			}
			clk := newClock()
			c := newCache(t, clk, Config{})
			o := &origin{header: hdr}
			h := c.Middleware(o)
			do(h, "GET", "/a", tc.field, tc.first)
			do(h, "GET", "/a", tc.field, tc.later)
			if hit := o.calls.Load() == 1; hit != tc.wantHit {
				t.Errorf("%s %q then %q: hit = %v, want %v", tc.field, tc.first, tc.later, hit, tc.wantHit)
			}
		})
	}
}

func TestMustUnderstand(t *testing.T) {
	tests := []struct {
		status    int
		wantCalls int64
	}{
		{http.StatusOK, 1},        // understood: no-store is overridden
		{http.StatusNotFound, 1},  // understood
		{299, 2},                  // not understood: never stored
		{http.StatusTeapot, 2},    // not understood
		{http.StatusNoContent, 1}, // understood
	}
	for _, tc := range tests {
		clk := newClock()
		c := newCache(t, clk, Config{})
		o := &origin{header: http.Header{"Cache-Control": {"must-understand, no-store, max-age=60"}}, status: tc.status}
		h := c.Middleware(o)
		do(h, "GET", "/a")
		do(h, "GET", "/a")
		if got := o.calls.Load(); got != tc.wantCalls {
			t.Errorf("status %d with must-understand, no-store: origin calls = %d, want %d", tc.status, got, tc.wantCalls)
		}
	}
}

// rangeOrigin serves a fixed body with ranges, a strong ETag and freshness.
func rangeOrigin(body []byte, calls *int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"r1"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func TestPartialContent(t *testing.T) {
	body := make([]byte, 1000)
	for i := range body {
		body[i] = byte(i * 7)
	}
	var calls int
	c := newCache(t, newClock(), Config{})
	h := c.Middleware(rangeOrigin(body, &calls))

	check := func(w *httptest.ResponseRecorder, code int, first, last int, wantCalls int) {
		t.Helper()
		if w.Code != code {
			t.Fatalf("status %d, want %d (%q)", w.Code, code, w.Header().Get("Cache-Status"))
		}
		if !bytes.Equal(w.Body.Bytes(), body[first:last+1]) {
			t.Errorf("body is not bytes %d-%d", first, last)
		}
		if calls != wantCalls {
			t.Errorf("origin calls = %d, want %d", calls, wantCalls)
		}
	}
	check(do(h, "GET", "/f", "Range", "bytes=0-499"), 206, 0, 499, 1)
	w := do(h, "GET", "/f", "Range", "bytes=100-199")
	check(w, 206, 100, 199, 1)
	if got := w.Header().Get("Content-Range"); got != "bytes 100-199/1000" {
		t.Errorf("Content-Range = %q", got)
	}
	check(do(h, "GET", "/f", "Range", "bytes=-100"), 206, 900, 999, 2) // not covered yet
	check(do(h, "GET", "/f", "Range", "bytes=500-"), 206, 500, 999, 3)
	// 0-499 and 500-999 with one strong validator make the whole body.
	check(do(h, "GET", "/f"), 200, 0, 999, 3)
	check(do(h, "GET", "/f", "Range", "bytes=400-599"), 206, 400, 599, 3)
}

func TestWholeResponseServesRanges(t *testing.T) {
	body := []byte(strings.Repeat("0123456789", 50))
	var calls int
	c := newCache(t, newClock(), Config{})
	h := c.Middleware(rangeOrigin(body, &calls))
	do(h, "GET", "/f")
	w := do(h, "GET", "/f", "Range", "bytes=10-19")
	if w.Code != 206 || w.Body.String() != "0123456789" || calls != 1 {
		t.Errorf("range of a stored 200: status %d body %q calls %d", w.Code, w.Body.String(), calls)
	}
}

func TestSetCookieStaysUnstoredUnlessTheRouteOptsIn(t *testing.T) {
	calls := map[string]int{}
	mux := http.NewServeMux()
	for _, p := range []string{"/private", "/welcome"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			calls[p]++
			w.Header().Set("Cache-Control", "public, max-age=60")
			w.Header().Add("Set-Cookie", "sid=secret")
			io.WriteString(w, "page")
		})
	}
	c := newCache(t, newClock(), Config{CookieRoutes: []string{"GET /welcome"}})
	h := c.Middleware(mux)
	first := do(h, "GET", "/private")
	do(h, "GET", "/private")
	if calls["/private"] != 2 || !strings.Contains(first.Header().Get("Cache-Status"), "detail=set-cookie") {
		t.Errorf("/private: calls %d, Cache-Status %q; want unstored with detail=set-cookie", calls["/private"], first.Header().Get("Cache-Status"))
	}
	do(h, "GET", "/welcome")
	hit := do(h, "GET", "/welcome")
	if calls["/welcome"] != 1 {
		t.Errorf("/welcome opted in: origin calls = %d, want 1", calls["/welcome"])
	}
	if got := hit.Header().Get("Set-Cookie"); got != "" {
		t.Errorf("a hit replayed Set-Cookie %q", got)
	}
}

func TestPOSTResponseAnswersLaterGET(t *testing.T) {
	for _, on := range []bool{false, true} {
		var gets int
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				gets++
			}
			w.Header().Set("Content-Location", "/r")
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "state after "+r.Method)
		})
		c := newCache(t, newClock(), Config{StorePOST: on})
		m := c.Middleware(h)
		do(m, "POST", "/r")
		w := do(m, "GET", "/r")
		if stored := gets == 0; stored != on {
			t.Errorf("StorePOST=%v: GET served from the POST's response = %v (%q)", on, stored, w.Body.String())
		}
		if on && w.Body.String() != "state after POST" {
			t.Errorf("GET body = %q, want the POST's", w.Body.String())
		}
	}
	// A Content-Location naming another URI is never stored for it.
	var gets int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
		}
		w.Header().Set("Content-Location", "/other")
		w.Header().Set("Cache-Control", "max-age=60")
	})
	m := newCache(t, newClock(), Config{StorePOST: true}).Middleware(h)
	do(m, "POST", "/r")
	do(m, "GET", "/other")
	if gets != 1 {
		t.Errorf("a POST to /r was stored for /other")
	}
}

func TestEarlyHintsReachTheClient(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var calls int
	srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Add("Link", "</hero.jpg>; rel=preload; as=image")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "<html>page</html>")
	})))
	defer srv.Close()
	get := func() (hints []textproto.MIMEHeader, resp *http.Response) {
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == http.StatusEarlyHints {
					hints = append(hints, h)
				}
				return nil
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return hints, resp
	}
	hints, resp := get()
	if len(hints) != 1 || hints[0].Get("Link") != "</hero.jpg>; rel=preload; as=image" {
		t.Fatalf("103 responses = %v, want one with the Link field", hints)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Link") != "" {
		t.Errorf("final response %d with Link %q; want 200 without the hint", resp.StatusCode, resp.Header.Get("Link"))
	}
	// The interim response is not part of the stored one.
	hints, resp = get()
	if calls != 1 || len(hints) != 0 || resp.StatusCode != 200 {
		t.Errorf("hit: origin calls %d, 103s %d, status %d; want 1, 0, 200", calls, len(hints), resp.StatusCode)
	}
}

func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "no-store, s-maxage=1;a=b", `private="x"`, "a=(1 2);b, c=?0", "max-age=1.5", ":YWJj:", "x=-1", "a=1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseTargeted([]string{s})
		if !ok && (d.MaxAge != -1 || d.NoStore) {
			t.Fatalf("ParseTargeted(%q) rejected the field but returned directives %+v", s, d)
		}
		if d.MaxAge < -1 || d.SMaxAge < -1 {
			t.Fatalf("ParseTargeted(%q): negative durations %+v", s, d)
		}
	})
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseHTTPDate(s)
		if err != nil {
			return
		}
		// Whatever parses strictly also parses leniently, to the same time.
		if lenient, lerr := http.ParseTime(s); lerr != nil || !lenient.Equal(tm) {
			t.Fatalf("parseHTTPDate(%q) = %v, but net/http reads %v, %v", s, tm, lenient, lerr)
		}
	})
}

func TestFlushedResponseStreamsAndIsStored(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release := make(chan struct{})
	var calls int
	srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		if calls == 1 {
			<-release // the client must have the first part before the rest exists
		}
		io.WriteString(w, "second")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, part); err != nil || string(part) != "first;" {
		t.Fatalf("read %q, %v before the handler finished; want the flushed bytes", part, err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "second" {
		t.Fatalf("rest = %q", rest)
	}
	resp, err = srv.Client().Get(srv.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if calls != 1 || string(body) != "first;second" {
		t.Errorf("second request: origin calls %d, body %q; want 1 and the whole stored body", calls, body)
	}
}
