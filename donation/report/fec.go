package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// The .fec format (FEC electronic filing format v8.5, SPEC §9).
const (
	FECVersion = "8.5"
	fs         = "\x1c" // ASCII 28, the field separator
	crlf       = "\r\n"
)

// FieldCounts are how many fields each record written has, every one
// written, empty or not.
var FieldCounts = map[string]int{"HDR": 8, "F3XN": 123, "F3N": 93, "SA11AI": 45, "TEXT": 6}

// Notice says what a .fec file of shortcode holds; the HDR comment and the
// report's memo carry it, and the command prints it.
const Notice = "Text-message contributions only (shortcode): merge these receipts into the committee's full report before filing."

// Contributor is an individual as Schedule A itemizes them: name, mailing
// address, employer and occupation (identified mode, SPEC §5.4).
type Contributor struct {
	Name       compliance.Person  `json:"name"`
	Address    compliance.Address `json:"address"`
	Employer   string             `json:"employer"`
	Occupation string             `json:"occupation"`
}

// Contributors find the identity of a contributor by Key.
type Contributors interface {
	// Contributor returns the contributor to committeeID with this key,
	// or an error wrapping donation.ErrNotFound.
	Contributor(ctx context.Context, committeeID, key string) (Contributor, error)
}

// ErrIncomplete: a record the file needs is missing a detail the FEC
// requires (the treasurer's name, an itemized contributor's employer...).
var ErrIncomplete = donation.NewError(donation.Conflict, "incomplete for the FEC")

// CheckCover reports what committee c's configuration lacks for a cover
// record, the treasurer's name and the committee's address, or holds that
// the cover cannot take as written (ASCII): F3X's and F3's lengths, a
// state of 2 capital letters, a ZIP code of 5 to 9 characters.
func CheckCover(c compliance.Committee) error {
	var missing, bad []string
	for _, f := range []struct {
		name     string
		v        string
		min, max int
	}{
		{"treasurer.last", c.Treasurer.Last, 1, 30}, {"treasurer.first", c.Treasurer.First, 1, 20},
		{"treasurer.middle", c.Treasurer.Middle, 0, 20}, {"treasurer.prefix", c.Treasurer.Prefix, 0, 10},
		{"treasurer.suffix", c.Treasurer.Suffix, 0, 10}, {"name", c.Name, 1, 200},
		{"address.street1", c.Address.Street1, 1, 34}, {"address.street2", c.Address.Street2, 0, 34},
		{"address.city", c.Address.City, 1, 30}, {"address.state", c.Address.State, 2, 2}, {"address.zip", c.Address.ZIP, 5, 9},
	} {
		v := ASCII(f.v)
		switch {
		case f.min > 0 && strings.TrimSpace(v) == "":
			missing = append(missing, f.name)
		case v != "" && (len(v) < f.min || len(v) > f.max):
			bad = append(bad, fmt.Sprintf("%s of %d characters (%d to %d)", f.name, len(v), f.min, f.max))
		}
	}
	if st := ASCII(c.Address.State); len(st) == 2 && strings.Trim(st, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		bad = append(bad, fmt.Sprintf("address.state %q (two capital letters)", st))
	}
	switch {
	case missing != nil:
		return fmt.Errorf("committee %s has no %s in its configuration (program save, committee section): %w",
			c.ID, strings.Join(missing, ", "), ErrIncomplete)
	case bad != nil:
		return fmt.Errorf("committee %s has a %s in its configuration (program save, committee section): %w",
			c.ID, strings.Join(bad, ", "), ErrIncomplete)
	}
	return nil
}

// checkContributor reports what an itemized contributor's record lacks, or
// holds longer than Schedule A takes (the FEC's SchA schema), as written:
// in ASCII, so a name of accents alone is missing and "ß" counts two.
func checkContributor(key string, p Contributor) error {
	var missing, long []string
	for _, f := range []struct {
		name string
		v    string
		max  int
		need bool
	}{
		{"last name", p.Name.Last, 30, true}, {"first name", p.Name.First, 20, true}, {"middle name", p.Name.Middle, 20, false},
		{"prefix", p.Name.Prefix, 10, false}, {"suffix", p.Name.Suffix, 10, false},
		{"street", p.Address.Street1, 34, true}, {"street2", p.Address.Street2, 34, false}, {"city", p.Address.City, 30, true},
		{"state", p.Address.State, 2, true}, {"ZIP code", p.Address.ZIP, 9, true},
		{"employer", p.Employer, 38, true}, {"occupation", p.Occupation, 38, true},
	} {
		v := ASCII(f.v)
		switch {
		case f.need && strings.TrimSpace(v) == "":
			missing = append(missing, f.name)
		case len(v) > f.max:
			long = append(long, fmt.Sprintf("%s of %d characters (at most %d)", f.name, len(v), f.max))
		}
	}
	if missing != nil {
		return fmt.Errorf("contributor %s aggregates over $200 and must be itemized, but has no %s: %w",
			compliance.MaskPhone(key), strings.Join(missing, ", "), ErrIncomplete)
	}
	if long != nil {
		return fmt.Errorf("contributor %s aggregates over $200 and must be itemized, but has a %s: %w",
			compliance.MaskPhone(key), strings.Join(long, ", "), ErrIncomplete)
	}
	return nil
}

// FEC writes the .fec file of rg's text contributions on form f to w:
// the HDR record, the cover record (F3XN or F3N) with the lines 11(a)(i),
// (ii) and (iii) for the period and to date and the treasurer from the
// committee's configuration, an SA11AI row for each contribution of an
// itemized contributor with its running aggregate, a TEXT memo for each
// refunded one, and the report's memo (Notice). It reads the rows twice:
// once for the sums, once for the itemized rows. Nothing is written to w
// unless the whole file could be made: w gets it in one Write.
func FEC(ctx context.Context, w io.Writer, src Source, people Contributors, rg Range, f Form, now time.Time, software string) (Summary, error) {
	c := rg.Committee
	if err := CheckCover(c); err != nil {
		return Summary{}, err
	}
	z := NewSummarizer(rg, f, now, 0)
	_, _, start := Start(rg, f)
	if err := src.Contributions(ctx, c.ID, start, rg.End(), func(r Row) error { z.Add(r); return nil }); err != nil {
		return Summary{}, err
	}
	s := z.Summary()

	var b fecBuffer
	b.record("HDR", "FEC", FECVersion, "shortcode", software, "", "", Notice)
	b.record(cover(s, now)...)
	formType := string(f) + "N"

	// The itemized contributors' contributions of the period, each with
	// the aggregate through it.
	running := map[string]int64{}
	who := map[string]Contributor{}
	for k := range s.Itemized {
		p, err := people.Contributor(ctx, c.ID, k)
		if errors.Is(err, donation.ErrNotFound) {
			err = checkContributor(k, Contributor{})
		}
		if err == nil {
			err = checkContributor(k, p)
		}
		if err != nil {
			return s, err
		}
		who[k], running[k] = p, z.Before(k)
	}
	seen := map[string]bool{}
	if len(s.Itemized) > 0 {
		err := src.Contributions(ctx, c.ID, rg.Start(), rg.End(), func(r Row) error {
			k := Key(r)
			if !s.Itemized[k] {
				return nil
			}
			running[k] += r.Amount
			id, err := TransactionID(r.ID)
			if err != nil {
				return err
			}
			if seen[id] {
				return fmt.Errorf("transaction id %s twice: %w", id, donation.ErrConflict)
			}
			seen[id] = true
			b.record(scheduleA(c, id, who[k], r, running[k], f)...)
			if rf := r.Refund; rf != nil && rf.Status == treasury.Refunded {
				b.record("TEXT", c.ID, "M"+id, id, "SA11AI",
					fmt.Sprintf("Refunded %s on %s through the donor's carrier (reason: %s); reported with the committee's refunds.",
						money(rf.Amount), day(rf.FinishedAt, c.Location()), rf.Reason))
			}
			return nil
		})
		if err != nil {
			return s, err
		}
	}
	b.record("TEXT", c.ID, "REPORT_MEMO_TEXT1", "", formType, Notice+
		" Contributions are reported gross; carrier and aggregator fees are operating expenditures of the committee, never netted.")
	if b.err != nil {
		return s, b.err
	}
	_, err := w.Write(b.buf)
	return s, err
}

// TransactionID is a contribution's Schedule A transaction id: its
// donation id in upper case, at most 20 printable characters.
func TransactionID(donationID string) (string, error) {
	id := strings.ToUpper(donationID)
	if id == "" || len(id) > 20 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return "", fmt.Errorf("donation id %q cannot be a transaction id (1 to 20 letters and digits): %w", donationID, donation.ErrConflict)
	}
	return id, nil
}

// cover is the cover record of s: every field of form s.Form, the lines
// this system knows filled in, the others left empty for the committee's
// filing software.
func cover(s Summary, now time.Time) []string {
	c := s.Committee
	loc := c.Location()
	t := c.Treasurer
	a := c.Address
	period, toDate := s.Form.Columns()
	fields := make([]string, FieldCounts[string(s.Form)+"N"])
	set := func(col int, v string) { fields[col-1] = v }
	set(1, string(s.Form)+"N")
	set(2, c.ID)
	set(3, c.Name)
	set(5, a.Street1)
	set(6, a.Street2)
	set(7, a.City)
	set(8, a.State)
	set(9, a.ZIP)
	code := reportCode(s.Range)
	dates := [2]int{14, 15}
	names := 17
	signed := 22
	if s.Form == F3 {
		set(12, code)
		dates, names, signed = [2]int{16, 17}, 18, 23
	} else {
		set(10, code)
		set(75, strconv.Itoa(s.From.Year()))
	}
	set(dates[0], fecDate(s.From))
	set(dates[1], fecDate(s.To))
	for i, v := range []string{t.Last, t.First, t.Middle, t.Prefix, t.Suffix} {
		set(names+i, v)
	}
	set(signed, fecDate(now.In(loc)))
	for i, v := range []int64{s.Period.Itemized, s.Period.Unitemized, s.Period.Total()} {
		set(period[i], money(v))
	}
	for i, v := range []int64{s.ToDate.Itemized, s.ToDate.Unitemized, s.ToDate.Total()} {
		set(toDate[i], money(v))
	}
	return fields
}

// reportCode names the report a period is: Q1, Q2, Q3 or YE for a
// quarter, M2 to M12 or YE for a month (a month's report is named for the
// month it is due); "" for any other period, for the treasurer to set.
func reportCode(rg Range) string {
	from, to := rg.From, rg.To
	last := to.AddDate(0, 0, 1)
	if from.Day() != 1 || last.Day() != 1 {
		return ""
	}
	months := (last.Year()-from.Year())*12 + int(last.Month()-from.Month())
	switch {
	case months == 3 && (from.Month()-1)%3 == 0:
		if from.Month() == time.October {
			return "YE"
		}
		return fmt.Sprintf("Q%d", (from.Month()-1)/3+1)
	case months == 1:
		if from.Month() == time.December {
			return "YE"
		}
		return fmt.Sprintf("M%d", from.Month()+1)
	}
	return ""
}

// scheduleA is the SA11AI row of contribution r from p, with its
// aggregate through it.
func scheduleA(c compliance.Committee, id string, p Contributor, r Row, aggregate int64, f Form) []string {
	fields := make([]string, FieldCounts["SA11AI"])
	n, a := p.Name, p.Address
	for i, v := range []string{
		"SA11AI", c.ID, id, "", "", "IND", "", n.Last, n.First, n.Middle, n.Prefix, n.Suffix,
		a.Street1, a.Street2, a.City, a.State, a.ZIP, "", "",
		fecDate(r.ReceivedAt.In(c.Location())), money(r.Amount), money(aggregate), "", p.Employer, p.Occupation,
	} {
		fields[i] = v
	}
	return fields
}

// fecDate is YYYYMMDD.
func fecDate(t time.Time) string { return t.Format("20060102") }

// money is cents as the format writes amounts: "10.00".
func money(cents int64) string { return treasury.Decimal(cents) }

// fecBuffer collects records: fields transliterated to printable ASCII
// and joined by FS, each record ended by CRLF; a record of the wrong
// field count is an error.
type fecBuffer struct {
	buf []byte
	err error
}

func (b *fecBuffer) record(fields ...string) {
	if want, ok := FieldCounts[fields[0]]; !ok || len(fields) != want {
		if b.err == nil {
			b.err = fmt.Errorf("record %s: %d fields, want %d", fields[0], len(fields), want)
		}
		return
	}
	for i, f := range fields {
		if i > 0 {
			b.buf = append(b.buf, fs...)
		}
		b.buf = append(b.buf, ASCII(f)...)
	}
	b.buf = append(b.buf, crlf...)
}

// transliterations are the letters and marks that do not decompose into
// ASCII ones.
var transliterations = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "AE", 'ø': "o", 'Ø': "O", 'œ': "oe", 'Œ': "OE", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D",
	'þ': "th", 'Þ': "Th", 'ı': "i", '‘': "'", '’': "'", '‚': ",", '“': `"`, '”': `"`, '„': `"`, '–': "-", '—': "-",
	'…': "...", '\u00a0': " ", '«': `"`, '»': `"`,
}

// ASCII transliterates s to printable ASCII (space to tilde), as the .fec
// format allows: accents dropped (José -> Jose), a few letters spelled out
// (ß -> ss), any other character, control characters included, a "?".
func ASCII(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a combining accent: dropped
		case transliterations[r] != "":
			b.WriteString(transliterations[r])
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
