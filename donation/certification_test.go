package donation_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCertificationHashes: the recorded hashes are those of the exact texts
// the donor was shown: the confirmation as sent (combined mode) or the
// certification text (separate mode), and the full terms of the program
// (compliance.Terms, the page GET /t/{program} serves); the versions name
// them, and both texts are kept under their hashes for the auditor.
func TestCertificationHashes(t *testing.T) {
	for _, mode := range []compliance.Mode{compliance.Combined, compliance.Separate} {
		t.Run(string(mode), func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				h := newHarness(t, db, func(p *compliance.Program) { p.Mode = mode })
				phone := "+12125550100"
				h.send(phone, "GIVE 10")
				certified := h.send(phone, "YES")
				tmpl := compliance.DefaultTemplates.Confirm
				if mode == compliance.Separate {
					certified = h.send(phone, "YES")
					tmpl = compliance.DefaultTemplates.Certify
				}
				p, err := db.Program(h.ctx, "demo")
				if err != nil {
					t.Fatal(err)
				}
				// The text the donor certified to is the MT before the PIN.
				all, err := db.MTs(h.ctx, phone)
				if err != nil {
					t.Fatal(err)
				}
				shown := all[len(all)-len(certified)-1].MT.Body
				v := compliance.ProgramVars(p)
				v.Amount = "10"
				if want := compliance.Render(tmpl, v); shown != want {
					t.Fatalf("certification text sent %q, want %q", shown, want)
				}
				terms := compliance.Terms(p)

				cs, err := db.Certifications(h.ctx)
				if err != nil || len(cs) != 1 {
					t.Fatalf("certifications %+v, %v", cs, err)
				}
				c := cs[0].Certification
				if c.TextSHA256 != sha256Hex(shown) {
					t.Errorf("text sha256 %s, want that of %q", c.TextSHA256, shown)
				}
				if c.TermsSHA256 != sha256Hex(terms) {
					t.Errorf("terms sha256 %s, want that of compliance.Terms", c.TermsSHA256)
				}
				if v, _ := compliance.Version(tmpl); c.TextVersion != v {
					t.Errorf("text version %s, want %s", c.TextVersion, v)
				}
				if v, _ := compliance.Version(terms); c.TermsVersion != v {
					t.Errorf("terms version %s, want %s", c.TermsVersion, v)
				}
				for sum, want := range map[string]string{c.TextSHA256: shown, c.TermsSHA256: terms} {
					if got, err := db.CertText(h.ctx, sum); err != nil || got != want {
						t.Errorf("text kept under %s: %q, %v", sum, got, err)
					}
				}
			})
		})
	}
}

// TestGoodStandingWithdrawn: AO 2012-26. Withdrawing a committee's good
// standing deactivates its programs at once; an open request, even one
// waiting for its PIN, then ends without a charge; and the keyword path
// checks the standing itself, so a program stored active under a committee
// out of good standing takes no donation either.
func TestGoodStandingWithdrawn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		programs := &program.Service{Store: db, Clock: h.clock}
		phone, other := "+12125550100", "+12125550101"
		h.send(phone, "GIVE 10")
		h.send(phone, "YES")
		h.send(other, "GIVE 10")
		if _, err := programs.SetGoodStanding(h.ctx, "demo", false, "admin"); err != nil {
			t.Fatal(err)
		}
		if mts := h.send(phone, h.pins[phone]); len(mts) != 0 {
			t.Errorf("PIN after the withdrawal got %q", mts)
		}
		if mts := h.send(other, "YES"); len(mts) != 0 {
			t.Errorf("YES after the withdrawal got %q", mts)
		}
		h.charge()
		for _, n := range []string{phone, other} {
			if ds := h.donations(n); len(ds) != 1 || ds[0].Status != donation.Cancelled || ds[0].Reserved() || !ds[0].ChargePostedAt.IsZero() {
				t.Errorf("%s: open request after the withdrawal: %+v", n, ds)
			}
		}
		if n, _ := h.biller.Charged(); n != 0 || h.biller.Calls() != 0 {
			t.Errorf("%d charges (%d calls) after the withdrawal", n, h.biller.Calls())
		}

		// Stored active under a committee out of good standing (by hand,
		// or by an older version): the keyword still takes nothing.
		p := compliance.DemoProgram("https://sc.example")
		p.Committee.GoodStanding = false
		if err := db.SaveProgram(h.ctx, p); err != nil {
			t.Fatal(err)
		}
		if mts := h.send(phone, "GIVE 10"); len(mts) != 0 || len(h.donations(phone)) != 1 {
			t.Errorf("keyword of a committee out of good standing: %q", mts)
		}
		if mts := h.send(phone, "HELP"); len(mts) != 1 {
			t.Errorf("HELP: %q", mts)
		}
		h.checkInvariants(phone, other)
	})
}
