package httpserver

import (
	"bufio"
	"context"
	"fmt"
	"net/http"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/report"
)

// ReportRecords are what the report routes read; storage.DB implements
// them.
type ReportRecords interface {
	report.Source
	Committee(ctx context.Context, id string) (compliance.Committee, error)
}

// ReportRoutes are the treasurer's reports (SPEC §9). An auditor may read
// them too, with phone numbers masked: they are the same records the
// donation routes show an auditor.
//
//	GET /api/v1/reports/contributions  ?committee=&from=&to=&format=csv|json  one row per contribution, streamed
func (s *Server) ReportRoutes(records ReportRecords) {
	rr := &reportRoutes{records: records, server: s}
	read := []auth.Role{auth.Treasurer, auth.Auditor}
	s.Route(http.MethodGet, "/api/v1/reports/contributions", read, rr.contributions)
}

type reportRoutes struct {
	records ReportRecords
	server  *Server
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
