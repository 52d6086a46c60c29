package cache

import (
	"errors"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		in      []string
		check   func(Directives) bool
		wantErr bool
	}{
		{[]string{"max-age=60"}, func(d Directives) bool { return d.MaxAge == time.Minute }, false},
		{[]string{"max-age=60, s-maxage=30"}, func(d Directives) bool { return d.SMaxAge == 30*time.Second }, false},
		{[]string{"public", "max-age=5"}, func(d Directives) bool { return d.Public && d.MaxAge == 5*time.Second }, false},
		{[]string{`max-age="7"`}, func(d Directives) bool { return d.MaxAge == 7*time.Second }, false},
		{[]string{"MAX-AGE=1, No-Store"}, func(d Directives) bool { return d.MaxAge == time.Second && d.NoStore }, false},
		{[]string{"max-age=abc"}, func(d Directives) bool { return d.MaxAge == 0 }, true},
		{[]string{"max-age=-1"}, func(d Directives) bool { return d.MaxAge == 0 }, true},
		{[]string{"max-age"}, func(d Directives) bool { return d.MaxAge == 0 }, true},
		{[]string{"max-age=10, max-age=20"}, func(d Directives) bool { return d.MaxAge == 0 }, true},
		{[]string{"max-age=99999999999999999999"}, func(d Directives) bool { return d.MaxAge == maxDelta }, false},
		{[]string{"max-stale"}, func(d Directives) bool { return d.MaxStale == MaxStaleAny }, false},
		{[]string{`private="Set-Cookie, X-Foo", max-age=3`}, func(d Directives) bool { return d.Private && d.MaxAge == 3*time.Second }, false},
		{[]string{"stale-while-revalidate=30, stale-if-error=60"}, func(d Directives) bool {
			return d.StaleWhileRevalidate == 30*time.Second && d.StaleIfError == time.Minute
		}, false},
		{[]string{",,, ,no-cache,,"}, func(d Directives) bool { return d.NoCache && d.MaxAge == -1 }, false},
		{[]string{"unknown-ext=1, immutable"}, func(d Directives) bool { return d.Immutable }, false},
	}
	for _, tc := range tests {
		d, err := ParseCacheControl(tc.in)
		if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrCacheControl)) {
			t.Errorf("ParseCacheControl(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
		}
		if !tc.check(d) {
			t.Errorf("ParseCacheControl(%q) = %+v", tc.in, d)
		}
	}
}

func TestParseCacheControlBounded(t *testing.T) {
	many := make([]string, 1000)
	for i := range many {
		many[i] = "no-cache"
	}
	if _, err := ParseCacheControl(many); !errors.Is(err, ErrCacheControl) {
		t.Errorf("1000 directives: err = %v, want ErrCacheControl", err)
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `private="a,b", s-maxage=1`, "max-stale", `"`, `\`, "max-age=\"", "=,=,", "max-age=99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, _ := ParseCacheControl([]string{s})
		for _, v := range []time.Duration{d.MaxAge, d.SMaxAge, d.MinFresh, d.StaleIfError, d.StaleWhileRevalidate} {
			if v < -1 || v > maxDelta {
				t.Fatalf("ParseCacheControl(%q): duration %v out of range", s, v)
			}
		}
	})
}
