package scale

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// In-cluster service account files, as every pod has them mounted.
const (
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// Kubernetes scales a Deployment or StatefulSet through the API server's
// scale subresource (autoscaling/v1 Scale), in plain HTTP: a GET reads the
// count and its resourceVersion, a PUT with that resourceVersion sets the
// new one, so a concurrent change makes it fail with 409 instead of
// overwriting. It needs RBAC for get and update on
// deployments/scale (or statefulsets/scale) in the namespace.
type Kubernetes struct {
	// Server is the API server's base URL.
	Server string
	// Namespace and Workload name the target; Kind is deployments or
	// statefulsets.
	Namespace, Kind, Workload string
	// Token is a bearer token; TokenFile is re-read at each request, as
	// projected service account tokens rotate.
	Token     string
	TokenFile string
	Client    *http.Client
	// Timeout bounds one request; default 10s.
	Timeout time.Duration
}

// KubernetesConfig locates the API server and the workload. With
// Kubeconfig empty the pod's service account is used (in-cluster); else
// the kubeconfig's current context, or Context.
type KubernetesConfig struct {
	Kubeconfig string `json:"kubeconfig" yaml:"kubeconfig"`
	Context    string `json:"context" yaml:"context"`
	Namespace  string `json:"namespace" yaml:"namespace"`
	Kind       string `json:"kind" yaml:"kind"` // deployment (default) or statefulset
	Name       string `json:"name" yaml:"name"`
}

// NewKubernetes builds the actuator from the in-cluster service account or
// a kubeconfig file.
func NewKubernetes(c KubernetesConfig) (*Kubernetes, error) {
	kind := strings.ToLower(c.Kind)
	switch kind {
	case "", "deployment", "deployments":
		kind = "deployments"
	case "statefulset", "statefulsets":
		kind = "statefulsets"
	default:
		return nil, fmt.Errorf("scale: kubernetes kind %q must be deployment or statefulset", c.Kind)
	}
	if c.Name == "" {
		return nil, errors.New("scale: kubernetes: the workload's name is required")
	}
	var k *Kubernetes
	var err error
	if c.Kubeconfig == "" {
		k, err = inCluster()
	} else {
		k, err = fromKubeconfig(c.Kubeconfig, c.Context)
	}
	if err != nil {
		return nil, err
	}
	k.Kind, k.Workload = kind, c.Name
	if c.Namespace != "" {
		k.Namespace = c.Namespace
	}
	if k.Namespace == "" {
		k.Namespace = "default"
	}
	return k, nil
}

func inCluster() (*Kubernetes, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("scale: kubernetes: not in a cluster (KUBERNETES_SERVICE_HOST unset); set a kubeconfig")
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("scale: kubernetes: service account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("scale: kubernetes: service account ca.crt holds no certificate")
	}
	ns, _ := os.ReadFile(filepath.Join(serviceAccountDir, "namespace"))
	return &Kubernetes{
		Server:    "https://" + net.JoinHostPort(host, port),
		Namespace: strings.TrimSpace(string(ns)),
		TokenFile: filepath.Join(serviceAccountDir, "token"),
		Client:    &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
	}, nil
}

// kubeconfig is the part of the file the actuator reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token                 string `yaml:"token"`
			TokenFile             string `yaml:"tokenFile"`
			ClientCertificate     string `yaml:"client-certificate"`
			ClientCertificateData string `yaml:"client-certificate-data"`
			ClientKey             string `yaml:"client-key"`
			ClientKeyData         string `yaml:"client-key-data"`
			Exec                  any    `yaml:"exec"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// maxKubeconfig bounds the file read.
const maxKubeconfig = 4 << 20

func fromKubeconfig(path, context string) (*Kubernetes, error) {
	b, err := readBounded(path, maxKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("scale: kubeconfig: %w", err)
	}
	return parseKubeconfig(b, filepath.Dir(path), context)
}

// parseKubeconfig reads a kubeconfig; relative file paths in it are
// relative to dir, as kubectl resolves them.
func parseKubeconfig(b []byte, dir, context string) (*Kubernetes, error) {
	var kc kubeconfig
	if err := decodeYAML(b, &kc); err != nil {
		return nil, fmt.Errorf("scale: kubeconfig: %w", err)
	}
	if context == "" {
		context = kc.CurrentContext
	}
	if context == "" {
		return nil, errors.New("scale: kubeconfig: no current-context and no context given")
	}
	var cluster, user, ns string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == context {
			cluster, user, ns, found = c.Context.Cluster, c.Context.User, c.Context.Namespace, true
		}
	}
	if !found {
		return nil, fmt.Errorf("scale: kubeconfig: no context %q", context)
	}
	k := &Kubernetes{Namespace: ns}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	rel := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(dir, p)
		}
		return p
	}
	found = false
	for _, c := range kc.Clusters {
		if c.Name != cluster {
			continue
		}
		found = true
		k.Server = strings.TrimRight(c.Cluster.Server, "/")
		ca, err := fileOrData(rel(c.Cluster.CertificateAuthority), c.Cluster.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("scale: kubeconfig: cluster %s CA: %w", cluster, err)
		}
		if ca != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("scale: kubeconfig: cluster %s: the CA holds no certificate", cluster)
			}
			tlsCfg.RootCAs = pool
		}
		tlsCfg.InsecureSkipVerify = c.Cluster.InsecureSkipTLSVerify
	}
	if !found || k.Server == "" {
		return nil, fmt.Errorf("scale: kubeconfig: context %s names cluster %q, which has no server", context, cluster)
	}
	if u, err := url.Parse(k.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("scale: kubeconfig: cluster %s server %q is not an http(s) URL", cluster, k.Server)
	}
	for _, u := range kc.Users {
		if u.Name != user {
			continue
		}
		if u.User.Exec != nil {
			return nil, fmt.Errorf("scale: kubeconfig: user %s uses an exec credential plugin, which perfengine does not run; give a token or a client certificate", user)
		}
		k.Token, k.TokenFile = u.User.Token, rel(u.User.TokenFile)
		cert, err := fileOrData(rel(u.User.ClientCertificate), u.User.ClientCertificateData)
		if err != nil {
			return nil, fmt.Errorf("scale: kubeconfig: user %s certificate: %w", user, err)
		}
		key, err := fileOrData(rel(u.User.ClientKey), u.User.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("scale: kubeconfig: user %s key: %w", user, err)
		}
		if cert != nil || key != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("scale: kubeconfig: user %s client certificate: %w", user, err)
			}
			tlsCfg.Certificates = []tls.Certificate{pair}
		}
	}
	k.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}
	return k, nil
}

// decodeYAML turns the decoder's panics on some malformed documents (a
// tag on a list) into errors: a bad file must not take the engine down.
func decodeYAML(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (%v)", r)
		}
	}()
	return yaml.Unmarshal(b, v)
}

func fileOrData(path, data string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(strings.TrimSpace(data))
	}
	if path == "" {
		return nil, nil
	}
	return readBounded(path, 1<<20)
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// Name is "kubernetes".
func (k *Kubernetes) Name() string { return "kubernetes" }

// scaleObject is autoscaling/v1 Scale.
type scaleObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Spec struct {
		Replicas int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		Replicas int    `json:"replicas"`
		Selector string `json:"selector,omitempty"`
	} `json:"status"`
}

func (k *Kubernetes) path() string {
	return fmt.Sprintf("%s/apis/apps/v1/namespaces/%s/%s/%s/scale", k.Server, url.PathEscape(k.Namespace), k.Kind, url.PathEscape(k.Workload))
}

// Current reads spec.replicas of the scale subresource.
func (k *Kubernetes) Current(ctx context.Context) (int, error) {
	s, err := k.get(ctx)
	if err != nil {
		return 0, err
	}
	return s.Spec.Replicas, nil
}

// Scale sets spec.replicas, guarded by the resourceVersion it read.
func (k *Kubernetes) Scale(ctx context.Context, ch Change) error {
	s, err := k.get(ctx)
	if err != nil {
		return err
	}
	if s.Spec.Replicas == ch.To {
		return nil
	}
	s.Spec.Replicas = ch.To
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("scale: kubernetes: %w", err)
	}
	var out scaleObject
	if err := k.do(ctx, http.MethodPut, body, &out); err != nil {
		return err
	}
	if out.Spec.Replicas != ch.To {
		return fmt.Errorf("scale: kubernetes: %s/%s answered spec.replicas %d, want %d", k.Kind, k.Workload, out.Spec.Replicas, ch.To)
	}
	return nil
}

func (k *Kubernetes) get(ctx context.Context) (scaleObject, error) {
	var s scaleObject
	err := k.do(ctx, http.MethodGet, nil, &s)
	return s, err
}

// apiStatus is the Status object the API server answers errors with.
type apiStatus struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

func (k *Kubernetes) do(ctx context.Context, method string, body []byte, out any) error {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.path(), rd)
	if err != nil {
		return fmt.Errorf("scale: kubernetes: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	token := k.Token
	if k.TokenFile != "" {
		b, err := readBounded(k.TokenFile, 64<<10)
		if err != nil {
			return fmt.Errorf("scale: kubernetes: token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := k.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("scale: kubernetes %s %s/%s: %w", method, k.Kind, k.Workload, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("scale: kubernetes %s %s/%s: %w", method, k.Kind, k.Workload, err)
	}
	if resp.StatusCode/100 != 2 {
		var st apiStatus
		_ = json.Unmarshal(b, &st)
		msg := st.Message
		if msg == "" {
			msg = oneLine(string(b[:min(len(b), 200)]))
		}
		what := ""
		switch resp.StatusCode {
		case http.StatusConflict:
			what = " (changed by someone else since it was read; the next cycle reads it again)"
		case http.StatusForbidden:
			what = " (the service account needs get and update on " + k.Kind + "/scale)"
		}
		return fmt.Errorf("scale: kubernetes %s %s/%s: status %d %s: %s%s", method, k.Kind, k.Workload, resp.StatusCode, st.Reason, msg, what)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("scale: kubernetes %s %s/%s: decode Scale: %w", method, k.Kind, k.Workload, err)
	}
	return nil
}
