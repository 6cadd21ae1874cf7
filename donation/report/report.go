// Package report is what a treasurer files from (SPEC §9): the
// contributions report (one row per contribution, CSV or JSON, written as
// it is read), the summary of a reporting period with the FEC lines for
// individual contributions, and the .fec file of those receipts. Like
// donation, it knows no SQL and no HTTP: rows come from a Source, and
// every function here is a pure function of the rows it is given.
package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// Settlement states of a contribution: what the carrier did with it.
const (
	Receivable = "receivable"  // charged, not yet in a settlement file
	Remitted   = "remitted"    // paid in an imported settlement file
	WrittenOff = "written_off" // the carrier could not collect it
	Disputed   = "disputed"    // the donor disputed the charge
)

// Row is one contribution: a completed donation, refunded or not, with
// what became of its money.
type Row struct {
	ID               string
	ProgramID        string
	Phone            string
	Amount           int64 // gross, cents
	ReceivedAt       time.Time
	Carrier          string
	CertificationSeq int64 // its record in the certification log; 0 until sequenced
	ChargeRef        string
	CarrierFee       int64 // the settlement's once remitted, else the schedule's estimate
	AggregatorFee    int64
	Settlement       string // Receivable, Remitted, WrittenOff or Disputed
	RemittedAt       time.Time
	RemittedNet      int64
	ForwardedAt      time.Time
	Refund           *treasury.Refund // the live (posted or refunded) refund, if any
}

// Net is what the contribution leaves once both fees are paid.
func (r Row) Net() int64 { return r.Amount - r.CarrierFee - r.AggregatorFee }

// Status is the contribution's own state: completed, refund posted, or
// refunded.
func (r Row) Status() string {
	switch {
	case r.Refund == nil:
		return "completed"
	case r.Refund.Status == treasury.Refunded:
		return "refunded"
	}
	return "refund_posted"
}

// Source reads a committee's contributions received in [from, to), oldest
// first, calling fn with each; an error from fn stops it. Storage reads
// them a page at a time, so that memory does not grow with their number.
type Source interface {
	Contributions(ctx context.Context, committeeID string, from, to time.Time, fn func(Row) error) error
}

// Columns are the contributions report's columns (SPEC §9), in order:
// the CSV header and the JSON field names.
var Columns = []string{
	"id", "phone", "amount", "date_received", "received_at", "carrier", "status",
	"certification_seq", "charge_reference", "carrier_fee", "aggregator_fee", "net",
	"settlement", "remitted_date", "remitted_net", "forwarded_date",
	"refund_amount", "refund_reason", "refund_status", "refund_date", "refund_deadline",
}

// Record is r as the report's columns, in the committee's time zone loc:
// dates YYYY-MM-DD, received_at RFC 3339 with the zone's offset, amounts
// dollars with 2 decimals ("10.00"); empty when not yet.
func (r Row) Record(loc *time.Location) []string {
	var refundAmount, reason, status, refunded, deadline string
	if f := r.Refund; f != nil {
		refundAmount, reason, status = treasury.Decimal(f.Amount), string(f.Reason), string(f.Status)
		refunded, deadline = day(f.FinishedAt, loc), day(f.Deadline, loc)
	}
	seq := ""
	if r.CertificationSeq > 0 {
		seq = strconv.FormatInt(r.CertificationSeq, 10)
	}
	net := ""
	if !r.RemittedAt.IsZero() {
		net = treasury.Decimal(r.RemittedNet)
	}
	return []string{
		r.ID, r.Phone, treasury.Decimal(r.Amount), day(r.ReceivedAt, loc), r.ReceivedAt.In(loc).Format(time.RFC3339),
		r.Carrier, r.Status(), seq, r.ChargeRef, treasury.Decimal(r.CarrierFee), treasury.Decimal(r.AggregatorFee),
		treasury.Decimal(r.Net()), r.Settlement, day(r.RemittedAt, loc), net, day(r.ForwardedAt, loc),
		refundAmount, reason, status, refunded, deadline,
	}
}

// day is t's date in loc, or "" for the zero time.
func day(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.DateOnly)
}

// Format is a contributions report's file format.
type Format string

// The formats of the contributions report.
const (
	CSV  Format = "csv"
	JSON Format = "json"
)

// ParseFormat checks a format given on the command line or the API.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case CSV, JSON:
		return f, nil
	}
	return "", fmt.Errorf("format %.20q: want csv or json: %w", s, donation.ErrInvalid)
}

// ContentType is the media type of f.
func (f Format) ContentType() string {
	if f == JSON {
		return "application/json"
	}
	return "text/csv; charset=utf-8; header=present"
}

// Writer writes a contributions report a row at a time: nothing is kept
// but the row being written.
type Writer struct {
	loc    *time.Location
	format Format
	csv    *csv.Writer
	w      io.Writer
	rows   int
	buf    []byte
}

// NewWriter returns a writer of the report in format f to w, in the time
// zone loc. Close ends it.
func NewWriter(w io.Writer, f Format, loc *time.Location) *Writer {
	x := &Writer{loc: loc, format: f, w: w}
	if f == CSV {
		x.csv = csv.NewWriter(w)
		x.csv.UseCRLF = true // RFC 4180
	}
	return x
}

// Write writes one row; the CSV header, or the JSON array's opening,
// comes first.
func (x *Writer) Write(r Row) error {
	if err := x.begin(); err != nil {
		return err
	}
	x.rows++
	rec := r.Record(x.loc)
	if x.format == CSV {
		return x.csv.Write(rec)
	}
	if x.rows > 1 {
		if _, err := io.WriteString(x.w, ",\n"); err != nil {
			return err
		}
	}
	// A JSON object of the CSV's columns in their order, every value a
	// string, "" when not yet.
	x.buf = append(x.buf[:0], '{')
	for i, c := range Columns {
		if i > 0 {
			x.buf = append(x.buf, ',')
		}
		x.buf = strconv.AppendQuote(x.buf, c)
		x.buf = append(x.buf, ':')
		v, err := json.Marshal(rec[i])
		if err != nil {
			return err
		}
		x.buf = append(x.buf, v...)
	}
	x.buf = append(x.buf, '}')
	_, err := x.w.Write(x.buf)
	return err
}

func (x *Writer) begin() error {
	if x.rows > 0 {
		return nil
	}
	if x.format == CSV {
		return x.csv.Write(Columns)
	}
	_, err := io.WriteString(x.w, "[\n")
	return err
}

// Rows tells how many rows were written.
func (x *Writer) Rows() int { return x.rows }

// Close ends the report (a report of no rows is the header alone, or
// []) and flushes it.
func (x *Writer) Close() error {
	empty := x.rows == 0
	if empty {
		if err := x.begin(); err != nil {
			return err
		}
	}
	if x.format == CSV {
		x.csv.Flush()
		return x.csv.Error()
	}
	end := "\n]\n"
	if empty {
		end = "]\n"
	}
	_, err := io.WriteString(x.w, end)
	return err
}

// Range is a reporting period: the days From through To (inclusive) in the
// committee's time zone.
type Range struct {
	Committee compliance.Committee
	From, To  time.Time // midnight of the first and of the last day, in the committee's zone
}

// Start and End bound the period as instants: [Start, End).
func (r Range) Start() time.Time { return r.From.UTC() }

// End is midnight after the last day.
func (r Range) End() time.Time { return r.To.AddDate(0, 0, 1).UTC() }

// String is "2027-01-01..2027-03-31".
func (r Range) String() string {
	return r.From.Format(time.DateOnly) + ".." + r.To.Format(time.DateOnly)
}

// NewRange reads a reporting period of committee c from two dates,
// YYYY-MM-DD. Both are required; from may not be after to, and the period
// lies in one calendar year, as every FEC report's does. Errors are of
// kind donation.Invalid.
func NewRange(c compliance.Committee, from, to string) (Range, error) {
	loc := c.Location()
	r := Range{Committee: c}
	var err error
	if from == "" || to == "" {
		return r, fmt.Errorf("a report needs both dates, from and to (YYYY-MM-DD): %w", donation.ErrInvalid)
	}
	if r.From, err = time.ParseInLocation(time.DateOnly, from, loc); err != nil {
		return r, fmt.Errorf("from %.40q: want a date, YYYY-MM-DD: %w", from, donation.ErrInvalid)
	}
	if r.To, err = time.ParseInLocation(time.DateOnly, to, loc); err != nil {
		return r, fmt.Errorf("to %.40q: want a date, YYYY-MM-DD: %w", to, donation.ErrInvalid)
	}
	if r.From.After(r.To) {
		return r, fmt.Errorf("from %s is after to %s: %w", from, to, donation.ErrInvalid)
	}
	if r.From.Year() != r.To.Year() {
		return r, fmt.Errorf("%s..%s spans the reporting years %d and %d; a report covers one year: run one per year: %w",
			from, to, r.From.Year(), r.To.Year(), donation.ErrInvalid)
	}
	return r, nil
}
