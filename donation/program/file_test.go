package program_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/program"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// encode writes f as `shortcode program show` prints it.
func encode(t *testing.T, f program.File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := program.Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDemoFile: the demo program as a file, in testdata/demo.json; it
// reads back as the same program.
func TestDemoFile(t *testing.T) {
	p := compliance.DemoProgram("")
	got := encode(t, program.FileOf(p))
	path := filepath.Join("testdata", "demo.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./donation/program -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./donation/program -update and review the diff):\n%s", path, got)
	}
	back, err := program.Decode(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("read back %+v\nwant %+v", back, p)
	}
}

// Every setting survives the trip through a file, zero values that are
// settings (no re-prompts, rolling off) included.
func TestFileRoundTrip(t *testing.T) {
	p := compliance.DemoProgram("https://sc.example")
	p.ID, p.Keywords, p.Active = "hope", []string{"HOPE", "GIVE2"}, false
	p.Committee.Type = compliance.Candidate
	p.Committee.PreviousElection = time.Date(2024, 11, 5, 0, 0, 0, 0, time.UTC)
	p.Committee.NextElection = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	p.Committee.TimeZone = "America/Chicago"
	p.PricePoints = []int64{250, 1050}
	p.Limits = compliance.Limits{PerMessage: 1050, Month: 10000, Rolling: false, Cycle: 330000}
	p.ConfirmExpiry, p.PINExpiry = 90*time.Minute, 5*time.Minute
	p.Mode, p.MaxPINTries, p.MaxReprompts = compliance.Separate, 5, 0
	p.Templates.Hint = "Text {keyword} to give to {Committee}. STOP to end."
	b := encode(t, program.FileOf(p))
	for _, want := range []string{`"price_points": [` + "\n" + `    "2.50",`, `"month": "100.00"`, `"confirm_expiry": "1h30m"`,
		`"pin_expiry": "5m"`, `"max_reprompts": 0`, `"rolling": false`, `"next_election": "2026-11-03"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %s:\n%s", want, b)
		}
	}
	back, err := program.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("read back %+v\nwant %+v", back, p)
	}
}

// A file that leaves settings and templates out gets SPEC §3's defaults.
func TestFileDefaults(t *testing.T) {
	p, err := program.Decode(strings.NewReader(`{
		"id": "demo", "short_code": "62262", "keywords": ["GIVE"], "active": true,
		"committee": {"id": "C99999999", "type": "candidate", "name": "Demo Committee for Testing",
			"display_name": "Demo PAC", "paid_for": "Demo Committee for Testing",
			"care": "support@example.org", "good_standing": true},
		"terms_url": "127.0.0.1:8080/t/demo", "donation_url": "127.0.0.1:8080/d/",
		"templates": {"hint": "Text {keyword} to give. STOP to end."}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := compliance.DemoProgram("")
	want.Templates.Hint = "Text {keyword} to give. STOP to end."
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

// docs/program.example.json reads and validates, so that it cannot rot.
func TestExampleFile(t *testing.T) {
	b, err := os.ReadFile("../../docs/program.example.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := program.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.Templates.Confirm != compliance.DefaultTemplates.Confirm {
		t.Errorf("the example should leave the confirmation to its default")
	}
	if p.Templates.Help == compliance.DefaultTemplates.Help {
		t.Errorf("the example should show a template of its own")
	}
}

// Values that are not amounts, durations or dates are refused, all of
// them in one error of kind Invalid; so are files that are not one JSON
// object of known fields.
func TestFileBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"amounts", `{"price_points": ["5", "10.5", "-5", "1e3", "$5", "", "99999999999"], "limits": {"month": "50.001", "cycle": "lots"}}`, []string{
			`price_points[1]: "10.5" is not an amount in dollars such as "20.00"`, `price_points[2]: "-5"`, `price_points[3]: "1e3"`,
			`price_points[4]: "$5"`, `price_points[5]: ""`, `price_points[6]: "99999999999"`,
			`limits.month: "50.001"`, `limits.cycle: "lots"`,
		}},
		{"durations", `{"confirm_expiry": "60", "pin_expiry": "ten minutes"}`, []string{
			`confirm_expiry: "60" is not a duration such as "10m"`, `pin_expiry: "ten minutes"`,
		}},
		{"dates", `{"committee": {"previous_election": "11/05/2024", "next_election": "2026-11-31"}}`, []string{
			`committee.previous_election: "11/05/2024" is not a date`, `committee.next_election: "2026-11-31"`,
		}},
		{"number for an amount", `{"price_points": [5]}`, []string{"cannot unmarshal number"}},
		{"unknown field", `{"id": "x", "colour": "red"}`, []string{`unknown field "colour"`}},
		{"unknown template", `{"templates": {"welcome": "hi"}}`, []string{`unknown field "welcome"`}},
		{"two objects", `{"id": "x"} {"id": "y"}`, []string{"data after the JSON object"}},
		{"not an object", `[]`, []string{"cannot unmarshal array"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := program.Decode(strings.NewReader(tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, program.ErrInvalid) || donation.KindOf(err) != donation.Invalid {
				t.Errorf("error %v is not of kind Invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
