package httpserver

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// statusOf is the one table from a domain error's kind to the HTTP status
// it is answered with. No handler writes a status for a domain error.
var statusOf = map[donation.Kind]int{
	donation.Invalid:         http.StatusBadRequest,
	donation.NotFound:        http.StatusNotFound,
	donation.Conflict:        http.StatusConflict,
	donation.Forbidden:       http.StatusForbidden,
	donation.Unauthenticated: http.StatusUnauthorized,
	donation.Unavailable:     http.StatusServiceUnavailable,
	donation.TooLarge:        http.StatusRequestEntityTooLarge,
	donation.Internal:        http.StatusInternalServerError,
}

// Problem is an error answer, RFC 9457 (application/problem+json).
type Problem struct {
	Type      string `json:"type"`   // "about:blank": the status says it all
	Title     string `json:"title"`  // the status text
	Status    int    `json:"status"` // the HTTP status code
	Detail    string `json:"detail,omitempty"`
	Kind      string `json:"kind"` // the domain error kind, e.g. "not_found"
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// maskedPath is the request's path with whatever looks like a phone number
// masked (a blocklist entry's path names one), for logs and problems.
func maskedPath(r *http.Request) string { return compliance.MaskPhones(r.URL.Path) }

// writeError answers err as a problem. Internal errors are logged and
// answered without their text, which may hold details for operators only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := donation.KindOf(err)
	status, ok := statusOf[kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		kind, status = donation.TooLarge, http.StatusRequestEntityTooLarge
	}
	p := Problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status, Kind: kind.String(),
		Instance: maskedPath(r), RequestID: requestID(r.Context()),
	}
	if status >= 500 {
		s.log().Error("request failed", "method", r.Method, "path", maskedPath(r), "request_id", p.RequestID, "kind", kind.String(), "err", err)
		if kind == donation.Unavailable {
			p.Detail = "temporarily unavailable; try again"
		}
	} else {
		p.Detail = err.Error()
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}
