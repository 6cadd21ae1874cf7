package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
)

// treasurer is what the treasury commands share: the store, the carriers
// and who is acting.
type treasurer struct {
	db, carriers, sim, actor string
}

func (t *treasurer) flags(fs *flag.FlagSet) {
	stringFlag(fs, &t.db, "db", "shortcode.db", "database: a SQLite file path, or a postgres:// URL")
	stringFlag(fs, &t.carriers, "carriers", "", "carrier configuration file, JSON (default: the simulator's carriers at --sim)")
	stringFlag(fs, &t.sim, "sim", "http://127.0.0.1:8081", "the simulator's URL, when no --carriers file is given")
	stringFlag(fs, &t.actor, "actor", os.Getenv("USER"), "who is acting, for the action log")
}

// open returns the migrated store and the treasury service over it.
func (t *treasurer) open(ctx context.Context) (*storage.DB, *treasury.Service, error) {
	if t.actor == "" {
		t.actor = "cli"
	}
	cfg := carrier.SimConfig(strings.TrimSuffix(t.sim, "/"))
	if t.carriers != "" {
		c, err := carrier.LoadConfig(t.carriers)
		if err != nil {
			return nil, nil, err
		}
		cfg = c
	}
	router, err := carrier.NewRouter(cfg, &http.Client{Timeout: 15 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	db, err := storage.Open(ctx, t.db)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, &treasury.Service{Store: db.Treasury(), Carriers: router, Clock: donation.SystemClock{}}, nil
}

// parseDate reads a YYYY-MM-DD date; "" is the zero time.
func parseDate(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return d, fmt.Errorf("--%s %q: want YYYY-MM-DD", name, s)
	}
	return d, nil
}

// parseDollars reads "12.34" or "12" into cents.
func parseDollars(name, s string) (int64, error) {
	cents, ok := compliance.ParseAmount(s)
	if !ok {
		return 0, fmt.Errorf("--%s %q: want an amount in dollars, e.g. 125.00", name, s)
	}
	return cents, nil
}

// interspersed parses flags that may come after positional arguments.
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// runRefund: shortcode refund DONATION --reason R | shortcode refund list.
func runRefund(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("refund", stderr)
	var t treasurer
	t.flags(fs)
	var reason, discovered, committee string
	stringFlag(fs, &reason, "reason", "", "prohibited, excessive or donor-request")
	stringFlag(fs, &discovered, "discovered", "", "when a prohibited source was discovered, YYYY-MM-DD (default today)")
	stringFlag(fs, &committee, "committee", "", "with list: one committee's refunds")
	pos, err := interspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("refund: usage: shortcode refund DONATION --reason prohibited|excessive|donor-request, or shortcode refund list")
	}
	db, svc, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if pos[0] == "list" {
		rs, err := db.Refunds(ctx, committee)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "REFUND\tDONATION\tPHONE\tAMOUNT\tREASON\tSTATUS\tREQUESTED\tDEADLINE\tLATE")
		for _, r := range rs {
			deadline := "-"
			if !r.Deadline.IsZero() {
				deadline = r.Deadline.Format(time.DateOnly)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", r.ID, r.DonationID, compliance.MaskPhone(r.Phone),
				treasury.Dollars(r.Amount), r.Reason, r.Status, r.RequestedAt.Format(time.DateOnly), deadline, r.Late(now))
		}
		return w.Flush()
	}
	why, err := treasury.ParseReason(reason)
	if err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	found, err := parseDate("discovered", discovered)
	if err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	r, err := svc.Refund(ctx, pos[0], why, found, t.actor)
	if err != nil {
		return err
	}
	switch r.Status {
	case treasury.Refunded:
		fmt.Fprintf(stdout, "refunded %s of donation %s (refund %s, carrier reference %s)\n", treasury.Dollars(r.Amount), r.DonationID, r.ID, r.ServerRef)
	case treasury.Refused:
		return fmt.Errorf("refund %s of donation %s refused by the carrier: %s", r.ID, r.DonationID, r.DeclineReason)
	default:
		fmt.Fprintf(stdout, "refund %s of donation %s posted; the carrier's answer is not known yet, `shortcode serve` keeps asking\n", r.ID, r.DonationID)
	}
	if !r.Deadline.IsZero() {
		fmt.Fprintf(stdout, "deadline %s (%s)\n", r.Deadline.Format(time.DateOnly), map[bool]string{true: "late", false: "in time"}[r.Late(time.Now().UTC())])
	}
	return nil
}

// runSettle: shortcode settle import FILE --carrier NAME.
func runSettle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("settle", stderr)
	var t treasurer
	t.flags(fs)
	var carrierName string
	var asJSON bool
	stringFlag(fs, &carrierName, "carrier", "", "the carrier whose settlement file this is (required)")
	fs.BoolVar(&asJSON, "json", false, "print the full report as JSON")
	pos, err := interspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "import" {
		return errors.New("settle: usage: shortcode settle import FILE --carrier NAME")
	}
	if carrierName == "" {
		return errors.New("settle: --carrier is required")
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	defer f.Close()
	file, err := treasury.ParseSettlement(carrierName, filepath.Base(pos[1]), f)
	if err != nil {
		return err
	}
	db, svc, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := svc.ImportSettlement(ctx, file, t.actor)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(stdout, rep.Summary())
	for _, l := range rep.Lines {
		if l.Problem != "" {
			fmt.Fprintf(stdout, "line %d (%s, %s): %s\n", l.No, l.Reference, l.ServerRef, l.Problem)
		}
	}
	return nil
}

// runForward: shortcode forward record ... | shortcode forward due ...
func runForward(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("forward", stderr)
	var t treasurer
	t.flags(fs)
	var committee, through, amount, reference, within string
	stringFlag(fs, &committee, "committee", "", "the committee's FEC ID")
	stringFlag(fs, &through, "through", "", "record: contributions received through this day, YYYY-MM-DD (default today)")
	stringFlag(fs, &amount, "amount", "", "record: the amount forwarded, checked against the contributions' total")
	stringFlag(fs, &reference, "reference", "", "record: the wire or check reference (required)")
	stringFlag(fs, &within, "within", "72h", "due: list deadlines missed or within this long")
	pos, err := interspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "record" && pos[0] != "due") {
		return errors.New("forward: usage: shortcode forward record --committee ID --reference REF [--through DATE] [--amount 0.00], or shortcode forward due [--committee ID] [--within 72h]")
	}
	db, svc, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if pos[0] == "due" {
		d, err := time.ParseDuration(within)
		if err != nil {
			return fmt.Errorf("forward: --within %q: %w", within, err)
		}
		due, err := svc.Due(ctx, committee, d)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "DONATION\tCOMMITTEE\tAMOUNT\tRECEIVED\tDEADLINE\tSTATE")
		for _, x := range due {
			state := "near"
			if x.Missed {
				state = "MISSED"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Donation.ID, x.Donation.CommitteeID, treasury.Dollars(x.Donation.Amount),
				x.Donation.ReceivedAt.Format(time.RFC3339), x.Deadline.Format(time.RFC3339), state)
		}
		return w.Flush()
	}
	if committee == "" {
		return errors.New("forward: --committee is required")
	}
	day := time.Now().UTC()
	if through != "" {
		if day, err = parseDate("through", through); err != nil {
			return fmt.Errorf("forward: %w", err)
		}
	}
	var want *int64
	if amount != "" {
		cents, err := parseDollars("amount", amount)
		if err != nil {
			return fmt.Errorf("forward: %w", err)
		}
		want = &cents
	}
	f, err := svc.RecordForward(ctx, committee, day, want, reference, t.actor)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "forward %s: %d contributions, %s, to %s (reference %s)\n", f.ID, f.Count, treasury.Dollars(f.Amount), f.CommitteeID, f.Reference)
	return nil
}
