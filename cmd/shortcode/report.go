package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// The treasurer's reports, through the API (docs/treasurer.md).

func init() {
	examples["report"] = []string{
		"shortcode report contributions --committee C99999999 --from 2027-01-01 --to 2027-03-31 --output q1.csv",
	}
	examples["report summary"] = []string{
		"shortcode report summary --committee C99999999 --from 2027-01-01 --to 2027-03-31",
		"shortcode report summary --committee C99999999 --from 2027-03-01 --to 2027-03-31 --form F3X --json",
	}
	examples["report fec"] = []string{
		"shortcode report fec --committee C99999999 --from 2027-01-01 --to 2027-03-31 --form F3X --output q1-text.fec",
	}
	examples["report contributions"] = []string{
		"shortcode report contributions --committee C99999999 --from 2027-01-01 --to 2027-03-31 --output q1.csv",
		"shortcode report contributions --committee C99999999 --from 2027-03-01 --to 2027-03-31 --format json | jq length",
	}
}

// reportCommand is `shortcode report`.
type reportCommand struct {
	Contributions reportContributionsCommand `cmd:"" help:"One row per contribution of a period, as CSV (RFC 4180) or JSON, dates in the committee's time zone."`
	Summary       reportSummaryCommand       `cmd:"" help:"A period's count and totals, its FEC lines 11(a), fees, money receivable, refunds and forwarding deadlines."`
	FEC           reportFECCommand           `cmd:"" name:"fec" help:"The period's text-donation receipts as a .fec file (v8.5), to merge into the committee's full report."`
}

// periodFlags name a committee's reporting period: its days from and to,
// both included, in the committee's time zone, within one year.
type periodFlags struct {
	Committee string `required:"" placeholder:"FEC-ID" help:"The committee reported on."`
	From      date   `required:"" placeholder:"YYYY-MM-DD" help:"The period's first day, in the committee's time zone."`
	To        date   `required:"" placeholder:"YYYY-MM-DD" help:"The period's last day, included."`
}

func (p periodFlags) query(pairs ...string) url.Values {
	return query(append([]string{"committee", p.Committee, "from", string(p.From), "to", string(p.To)}, pairs...)...)
}

type reportContributionsCommand struct {
	periodFlags
	Format string `default:"csv" placeholder:"csv|json" help:"csv (RFC 4180, a header line) or json (an array of objects with the same fields)."`
	Output string `short:"o" placeholder:"FILE" help:"Write the report to FILE, whole or not at all (default: stdout)."`
	apiFlags
}

func (c *reportContributionsCommand) Run(ctx context.Context, s *stdio) error {
	if c.Format != "csv" && c.Format != "json" {
		return fmt.Errorf("report contributions: --format %q: want csv or json", c.Format)
	}
	api, err := c.download("report contributions")
	if err != nil {
		return err
	}
	return writeOutput(c.Output, s.out, func(w io.Writer) error {
		bar := progress(s, c.Output, "contributions")
		defer bar.Close()
		_, err := api.Download(ctx, "/api/v1/reports/contributions", c.query("format", c.Format), io.MultiWriter(w, bar))
		if err != nil {
			return fmt.Errorf("report contributions: %w", err)
		}
		return bar.Finish()
	})
}

// download returns a client for exports: no overall time limit, as a
// year's report may take a while to arrive; the server still bounds each
// request.
func (f *apiFlags) download(path string) (*client.Client, error) {
	if _, err := f.client(path); err != nil {
		return nil, err
	}
	return client.New(f.Server, f.Token, &http.Client{})
}

// writeOutput runs write on stdout when path is "" or "-"; else on a
// temporary file beside path, renamed to path once write succeeded, and
// removed when it failed: a report is written whole or not at all.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) (err error) {
	if path == "" || path == "-" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// progress is a progress bar of bytes received, on stderr when stderr is
// a terminal and the report does not go to that terminal; else one that
// writes nothing, so that nothing reaches a pipe or a log.
func progress(s *stdio, output, what string) *progressbar.ProgressBar {
	if !isTerminal(s.err) || ((output == "" || output == "-") && isTerminal(s.out)) {
		return progressbar.DefaultSilent(-1)
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(s.err),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100e6),
		progressbar.OptionClearOnFinish(),
	)
}

// isTerminal tells whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// checkForm refuses a form other than F3X and F3 ("" is the committee's).
func checkForm(cmd, form string) error {
	switch form {
	case "", "F3X", "F3":
		return nil
	}
	return fmt.Errorf("%s: --form %q: want F3X or F3", cmd, form)
}

type reportSummaryCommand struct {
	periodFlags
	Form   string        `placeholder:"F3X|F3" help:"The form whose lines to number: F3X (PAC or party; year to date) or F3 (candidate; cycle to date). Default: the committee's."`
	Within time.Duration `default:"72h" help:"List forwarding deadlines missed or within this long."`
	JSON   bool          `name:"json" help:"Print the API's JSON."`
	apiFlags
}

type summaryAnswer struct {
	Committee, From, To, Form string
	ToDateFrom                string `json:"to_date_from"`
	Count                     int
	Total                     string
	Lines                     []struct {
		Line, Period string
		ToDate       string `json:"to_date"`
		PeriodColumn int    `json:"period_column"`
		ToDateColumn int    `json:"to_date_column"`
	}
	CarrierFees    string                  `json:"carrier_fees"`
	AggregatorFees string                  `json:"aggregator_fees"`
	Remitted       string                  `json:"remitted"`
	Receivable     string                  `json:"receivable"`
	WrittenOff     string                  `json:"written_off"`
	Disputed       string                  `json:"disputed"`
	Refunded       string                  `json:"refunded"`
	Refunds        []httpserver.RefundJSON `json:"refunds"`
	ForwardedLate  int                     `json:"forwarded_late"`
	Due            []httpserver.DueJSON    `json:"forwarding_due"`
	Notice         string                  `json:"notice"`
}

func (c *reportSummaryCommand) Run(ctx context.Context, s *stdio) error {
	if err := checkForm("report summary", c.Form); err != nil {
		return err
	}
	var sum summaryAnswer
	q := c.query("form", c.Form, "within", c.Within.String())
	printed, err := send(ctx, &c.apiFlags, "report summary", http.MethodGet, "/api/v1/reports/summary", q, nil, c.JSON, s, &sum)
	if err != nil || printed {
		return err
	}
	w := s.out
	fmt.Fprintf(w, "Committee %s, %s to %s (%s; to date from %s)\n", sum.Committee, sum.From, sum.To, sum.Form, sum.ToDateFrom)
	fmt.Fprintf(w, "Contributions: %d, %s gross\n\n", sum.Count, usd(sum.Total))
	t := newTable("LINE", "PERIOD", "COLUMN", "TO DATE", "COLUMN")
	for _, l := range sum.Lines {
		t.add(l.Line, usd(l.Period), fmt.Sprint(l.PeriodColumn), usd(l.ToDate), fmt.Sprint(l.ToDateColumn))
	}
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFees (operating expenditures, not netted): carrier %s, aggregator %s\n", usd(sum.CarrierFees), usd(sum.AggregatorFees))
	fmt.Fprintf(w, "Carriers: remitted %s net, receivable %s, written off %s, disputed %s\n",
		usd(sum.Remitted), usd(sum.Receivable), usd(sum.WrittenOff), usd(sum.Disputed))
	fmt.Fprintf(w, "Refunds: %d, %s credited\n", len(sum.Refunds), usd(sum.Refunded))
	for _, r := range sum.Refunds {
		deadline := "none"
		if r.Deadline != nil {
			deadline = r.Deadline.Format(time.DateOnly)
		}
		fmt.Fprintf(w, "  %s  %s  %s  %s  deadline %s\n", r.DonationID, usd(r.Amount), r.Reason, r.Status, deadline)
	}
	fmt.Fprintf(w, "Forwarding: %d deadlines missed or near, %d forwarded late\n", len(sum.Due), sum.ForwardedLate)
	for _, d := range sum.Due {
		state := "near"
		if d.Missed {
			state = "MISSED"
		}
		fmt.Fprintf(w, "  %s  %s  deadline %s  %s\n", d.DonationID, usd(d.Amount), stamp(d.Deadline), state)
	}
	return nil
}

type reportFECCommand struct {
	periodFlags
	Form   string `placeholder:"F3X|F3" help:"F3X (PAC or party) or F3 (House or Senate candidate). Default: the committee's."`
	Output string `short:"o" placeholder:"FILE" help:"Write the .fec file to FILE, whole or not at all (default: stdout)."`
	apiFlags
}

func (c *reportFECCommand) Run(ctx context.Context, s *stdio) error {
	if err := checkForm("report fec", c.Form); err != nil {
		return err
	}
	api, err := c.download("report fec")
	if err != nil {
		return err
	}
	err = writeOutput(c.Output, s.out, func(w io.Writer) error {
		if _, err := api.Download(ctx, "/api/v1/reports/fec", c.query("form", c.Form), w); err != nil {
			return fmt.Errorf("report fec: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(s.err, "Note: this file holds only the committee's text-message contributions received through shortcode. "+
		"It is not a complete report: merge its receipts into the committee's full report in your filing software before filing.")
	return nil
}
