package treasury

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shortcode/shortcode/donation"
)

// SettlementHeader is the first line of a carrier settlement file (SPEC §12.2).
var SettlementHeader = []string{"server_reference_code", "reference_code", "charged_at", "gross", "carrier_fee", "net", "status"}

// Line statuses in a settlement file.
const (
	Paid       = "paid"
	WrittenOff = "written_off"
	Disputed   = "disputed"
)

// Line is one line of a settlement file.
type Line struct {
	No         int // 1 is the first line after the header
	ServerRef  string
	Reference  string // our referenceCode: a donation id, or a refund id
	ChargedAt  time.Time
	Gross      int64 // cents; negative for a refund
	CarrierFee int64
	Net        int64
	Status     string
}

// SettlementFile is a parsed settlement file.
type SettlementFile struct {
	Carrier string
	Name    string
	SHA256  string // of the file's bytes: a file is imported once
	Lines   []Line
}

// maxSettlementBytes bounds what an import reads (about a million lines).
const maxSettlementBytes = 256 << 20

// ParseSettlement reads a settlement file. A bad header, a malformed line
// (wrong field count, unparsable date or amount, unknown status) is an error
// naming the line, and nothing is imported; well-formed lines that do not
// match our records are for the import to report. A leading UTF-8 byte
// order mark (Excel writes one) is skipped, and left out of the file's
// SHA-256, so that the same lines saved again are the same file. Errors
// are of kind donation.Invalid.
func ParseSettlement(carrier, name string, r io.Reader) (SettlementFile, error) {
	f, err := parseSettlement(carrier, name, r)
	if err != nil {
		return f, &donation.InputError{Err: err}
	}
	return f, nil
}

func parseSettlement(carrier, name string, r io.Reader) (SettlementFile, error) {
	f := SettlementFile{Carrier: carrier, Name: name}
	if carrier == "" {
		return f, errors.New("settlement: no carrier named")
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxSettlementBytes+1))
	if err != nil {
		return f, fmt.Errorf("settlement %s: read: %w", name, err)
	}
	if len(raw) > maxSettlementBytes {
		return f, fmt.Errorf("settlement %s: larger than %d bytes", name, maxSettlementBytes)
	}
	raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
	if !utf8.Valid(raw) {
		return f, fmt.Errorf("settlement %s: not UTF-8 text", name)
	}
	sum := sha256.Sum256(raw)
	f.SHA256 = hex.EncodeToString(sum[:])
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.FieldsPerRecord = len(SettlementHeader)
	header, err := cr.Read()
	if err != nil {
		return f, fmt.Errorf("settlement %s: header: %w", name, err)
	}
	if !slices.Equal(header, SettlementHeader) {
		return f, fmt.Errorf("settlement %s: header is %q, want %q", name, strings.Join(header, ","), strings.Join(SettlementHeader, ","))
	}
	for no := 1; ; no++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, fmt.Errorf("settlement %s: line %d: %w", name, no, err)
		}
		l, err := parseLine(no, rec)
		if err != nil {
			return f, fmt.Errorf("settlement %s: line %d: %w", name, no, err)
		}
		f.Lines = append(f.Lines, l)
	}
	return f, nil
}

func parseLine(no int, rec []string) (Line, error) {
	l := Line{No: no, ServerRef: strings.TrimSpace(rec[0]), Reference: strings.TrimSpace(rec[1]), Status: rec[6]}
	if l.ServerRef == "" || l.Reference == "" {
		return l, errors.New("empty server_reference_code or reference_code")
	}
	at, err := time.Parse(time.RFC3339, rec[2])
	if err != nil {
		return l, fmt.Errorf("charged_at %q: %w", rec[2], err)
	}
	l.ChargedAt = at.UTC()
	for i, p := range []*int64{&l.Gross, &l.CarrierFee, &l.Net} {
		if *p, err = parseAmount(rec[3+i]); err != nil {
			return l, fmt.Errorf("%s: %w", SettlementHeader[3+i], err)
		}
	}
	switch l.Status {
	case Paid, WrittenOff, Disputed:
	default:
		return l, fmt.Errorf("status %q: want paid, written_off or disputed", l.Status)
	}
	return l, nil
}

// parseAmount reads "10.00" or "-10.00" into cents.
func parseAmount(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	whole, frac, ok := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !ok || len(frac) != 2 || whole == "" || len(whole) > 12 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("amount %q: want a decimal with 2 places", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	c, _ := strconv.ParseInt(frac, 10, 64)
	v := w*100 + c
	if neg {
		v = -v
	}
	return v, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Match says what is wrong with a settlement line given what we recorded:
// the donation or refund its reference names (nil if none), and whether its
// server reference was already settled. "" means it matches. A mismatch is
// named before a duplicate, so a tampered copy of a settled line reports
// what was changed.
func Match(l Line, carrier string, d *donation.Donation, r *Refund, settled bool) string {
	switch {
	case l.Net != l.Gross-l.CarrierFee:
		return fmt.Sprintf("net %s is not gross %s minus fee %s", Dollars(l.Net), Dollars(l.Gross), Dollars(l.CarrierFee))
	case r != nil:
		switch {
		case r.Carrier != carrier:
			return fmt.Sprintf("refund %s was made through %s, not %s", r.ID, r.Carrier, carrier)
		case r.Status != Refunded:
			return fmt.Sprintf("refund %s is %s, not refunded", r.ID, r.Status)
		case l.ServerRef != r.ServerRef:
			return fmt.Sprintf("server reference %s, ours is %s", l.ServerRef, r.ServerRef)
		case l.Gross != -r.Amount:
			return fmt.Sprintf("gross %s, refund was %s", Dollars(l.Gross), Dollars(-r.Amount))
		}
		return duplicate(settled)
	case d != nil:
		switch {
		case d.Status != donation.Completed:
			return fmt.Sprintf("donation %s is %s, not completed", d.ID, d.Status)
		case d.Carrier != carrier:
			return fmt.Sprintf("donation %s was billed through %s, not %s", d.ID, d.Carrier, carrier)
		case l.ServerRef != d.ServerRef:
			return fmt.Sprintf("server reference %s, ours is %s", l.ServerRef, d.ServerRef)
		case l.Gross != d.Amount:
			return fmt.Sprintf("gross %s, donation was %s", Dollars(l.Gross), Dollars(d.Amount))
		}
		return duplicate(settled)
	}
	return "unmatched: no donation or refund with this reference"
}

// duplicate reports a line that matches but whose server reference was
// settled already, in an earlier file or earlier in this one.
func duplicate(settled bool) string {
	if settled {
		return "duplicate: server reference already settled"
	}
	return ""
}

// Dollars formats cents for people: "$10.00", "-$10.00".
func Dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s$%d.%02d", sign, cents/100, cents%100)
}

// Settlement is an imported settlement file, as listed.
type Settlement struct {
	SHA256     string
	Carrier    string
	Name       string
	Lines      int
	ImportedAt time.Time
	Matched    int
	Problems   int
	Remitted   int64 // net of the cleanly matched paid lines
}

// LineResult is one line as imported.
type LineResult struct {
	Line
	DonationID string
	RefundID   string
	Problem    string // "" when matched cleanly
}

// Report is what an import did.
type Report struct {
	File            string
	Carrier         string
	SHA256          string
	AlreadyImported bool // the same file was imported before: nothing changed
	Lines           []LineResult
	Matched         int
	Problems        int
	Remitted        int64 // net of the matched paid lines
}

// Summary is a one-line account of the report.
func (r Report) Summary() string {
	if r.AlreadyImported {
		return fmt.Sprintf("%s: already imported (sha256 %s); nothing changed", r.File, r.SHA256[:12])
	}
	return fmt.Sprintf("%s (%s): %d lines, %d matched, %d reported; %s remitted", r.File, r.Carrier, len(r.Lines), r.Matched, r.Problems, Dollars(r.Remitted))
}

// Ours is what we hold about the reference of one settlement line.
type Ours struct {
	Donation *donation.Donation // the donation it names, if any
	Refund   *Refund            // the refund it names, if any
	// Settled: its server reference was settled cleanly by an earlier file.
	Settled bool
}

// Remittance is the carrier's payment of one contribution: its net, and
// its actual fee, which replaces the estimate recorded with the charge.
type Remittance struct {
	DonationID      string
	At              time.Time
	Net, CarrierFee int64
}

// Import is a settlement file as imported.
type Import struct {
	Report      Report // every line with its verdict, and the counts
	At          time.Time
	Remittances []Remittance // of the cleanly matched paid lines of donations
}

// Reconcile matches every line of f against ours (ours[i] is what we hold
// about f.Lines[i]'s reference) and decides the import: every line kept
// with its verdict, never dropped; remittance for the cleanly matched paid
// lines; the counts; and the action-log row. A server reference settled
// earlier in the same file is a duplicate too.
func Reconcile(f SettlementFile, ours []Ours, actor string, now time.Time) Change {
	imp := &Import{At: now, Report: Report{File: f.Name, Carrier: f.Carrier, SHA256: f.SHA256}}
	rep := &imp.Report
	seen := map[string]bool{}
	for i, l := range f.Lines {
		var o Ours
		if i < len(ours) {
			o = ours[i]
		}
		res := LineResult{Line: l, Problem: Match(l, f.Carrier, o.Donation, o.Refund, o.Settled || seen[l.ServerRef])}
		if o.Donation != nil {
			res.DonationID = o.Donation.ID
		}
		if o.Refund != nil {
			res.RefundID = o.Refund.ID
		}
		rep.Lines = append(rep.Lines, res)
		if res.Problem != "" {
			rep.Problems++
			continue
		}
		rep.Matched++
		seen[l.ServerRef] = true
		if l.Status != Paid {
			continue
		}
		rep.Remitted += l.Net
		if res.DonationID != "" {
			imp.Remittances = append(imp.Remittances, Remittance{DonationID: res.DonationID, At: now, Net: l.Net, CarrierFee: l.CarrierFee})
		}
	}
	return Change{Import: imp, Action: &donation.Action{At: now, Actor: actor, Action: "settlement.import", Detail: rep.Summary()}}
}
