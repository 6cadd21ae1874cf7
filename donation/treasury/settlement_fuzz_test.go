package treasury_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// FuzzParseSettlement: any file is either refused with an error of kind
// Invalid, or read into lines that, written again as CSV, read back the
// same; a byte order mark before it changes nothing, its SHA-256
// included.
func FuzzParseSettlement(f *testing.F) {
	for _, s := range []string{
		header + "SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\r\n",
		header + "SRV2,R1,2027-03-11T15:00:00-05:00,-10.00,-3.00,-7.00,written_off\n",
		header + "\"S,1\",\" D\"\"2 \",2027-03-10T15:00:00.123456789Z,0.00,-0.00,999999999999.99,disputed\n",
		header + "SRV1,D1,2027-03-10T15:00:00Z,10,3.00,7.00,paid\n",
		header + "SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00\n",
		header + "SRV1,D1,10/03/2027,10.00,3.00,7.00,paid\n",
		"\uFEFF" + header,
		"reference_code,server_reference_code,charged_at,gross,carrier_fee,net,status\n",
		"",
		header + "\"unterminated,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := treasury.ParseSettlement("SimMobile", "f.csv", bytes.NewReader(b))
		if err != nil {
			if donation.KindOf(err) != donation.Invalid {
				t.Fatalf("ParseSettlement(%q): %v, of kind %v", b, err, donation.KindOf(err))
			}
			return
		}
		bom, err := treasury.ParseSettlement("SimMobile", "f.csv", bytes.NewReader(append([]byte("\uFEFF"), b...)))
		if !bytes.HasPrefix(b, []byte("\uFEFF")) && (err != nil || !reflect.DeepEqual(bom, sf)) {
			t.Fatalf("with a BOM, %q reads as %+v, %v; without, %+v", b, bom, err, sf)
		}
		var out bytes.Buffer
		w := csv.NewWriter(&out)
		w.Write(treasury.SettlementHeader)
		for i, l := range sf.Lines {
			if l.No != i+1 || l.ServerRef == "" || l.Reference == "" || l.ServerRef != strings.TrimSpace(l.ServerRef) ||
				l.ChargedAt.Location() != time.UTC {
				t.Fatalf("line %d of %q: %+v", i+1, b, l)
			}
			w.Write([]string{l.ServerRef, l.Reference, l.ChargedAt.Format(time.RFC3339Nano), treasury.Decimal(l.Gross),
				treasury.Decimal(l.CarrierFee), treasury.Decimal(l.Net), l.Status})
		}
		w.Flush()
		again, err := treasury.ParseSettlement("SimMobile", "f.csv", &out)
		if err != nil || !reflect.DeepEqual(again.Lines, sf.Lines) {
			t.Fatalf("%q reads as %+v; written again, %q reads as %+v, %v", b, sf.Lines, out.String(), again.Lines, err)
		}
	})
}
