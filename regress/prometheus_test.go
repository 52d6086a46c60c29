package regress

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPromClientWarnings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","warnings":["remote read: 1 of 3 stores unreachable"],` + //nolint:errcheck
			`"data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"api"},"values":[[60,"1"],[75,"0"]]}]}}`))
	}))
	defer srv.Close()
	c, err := NewPromClient(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	q := RangeQuery{Query: "up", Start: time.Unix(60, 0), End: time.Unix(75, 0), Step: 15 * time.Second}
	ss, warns, err := c.QueryRange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(warns, []string{"remote read: 1 of 3 stores unreachable"}) {
		t.Errorf("warnings = %q", warns)
	}
	if len(ss) != 1 || ss[0].Name != `up{job="api"}` || !slices.Equal(ss[0].Values, []float64{1, 0}) || ss[0].Times[1] != "1970-01-01T00:01:15Z" {
		t.Errorf("series = %+v", ss)
	}
}

func TestPromClientBoundsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"x":"`)) //nolint:errcheck
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range maxPromBody>>20 + 1 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := NewPromClient(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	q := RangeQuery{Query: "up", Start: time.Unix(60, 0), End: time.Unix(75, 0), Step: 15 * time.Second}
	if _, _, err := c.QueryRange(context.Background(), q); !errors.Is(err, ErrPromBodyTooLarge) {
		t.Errorf("QueryRange(huge) error = %v, want ErrPromBodyTooLarge", err)
	}
}
