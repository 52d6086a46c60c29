package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/perfengine/perfengine"
	"github.com/perfengine/perfengine/regress"
)

// RollbackRequest is the body of POST /api/v1/rollback. From defaults to
// the running version and To to regression.rollbackTo; Reason is required.
type RollbackRequest struct {
	Reason string `json:"reason"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// maxVersionLen bounds a version name in a rollback request.
const maxVersionLen = 200

// ParseRollbackRequest decodes the JSON body of POST /api/v1/rollback. Its
// errors are meant for the client.
func ParseRollbackRequest(contentType string, body []byte) (RollbackRequest, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/json" {
			return RollbackRequest{}, fmt.Errorf("content type %q must be application/json", contentType)
		}
	}
	var req RollbackRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return RollbackRequest{}, fmt.Errorf(`body must be a JSON object {"reason": "...", "from": "...", "to": "..."}: %w`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return RollbackRequest{}, errors.New("body must hold exactly one JSON object")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"reason", req.Reason, maxReasonLen}, {"from", req.From, maxVersionLen}, {"to", req.To, maxVersionLen}} {
		if !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > f.max {
			return RollbackRequest{}, fmt.Errorf("%s must be at most %d characters of valid UTF-8", f.name, f.max)
		}
		for _, c := range f.v {
			if !unicode.IsPrint(c) {
				return RollbackRequest{}, fmt.Errorf("%s must be printable text on one line", f.name)
			}
		}
	}
	return req, nil
}

func (d *Dashboard) handleRollback(w http.ResponseWriter, r *http.Request) {
	const verb = "rollback"
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
	req, err := ParseRollbackRequest(r.Header.Get("Content-Type"), body)
	if err != nil {
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	a, err := d.eng.TriggerManualRollback(r.Context(), req.Reason, req.From, req.To)
	switch {
	case errors.Is(err, perfengine.ErrInvalidRollback):
		d.fail(w, r, codeInvalid, err.Error())
		return
	case errors.Is(err, perfengine.ErrNoRegressionModule), errors.Is(err, regress.ErrCooldown):
		d.fail(w, r, codeConflict, err.Error())
		return
	case err != nil && a.ID == "":
		d.fail(w, r, engineCode(err), err.Error())
		return
	}
	// A rollback that was attempted and failed is recorded as a failed
	// action: the answer carries it, with its error, under 502.
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadGateway
	}
	d.log.Info(verb, "id", a.ID, "from", a.Params["from"], "to", a.Params["to"], "state", a.State, "reason", req.Reason)
	writeJSON(w, status, a)
}
