package httpserver

import (
	"context"
	"net/http"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
)

// ActionLog is the log of what admins and treasurers did; storage.DB
// implements it.
type ActionLog interface {
	Actions(ctx context.Context) ([]donation.Action, error)
}

// ActionJSON is one row of the action log.
type ActionJSON struct {
	ID     string    `json:"id"` // sorts in write order
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // e.g. "refund.request"
	Detail string    `json:"detail"` // phone numbers masked
}

// ActionRoutes is the action log, oldest first, for every role:
//
//	GET /api/v1/actions
func (s *Server) ActionRoutes(log ActionLog) {
	s.Route(http.MethodGet, "/api/v1/actions", auth.Roles, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := Query(r); err != nil {
			return err
		}
		as, err := log.Actions(r.Context())
		if err != nil {
			return err
		}
		out := make([]ActionJSON, 0, len(as))
		for _, a := range as {
			out = append(out, ActionJSON{ID: a.ID, At: a.At.UTC(), Actor: a.Actor, Action: a.Action, Detail: a.Detail})
		}
		return WriteJSON(w, out)
	})
}
