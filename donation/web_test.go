package donation_test

import (
	"testing"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var webClient = donation.Client{IP: "198.51.100.7", UserAgent: "Mozilla/5.0 (web test)"}

// TestGiveOnTheWeb: SPEC §4.5 (AO 2012-17's second flow) through the
// service. A gift without the certification ticked stores and sends
// nothing; a certified one replaces the number's open request (released),
// reserves its amount, certifies on channel web with the client, and
// texts the PIN, which completes it by SMS as well as on the page; the
// PIN's evidence names its channel and MO.
func TestGiveOnTheWeb(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		g := donation.Gift{ProgramID: "demo", Phone: "212-555-0100", Amount: 2000, Client: webClient}
		start, err := h.svc.Give(h.ctx, g)
		if err != nil || start.Outcome != donation.WebUncertified || start.Token != "" {
			t.Fatalf("uncertified gift: %+v, %v", start, err)
		}
		if mts, ds := h.mts(phone), h.donations(phone); len(mts) != 0 || len(ds) != 0 {
			t.Fatalf("uncertified gift left %q, %+v", mts, ds)
		}

		h.send(phone, "GIVE 10")
		g.Certified = true
		if start, err = h.svc.Give(h.ctx, g); err != nil || start.Outcome != donation.WebPINSent || start.Token == "" {
			t.Fatalf("gift: %+v, %v", start, err)
		}
		mts := h.mts(phone)
		if len(mts) != 1 || h.pins[phone] == "" {
			t.Fatalf("texts after the gift: %q", mts)
		}
		ds := h.donations(phone)
		if len(ds) != 2 || ds[0].Status != donation.Cancelled || ds[0].Reserved() ||
			ds[1].Status != donation.Open || !ds[1].Reserved() || ds[1].Amount != 2000 || ds[1].Token != start.Token {
			t.Fatalf("donations %+v", ds)
		}
		if sub := h.subscriber(phone); sub.State != donation.VerifyingPIN || sub.DonationID != ds[1].ID {
			t.Errorf("subscriber %+v", sub)
		}
		cs, err := db.Certifications(h.ctx)
		if err != nil || len(cs) != 1 || cs[0].Channel != "web" || cs[0].DonationID != ds[1].ID {
			t.Fatalf("certifications %+v, %v", cs, err)
		}
		if h.biller.Calls() != 0 {
			t.Fatal("the gift reached the carrier before its PIN")
		}

		h.send(phone, h.pins[phone])
		h.charge()
		if n, cents := h.biller.Charged(); n != 1 || cents != 2000 {
			t.Errorf("charged %d times, %d cents", n, cents)
		}
		v, err := db.Verification(h.ctx, ds[1].ID)
		if err != nil || v.Channel != "sms" || v.MessageID == "" || v.IP != "" || !v.At.Equal(h.clock.Now()) {
			t.Errorf("PIN verification %+v, %v", v, err)
		}
		h.checkInvariants(phone)
	})
}
