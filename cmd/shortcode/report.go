package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
)

// The treasurer's reports, through the API (docs/treasurer.md).

func init() {
	examples["report"] = []string{
		"shortcode report contributions --committee C99999999 --from 2027-01-01 --to 2027-03-31 --output q1.csv",
	}
	examples["report contributions"] = []string{
		"shortcode report contributions --committee C99999999 --from 2027-01-01 --to 2027-03-31 --output q1.csv",
		"shortcode report contributions --committee C99999999 --from 2027-03-01 --to 2027-03-31 --format json | jq length",
	}
}

// reportCommand is `shortcode report`.
type reportCommand struct {
	Contributions reportContributionsCommand `cmd:"" help:"One row per contribution of a period, as CSV (RFC 4180) or JSON, dates in the committee's time zone."`
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
