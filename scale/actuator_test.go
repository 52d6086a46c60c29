package scale

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCommandActuator(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "count")
	// An argument list: the reason, with shell syntax in it, reaches the
	// program as data.
	c := &Command{Argv: []string{"sh", "-c", `printf '%s %s %s' "$1" "$PERFENGINE_PREVIOUS_INSTANCES" "$PERFENGINE_SCALE_REASON" > "$2"`, "sh", "{instances}", out}}
	if err := c.Scale(context.Background(), Change{From: 2, To: 5, Reason: "cpu 93 > 80; $(rm -rf /)"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "5 2 cpu 93 > 80; $(rm -rf /)"; got != want {
		t.Errorf("command saw %q, want %q", got, want)
	}
}

func TestCommandAppendsTheCount(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	c := &Command{Argv: []string{"sh", "-c", `echo "$0" > ` + out}}
	if err := c.Scale(context.Background(), Change{From: 2, To: 7}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "7" {
		t.Errorf("appended argument %q, want 7", b)
	}
}

func TestCommandFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *Command
		want string
	}{
		{"exit 3 with output", &Command{Argv: []string{"sh", "-c", "echo quota exceeded >&2; exit 3"}}, "quota exceeded"},
		{"not found", &Command{Argv: []string{"/nonexistent/scaler"}}, "no such file"},
		{"hangs", &Command{Argv: []string{"sleep", "30"}, Timeout: 100 * time.Millisecond}, "killed"},
		{"nothing configured", &Command{}, "no program"},
	} {
		start := time.Now()
		err := tc.c.Scale(context.Background(), Change{From: 2, To: 3})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("%s: took %v", tc.name, time.Since(start))
		}
	}
}

func TestWebhookActuator(t *testing.T) {
	var got Change
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if got.To > 9 {
			http.Error(w, "fleet limit", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL + "/secret-path", Header: http.Header{"Authorization": {"Bearer s"}}}
	if err := w.Scale(context.Background(), Change{Target: "api", From: 2, To: 4, Reason: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got.From != 2 || got.To != 4 || got.Target != "api" {
		t.Errorf("webhook got %+v", got)
	}
	err := w.Scale(context.Background(), Change{From: 4, To: 10})
	if err == nil || !strings.Contains(err.Error(), "status 500") || strings.Contains(err.Error(), "secret-path") {
		t.Errorf("a 500: %v, want the status and no secret path", err)
	}
}

// apiServer speaks the scale subresource of one Deployment, as the
// Kubernetes API server does: GET, and PUT with a resourceVersion that
// must match (409 otherwise).
type apiServer struct {
	mu       sync.Mutex
	replicas int
	version  int
	fail     int // answer the next PUTs with this status
	token    string
	puts     int
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
		return
	}
	if r.URL.Path != "/apis/apps/v1/namespaces/shop/deployments/api/scale" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"kind":"Status","status":"Failure","message":"deployments.apps %q not found","reason":"NotFound","code":404}`, r.URL.Path)
		return
	}
	obj := func() string {
		return fmt.Sprintf(`{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"api","namespace":"shop","resourceVersion":"%d"},"spec":{"replicas":%d},"status":{"replicas":%d,"selector":"app=api"}}`,
			s.version, s.replicas, s.replicas)
	}
	switch r.Method {
	case http.MethodGet:
		fmt.Fprint(w, obj())
	case http.MethodPut:
		s.puts++
		if s.fail != 0 {
			w.WriteHeader(s.fail)
			fmt.Fprintf(w, `{"kind":"Status","status":"Failure","message":"injected","reason":"InternalError","code":%d}`, s.fail)
			return
		}
		var in scaleObject
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &in); err != nil || in.Kind != "Scale" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if in.Metadata.ResourceVersion != strconv.Itoa(s.version) {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"kind":"Status","status":"Failure","message":"Operation cannot be fulfilled on deployments.apps \"api\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","code":409}`)
			return
		}
		s.replicas = in.Spec.Replicas
		s.version++
		fmt.Fprint(w, obj())
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func kubeconfigFor(t *testing.T, srv *httptest.Server, token string) string {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
clusters:
- name: c
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: u
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: c
    user: u
    namespace: shop
`, srv.URL, base64.StdEncoding.EncodeToString(ca), token)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubernetesActuator(t *testing.T) {
	api := &apiServer{replicas: 2, version: 7, token: "t0k"}
	srv := httptest.NewTLSServer(api)
	defer srv.Close()
	k, err := NewKubernetes(KubernetesConfig{Kubeconfig: kubeconfigFor(t, srv, "t0k"), Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := k.Current(ctx); err != nil || n != 2 {
		t.Fatalf("Current = %d, %v; want 2", n, err)
	}
	if err := k.Scale(ctx, Change{From: 2, To: 5}); err != nil {
		t.Fatal(err)
	}
	if n, _ := k.Current(ctx); n != 5 {
		t.Errorf("after Scale: %d, want 5", n)
	}
	for _, status := range []int{http.StatusConflict, http.StatusInternalServerError} {
		api.mu.Lock()
		api.fail = status
		api.mu.Unlock()
		err := k.Scale(ctx, Change{From: 5, To: 6})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint("status ", status)) {
			t.Errorf("answered %d: %v", status, err)
		}
	}
	api.mu.Lock()
	api.fail = 0
	api.mu.Unlock()

	wrong, err := NewKubernetes(KubernetesConfig{Kubeconfig: kubeconfigFor(t, srv, "stolen"), Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Current(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong token: %v", err)
	}
	missing, err := NewKubernetes(KubernetesConfig{Kubeconfig: kubeconfigFor(t, srv, "t0k"), Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Current(ctx); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("a missing deployment: %v", err)
	}
}

// A concurrent change between the read and the write is a 409, not an
// overwrite.
func TestKubernetesDetectsConcurrentChange(t *testing.T) {
	api := &apiServer{replicas: 2, version: 1, token: "t"}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			api.mu.Lock()
			api.version++ // someone else wrote after our GET
			api.mu.Unlock()
		}
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	k, err := NewKubernetes(KubernetesConfig{Kubeconfig: kubeconfigFor(t, srv, "t"), Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	err = k.Scale(context.Background(), Change{From: 2, To: 4})
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "changed by someone else") {
		t.Errorf("Scale = %v, want a 409 explained", err)
	}
}

func TestKubeconfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"not yaml", "{{{", "kubeconfig"},
		{"no context", "clusters: []\n", "no current-context"},
		{"unknown context", "current-context: x\n", `no context "x"`},
		{"no server", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {}}]\n", "no server"},
		{"exec plugin", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://k:6443'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n", "exec credential plugin"},
		{"bad CA", "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://k:6443', certificate-authority-data: 'bm90IGEgY2VydA=='}}]\n", "no certificate"},
	} {
		if _, err := parseKubeconfig([]byte(tc.cfg), "/", ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewKubernetes(KubernetesConfig{Name: "api", Kind: "cronjob"}); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("a cronjob: %v", err)
	}
}

func FuzzParseKubeconfig(f *testing.F) {
	f.Add([]byte("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://k:6443'}}]\nusers: [{name: u, user: {token: x}}]\n"))
	f.Add([]byte("current-context: a\n"))
	f.Add([]byte("clusters: !!map {}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKubeconfig(b, t.TempDir(), "")
		if err == nil && k.Server == "" {
			t.Fatal("accepted a kubeconfig without a server")
		}
	})
}
