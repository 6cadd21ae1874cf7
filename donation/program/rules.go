package program

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shortcode/shortcode/compliance"
)

// change is what a program change writes: the committee (nil when
// unchanged), the programs, and the action-log row. No action means
// nothing changed.
type change struct {
	committee      *compliance.Committee
	programs       []compliance.Program
	action, detail string
}

// save decides whether p may be saved over old (nil for a new program),
// given the stored committee (nil for a new one) and the programs stored on
// p's short code and of p's committee: p must be valid (validate); a save
// neither activates nor deactivates a stored program nor changes a stored
// committee's standing, which have requests of their own; p's keywords
// select no other program on its short code, active or not (SPEC §3); and
// the committee's configuration, shared by its programs, must still fit
// those it fitted.
func save(p compliance.Program, old *compliance.Program, committee *compliance.Committee, onShortCode, ofCommittee []compliance.Program) (change, error) {
	if err := validate(p); err != nil {
		return change{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if old != nil && old.Active != p.Active {
		return change{}, fmt.Errorf("%w: program %q is %s; save it %s and use activate or deactivate",
			ErrOwnRequest, p.ID, activeness(old.Active), activeness(old.Active))
	}
	if committee != nil && committee.GoodStanding != p.Committee.GoodStanding {
		return change{}, fmt.Errorf("%w: committee %s has good_standing %v; save it so and use withdraw-good-standing or restore-good-standing",
			ErrOwnRequest, committee.ID, committee.GoodStanding)
	}
	if err := compliance.CheckShortCodes(replace(onShortCode, p)); err != nil {
		return change{}, fmt.Errorf("%w: %w", ErrKeywordTaken, err)
	}
	if committee != nil && !sameCommittee(*committee, p.Committee) {
		var errs []error
		for _, q := range ofCommittee {
			if q.ID == p.ID || validate(q) != nil {
				continue // not this save's doing
			}
			q.Committee = p.Committee
			if err := validate(q); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return change{}, fmt.Errorf("%w: %w", ErrSharedCommittee, errors.Join(errs...))
		}
	}
	c := p.Committee
	return change{committee: &c, programs: []compliance.Program{p}, action: "program.save", detail: describe(p)}, nil
}

// activate decides whether p may take donations: every rule of
// compliance.Program.Validate, its committee's good standing included, and
// its keywords its own on its short code.
func activate(p compliance.Program, onShortCode []compliance.Program) (change, error) {
	if p.Active {
		return change{}, nil
	}
	p.Active = true
	if err := p.Validate(); err != nil {
		return change{}, fmt.Errorf("%w: %w", ErrCannotActivate, err)
	}
	if err := compliance.CheckShortCodes(replace(onShortCode, p)); err != nil {
		return change{}, fmt.Errorf("%w: %w", ErrKeywordTaken, err)
	}
	return change{programs: []compliance.Program{p}, action: "program.activate", detail: describe(p)}, nil
}

// deactivate stops p taking donations.
func deactivate(p compliance.Program) change {
	if !p.Active {
		return change{}
	}
	p.Active = false
	return change{programs: []compliance.Program{p}, action: "program.deactivate", detail: describe(p)}
}

// setGoodStanding sets c's good standing; withdrawing it deactivates
// every active program of c, as none may take donations (AO 2012-26).
func setGoodStanding(c compliance.Committee, programs []compliance.Program, good bool) change {
	if c.GoodStanding == good {
		return change{}
	}
	c.GoodStanding = good
	ch := change{committee: &c, action: "committee.restore-good-standing", detail: c.ID}
	if good {
		return ch
	}
	ch.action = "committee.withdraw-good-standing"
	var stopped []string
	for _, p := range programs {
		if p.Active {
			p.Active = false
			p.Committee = c
			ch.programs = append(ch.programs, p)
			stopped = append(stopped, p.ID)
		}
	}
	if len(stopped) > 0 {
		ch.detail += "; deactivated " + strings.Join(stopped, ", ")
	}
	return ch
}

// followLinks points stored program p at demo's links, if p is the demo
// program (its committee is the demo's) and they differ.
func followLinks(p, demo compliance.Program) (change, error) {
	if p.Committee.ID != demo.Committee.ID || (p.TermsURL == demo.TermsURL && p.DonationURL == demo.DonationURL) {
		return change{}, nil
	}
	p.TermsURL, p.DonationURL = demo.TermsURL, demo.DonationURL
	if err := validate(p); err != nil {
		return change{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return change{programs: []compliance.Program{p}, action: "program.links",
		detail: fmt.Sprintf("%s: terms %s, donation %s", p.ID, p.TermsURL, p.DonationURL)}, nil
}

// validate checks p as it is to be stored: every rule of
// compliance.Program.Validate, but for an inactive program its committee's
// good standing, which only activation needs (SPEC §3).
func validate(p compliance.Program) error {
	if !p.Active {
		p.Committee.GoodStanding = true
	}
	return p.Validate()
}

// replace returns programs with p in place of its stored version.
func replace(programs []compliance.Program, p compliance.Program) []compliance.Program {
	out := slices.DeleteFunc(slices.Clone(programs), func(q compliance.Program) bool { return q.ID == p.ID })
	return append(out, p)
}

func sameCommittee(a, b compliance.Committee) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.DisplayName == b.DisplayName &&
		a.PaidFor == b.PaidFor && a.Care == b.Care && a.GoodStanding == b.GoodStanding && a.TimeZone == b.TimeZone &&
		a.PreviousElection.Equal(b.PreviousElection) && a.NextElection.Equal(b.NextElection)
}

func activeness(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}
