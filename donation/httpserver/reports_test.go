package httpserver_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func init() {
	mounts = append(mounts, mountReports)
	routeTables = append(routeTables, reportRoutes)
	templates = append(templates, func(_ *env, path string) string {
		path, _, _ = strings.Cut(path, "?")
		return path
	})
}

// hopePAC is a committee configured with the treasurer and address its
// FEC cover record needs: the store's committees, and this one (no
// program of its own, so that the program routes' tests see none).
const hopePAC = "C00000077"

type withHope struct{ *storage.DB }

func (w withHope) Committee(ctx context.Context, id string) (compliance.Committee, error) {
	if id != hopePAC {
		return w.DB.Committee(ctx, id)
	}
	return compliance.Committee{ID: hopePAC, Type: compliance.PAC, Name: "Hope PAC", TimeZone: "America/New_York",
		Treasurer: compliance.Person{Last: "Treasurer", First: "Pat"},
		Address:   compliance.Address{Street1: "1 Main St", City: "Albany", State: "NY", ZIP: "12207"}}, nil
}

func mountReports(e *env) {
	e.hs.ReportRoutes(withHope{e.db}, func() time.Time { return t0 })
}

func reportRoutes(e *env) []route {
	read := []auth.Role{auth.Treasurer, auth.Auditor}
	return []route{
		{"GET", "/api/v1/reports/contributions?committee=C99999999&from=2027-03-01&to=2027-03-31&format=csv", "", read},
		{"GET", "/api/v1/reports/summary?committee=C99999999&from=2027-03-01&to=2027-03-31&form=F3X&within=10d", "", read},
		{"GET", "/api/v1/reports/fec?committee=" + hopePAC + "&from=2027-01-01&to=2027-03-31&form=F3X", "", []auth.Role{auth.Treasurer}},
	}
}

// TestSummaryAndFECRoutes: the summary of the treasury fixture's three
// $10 contributions (recorded without fees), all on 11(a)(ii); the .fec of a committee with its
// treasurer; bad requests and a committee without a treasurer are 4xx
// problems.
func TestSummaryAndFECRoutes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		a := e.do("GET", "/api/v1/reports/summary?committee=C99999999&from=2027-03-01&to=2027-03-31", e.tokens["treasurer"], "")
		var s httpserver.SummaryJSON
		if a.status != 200 || json.Unmarshal([]byte(a.body), &s) != nil {
			t.Fatalf("summary: %d %s", a.status, a.body)
		}
		// The demo committee is a candidate's: F3, the cycle to date.
		if s.Form != "F3" || s.ToDateFrom != "2026-11-04" || s.Count != 3 || s.Total != "30.00" || s.Lines[1].Period != "30.00" || s.Lines[1].PeriodColumn != 34 ||
			s.Lines[0].Period != "0.00" || s.Lines[2].ToDate != "30.00" || s.Lines[2].ToDateColumn != 71 || s.Receivable != "30.00" {
			t.Errorf("summary: %+v", s)
		}
		a = e.do("GET", "/api/v1/reports/fec?committee="+hopePAC+"&from=2027-01-01&to=2027-03-31&form=F3", e.tokens["treasurer"], "")
		if a.status != 200 || !strings.HasPrefix(a.body, "HDR\x1cFEC\x1c8.5\x1c") || !strings.Contains(a.body, "\r\nF3N\x1c"+hopePAC) {
			t.Errorf("fec: %d %q", a.status, a.body)
		}
		for _, tt := range []struct {
			query  string
			status int
		}{
			{"committee=C99999999&from=2027-01-01&to=2027-03-31", 409},
			{"committee=" + hopePAC + "&from=2027-01-01&to=2027-03-31&form=F3P", 400},
			{"committee=" + hopePAC + "&from=2026-10-01&to=2027-03-31", 400},
			{"committee=C12345678&from=2027-01-01&to=2027-03-31", 404},
		} {
			if a := e.do("GET", "/api/v1/reports/fec?"+tt.query, e.tokens["treasurer"], ""); a.status != tt.status || !isProblem(a) {
				t.Errorf("fec %s: %d %s, want a %d problem", tt.query, a.status, a.body, tt.status)
			}
		}
		if a := e.do("GET", "/api/v1/reports/fec?committee=C99999999&from=2027-01-01&to=2027-03-31", e.tokens["treasurer"], ""); !strings.Contains(a.body, "treasurer.last") {
			t.Errorf("fec without a treasurer: %s", a.body)
		}
	})
}

// TestContributionsRoute: the report of the treasury fixture's three
// contributions, in CSV and JSON; an auditor sees the numbers masked; bad
// requests are 4xx problems.
func TestContributionsRoute(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		const path = "/api/v1/reports/contributions?committee=C99999999&from=2027-03-01&to=2027-03-31"
		a := e.do("GET", path, e.tokens["treasurer"], "")
		if a.status != 200 || a.header.Get("Content-Type") != report.CSV.ContentType() ||
			!strings.Contains(a.header.Get("Content-Disposition"), "contributions-C99999999-2027-03-01..2027-03-31.csv") {
			t.Fatalf("CSV: %d %v\n%s", a.status, a.header, a.body)
		}
		recs, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
		if err != nil || len(recs) != 4 {
			t.Fatalf("CSV: %v, %d records:\n%s", err, len(recs), a.body)
		}
		for i, id := range []string{donor1, "DAPI02", "DAPI03"} {
			r := recs[i+1]
			if r[0] != id || r[1] != donorPhone || r[2] != "10.00" || r[3] != "2027-03-09" || r[6] != "completed" || r[7] == "" || r[12] != "receivable" {
				t.Errorf("row %d: %q", i+1, r)
			}
		}
		if a := e.do("GET", path+"&format=json", e.tokens["auditor"], ""); a.status != 200 || strings.Contains(a.body, donorPhone) || !strings.Contains(a.body, `"phone":"+1******0100"`) {
			t.Errorf("JSON as an auditor: %d\n%s", a.status, a.body)
		}
		if a := e.do("GET", "/api/v1/reports/contributions?committee=C99999999&from=2027-04-01&to=2027-04-30", e.tokens["treasurer"], ""); a.status != 200 || strings.Count(a.body, "\n") != 1 {
			t.Errorf("a month with none: %d\n%s", a.status, a.body)
		}
		for _, tt := range []struct {
			query  string
			status int
		}{
			{"committee=C12345678&from=2027-03-01&to=2027-03-31", 404},
			{"committee=C99999999&from=2027-03-31&to=2027-03-01", 400},
			{"committee=C99999999&from=2026-12-01&to=2027-01-31", 400},
			{"committee=C99999999&from=2027-03-01&to=2027-03-31&format=xlsx", 400},
			{"committee=C99999999&from=2027-03-01", 400},
			{"from=2027-03-01&to=2027-03-31", 400},
			{"committee=C99999999&from=2027-03-01&to=2027-03-31&limit=5", 400},
		} {
			if a := e.do("GET", "/api/v1/reports/contributions?"+tt.query, e.tokens["treasurer"], ""); a.status != tt.status || !isProblem(a) {
				t.Errorf("%s: %d %s, want a %d problem", tt.query, a.status, a.body, tt.status)
			}
		}
	})
}

// manyRows is a store of n generated contributions: the report's source
// with no database behind it, so that only the export's own memory is
// measured. It samples the heap every sampleEvery rows.
type manyRows struct {
	*storage.DB
	n     int
	peaks []uint64
}

const sampleEvery = 10000

func (m *manyRows) Contributions(ctx context.Context, committeeID string, from, to time.Time, fn func(report.Row) error) error {
	at := from.Add(time.Hour)
	for i := range m.n {
		if i%sampleEvery == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			m.peaks = append(m.peaks, ms.HeapAlloc)
		}
		err := fn(report.Row{ID: fmt.Sprintf("D%09d", i), Phone: "+12125550100", Amount: 1000, ReceivedAt: at,
			Carrier: "SimMobile", CertificationSeq: int64(i + 1), ChargeRef: fmt.Sprintf("SRV-%09d", i),
			CarrierFee: 300, AggregatorFee: 50, Settlement: report.Receivable})
		if err != nil {
			return err
		}
	}
	return nil
}

// TestContributionsStream: 10^5 rows go out as they are made: the heap,
// sampled every 10^4 rows while about 30 MB of CSV is written, stays
// within a few megabytes of where it started, and the client receives
// every row.
func TestContributionsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("10^5 rows")
	}
	db := storagetest.Open(t, storage.SQLite)
	if err := db.SaveProgram(context.Background(), compliance.DemoProgram("")); err != nil {
		t.Fatal(err)
	}
	src := &manyRows{DB: db, n: 100000}
	hs := httpserver.New(slog.New(slog.DiscardHandler), db, db.Ready, "v-test")
	hs.ReportRoutes(src, time.Now)
	srv := httptest.NewServer(hs.Handler())
	defer srv.Close()
	e := &env{t: t, db: db, srv: srv}
	secret := e.token("treasurer", auth.Treasurer)

	for _, f := range []string{"csv", "json"} {
		src.peaks = nil
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/reports/contributions?committee=C99999999&from=2027-03-01&to=2027-03-31&format="+f, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		lines, size := 0, 0
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			size += n
			lines += strings.Count(string(buf[:n]), "\n")
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		resp.Body.Close()
		if want := src.n + 1; resp.StatusCode != 200 || lines < want {
			t.Fatalf("%s: %d, %d lines, want %d", f, resp.StatusCode, lines, want)
		}
		base, peak := src.peaks[0], uint64(0)
		for _, p := range src.peaks {
			peak = max(peak, p)
		}
		const slack = 8 << 20
		if peak > base+slack {
			t.Errorf("%s: the heap grew from %d to %d bytes over %d rows (%d bytes written); want under %d more",
				f, base, peak, src.n, size, slack)
		}
		t.Logf("%s: %d rows, %d bytes; heap %d..%d bytes", f, src.n, size, base, peak)
	}
}
