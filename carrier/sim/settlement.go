package sim

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// settlementHeader is the header line of a settlement file.
var settlementHeader = []string{"server_reference_code", "reference_code", "charged_at", "gross", "carrier_fee", "net", "status"}

// dateLayout is the layout of the from and to query parameters.
const dateLayout = "2006-01-02"

// Settlement returns the settlement file (SPEC §12.2, a CSV with CRLF line
// ends, RFC 4180) of the simulated carrier named carrier for the ledger
// entries applied from the day from to the day to, inclusive, in UTC: only
// the year, month and day of from and to count, and a zero from or to
// leaves that end open.
//
// Each charge is a line with its gross, the carrier's fee (its share of
// Config.CarrierFees, in basis points, rounded half up to the cent) and the
// net, status "paid", or "written_off" once Sim.WriteOff wrote it off; a
// refunded charge keeps its line, and each refund is a line of its own
// with the negated gross, fee and net. A carrier that is not simulated gets
// the header line only.
func (s *Sim) Settlement(carrier string, from, to time.Time) []byte {
	lo, hi := day(from), day(to)
	bps := s.cfg.CarrierFees[carrier]
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write(settlementHeader)
	for _, c := range s.Ledger() {
		d := day(c.At.UTC())
		if c.Carrier != carrier || (!from.IsZero() && d.Before(lo)) || (!to.IsZero() && d.After(hi)) {
			continue
		}
		gross := c.Amount
		fee := carrierFee(gross, bps)
		status := "paid"
		if c.Kind == KindRefund {
			gross, fee = -gross, -fee
		} else if s.writtenOff(c.ServerRef) {
			status = "written_off"
		}
		w.Write([]string{
			c.ServerRef, c.Reference, c.At.UTC().Format(time.RFC3339),
			formatCents(gross), formatCents(fee), formatCents(gross - fee), status,
		})
	}
	w.Flush() // writes to a bytes.Buffer: cannot fail
	return buf.Bytes()
}

// day returns t's date as midnight UTC.
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// carrierFee is bps basis points of gross cents, rounded half up.
func carrierFee(gross int64, bps int) int64 {
	return (gross*int64(bps) + 5000) / 10000
}

// serveSettlement answers GET /sim/settlements/{carrier}.csv?from=&to=
// (dates YYYY-MM-DD, inclusive, both optional).
func (s *Sim) serveSettlement(w http.ResponseWriter, r *http.Request) {
	carrier := mux.Vars(r)["carrier"]
	if _, ok := s.cfg.CarrierFees[carrier]; !ok {
		twilio.WriteJSON(w, http.StatusNotFound, simError{fmt.Sprintf("no simulated carrier %q", carrier)})
		return
	}
	var from, to time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := r.URL.Query().Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(dateLayout, v)
		if err != nil {
			twilio.WriteJSON(w, http.StatusBadRequest, simError{fmt.Sprintf("%s %q is not a date like 2026-03-14", p.name, v)})
			return
		}
		*p.t = t
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", carrier+".csv"))
	w.Write(s.Settlement(carrier, from, to))
}
