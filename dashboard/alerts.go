package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/alert"
)

// SilenceRequest is the body of POST /api/v1/silences. Matchers are in
// Alertmanager's syntax (`alertname="status",target=~"api|web"`); the
// silence lasts Duration (a Go duration such as 2h) from now, or until
// EndsAt. ID, when set, updates that silence.
type SilenceRequest struct {
	ID        string    `json:"id,omitempty"`
	Matchers  string    `json:"matchers"`
	Duration  string    `json:"duration,omitempty"`
	EndsAt    time.Time `json:"endsAt,omitzero"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment,omitempty"`
}

const (
	maxMatchersLen   = 2000
	maxSilenceLength = 366 * 24 * time.Hour
)

// ParseSilenceRequest reads and checks a silence request; the silence it
// returns starts now.
func ParseSilenceRequest(contentType string, body []byte, now time.Time) (alert.Silence, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/json" {
			return alert.Silence{}, fmt.Errorf("content type %q must be application/json", contentType)
		}
	}
	var req SilenceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return alert.Silence{}, fmt.Errorf(`body must be a JSON object {"matchers": "target=\"db\"", "duration": "2h", "createdBy": "...", "comment": "..."}: %w`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return alert.Silence{}, errors.New("body must hold exactly one JSON object")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"matchers", req.Matchers, maxMatchersLen}, {"createdBy", req.CreatedBy, 200}, {"comment", req.Comment, maxReasonLen}, {"id", req.ID, 64}} {
		if !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > f.max {
			return alert.Silence{}, fmt.Errorf("%s must be at most %d characters of valid UTF-8", f.name, f.max)
		}
	}
	ms, err := alert.ParseMatchers(req.Matchers)
	if err != nil {
		return alert.Silence{}, fmt.Errorf("matchers: %w", err)
	}
	s := alert.Silence{ID: req.ID, Matchers: ms, StartsAt: now, CreatedBy: req.CreatedBy, Comment: req.Comment}
	switch {
	case req.Duration != "" && !req.EndsAt.IsZero():
		return alert.Silence{}, errors.New("give duration or endsAt, not both")
	case req.Duration != "":
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 || d > maxSilenceLength {
			return alert.Silence{}, fmt.Errorf("duration %q must be a positive Go duration such as 2h, at most a year", truncate(req.Duration, 40))
		}
		s.EndsAt = now.Add(d)
	case !req.EndsAt.IsZero():
		if req.EndsAt.Sub(now) > maxSilenceLength {
			return alert.Silence{}, errors.New("endsAt must be within a year")
		}
		s.EndsAt = req.EndsAt
	default:
		return alert.Silence{}, errors.New("duration or endsAt is required")
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (d *Dashboard) handleAlerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"alerts": nonNil(d.eng.Alerts())})
}

func (d *Dashboard) handleSilences(w http.ResponseWriter, r *http.Request) {
	type row struct {
		alert.Silence
		State string `json:"state"`
	}
	now := time.Now()
	rows := []row{}
	for _, s := range d.eng.Silences() {
		rows = append(rows, row{s, s.State(now)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": rows})
}

func (d *Dashboard) handleAddSilence(w http.ResponseWriter, r *http.Request) {
	const verb = "silence"
	if !d.auth {
		d.fail(w, r, codeForbidden, verb+" is disabled: the server has no token (set server.token or PERFENGINE_TOKEN)")
		return
	}
	if !d.authorized(w, r, verb, "") {
		return
	}
	body, err := readBody(w, r, maxActionBody)
	if err != nil {
		code := codeInvalid
		if errors.Is(err, errTooLarge) {
			code = codeTooLarge
		}
		d.fail(w, r, code, err.Error())
		return
	}
	s, err := ParseSilenceRequest(r.Header.Get("Content-Type"), body, time.Now())
	if err != nil {
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	s, err = d.eng.AddSilence(s)
	switch {
	case errors.Is(err, alert.ErrUnknownSilence):
		d.fail(w, r, codeNotFound, err.Error())
		return
	case errors.Is(err, perfengine.ErrAlertsNotStarted):
		d.fail(w, r, codeConflict, err.Error())
		return
	case err != nil:
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	d.log.Info(verb, "id", s.ID, "matchers", fmt.Sprint(s.Matchers), "until", s.EndsAt, "by", s.CreatedBy)
	writeJSON(w, http.StatusCreated, s)
}

func (d *Dashboard) handleExpireSilence(w http.ResponseWriter, r *http.Request) {
	const verb = "expire silence"
	if !d.auth {
		d.fail(w, r, codeForbidden, verb+" is disabled: the server has no token (set server.token or PERFENGINE_TOKEN)")
		return
	}
	if !d.authorized(w, r, verb, "") {
		return
	}
	id := r.PathValue("id")
	err := d.eng.ExpireSilence(id)
	switch {
	case errors.Is(err, alert.ErrUnknownSilence):
		d.fail(w, r, codeNotFound, err.Error())
		return
	case err != nil:
		d.fail(w, r, codeConflict, err.Error())
		return
	}
	d.log.Info(verb, "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// nonNil makes an empty list encode as [], not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
