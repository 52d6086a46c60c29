package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"unicode"
	"unicode/utf8"
)

// maxReasonLen bounds the reason a person gives for approving or undoing.
const maxReasonLen = 500

var errTooLarge = fmt.Errorf("body must be at most %d bytes", maxActionBody)

// ActionRequest is the optional body of approve and undo: JSON
// {"reason": "..."} from API clients, or the status page's form fields
// reason and token.
type ActionRequest struct {
	Reason string `json:"reason"`
	// Token comes only from a form; API clients send the Authorization
	// header.
	Token string `json:"-"`
	// Form is true for a form post, which is answered with a redirect.
	Form bool `json:"-"`
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, errTooLarge
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// ParseActionRequest decodes the body of approve or undo by its content
// type. An empty body is a request without a reason. Its errors are meant
// for the client.
func ParseActionRequest(contentType string, body []byte) (ActionRequest, error) {
	var req ActionRequest
	mt := ""
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return ActionRequest{}, fmt.Errorf("content type %q: %w", contentType, err)
		}
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return ActionRequest{}, fmt.Errorf("form body: %w", err)
		}
		for k := range q {
			if k != "reason" && k != "token" {
				return ActionRequest{}, fmt.Errorf("form field %q is unknown: only reason and token", k)
			}
		}
		req = ActionRequest{Reason: q.Get("reason"), Token: q.Get("token"), Form: true}
	case "", "application/json":
		if len(bytes.TrimSpace(body)) == 0 {
			return ActionRequest{}, nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return ActionRequest{}, fmt.Errorf(`body must be a JSON object {"reason": "..."}: %w`, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return ActionRequest{}, errors.New("body must hold exactly one JSON object")
		}
	default:
		return ActionRequest{}, fmt.Errorf("content type %q must be application/json or application/x-www-form-urlencoded", mt)
	}
	if !utf8.ValidString(req.Reason) || utf8.RuneCountInString(req.Reason) > maxReasonLen {
		return ActionRequest{}, fmt.Errorf("reason must be at most %d characters of valid UTF-8", maxReasonLen)
	}
	for _, c := range req.Reason {
		if !unicode.IsPrint(c) {
			return ActionRequest{}, errors.New("reason must be printable text on one line")
		}
	}
	return req, nil
}
