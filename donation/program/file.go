package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// File is a program as a person writes it and as the API and the CLI show
// it: the same shape for reading and saving. Amounts are dollars in
// strings ("20.00"; "20" is read too), durations Go durations ("10m",
// "1h"), election dates "2006-01-02". A setting left out takes SPEC §3's
// default (price points 5, 10, 15 and 20 dollars, the limits of §5.1,
// expiries 60 and 10 minutes, combined mode, 3 PIN tries, 2 re-prompts),
// and so does a template left out or empty (compliance.DefaultTemplates).
type File struct {
	ID            string               `json:"id"`
	ShortCode     string               `json:"short_code"`
	Keywords      []string             `json:"keywords"`
	Active        bool                 `json:"active"`
	Committee     CommitteeFile        `json:"committee"`
	PricePoints   []string             `json:"price_points,omitempty"`
	Limits        LimitsFile           `json:"limits"`
	ConfirmExpiry string               `json:"confirm_expiry,omitempty"`
	PINExpiry     string               `json:"pin_expiry,omitempty"`
	Mode          compliance.Mode      `json:"mode,omitempty"`
	MaxPINTries   int                  `json:"max_pin_tries,omitempty"`
	MaxReprompts  *int                 `json:"max_reprompts,omitempty"` // 0 is a setting
	TermsURL      string               `json:"terms_url"`
	DonationURL   string               `json:"donation_url"`
	Templates     compliance.Templates `json:"templates"`
	AggregatorFee *compliance.Fee      `json:"aggregator_fee,omitempty"` // nil: the carrier file's
}

// CommitteeFile is a committee in a File.
type CommitteeFile struct {
	ID               string                   `json:"id"`
	Type             compliance.CommitteeType `json:"type"`
	Name             string                   `json:"name"`
	DisplayName      string                   `json:"display_name"`
	PaidFor          string                   `json:"paid_for"`
	Care             string                   `json:"care"`
	GoodStanding     bool                     `json:"good_standing"`
	PreviousElection string                   `json:"previous_election,omitempty"`
	NextElection     string                   `json:"next_election,omitempty"`
	TimeZone         string                   `json:"time_zone,omitempty"`
	Treasurer        compliance.Person        `json:"treasurer,omitzero"`
	Address          compliance.Address       `json:"address,omitzero"`
}

// LimitsFile are the caps in a File, in dollars.
type LimitsFile struct {
	PerMessage string `json:"per_message,omitempty"`
	Month      string `json:"month,omitempty"`
	Rolling    *bool  `json:"rolling,omitempty"` // false is a setting
	Cycle      string `json:"cycle,omitempty"`
}

// The defaults of SPEC §3 for what a File leaves out.
var (
	defaultPricePoints   = []int64{500, 1000, 1500, 2000}
	defaultConfirmExpiry = 60 * time.Minute
	defaultPINExpiry     = 10 * time.Minute
	defaultMaxPINTries   = 3
	defaultMaxReprompts  = 2
)

// FileOf returns p as a File, every setting and template spelled out.
func FileOf(p compliance.Program) File {
	c := p.Committee
	f := File{
		ID: p.ID, ShortCode: p.ShortCode, Keywords: p.Keywords, Active: p.Active,
		Committee: CommitteeFile{
			ID: c.ID, Type: c.Type, Name: c.Name, DisplayName: c.DisplayName, PaidFor: c.PaidFor, Care: c.Care,
			GoodStanding: c.GoodStanding, PreviousElection: formatDate(c.PreviousElection),
			NextElection: formatDate(c.NextElection), TimeZone: c.TimeZone,
			Treasurer: c.Treasurer, Address: c.Address,
		},
		Limits: LimitsFile{
			PerMessage: formatDollars(p.Limits.PerMessage), Month: formatDollars(p.Limits.Month),
			Rolling: &p.Limits.Rolling, Cycle: formatDollars(p.Limits.Cycle),
		},
		ConfirmExpiry: formatDuration(p.ConfirmExpiry), PINExpiry: formatDuration(p.PINExpiry),
		Mode: p.Mode, MaxPINTries: p.MaxPINTries, MaxReprompts: &p.MaxReprompts,
		TermsURL: p.TermsURL, DonationURL: p.DonationURL, Templates: p.Templates, AggregatorFee: p.AggregatorFee,
	}
	if f.Keywords == nil {
		f.Keywords = []string{}
	}
	for _, a := range p.PricePoints {
		f.PricePoints = append(f.PricePoints, formatDollars(a))
	}
	return f
}

// Program reads f, filling in the defaults. It fails, with an error of
// kind Invalid listing every field it cannot read, only on values that
// are not amounts, durations or dates; whether the program is valid is
// compliance.Program.Validate's to say.
func (f File) Program() (compliance.Program, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := f.Committee
	p := compliance.Program{
		ID: f.ID, ShortCode: f.ShortCode, Keywords: f.Keywords, Active: f.Active,
		Committee: compliance.Committee{
			ID: c.ID, Type: c.Type, Name: c.Name, DisplayName: c.DisplayName, PaidFor: c.PaidFor, Care: c.Care,
			GoodStanding: c.GoodStanding, TimeZone: c.TimeZone, Treasurer: c.Treasurer, Address: c.Address,
		},
		Limits:        compliance.DefaultLimits,
		ConfirmExpiry: defaultConfirmExpiry,
		PINExpiry:     defaultPINExpiry,
		Mode:          f.Mode,
		MaxPINTries:   f.MaxPINTries,
		MaxReprompts:  defaultMaxReprompts,
		TermsURL:      f.TermsURL,
		DonationURL:   f.DonationURL,
		Templates:     withDefaults(f.Templates),
		AggregatorFee: f.AggregatorFee,
	}
	if p.Mode == "" {
		p.Mode = compliance.Combined
	}
	if p.MaxPINTries == 0 {
		p.MaxPINTries = defaultMaxPINTries
	}
	if f.MaxReprompts != nil {
		p.MaxReprompts = *f.MaxReprompts
	}
	if f.PricePoints != nil {
		p.PricePoints = make([]int64, 0, len(f.PricePoints))
		for i, s := range f.PricePoints {
			a, err := parseDollars(s)
			if err != nil {
				bad("price_points[%d]: %w", i, err)
			}
			p.PricePoints = append(p.PricePoints, a)
		}
	} else {
		p.PricePoints = append([]int64(nil), defaultPricePoints...)
	}
	for _, a := range []struct {
		name string
		s    string
		dst  *int64
	}{
		{"limits.per_message", f.Limits.PerMessage, &p.Limits.PerMessage},
		{"limits.month", f.Limits.Month, &p.Limits.Month},
		{"limits.cycle", f.Limits.Cycle, &p.Limits.Cycle},
	} {
		if a.s == "" {
			continue
		}
		cents, err := parseDollars(a.s)
		if err != nil {
			bad("%s: %w", a.name, err)
		}
		*a.dst = cents
	}
	if f.Limits.Rolling != nil {
		p.Limits.Rolling = *f.Limits.Rolling
	}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{
		{"confirm_expiry", f.ConfirmExpiry, &p.ConfirmExpiry},
		{"pin_expiry", f.PINExpiry, &p.PINExpiry},
	} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			bad("%s: %q is not a duration such as \"10m\" or \"1h\"", d.name, d.s)
		}
		*d.dst = v
	}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Time
	}{
		{"committee.previous_election", c.PreviousElection, &p.Committee.PreviousElection},
		{"committee.next_election", c.NextElection, &p.Committee.NextElection},
	} {
		if d.s == "" {
			continue
		}
		v, err := time.Parse(time.DateOnly, d.s)
		if err != nil {
			bad("%s: %q is not a date such as \"2026-11-03\"", d.name, d.s)
		}
		*d.dst = v
	}
	if len(errs) > 0 {
		return compliance.Program{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return p, nil
}

// Decode reads one program File from r, strictly: one JSON object with no
// unknown fields. It is how a file on disk is read.
func Decode(r io.Reader) (compliance.Program, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return compliance.Program{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return compliance.Program{}, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return f.Program()
}

// Encode writes f as a person reads it: indented JSON, "&" as itself.
func Encode(w io.Writer, f File) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// withDefaults fills the empty templates of t with the defaults.
func withDefaults(t compliance.Templates) compliance.Templates {
	d := compliance.DefaultTemplates
	for _, f := range []struct{ dst, def *string }{
		{&t.AmountPrompt, &d.AmountPrompt}, {&t.Confirm, &d.Confirm}, {&t.ConfirmOnly, &d.ConfirmOnly},
		{&t.Certify, &d.Certify}, {&t.PIN, &d.PIN}, {&t.Receipt, &d.Receipt}, {&t.Help, &d.Help},
		{&t.Stop, &d.Stop}, {&t.OptIn, &d.OptIn}, {&t.Decline, &d.Decline}, {&t.LimitReached, &d.LimitReached},
		{&t.OverLimit, &d.OverLimit}, {&t.Expired, &d.Expired}, {&t.Blocked, &d.Blocked}, {&t.NotUS, &d.NotUS},
		{&t.Prepaid, &d.Prepaid}, {&t.Business, &d.Business}, {&t.LookupFailed, &d.LookupFailed},
		{&t.WrongPIN, &d.WrongPIN}, {&t.PINLocked, &d.PINLocked}, {&t.Cancelled, &d.Cancelled},
		{&t.Hint, &d.Hint}, {&t.Processing, &d.Processing},
	} {
		if *f.dst == "" {
			*f.dst = *f.def
		}
	}
	return t
}

// dollarsRE is an amount in a File: whole dollars, or dollars and cents.
// Ten digits of dollars are far beyond any cap, and far from overflow.
var dollarsRE = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{2})?$`)

func parseDollars(s string) (int64, error) {
	if !dollarsRE.MatchString(s) {
		return 0, fmt.Errorf("%q is not an amount in dollars such as \"20.00\"", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	c, _ := strconv.ParseInt(frac+strings.Repeat("0", 2-len(frac)), 10, 64)
	return w*100 + c, nil
}

func formatDollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// formatDuration writes d as a person would: "10m", "1h", "1h30m", "90s"
// is "1m30s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}
