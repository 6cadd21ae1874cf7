package donation_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts")

// TestTranscripts plays each script in testdata/transcripts against the
// service and compares the conversation with its golden file. Scripts:
//
//	# text            a comment, copied to the transcript
//	program mode=separate | max_reprompts=N   (first lines only)
//	from +1...        the phone that sends the following lines
//	> text            an MO ({pin} is the last PIN sent, {badpin} a wrong one)
//	@ 61m             the clock moves on
//	! charge | expire | decline | unknown     a worker runs, or the carrier is told to misbehave
//	! lookup prepaid|business|landline|CA|fail|unknown-carrier   what the lookup says of this phone
//	! block COMMITTEE   the phone goes on a committee's blocklist ('' for global)
func TestTranscripts(t *testing.T) {
	scripts, err := filepath.Glob("../testdata/transcripts/*.txt")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	storagetest.Each(t, func(t *testing.T, first *storage.DB) {
		for _, script := range scripts {
			name := strings.TrimSuffix(filepath.Base(script), ".txt")
			t.Run(name, func(t *testing.T) {
				db := storagetest.Open(t, first.Driver())
				got := play(t, db, script)
				golden := strings.TrimSuffix(script, ".txt") + ".golden"
				if *update && first.Driver() == "sqlite" {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("golden: %v (run go test ./donation -run Transcripts -update)", err)
				}
				if got != string(want) {
					t.Errorf("transcript %s differs from %s:\n%s", name, golden, diff(string(want), got))
				}
			})
		}
	})
}

func play(t *testing.T, db *storage.DB, script string) string {
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	edit := func(p *compliance.Program) {
		for _, l := range lines {
			if opts, ok := strings.CutPrefix(l, "program "); ok {
				for _, o := range strings.Fields(opts) {
					k, v, _ := strings.Cut(o, "=")
					switch k {
					case "mode":
						p.Mode = compliance.Mode(v)
					case "max_reprompts":
						fmt.Sscan(v, &p.MaxReprompts)
					default:
						t.Fatalf("unknown program option %q", o)
					}
				}
			}
		}
	}
	h := newHarness(t, db, edit)
	phone := "+12125550100"
	var out strings.Builder
	show := func(mts []string) {
		for _, m := range mts {
			fmt.Fprintf(&out, "< %s\n", m)
		}
		sub := h.subscriber(phone)
		fmt.Fprintf(&out, "~ %s", sub.State)
		if sub.OptedOut {
			out.WriteString(" opted-out")
		}
		if ds := h.donations(phone); len(ds) > 0 {
			d := ds[len(ds)-1]
			fmt.Fprintf(&out, " | donation %d %s $%s", len(ds), d.Status, compliance.FormatAmount(d.Amount))
			if d.Reserved() {
				out.WriteString(" reserved")
			}
		}
		out.WriteString("\n")
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "program "), l == "":
			continue
		case strings.HasPrefix(l, "#"):
			fmt.Fprintf(&out, "%s\n", l)
		case strings.HasPrefix(l, "from "):
			phone = strings.TrimSpace(strings.TrimPrefix(l, "from "))
			fmt.Fprintf(&out, "%s\n", l)
		case strings.HasPrefix(l, "> "):
			body := strings.TrimPrefix(l, "> ")
			body = strings.ReplaceAll(body, "{pin}", h.pins[phone])
			body = strings.ReplaceAll(body, "{badpin}", badPIN(h.pins[phone]))
			fmt.Fprintf(&out, "%s\n", l)
			show(h.send(phone, body))
		case strings.HasPrefix(l, "@ "):
			d, err := time.ParseDuration(strings.TrimPrefix(l, "@ "))
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			h.clock.Advance(d)
			fmt.Fprintf(&out, "%s\n", l)
		case strings.HasPrefix(l, "! "):
			fmt.Fprintf(&out, "%s\n", l)
			switch cmd := strings.TrimPrefix(l, "! "); cmd {
			case "charge":
				h.charge()
			case "expire":
				fmt.Fprintf(&out, "  expired %d\n", h.expire())
			case "decline":
				h.biller.DeclineNext()
				continue
			case "unknown":
				h.biller.LoseNext(1)
				continue
			default:
				if what, ok := strings.CutPrefix(cmd, "lookup "); ok {
					h.looker.set(phone, what)
					continue
				}
				if committee, ok := strings.CutPrefix(cmd, "block "); ok {
					if err := db.Block(h.ctx, strings.Trim(committee, "'"), phone, "test", "transcript"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				t.Fatalf("unknown command %q", cmd)
			}
			show(h.mts(phone))
		default:
			t.Fatalf("bad script line %q", l)
		}
	}
	h.checkInvariants(phone)
	return out.String()
}

func badPIN(pin string) string {
	if pin == "000000" {
		return "111111"
	}
	return "000000"
}

// diff shows the first differing line of two transcripts.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no difference)"
}
