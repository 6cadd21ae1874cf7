package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
)

// ReportRecords are what the report routes read; storage.DB implements
// them.
type ReportRecords interface {
	report.Source
	report.Contributors
	Committee(ctx context.Context, id string) (compliance.Committee, error)
}

// ReportRoutes are the treasurer's reports (SPEC §9). An auditor may read
// them too, with phone numbers masked: they are the same records the
// donation routes show an auditor.
//
//	GET /api/v1/reports/contributions  ?committee=&from=&to=&format=csv|json  one row per contribution, streamed
//	GET /api/v1/reports/summary        ?committee=&from=&to=&form=F3X|F3&within=  the period's sums and FEC lines
//	GET /api/v1/reports/fec            ?committee=&from=&to=&form=F3X|F3  the .fec file (treasurer only: it names contributors)
func (s *Server) ReportRoutes(records ReportRecords, now func() time.Time) {
	rr := &reportRoutes{records: records, server: s, now: now}
	read := []auth.Role{auth.Treasurer, auth.Auditor}
	s.Route(http.MethodGet, "/api/v1/reports/contributions", read, rr.contributions)
	s.Route(http.MethodGet, "/api/v1/reports/summary", read, rr.summary)
	s.Route(http.MethodGet, "/api/v1/reports/fec", []auth.Role{auth.Treasurer}, rr.fec)
}

type reportRoutes struct {
	records ReportRecords
	server  *Server
	now     func() time.Time
}

// period reads the committee and dates every report takes.
func (rr *reportRoutes) period(ctx context.Context, committee, from, to string) (report.Range, error) {
	if committee == "" {
		return report.Range{}, fmt.Errorf("committee is required: %w", donation.ErrInvalid)
	}
	c, err := rr.records.Committee(ctx, committee)
	if err != nil {
		return report.Range{}, err
	}
	return report.NewRange(c, from, to)
}

// contributions streams the report: each page of rows is written as it is
// read. An error before the first byte is a problem answer; one after it
// aborts the response, so that the client sees a failed transfer, never a
// short report that looks whole.
func (rr *reportRoutes) contributions(w http.ResponseWriter, r *http.Request) error {
	p, err := Query(r, "committee", "from", "to", "format")
	if err != nil {
		return err
	}
	format := report.CSV
	if s := p.Get("format"); s != "" {
		if format, err = report.ParseFormat(s); err != nil {
			return err
		}
	}
	rg, err := rr.period(r.Context(), p.Get("committee"), p.Get("from"), p.Get("to"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	masked := !seesPhones(ctx)
	bw := bufio.NewWriterSize(w, 32<<10)
	out := report.NewWriter(bw, format, rg.Committee.Location())
	started := false
	err = rr.records.Contributions(ctx, rg.Committee.ID, rg.Start(), rg.End(), func(row report.Row) error {
		if !started {
			started = true
			header(w, format, rg)
		}
		if masked {
			row.Phone = compliance.MaskPhone(row.Phone)
		}
		return out.Write(row)
	})
	if err == nil {
		if !started {
			header(w, format, rg)
		}
		if err = out.Close(); err == nil {
			err = bw.Flush()
		}
		started = true
	}
	if err != nil && started {
		rr.server.log().Error("contributions report aborted", "committee", rg.Committee.ID, "rows", out.Rows(),
			"request_id", requestID(ctx), "err", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// header writes the status and headers of a contributions report.
func header(w http.ResponseWriter, f report.Format, rg report.Range) {
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="contributions-%s-%s.%s"`, rg.Committee.ID, rg, f))
	w.WriteHeader(http.StatusOK)
}

func (rr *reportRoutes) periodForm(r *http.Request, more ...string) (report.Range, report.Form, url.Values, error) {
	p, err := Query(r, append([]string{"committee", "from", "to", "form"}, more...)...)
	if err != nil {
		return report.Range{}, "", nil, err
	}
	rg, err := rr.period(r.Context(), p.Get("committee"), p.Get("from"), p.Get("to"))
	if err != nil {
		return rg, "", nil, err
	}
	f, err := report.ParseForm(p.Get("form"), rg.Committee)
	return rg, f, p, err
}

func (rr *reportRoutes) summary(w http.ResponseWriter, r *http.Request) error {
	rg, f, p, err := rr.periodForm(r, "within")
	if err != nil {
		return err
	}
	within := 72 * time.Hour
	if s := p.Get("within"); s != "" {
		if within, err = ParseDuration("within", s); err != nil {
			return err
		}
	}
	z := report.NewSummarizer(rg, f, rr.now(), within)
	_, _, start := report.Start(rg, f)
	if err := rr.records.Contributions(r.Context(), rg.Committee.ID, start, rg.End(), func(row report.Row) error {
		z.Add(row)
		return nil
	}); err != nil {
		return err
	}
	return WriteJSON(w, SummaryView(r.Context(), z.Summary(), rr.now()))
}

func (rr *reportRoutes) fec(w http.ResponseWriter, r *http.Request) error {
	rg, f, _, err := rr.periodForm(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := report.FEC(r.Context(), &b, rr.records, rr.records, rg, f, rr.now(), rr.server.Version); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=us-ascii")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.fec"`, rg.Committee.ID, f, rg))
	_, err = w.Write(b.Bytes())
	return err
}

// SummaryJSON is a reporting period's summary as the API shows it:
// amounts as decimal strings of dollars, dates in the committee's zone.
type SummaryJSON struct {
	Committee     string       `json:"committee"`
	From          string       `json:"from"`
	To            string       `json:"to"`
	Form          string       `json:"form"`
	ToDateFrom    string       `json:"to_date_from"` // where the to-date column starts
	Count         int          `json:"count"`
	Total         string       `json:"total"` // gross
	Lines         []LineJSON11 `json:"lines"`
	CarrierFees   string       `json:"carrier_fees"`
	AggregatorFee string       `json:"aggregator_fees"`
	Remitted      string       `json:"remitted"`
	Receivable    string       `json:"receivable"`
	WrittenOff    string       `json:"written_off"`
	Disputed      string       `json:"disputed"`
	Refunded      string       `json:"refunded"`
	Refunds       []RefundJSON `json:"refunds"`
	ForwardedLate int          `json:"forwarded_late"`
	Due           []DueJSON    `json:"forwarding_due"`
	Notice        string       `json:"notice"`
}

// LineJSON11 is one FEC line of contributions from individuals.
type LineJSON11 struct {
	Line         string `json:"line"` // 11(a)(i), 11(a)(ii), 11(a)(iii)
	Period       string `json:"period"`
	PeriodColumn int    `json:"period_column"`
	ToDate       string `json:"to_date"`
	ToDateColumn int    `json:"to_date_column"`
}

// SummaryView shows s to the caller of ctx; refunds' lateness as of now.
func SummaryView(ctx context.Context, s report.Summary, now time.Time) SummaryJSON {
	loc := s.Committee.Location()
	d := treasury.Decimal
	j := SummaryJSON{Committee: s.Committee.ID, From: s.From.Format(time.DateOnly), To: s.To.Format(time.DateOnly), Form: string(s.Form),
		ToDateFrom: s.ToDateFrom.In(loc).Format(time.DateOnly), Count: s.Count, Total: d(s.Total),
		CarrierFees: d(s.CarrierFees), AggregatorFee: d(s.AggregatorFees), Remitted: d(s.Remitted), Receivable: d(s.Receivable),
		WrittenOff: d(s.WrittenOff), Disputed: d(s.Disputed), Refunded: d(s.Refunded), ForwardedLate: s.ForwardedLate,
		Refunds: []RefundJSON{}, Due: []DueJSON{}, Notice: report.Notice}
	period, toDate := s.Form.Columns()
	for i, l := range []struct {
		name string
		p, t int64
	}{{"11(a)(i)", s.Period.Itemized, s.ToDate.Itemized}, {"11(a)(ii)", s.Period.Unitemized, s.ToDate.Unitemized},
		{"11(a)(iii)", s.Period.Total(), s.ToDate.Total()}} {
		j.Lines = append(j.Lines, LineJSON11{Line: l.name, Period: d(l.p), PeriodColumn: period[i], ToDate: d(l.t), ToDateColumn: toDate[i]})
	}
	for _, r := range s.Refunds {
		j.Refunds = append(j.Refunds, RefundView(ctx, r, now))
	}
	for _, x := range s.Due {
		j.Due = append(j.Due, DueJSON{DonationID: x.Donation.ID, CommitteeID: x.Donation.CommitteeID, Amount: d(x.Donation.Amount),
			ReceivedAt: x.Donation.ReceivedAt.UTC(), Deadline: x.Deadline.UTC(), Missed: x.Missed})
	}
	return j
}
