package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func testAlert() Alert {
	return Alert{
		ID:       "a-42",
		Time:     time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC),
		Severity: SeverityCritical,
		Source:   "engine",
		Title:    "p95 response time 2300 ms above 2000 ms",
		Detail:   "response_time_ms has been above its critical threshold for 3 intervals",
		Labels:   map[string]string{"metric": "response_time_ms", "service": "shop"},
	}
}

// hookServer answers POSTs with the statuses given, one per request (the
// last repeats), and records each request.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	requests []*http.Request
}

func newHookServer(t *testing.T, statuses []int, header http.Header) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		n := len(h.bodies)
		h.bodies = append(h.bodies, body)
		h.requests = append(h.requests, r)
		h.mu.Unlock()
		for k, vs := range header {
			w.Header()[k] = vs
		}
		status := statuses[min(n, len(statuses)-1)]
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(h.Close)
	return h
}

func TestWebhookRetries(t *testing.T) {
	base := 100 * time.Millisecond
	tests := []struct {
		name      string
		statuses  []int
		header    http.Header
		retries   int
		wantErr   string // substring; "" means success
		attempts  int
		wantSleep []time.Duration // upper bounds of each wait, or exact with exact
		exact     bool
	}{
		{"ok", []int{200}, nil, 0, "", 1, nil, false},
		{"accepted", []int{204}, nil, 0, "", 1, nil, false},
		{"retry 5xx then ok", []int{500, 502, 200}, nil, 0, "", 3, []time.Duration{base, 2 * base}, false},
		{"gives up after retries", []int{503}, nil, 2, "status 503", 3, []time.Duration{base, 2 * base}, false},
		{"no retry on 4xx", []int{400}, nil, 0, "status 400", 1, nil, false},
		{"no retry on 404", []int{404}, nil, 0, "status 404", 1, nil, false},
		{"429 with Retry-After", []int{429, 200}, http.Header{"Retry-After": {"7"}}, 0, "", 2, []time.Duration{7 * time.Second}, true},
		{"retries disabled", []int{500}, nil, -1, "status 500", 1, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, tc.statuses, tc.header)
			w, err := NewWebhook(srv.URL+"/hooks/secret-token", WebhookOptions{Retries: tc.retries, Backoff: base})
			if err != nil {
				t.Fatal(err)
			}
			var slept []time.Duration
			w.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			err = w.Notify(context.Background(), NotificationOf(testAlert()))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Notify = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Notify = %v, want an error containing %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error shows the URL's secret path: %v", err)
			}
			if got := len(srv.bodies); got != tc.attempts {
				t.Errorf("attempts = %d, want %d", got, tc.attempts)
			}
			if len(slept) != len(tc.wantSleep) {
				t.Fatalf("waits = %v, want %d waits", slept, len(tc.wantSleep))
			}
			for i, d := range slept {
				if (tc.exact && d != tc.wantSleep[i]) || d < 0 || d > tc.wantSleep[i] {
					t.Errorf("wait %d = %v, want within [0, %v]", i, d, tc.wantSleep[i])
				}
			}
		})
	}
}

func TestWebhookRequest(t *testing.T) {
	srv := newHookServer(t, []int{200}, nil)
	w, err := NewWebhook(srv.URL, WebhookOptions{Header: http.Header{"Authorization": {"Bearer tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Notify(context.Background(), NotificationOf(testAlert())); err != nil {
		t.Fatal(err)
	}
	r := srv.requests[0]
	checks := []struct{ what, got, want string }{
		{"method", r.Method, http.MethodPost},
		{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
		{"Authorization", r.Header.Get("Authorization"), "Bearer tok"},
		{"User-Agent", r.Header.Get("User-Agent"), "perfengine-alert"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	var body webhookPayload
	if err := json.Unmarshal(srv.bodies[0], &body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if body.Text != Text(testAlert()) || body.Version != "4" || body.Status != "firing" || len(body.Alerts) != 1 ||
		body.Alerts[0].Labels["service"] != "shop" || body.Alerts[0].Annotations["summary"] != testAlert().Title {
		t.Errorf("body = %+v", body)
	}
	golden(t, "webhook.json", append(srv.bodies[0], '\n'))
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	w, err := NewWebhook(srv.URL, WebhookOptions{Timeout: 20 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Notify(context.Background(), NotificationOf(testAlert())); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Notify to a silent server = %v, want a deadline error", err)
	}
}

func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/secret"
	srv.Close() // nothing listens there now
	w, err := NewWebhook(url, WebhookOptions{Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	tries := 0
	w.sleep = func(context.Context, time.Duration) error { tries++; return nil }
	err = w.Notify(context.Background(), NotificationOf(testAlert()))
	if err == nil {
		t.Fatal("Notify to a closed port = nil")
	}
	if strings.Count(err.Error(), url) != 0 {
		t.Errorf("error shows the full URL: %v", err)
	}
	if tries != 2 {
		t.Errorf("waited %d times, want 2 (network errors are retried)", tries)
	}
	// A canceled context stops the retries.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tries = 0
	if err := w.Notify(ctx, NotificationOf(testAlert())); err == nil || tries != 0 {
		t.Errorf("Notify with canceled context = %v after %d waits, want an error and no waits", err, tries)
	}
}

func TestNewWebhook(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9/hook", true},
		{"https://hooks.slack.com/services/T/B/X", true},
		{"", false},
		{"ftp://example.com/x", false},
		{"http://", false},
		{"/relative", false},
		{"http://[::1", false},
	}
	for _, tc := range tests {
		_, err := NewWebhook(tc.url, WebhookOptions{})
		if (err == nil) != tc.ok {
			t.Errorf("NewWebhook(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com/..."},
		{"http://user:pw@host:8080/?token=x", "http://xxxxx@host:8080/?xxxxx"},
		{"http://host", "http://host"},
		{"http://[::1", "(unparsable URL)"},
	}
	for _, tc := range tests {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base := 500 * time.Millisecond
	for attempt := range 70 {
		limit := min(base<<min(attempt, 20), maxWebhookBackoff)
		for range 50 {
			if d := backoff(base, attempt); d < 0 || d > limit {
				t.Fatalf("backoff(%v, %d) = %v, want within [0, %v]", base, attempt, d, limit)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-1", 0},
		{"86400", maxWebhookBackoff},
		{"soon", 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0}, // in the past
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	a := testAlert()
	resolved := a
	resolved.Resolved = true
	bare := Alert{Title: "line one\nline two\r\nthree"}
	tests := []struct {
		name    string
		a       Alert
		summary string
	}{
		{"firing", a, "[CRITICAL] engine: p95 response time 2300 ms above 2000 ms"},
		{"resolved", resolved, "[RESOLVED] engine: p95 response time 2300 ms above 2000 ms"},
		{"no severity, multi-line title", bare, "[ALERT] line one line two three"},
	}
	for _, tc := range tests {
		if got := Summary(tc.a); got != tc.summary {
			t.Errorf("Summary(%s) = %q, want %q", tc.name, got, tc.summary)
		}
	}
	golden(t, "text.txt", []byte(Text(a)+"\n"))
}
