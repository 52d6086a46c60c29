package dashboard

import (
	"reflect"
	"testing"
)

func TestHostRows(t *testing.T) {
	m := map[string]float64{
		`net_host_requests{host="quiet.example:443"}`:     3,
		`net_host_p95_ms{host="quiet.example:443"}`:       12.25,
		`net_host_breaker_open{host="quiet.example:443"}`: 1,
		`net_host_requests{host="busy.example:443"}`:      900,
		`net_host_error_rate{host="busy.example:443"}`:    0.015,
		`net_host_reuse_ratio{host="busy.example:443"}`:   0.98,
		`net_host_requests`:                               1, // no host: not a row
		`db_query_p95_ms`:                                 4,
	}
	rows := hostRows(m)
	if len(rows) != 2 || rows[0].Host != "busy.example:443" || rows[1].Host != "quiet.example:443" {
		t.Fatalf("rows %+v, want busy then quiet", rows)
	}
	text := func(r hostRow) []string {
		out := make([]string, len(r.Cells))
		for i, c := range r.Cells {
			out[i] = c.Text
		}
		return out
	}
	// requests, p95, p99, first byte, connect, errors, reused, retries, hedges
	if got, want := text(rows[0]), []string{"900", "–", "–", "–", "–", "1.50 %", "98.00 %", "–", "–"}; !reflect.DeepEqual(got, want) || rows[0].Breaker {
		t.Errorf("busy = %q breaker %v, want %q and closed", got, rows[0].Breaker, want)
	}
	if got, want := text(rows[1]), []string{"3", "12.2 ms", "–", "–", "–", "–", "–", "–", "–"}; !reflect.DeepEqual(got, want) || !rows[1].Breaker {
		t.Errorf("quiet = %q breaker %v, want %q and open", got, rows[1].Breaker, want)
	}
	if k := rows[1].Cells[1].Key; k != `net_host_p95_ms{host="quiet.example:443"}` {
		t.Errorf("p95 cell key %q: the live refresh finds its value by it", k)
	}
}
