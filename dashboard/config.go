package dashboard

import (
	"errors"
	"mime"
	"net/http"

	"github.com/perfengine/perfengine"
)

// maxConfigBody bounds the body of PATCH /api/v1/config.
const maxConfigBody = 256 << 10

// ConfigBody is the answer of PATCH /api/v1/config: the configuration now
// in force, secrets redacted, and each part of the change that could not
// apply while the engine runs (it applies at the next start).
type ConfigBody struct {
	Config     perfengine.Config `json:"config"`
	NotApplied []string          `json:"not_applied"`
}

// handleConfig merges a YAML or JSON document over the running
// configuration and applies it with Engine.UpdateConfig: keys the document
// leaves out keep their values, secrets included.
func (d *Dashboard) handleConfig(w http.ResponseWriter, r *http.Request) {
	const verb = "update the configuration"
	if !d.auth {
		d.fail(w, r, codeForbidden, verb+" is disabled: the server has no token (set server.token or PERFENGINE_TOKEN)")
		return
	}
	if !d.authorized(w, r, verb, "") {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/yaml" && mt != "application/x-yaml" && mt != "text/yaml") {
			d.fail(w, r, codeInvalid, "content type must be application/json or application/yaml")
			return
		}
	}
	body, err := readBody(w, r, maxConfigBody)
	if err != nil {
		code := codeInvalid
		if errors.Is(err, errTooLarge) {
			code = codeTooLarge
		}
		d.fail(w, r, code, err.Error())
		return
	}
	cfg := d.eng.Config()
	if err := cfg.UnmarshalYAMLBytes(body); err != nil {
		d.fail(w, r, codeInvalid, err.Error())
		return
	}
	var notApplied []string
	if err := d.eng.UpdateConfig(cfg); err != nil {
		if errors.Is(err, perfengine.ErrInvalidConfig) {
			d.fail(w, r, codeInvalid, err.Error())
			return
		}
		notApplied = splitJoined(err)
	}
	d.log.Info("configuration updated", "not_applied", notApplied)
	if notApplied == nil {
		notApplied = []string{}
	}
	writeJSON(w, http.StatusOK, ConfigBody{Config: d.eng.Config().Redacted(), NotApplied: notApplied})
}

// splitJoined lists the errors of an errors.Join, or the one error.
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}
