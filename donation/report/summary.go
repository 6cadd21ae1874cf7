package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// Form is the FEC report a summary's lines are numbered for.
type Form string

// The forms: F3X for PACs and party committees (calendar year to date),
// F3 for a House or Senate candidate's committee (election cycle to date).
const (
	F3X Form = "F3X"
	F3  Form = "F3"
)

// ParseForm checks a form named on the command line or the API; "" is the
// committee's own (F3 for a candidate committee, F3X otherwise).
func ParseForm(s string, c compliance.Committee) (Form, error) {
	switch f := Form(s); f {
	case F3X, F3:
		return f, nil
	case "":
		if c.Type == compliance.Candidate {
			return F3, nil
		}
		return F3X, nil
	}
	return "", fmt.Errorf("form %.20q: want F3X or F3: %w", s, donation.ErrInvalid)
}

// Columns are the cover record's columns of the lines 11(a)(i), (ii) and
// (iii), for the period and to date (FEC format v8.5).
func (f Form) Columns() (period, toDate [3]int) {
	if f == F3 {
		return [3]int{33, 34, 35}, [3]int{69, 70, 71}
	}
	return [3]int{30, 31, 32}, [3]int{80, 81, 82}
}

// ItemizeOver is the aggregate past which a contributor's contributions
// are itemized on Schedule A (52 USC 30104(b)(3)(A)): $200.
const ItemizeOver = 20000

// Lines are the FEC lines of contributions from individuals: 11(a)(i)
// itemized, 11(a)(ii) unitemized, 11(a)(iii) their total.
type Lines struct {
	Itemized, Unitemized int64
}

// Total is line 11(a)(iii).
func (l Lines) Total() int64 { return l.Itemized + l.Unitemized }

// Summary is a reporting period's account of text contributions (SPEC §9).
type Summary struct {
	Range
	Form Form
	// ToDateFrom is where the to-date column starts: January 1st (F3X),
	// or the first day of the election cycle (F3).
	ToDateFrom time.Time
	Count      int
	Total      int64 // gross: fees are never netted out
	Period     Lines
	ToDate     Lines
	// Fees are the committee's operating expenditures on the period's
	// contributions, reported apart from them.
	CarrierFees, AggregatorFees int64
	// Where the period's money is, net of the carrier's fee: remitted by
	// the carrier, still receivable from it, written off, disputed.
	// Total = Remitted + CarrierFees + Receivable + WrittenOff + Disputed.
	Remitted, Receivable, WrittenOff, Disputed int64
	// Refunds are those of the period's contributions, with deadlines.
	Refunds  []treasury.Refund
	Refunded int64 // of them, credited to the donors
	// Forwarding: the period's contributions not forwarded whose deadline
	// is missed or near (within the Summarize's window), and how many were
	// forwarded after their deadline.
	Due           []treasury.Due
	ForwardedLate int
	// Contributors are the period's itemized contributors, by key.
	Itemized map[string]bool
}

// contributor is what a summary keeps of one contributor: nothing of
// their contributions but sums.
type contributor struct {
	before, period int64 // aggregates before the period, and in it
}

// Summarizer adds up a summary from rows read in the order of receipt,
// from the start of the to-date column through the period's end: only
// sums, one per contributor, are kept.
type Summarizer struct {
	s      Summary
	now    time.Time
	within time.Duration
	aggr   time.Time // where aggregates for itemization start
	by     map[string]*contributor
	toDate int64
}

// Start returns where the rows a Summarizer needs begin: the earlier of
// the to-date column's start and the aggregation period's (the calendar
// year of a PAC, the election cycle of a candidate committee).
func Start(rg Range, f Form) (toDate, aggregation, rows time.Time) {
	c := rg.Committee
	if f == F3X {
		toDate = time.Date(rg.From.Year(), time.January, 1, 0, 0, 0, 0, c.Location()).UTC()
	} else {
		toDate, _ = c.Period(rg.To)
	}
	aggregation, _ = c.Period(rg.To)
	rows = toDate
	if aggregation.Before(rows) {
		rows = aggregation
	}
	return toDate, aggregation, rows
}

// NewSummarizer starts the summary of rg on form f as of now: forwarding
// deadlines within `within` of now are near.
func NewSummarizer(rg Range, f Form, now time.Time, within time.Duration) *Summarizer {
	toDate, aggr, _ := Start(rg, f)
	return &Summarizer{s: Summary{Range: rg, Form: f, ToDateFrom: toDate, Itemized: map[string]bool{}},
		now: now, within: within, aggr: aggr, by: map[string]*contributor{}}
}

// Key is who a contribution is from, for aggregation: its phone number,
// until identified mode (SPEC §5.4) names contributors.
func Key(r Row) string { return r.Phone }

// Add counts one row; rows outside [the start of Start, the period's end)
// are ignored.
func (z *Summarizer) Add(r Row) {
	s := &z.s
	if !r.ReceivedAt.Before(z.s.End()) {
		return
	}
	if !r.ReceivedAt.Before(z.aggr) {
		c := z.by[Key(r)]
		if c == nil {
			c = &contributor{}
			z.by[Key(r)] = c
		}
		if r.ReceivedAt.Before(s.Start()) {
			c.before += r.Amount
		} else {
			c.period += r.Amount
		}
	}
	if !r.ReceivedAt.Before(s.ToDateFrom) {
		z.toDate += r.Amount
	}
	if r.ReceivedAt.Before(s.Start()) {
		return
	}
	s.Count++
	s.Total += r.Amount
	s.CarrierFees += r.CarrierFee
	s.AggregatorFees += r.AggregatorFee
	switch r.Settlement {
	case Remitted:
		s.Remitted += r.RemittedNet
	case WrittenOff:
		s.WrittenOff += r.Amount - r.CarrierFee
	case Disputed:
		s.Disputed += r.Amount - r.CarrierFee
	default:
		s.Receivable += r.Amount - r.CarrierFee
	}
	if f := r.Refund; f != nil {
		s.Refunds = append(s.Refunds, *f)
		if f.Status == treasury.Refunded {
			s.Refunded += f.Amount
		}
	}
	deadline := treasury.ForwardDeadline(s.Committee, r.Amount, r.ReceivedAt)
	switch {
	case !r.ForwardedAt.IsZero():
		if r.ForwardedAt.After(deadline) {
			s.ForwardedLate++
		}
	case r.Refund != nil && r.Refund.Status == treasury.Refunded:
		// Refunded to the donor: nothing to forward.
	case deadline.Sub(z.now) <= z.within:
		s.Due = append(s.Due, treasury.Due{Donation: donation.Donation{ID: r.ID, CommitteeID: s.Committee.ID, Phone: r.Phone,
			Amount: r.Amount, ReceivedAt: r.ReceivedAt}, Deadline: deadline, Missed: z.now.After(deadline)})
	}
}

// Summary returns the summary of the rows added. A contributor whose
// aggregate through the period's end passes ItemizeOver is itemized: the
// period's contributions on 11(a)(i), the others' on 11(a)(ii). The
// to-date column itemizes the same contributors.
func (z *Summarizer) Summary() Summary {
	s := z.s
	var itemizedToDate int64
	for k, c := range z.by {
		if c.before+c.period > ItemizeOver {
			s.Itemized[k] = true
			s.Period.Itemized += c.period
			itemizedToDate += c.period + c.before
		}
	}
	s.Period.Unitemized = s.Total - s.Period.Itemized
	s.ToDate = Lines{Itemized: itemizedToDate, Unitemized: z.toDate - itemizedToDate}
	slices.SortStableFunc(s.Due, func(a, b treasury.Due) int { return a.Deadline.Compare(b.Deadline) })
	return s
}

// Before is the aggregate of a contributor before the period, for the
// running aggregates of Schedule A.
func (z *Summarizer) Before(key string) int64 {
	if c := z.by[key]; c != nil {
		return c.before
	}
	return 0
}
