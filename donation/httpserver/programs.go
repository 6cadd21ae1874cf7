package httpserver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/program"
)

// Programs runs program changes; program.Service implements it.
type Programs interface {
	Program(ctx context.Context, id string) (compliance.Program, error)
	Programs(ctx context.Context, shortCode string) ([]compliance.Program, error)
	Save(ctx context.Context, p compliance.Program, actor string) (compliance.Program, bool, error)
	Activate(ctx context.Context, id, actor string) (compliance.Program, error)
	Deactivate(ctx context.Context, id, actor string) (compliance.Program, error)
	SetGoodStanding(ctx context.Context, id string, good bool, actor string) (compliance.Program, error)
}

// ProgramRoutes are the program routes. Programs travel as program.File,
// the same shape read and written:
//
//	GET  /api/v1/programs[?short_code=]                 list (admin, treasurer, auditor)
//	GET  /api/v1/programs/{id}                          one program (admin, treasurer, auditor)
//	PUT  /api/v1/programs/{id}                          save: 201 when new, else 200 (admin)
//	POST /api/v1/programs/{id}/activate                 (admin)
//	POST /api/v1/programs/{id}/deactivate               (admin)
//	POST /api/v1/programs/{id}/withdraw-good-standing   the committee's; deactivates its programs (admin)
//	POST /api/v1/programs/{id}/restore-good-standing    the committee's (admin)
//
// Changing a program's state again changes nothing and answers 200.
func (s *Server) ProgramRoutes(programs Programs) {
	readers := []auth.Role{auth.Admin, auth.Treasurer, auth.Auditor}
	admin := []auth.Role{auth.Admin}
	s.Route(http.MethodGet, "/api/v1/programs", readers, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		for name := range q {
			if name != "short_code" {
				return fmt.Errorf("unknown query parameter %q (known: short_code): %w", name, donation.ErrInvalid)
			}
		}
		code := q.Get("short_code")
		if _, ok := q["short_code"]; ok && !compliance.IsShortCode(code) {
			return fmt.Errorf("short_code %q is not 5 or 6 digits: %w", code, donation.ErrInvalid)
		}
		ps, err := programs.Programs(r.Context(), code)
		if err != nil {
			return err
		}
		out := make([]program.File, 0, len(ps))
		for _, p := range ps {
			out = append(out, program.FileOf(p))
		}
		return WriteJSON(w, out)
	})
	s.Route(http.MethodGet, "/api/v1/programs/{id}", readers, func(w http.ResponseWriter, r *http.Request) error {
		p, err := programs.Program(r.Context(), mux.Vars(r)["id"])
		if err != nil {
			return err
		}
		return WriteJSON(w, program.FileOf(p))
	})
	s.Route(http.MethodPut, "/api/v1/programs/{id}", admin, func(w http.ResponseWriter, r *http.Request) error {
		id := mux.Vars(r)["id"]
		var f program.File
		if err := DecodeJSON(r, &f); err != nil {
			return err
		}
		if f.ID == "" {
			f.ID = id
		}
		if f.ID != id {
			return fmt.Errorf("the body is program %q, the path program %q: %w", f.ID, id, donation.ErrInvalid)
		}
		p, err := f.Program()
		if err != nil {
			return err
		}
		saved, created, err := programs.Save(r.Context(), p, Actor(r.Context()))
		if err != nil {
			return err
		}
		if created {
			return WriteCreated(w, program.FileOf(saved))
		}
		return WriteJSON(w, program.FileOf(saved))
	})
	change := func(path string, do func(ctx context.Context, id, actor string) (compliance.Program, error)) {
		s.Route(http.MethodPost, "/api/v1/programs/{id}/"+path, admin, func(w http.ResponseWriter, r *http.Request) error {
			p, err := do(r.Context(), mux.Vars(r)["id"], Actor(r.Context()))
			if err != nil {
				return err
			}
			return WriteJSON(w, program.FileOf(p))
		})
	}
	change("activate", programs.Activate)
	change("deactivate", programs.Deactivate)
	change("withdraw-good-standing", func(ctx context.Context, id, actor string) (compliance.Program, error) {
		return programs.SetGoodStanding(ctx, id, false, actor)
	})
	change("restore-good-standing", func(ctx context.Context, id, actor string) (compliance.Program, error) {
		return programs.SetGoodStanding(ctx, id, true, actor)
	})
}
