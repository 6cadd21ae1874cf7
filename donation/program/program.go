// Package program runs the changes an admin makes to programs and
// committees (SPEC §3): saving a program, activating and deactivating it,
// and withdrawing or restoring its committee's good standing (AO 2012-26).
//
// Each change has the shape of an MO: one transaction
// (Store.UpdatePrograms), in which the pure rules of this package and of
// package compliance decide over what storage read, storage writes the
// outcome, and the action log gets its row; then one commit.
package program

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Store keeps programs and their committees. Storage implements it.
type Store interface {
	// UpdatePrograms runs fn in one transaction, serialised with every
	// other program change, and commits when fn returns nil.
	UpdatePrograms(ctx context.Context, fn func(Tx) error) error
	// Program returns one program, or an error wrapping donation.ErrNotFound.
	Program(ctx context.Context, id string) (compliance.Program, error)
	// Programs returns the programs on a short code, active ones first.
	Programs(ctx context.Context, shortCode string) ([]compliance.Program, error)
	// AllPrograms returns every program, by short code, active ones first.
	AllPrograms(ctx context.Context) ([]compliance.Program, error)
}

// Tx is one transaction of Store.UpdatePrograms.
type Tx interface {
	// Program returns one program, or an error wrapping donation.ErrNotFound.
	Program(ctx context.Context, id string) (compliance.Program, error)
	// Programs returns the programs on a short code; "" means every one.
	Programs(ctx context.Context, shortCode string) ([]compliance.Program, error)
	// CommitteePrograms returns the programs of a committee.
	CommitteePrograms(ctx context.Context, committeeID string) ([]compliance.Program, error)
	// Committee returns a committee, or an error wrapping
	// donation.ErrNotFound.
	Committee(ctx context.Context, id string) (compliance.Committee, error)
	// SaveCommittee creates or replaces a committee.
	SaveCommittee(ctx context.Context, c compliance.Committee) error
	// SaveProgram creates or replaces a program and its keywords; its
	// committee is saved already, and p.Committee is not stored with it.
	SaveProgram(ctx context.Context, p compliance.Program) error
	// LogAction appends a row to the action log.
	LogAction(ctx context.Context, at time.Time, actor, action, detail string) error
}

// Errors of this package, by kind.
var (
	// ErrInvalid: the program breaks a rule of SPEC §3 or §4.4, or its
	// file cannot be read.
	ErrInvalid = donation.NewError(donation.Invalid, "invalid program")
	// ErrKeywordTaken: a keyword of the program selects another program on
	// its short code (SPEC §3, AO 2012-30).
	ErrKeywordTaken = donation.NewError(donation.Conflict, "keyword taken")
	// ErrCannotActivate: the program as stored may not take donations,
	// e.g. its committee is not in good standing (AO 2012-26).
	ErrCannotActivate = donation.NewError(donation.Conflict, "program cannot be activated")
	// ErrSharedCommittee: the committee's new configuration does not fit
	// another of its programs (its display name in that one's texts).
	ErrSharedCommittee = donation.NewError(donation.Conflict, "committee shared with another program")
	// ErrOwnRequest: a save would activate or deactivate a program, or
	// change its committee's standing, which have requests of their own
	// (and action-log rows of their own).
	ErrOwnRequest = donation.NewError(donation.Conflict, "changed only by its own request")
)

// Service runs program changes.
type Service struct {
	Store Store
	Clock donation.Clock
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

// Program returns one program, or an error wrapping donation.ErrNotFound.
func (s *Service) Program(ctx context.Context, id string) (compliance.Program, error) {
	return s.Store.Program(ctx, id)
}

// Programs returns the programs on a short code, or every program for "".
func (s *Service) Programs(ctx context.Context, shortCode string) ([]compliance.Program, error) {
	if shortCode == "" {
		return s.Store.AllPrograms(ctx)
	}
	return s.Store.Programs(ctx, shortCode)
}

// Save creates or replaces program p, and its committee's configuration,
// which its other programs share; created tells which. See save for the
// rules.
func (s *Service) Save(ctx context.Context, p compliance.Program, actor string) (saved compliance.Program, created bool, err error) {
	err = s.Store.UpdatePrograms(ctx, func(tx Tx) error {
		old, err := find(tx.Program(ctx, p.ID))
		if err != nil {
			return err
		}
		committee, err := find(tx.Committee(ctx, p.Committee.ID))
		if err != nil {
			return err
		}
		onShortCode, err := tx.Programs(ctx, p.ShortCode)
		if err != nil {
			return err
		}
		ofCommittee, err := tx.CommitteePrograms(ctx, p.Committee.ID)
		if err != nil {
			return err
		}
		c, err := save(p, old, committee, onShortCode, ofCommittee)
		if err != nil {
			return err
		}
		created = old == nil
		return s.apply(ctx, tx, c, actor)
	})
	if err != nil {
		return compliance.Program{}, false, fmt.Errorf("save program %q: %w", p.ID, err)
	}
	return p, created, nil
}

// Activate lets program id take donations, if it may (SPEC §3); an active
// program stays as it is.
func (s *Service) Activate(ctx context.Context, id, actor string) (compliance.Program, error) {
	return s.change(ctx, "activate", id, actor, func(tx Tx, p compliance.Program) (change, error) {
		onShortCode, err := tx.Programs(ctx, p.ShortCode)
		if err != nil {
			return change{}, err
		}
		return activate(p, onShortCode)
	})
}

// Deactivate stops program id taking donations; its donors' STOP and HELP
// still work. An inactive program stays as it is.
func (s *Service) Deactivate(ctx context.Context, id, actor string) (compliance.Program, error) {
	return s.change(ctx, "deactivate", id, actor, func(_ Tx, p compliance.Program) (change, error) {
		return deactivate(p), nil
	})
}

// SetGoodStanding withdraws (good false) or restores the good standing of
// the committee of program id (AO 2012-26). Withdrawing it deactivates
// every program of the committee; restoring it activates none.
func (s *Service) SetGoodStanding(ctx context.Context, id string, good bool, actor string) (compliance.Program, error) {
	verb := "withdraw good standing of"
	if good {
		verb = "restore good standing of"
	}
	return s.change(ctx, verb, id, actor, func(tx Tx, p compliance.Program) (change, error) {
		committee, err := tx.Committee(ctx, p.Committee.ID)
		if err != nil {
			return change{}, err
		}
		programs, err := tx.CommitteePrograms(ctx, p.Committee.ID)
		if err != nil {
			return change{}, err
		}
		return setGoodStanding(committee, programs, good), nil
	})
}

// InstallDemo saves compliance.DemoProgram(baseURL) on a store with no
// program, so that a new server works at once (SPEC §3); installed tells
// whether it did.
func (s *Service) InstallDemo(ctx context.Context, baseURL, actor string) (installed bool, err error) {
	err = s.Store.UpdatePrograms(ctx, func(tx Tx) error {
		all, err := tx.Programs(ctx, "")
		if err != nil || len(all) > 0 {
			return err
		}
		p := compliance.DemoProgram(baseURL)
		c, err := save(p, nil, nil, nil, nil)
		if err != nil {
			return err
		}
		installed = true
		return s.apply(ctx, tx, c, actor)
	})
	if err != nil {
		return false, fmt.Errorf("install the demo program for %s: %w", baseURL, err)
	}
	return installed, nil
}

// FollowDemoLinks points the demo program's links (its terms and donation
// pages) at baseURL, where this server's pages are; changed tells whether
// they moved. It fails, changing nothing, when the texts cannot hold the
// new links.
func (s *Service) FollowDemoLinks(ctx context.Context, baseURL, actor string) (changed bool, err error) {
	err = s.Store.UpdatePrograms(ctx, func(tx Tx) error {
		p, err := find(tx.Program(ctx, compliance.DemoProgram("").ID))
		if err != nil || p == nil {
			return err
		}
		c, err := followLinks(*p, compliance.DemoProgram(baseURL))
		if err != nil {
			return err
		}
		changed = len(c.programs) > 0
		return s.apply(ctx, tx, c, actor)
	})
	if err != nil {
		return false, fmt.Errorf("demo program links for %s: %w", baseURL, err)
	}
	return changed, nil
}

// change runs a change to the stored program id in one transaction and
// returns the program as it then is.
func (s *Service) change(ctx context.Context, verb, id, actor string, decide func(Tx, compliance.Program) (change, error)) (compliance.Program, error) {
	var out compliance.Program
	err := s.Store.UpdatePrograms(ctx, func(tx Tx) error {
		p, err := tx.Program(ctx, id)
		if err != nil {
			return err
		}
		c, err := decide(tx, p)
		if err != nil {
			return err
		}
		out = p
		if i := slices.IndexFunc(c.programs, func(q compliance.Program) bool { return q.ID == id }); i >= 0 {
			out = c.programs[i]
		}
		if c.committee != nil {
			out.Committee = *c.committee
		}
		return s.apply(ctx, tx, c, actor)
	})
	if err != nil {
		return compliance.Program{}, fmt.Errorf("%s program %q: %w", verb, id, err)
	}
	return out, nil
}

// apply writes c in tx with its action-log row. An empty change writes
// nothing and logs nothing.
func (s *Service) apply(ctx context.Context, tx Tx, c change, actor string) error {
	if c.committee != nil {
		if err := tx.SaveCommittee(ctx, *c.committee); err != nil {
			return err
		}
	}
	for _, p := range c.programs {
		if err := tx.SaveProgram(ctx, p); err != nil {
			return err
		}
	}
	if c.action == "" {
		return nil
	}
	return tx.LogAction(ctx, s.now(), actor, c.action, c.detail)
}

// find turns "not found" into a nil result.
func find[T any](v T, err error) (*T, error) {
	switch {
	case errors.Is(err, donation.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &v, nil
}

// describe names a program in the action log.
func describe(p compliance.Program) string {
	return fmt.Sprintf("%s on %s (%s) committee %s", p.ID, p.ShortCode, strings.Join(p.Keywords, ","), p.Committee.ID)
}
