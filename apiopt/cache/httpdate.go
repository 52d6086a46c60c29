package cache

import (
	"errors"
	"time"
)

// errHTTPDate reports a value that is not an HTTP-date.
var errHTTPDate = errors.New("cache: not an HTTP-date")

var (
	shortDays  = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// parseHTTPDate reads an HTTP-date exactly as RFC 9110 §5.6.7 writes it:
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or one of the two obsolete
// forms a recipient must still accept, rfc850-date ("Sunday, 06-Nov-94
// 08:49:37 GMT") and asctime-date ("Sun Nov  6 08:49:37 1994").
//
// net/http's ParseTime goes through time.Parse, which takes a one-digit
// hour or a run of spaces as a match; for freshness that leniency matters,
// because an Expires that is not a valid date means "already expired"
// (RFC 9111 §5.3), not some time the parser guessed.
func parseHTTPDate(s string) (time.Time, error) {
	switch {
	case len(s) == 29 && s[3] == ',':
		return imfFixdate(s)
	case len(s) == 24 && s[3] == ' ':
		return asctimeDate(s)
	}
	return rfc850Date(s)
}

// imfFixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
func imfFixdate(s string) (time.Time, error) {
	if !oneOf(s[:3], shortDays[:]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25:] != " GMT" {
		return time.Time{}, errHTTPDate
	}
	day, ok1 := digits(s[5:7])
	mon, ok2 := month(s[8:11])
	year, ok3 := digits(s[12:16])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, errHTTPDate
	}
	return clockAt(year, mon, day, s[17:25])
}

// asctimeDate: "Sun Nov  6 08:49:37 1994" (a one-digit day is space-padded).
func asctimeDate(s string) (time.Time, error) {
	if !oneOf(s[:3], shortDays[:]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, errHTTPDate
	}
	mon, ok1 := month(s[4:7])
	d := s[8:10]
	if d[0] == ' ' {
		d = d[1:]
	}
	day, ok2 := digits(d)
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, errHTTPDate
	}
	return clockAt(year, mon, day, s[11:19])
}

// rfc850Date: "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year more than
// 50 years ahead is taken as the past century, as RFC 9110 asks.
func rfc850Date(s string) (time.Time, error) {
	comma := -1
	for i := 0; i < len(s) && i < 10; i++ {
		if s[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 || !oneOf(s[:comma], longDays[:]) {
		return time.Time{}, errHTTPDate
	}
	r := s[comma+1:]
	if len(r) != 23 || r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' || r[19:] != " GMT" {
		return time.Time{}, errHTTPDate
	}
	day, ok1 := digits(r[1:3])
	mon, ok2 := month(r[4:7])
	yy, ok3 := digits(r[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, errHTTPDate
	}
	year := 1900 + yy
	if year < 1970 {
		year += 100
	}
	if year > time.Now().Year()+50 {
		year -= 100
	}
	return clockAt(year, mon, day, r[11:19])
}

// clockAt reads "hh:mm:ss" and builds the UTC time, refusing a day the
// month does not have.
func clockAt(year int, mon time.Month, day int, hms string) (time.Time, error) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, errHTTPDate
	}
	h, ok1 := digits(hms[0:2])
	m, ok2 := digits(hms[3:5])
	sec, ok3 := digits(hms[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 || day < 1 || day > 31 {
		return time.Time{}, errHTTPDate
	}
	t := time.Date(year, mon, day, h, m, min(sec, 59), 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, errHTTPDate // 31 Feb
	}
	return t, nil
}

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func month(s string) (time.Month, bool) {
	for i, m := range monthNames {
		if s == m {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
