package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"
)

// The treasurer's commands, through the API (docs/operators.md). Lists
// print a table, or with --json the API's answer: snake_case fields,
// amounts as decimal strings of dollars, times RFC 3339 in UTC.

// getList GETs path and prints its answer: as JSON, or through table.
func getList[T any](ctx context.Context, f *apiFlags, cmd, path string, q url.Values, asJSON bool, s *stdio, table func([]T) *table) error {
	api, err := f.client(cmd)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := api.Get(ctx, path, q, &raw); err != nil {
		return err
	}
	if asJSON {
		return writeRaw(s.out, raw)
	}
	var rows []T
	if err := json.Unmarshal(raw, &rows); err != nil {
		return fmt.Errorf("%s: the server's answer: %w", cmd, err)
	}
	return table(rows).write(s.out)
}

// send sends in to path with method and prints the answer as JSON, or
// decodes it into out for the caller to print.
func send(ctx context.Context, f *apiFlags, cmd, method, path string, q url.Values, in any, asJSON bool, s *stdio, out any) (printed bool, err error) {
	api, err := f.client(cmd)
	if err != nil {
		return false, err
	}
	var raw json.RawMessage
	if err := api.Do(ctx, method, path, q, in, &raw); err != nil {
		return false, err
	}
	if asJSON {
		return true, writeRaw(s.out, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("%s: the server's answer: %w", cmd, err)
	}
	return false, nil
}

// query returns the non-empty pairs name, value as a query.
func query(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// dollars is an amount flag in dollars, "150000.00" or "125", sent to the
// server as written.
type dollars string

func (d *dollars) UnmarshalText(b []byte) error {
	whole, frac, dot := strings.Cut(string(b), ".")
	if whole == "" || len(whole) > 12 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (dot && (frac == "" || len(frac) > 2)) {
		return fmt.Errorf("%q: want dollars such as 125.00", b)
	}
	*d = dollars(b)
	return nil
}

// date is a day flag, YYYY-MM-DD.
type date string

func (d *date) UnmarshalText(b []byte) error {
	if _, err := time.Parse(time.DateOnly, string(b)); err != nil {
		return fmt.Errorf("%q: want a date, YYYY-MM-DD", b)
	}
	*d = date(b)
	return nil
}

// usd formats a decimal amount of the API as dollars: "$10.00".
func usd(amount string) string {
	if strings.HasPrefix(amount, "-") {
		return "-$" + amount[1:]
	}
	return "$" + amount
}

// apiTime is a time of the API, null when not yet.
func apiTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// donationsCommand is `shortcode donations`.
type donationsCommand struct {
	List donationsListCommand `cmd:"" help:"Find donations by phone number, committee and dates, oldest first."`
	Show donationsShowCommand `cmd:"" help:"Show one donation and its evidence."`
}

type donationsListCommand struct {
	Phone     string `placeholder:"E164" help:"Only this phone number's: in full (treasurer), or masked as +1******4321."`
	Committee string `placeholder:"FEC-ID" help:"Only this committee's."`
	From      date   `help:"Only those received on or after this day (the committee's time zone)."`
	To        date   `help:"Only those received on or before this day."`
	Limit     int    `default:"1000" help:"At most this many (1 to 10000)."`
	JSON      bool   `name:"json" help:"Print the donations and their evidence as JSON."`
	apiFlags
}

func (c *donationsListCommand) Run(ctx context.Context, s *stdio) error {
	q := query("phone", c.Phone, "committee", c.Committee, "from", string(c.From), "to", string(c.To), "limit", strconv.Itoa(c.Limit))
	return getList(ctx, &c.apiFlags, "donations list", "/api/v1/donations", q, c.JSON, s, func(ds []httpserver.EvidenceJSON) *table {
		t := newTable("DONATION", "RECEIVED", "PHONE", "COMMITTEE", "PROGRAM", "AMOUNT", "STATE", "CARRIER", "CERTIFIED", "PIN", "REFUNDS")
		for _, d := range ds {
			t.add(d.ID, apiTime(d.ReceivedAt), d.Phone, d.CommitteeID, d.ProgramID, usd(d.Amount), d.State, d.Carrier,
				apiTime(d.Evidence.CertifiedAt), yesNo(d.Evidence.PINVerified), len(d.Evidence.Refunds))
		}
		return t
	})
}

type donationsShowCommand struct {
	ID   string `arg:"" help:"The donation's id."`
	JSON bool   `name:"json" help:"Print the donation and its evidence as JSON."`
	apiFlags
}

func (c *donationsShowCommand) Run(ctx context.Context, s *stdio) error {
	var d httpserver.EvidenceJSON
	printed, err := send(ctx, &c.apiFlags, "donations show", "GET", "/api/v1/donations/"+url.PathEscape(c.ID), nil, nil, c.JSON, s, &d)
	if err != nil || printed {
		return err
	}
	e := d.Evidence
	t := newTable("FIELD", "VALUE")
	for _, kv := range [][2]any{
		{"donation", d.ID}, {"state", d.State}, {"amount", usd(d.Amount)}, {"phone", d.Phone},
		{"committee", d.CommitteeID}, {"program", d.ProgramID}, {"short code", d.ShortCode}, {"carrier", d.Carrier},
		{"created", apiTime(d.CreatedAt)}, {"received", apiTime(d.ReceivedAt)}, {"finished", apiTime(d.FinishedAt)},
		{"certified", apiTime(e.CertifiedAt)}, {"certification", e.CertificationSeq}, {"channel", e.Channel},
		{"text version", e.TextVersion}, {"terms version", e.TermsVersion}, {"PIN verified", yesNo(e.PINVerified)},
		{"charge reference", e.ChargeReference}, {"decline", strings.TrimSpace(e.DeclineCode + " " + e.DeclineReason)},
		{"carrier fee", usd(d.CarrierFee)}, {"aggregator fee", usd(d.AggregatorFee)},
		{"refunded", apiTime(d.RefundedAt)}, {"remitted", apiTime(d.RemittedAt)}, {"remitted net", usd(d.RemittedNet)},
		{"forward", d.ForwardID},
	} {
		t.add(kv[0], kv[1])
	}
	for _, r := range e.Refunds {
		t.add("refund", fmt.Sprintf("%s %s %s %s", r.ID, usd(r.Amount), r.Reason, r.Status))
	}
	return t.write(s.out)
}

// refundCommand is `shortcode refund`.
type refundCommand struct {
	Request refundRequestCommand `cmd:"" default:"withargs" help:"Refund a contribution through its carrier (the default: shortcode refund DONATION --reason ...)."`
	List    refundListCommand    `cmd:"" help:"List refunds, with their deadlines."`
}

type refundRequestCommand struct {
	Donation   string `arg:"" help:"The donation's id."`
	Reason     string `required:"" enum:"prohibited,excessive,donor-request" help:"Why: a prohibited source, an excessive contribution, or the donor's request."`
	Discovered date   `help:"When a prohibited source was discovered (default today): the refund's deadline runs from it."`
	JSON       bool   `name:"json" help:"Print the refund as JSON."`
	apiFlags
}

func (c *refundRequestCommand) Run(ctx context.Context, s *stdio) error {
	in := map[string]string{"donation_id": c.Donation, "reason": c.Reason, "discovered": string(c.Discovered)}
	var r httpserver.RefundJSON
	printed, err := send(ctx, &c.apiFlags, "refund", "POST", "/api/v1/refunds", nil, in, c.JSON, s, &r)
	if err != nil || printed {
		return err
	}
	switch r.Status {
	case "refunded":
		fmt.Fprintf(s.out, "refunded %s of donation %s (refund %s, carrier reference %s)\n", usd(r.Amount), r.DonationID, r.ID, r.ServerRef)
	case "refused":
		return fmt.Errorf("refund %s of donation %s refused by the carrier: %s", r.ID, r.DonationID, r.DeclineReason)
	default:
		fmt.Fprintf(s.out, "refund %s of donation %s posted; the carrier's answer is not known yet, shortcode serve keeps asking\n", r.ID, r.DonationID)
	}
	if r.Deadline != nil {
		when := "in time"
		if r.Late != nil && *r.Late {
			when = "late"
		}
		fmt.Fprintf(s.out, "deadline %s (%s)\n", day(*r.Deadline), when)
	}
	return nil
}

type refundListCommand struct {
	Committee string `placeholder:"FEC-ID" help:"Only this committee's refunds."`
	JSON      bool   `name:"json" help:"Print the refunds as JSON."`
	apiFlags
}

func (c *refundListCommand) Run(ctx context.Context, s *stdio) error {
	return getList(ctx, &c.apiFlags, "refund list", "/api/v1/refunds", query("committee", c.Committee), c.JSON, s, func(rs []httpserver.RefundJSON) *table {
		t := newTable("REFUND", "DONATION", "PHONE", "AMOUNT", "REASON", "STATUS", "REQUESTED", "DEADLINE", "LATE")
		for _, r := range rs {
			deadline, late := "", ""
			if r.Deadline != nil {
				deadline = day(*r.Deadline)
			}
			if r.Late != nil {
				late = yesNo(*r.Late)
			}
			requested := ""
			if r.RequestedAt != nil {
				requested = day(*r.RequestedAt)
			}
			t.add(r.ID, r.DonationID, r.Phone, usd(r.Amount), r.Reason, r.Status, requested, deadline, late)
		}
		return t
	})
}

// settleCommand is `shortcode settle`.
type settleCommand struct {
	Import settleImportCommand `cmd:"" help:"Import a carrier's settlement file (CSV): every line matched or reported."`
	List   settleListCommand   `cmd:"" help:"List the settlement files imported."`
}

type settleImportCommand struct {
	File    string `arg:"" placeholder:"FILE" help:"The settlement file, CSV, as the carrier sent it."`
	Carrier string `required:"" help:"The carrier whose file it is, as named in the carrier file."`
	JSON    bool   `name:"json" help:"Print the whole report, every line, as JSON."`
	apiFlags
}

func (c *settleImportCommand) Run(ctx context.Context, s *stdio) error {
	b, err := os.ReadFile(c.File)
	if err != nil {
		return fmt.Errorf("settlement file: %w", err)
	}
	in := map[string]string{"carrier": c.Carrier, "name": filepath.Base(c.File), "file": string(b)}
	var rep httpserver.ReportJSON
	printed, err := send(ctx, &c.apiFlags, "settle import", "POST", "/api/v1/settlements", nil, in, c.JSON, s, &rep)
	if err != nil || printed {
		return err
	}
	if rep.AlreadyImported {
		fmt.Fprintf(s.out, "%s: already imported (sha256 %.12s); nothing changed\n", rep.File, rep.SHA256)
		return nil
	}
	fmt.Fprintf(s.out, "%s (%s): %d lines, %d matched, %d reported; %s remitted\n", rep.File, rep.Carrier, len(rep.Lines), rep.Matched, rep.Problems, usd(rep.Remitted))
	for _, l := range rep.Lines {
		if l.Problem != "" {
			fmt.Fprintf(s.out, "line %d (%s, %s): %s\n", l.No, l.Reference, l.ServerRef, l.Problem)
		}
	}
	return nil
}

type settleListCommand struct {
	JSON bool `name:"json" help:"Print the imports as JSON."`
	apiFlags
}

func (c *settleListCommand) Run(ctx context.Context, s *stdio) error {
	return getList(ctx, &c.apiFlags, "settle list", "/api/v1/settlements", nil, c.JSON, s, func(ss []httpserver.SettlementJSON) *table {
		t := newTable("IMPORTED", "CARRIER", "FILE", "LINES", "MATCHED", "REPORTED", "REMITTED", "SHA256")
		for _, x := range ss {
			t.add(stamp(x.ImportedAt), x.Carrier, x.Name, x.Lines, x.Matched, x.Problems, usd(x.Remitted), x.SHA256[:min(12, len(x.SHA256))])
		}
		return t
	})
}

// forwardCommand is `shortcode forward`.
type forwardCommand struct {
	Due    forwardDueCommand    `cmd:"" help:"List contributions whose forwarding deadline is missed or near."`
	Record forwardRecordCommand `cmd:"" help:"Record money forwarded to a committee: every contribution received through a day."`
	List   forwardListCommand   `cmd:"" help:"List the forwards recorded."`
}

type forwardDueCommand struct {
	Committee string        `placeholder:"FEC-ID" help:"Only this committee's contributions."`
	Within    time.Duration `default:"72h" help:"List the deadlines missed or within this long, e.g. 10d."`
	JSON      bool          `name:"json" help:"Print the contributions due as JSON."`
	apiFlags
}

func (c *forwardDueCommand) Validate() error {
	if c.Within < 0 {
		return fmt.Errorf("--within %v: want a duration of 0 or more", c.Within)
	}
	return nil
}

func (c *forwardDueCommand) Run(ctx context.Context, s *stdio) error {
	q := query("committee", c.Committee, "within", c.Within.String())
	return getList(ctx, &c.apiFlags, "forward due", "/api/v1/forwards/due", q, c.JSON, s, func(ds []httpserver.DueJSON) *table {
		t := newTable("DONATION", "COMMITTEE", "AMOUNT", "RECEIVED", "DEADLINE", "STATE")
		for _, d := range ds {
			state := "near"
			if d.Missed {
				state = "MISSED"
			}
			t.add(d.DonationID, d.CommitteeID, usd(d.Amount), stamp(d.ReceivedAt), stamp(d.Deadline), state)
		}
		return t
	})
}

type forwardRecordCommand struct {
	Committee string  `required:"" placeholder:"FEC-ID" help:"The committee the money went to."`
	Reference string  `required:"" help:"The wire or check reference."`
	Through   date    `help:"The contributions received through this day (default today)."`
	Amount    dollars `help:"The amount forwarded, checked against the contributions' total."`
	JSON      bool    `name:"json" help:"Print the forward as JSON."`
	apiFlags
}

func (c *forwardRecordCommand) Run(ctx context.Context, s *stdio) error {
	in := struct {
		Committee string  `json:"committee"`
		Reference string  `json:"reference"`
		Through   string  `json:"through,omitempty"`
		Amount    *string `json:"amount,omitempty"`
	}{Committee: c.Committee, Reference: c.Reference, Through: string(c.Through)}
	if c.Amount != "" {
		a := string(c.Amount)
		in.Amount = &a
	}
	var f httpserver.ForwardJSON
	printed, err := send(ctx, &c.apiFlags, "forward record", "POST", "/api/v1/forwards", nil, in, c.JSON, s, &f)
	if err != nil || printed {
		return err
	}
	fmt.Fprintf(s.out, "forward %s: %d contributions, %s, to %s (reference %s)\n", f.ID, f.Count, usd(f.Amount), f.CommitteeID, f.Reference)
	return nil
}

type forwardListCommand struct {
	Committee string `placeholder:"FEC-ID" help:"Only this committee's forwards."`
	JSON      bool   `name:"json" help:"Print the forwards as JSON."`
	apiFlags
}

func (c *forwardListCommand) Run(ctx context.Context, s *stdio) error {
	return getList(ctx, &c.apiFlags, "forward list", "/api/v1/forwards", query("committee", c.Committee), c.JSON, s, func(fs []httpserver.ForwardJSON) *table {
		t := newTable("FORWARD", "AT", "COMMITTEE", "AMOUNT", "CONTRIBUTIONS", "RECEIVED BEFORE", "REFERENCE", "BY")
		for _, f := range fs {
			t.add(f.ID, stamp(f.At), f.CommitteeID, usd(f.Amount), f.Count, stamp(f.ReceivedBefore), f.Reference, f.Actor)
		}
		return t
	})
}

// blocklistCommand is `shortcode blocklist`.
type blocklistCommand struct {
	List   blocklistListCommand   `cmd:"" help:"List the numbers that may not give."`
	Add    blocklistAddCommand    `cmd:"" help:"Block a number, for one committee or, without --committee, for all."`
	Remove blocklistRemoveCommand `cmd:"" help:"Unblock a number."`
}

// blocklistOf names b's blocklist.
func blocklistOf(b httpserver.BlockJSON) string {
	if b.CommitteeID == "" {
		return "all committees"
	}
	return b.CommitteeID
}

type blocklistListCommand struct {
	Committee string `placeholder:"FEC-ID" help:"Only this committee's blocklist."`
	JSON      bool   `name:"json" help:"Print the blocklist as JSON."`
	apiFlags
}

func (c *blocklistListCommand) Run(ctx context.Context, s *stdio) error {
	return getList(ctx, &c.apiFlags, "blocklist list", "/api/v1/blocklist", query("committee", c.Committee), c.JSON, s, func(bs []httpserver.BlockJSON) *table {
		t := newTable("PHONE", "COMMITTEE", "REASON", "SOURCE", "SINCE")
		for _, b := range bs {
			t.add(b.Phone, blocklistOf(b), b.Reason, b.Source, stamp(b.At))
		}
		return t
	})
}

type blocklistAddCommand struct {
	Phone     string `arg:"" placeholder:"E164" help:"The phone number."`
	Committee string `placeholder:"FEC-ID" help:"Block it for this committee only."`
	Reason    string `required:"" help:"Why, for the record."`
	JSON      bool   `name:"json" help:"Print the entry as JSON."`
	apiFlags
}

func (c *blocklistAddCommand) Run(ctx context.Context, s *stdio) error {
	in := map[string]string{"phone": c.Phone, "committee": c.Committee, "reason": c.Reason}
	var b httpserver.BlockJSON
	printed, err := send(ctx, &c.apiFlags, "blocklist add", "POST", "/api/v1/blocklist", nil, in, c.JSON, s, &b)
	if err != nil || printed {
		return err
	}
	fmt.Fprintf(s.out, "blocked %s for %s since %s (%s)\n", b.Phone, blocklistOf(b), stamp(b.At), b.Reason)
	return nil
}

type blocklistRemoveCommand struct {
	Phone     string `arg:"" placeholder:"E164" help:"The phone number."`
	Committee string `placeholder:"FEC-ID" help:"Unblock it for this committee (without: on the blocklist of all committees)."`
	JSON      bool   `name:"json" help:"Print the entry removed as JSON."`
	apiFlags
}

func (c *blocklistRemoveCommand) Run(ctx context.Context, s *stdio) error {
	var b httpserver.BlockJSON
	path := "/api/v1/blocklist/" + url.PathEscape(c.Phone)
	printed, err := send(ctx, &c.apiFlags, "blocklist remove", "DELETE", path, query("committee", c.Committee), nil, c.JSON, s, &b)
	if err != nil || printed {
		return err
	}
	fmt.Fprintf(s.out, "unblocked %s for %s\n", b.Phone, blocklistOf(b))
	return nil
}

// actionsCommand is `shortcode actions`: the action log.
type actionsCommand struct {
	JSON bool `name:"json" help:"Print the action log as JSON."`
	apiFlags
}

func (c *actionsCommand) Run(ctx context.Context, s *stdio) error {
	return getList(ctx, &c.apiFlags, "actions", "/api/v1/actions", nil, c.JSON, s, func(as []httpserver.ActionJSON) *table {
		t := newTable("AT", "ACTOR", "ACTION", "DETAIL")
		for _, a := range as {
			t.add(stamp(a.At), a.Actor, a.Action, a.Detail)
		}
		return t
	})
}
