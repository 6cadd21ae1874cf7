package program_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/program"
)

// FuzzDecode: any bytes are a program file that Decode reads, or an error
// of kind Invalid (wrapping ErrInvalid), never a panic. A program read
// writes back as a file (FileOf, Encode) that reads as the same program,
// and writing that again gives the same bytes.
func FuzzDecode(f *testing.F) {
	demo, err := os.ReadFile(filepath.Join("testdata", "demo.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	var b bytes.Buffer
	program.Encode(&b, program.FileOf(compliance.DemoProgram("https://sc.example")))
	f.Add(b.Bytes())
	for _, s := range []string{
		`{}`, `{"id":"x","price_points":["5","10.50","1.5"]}`, `{"limits":{"per_message":"50","rolling":false,"cycle":"99999999999"}}`,
		`{"confirm_expiry":"-1h","pin_expiry":"1.5s","max_reprompts":0}`, `{"committee":{"next_election":"2026-02-30"}}`,
		`{"unknown":1}`, `{} {}`, `[]`, `{"keywords":null,"templates":{"help":""}}`, `{"aggregator_fee":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := program.Decode(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, program.ErrInvalid) || donation.KindOf(err) != donation.Invalid {
				t.Fatalf("Decode(%q): %v, of kind %v", b, err, donation.KindOf(err))
			}
			return
		}
		var once bytes.Buffer
		if err := program.Encode(&once, program.FileOf(p)); err != nil {
			t.Fatalf("Encode of %q: %v", b, err)
		}
		again, err := program.Decode(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("%q reads, but its file %s does not: %v", b, once.Bytes(), err)
		}
		if p.Keywords == nil {
			p.Keywords = []string{} // a file always lists its keywords
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("%q reads as %+v; its file %s as %+v", b, p, once.Bytes(), again)
		}
		var twice bytes.Buffer
		program.Encode(&twice, program.FileOf(again))
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("the file of %q changes when written again:\n%s\n%s", b, once.Bytes(), twice.Bytes())
		}
	})
}
