package donation_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestEndsLogged: a donation that completes, is declined or expires gets
// one INFO line, once it is committed, that names it without the number.
func TestEndsLogged(t *testing.T) {
	h := newHarness(t, storagetest.Open(t, storage.SQLite), nil)
	var logs bytes.Buffer
	h.svc.Log = slog.New(slog.NewTextHandler(&logs, nil))

	completed, declined, expired := "+12125550101", "+12125550102", "+12125550103"
	h.give(completed, 10)
	h.biller.DeclineNext()
	h.give(declined, 15)
	h.send(expired, "GIVE 20")
	h.clock.Advance(time.Hour)
	if n := h.expire(); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	h.expire() // nothing left to expire, nothing more to log

	for _, c := range []struct {
		phone, msg, cents string
	}{
		{completed, "donation completed", "1000"},
		{declined, "donation declined", "1500"},
		{expired, "donation expired", "2000"},
	} {
		d := h.donations(c.phone)[0]
		want := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="` + c.msg + `" donation=` + d.ID +
			` phone=` + regexp.QuoteMeta(compliance.MaskPhone(c.phone)) + ` amount_cents=` + c.cents + ` program=demo$`)
		if n := len(want.FindAllString(logs.String(), -1)); n != 1 {
			t.Errorf("%d lines match %v, want 1", n, want)
		}
	}
	for _, p := range []string{completed, declined, expired} {
		if strings.Contains(logs.String(), p[2:]) {
			t.Errorf("the log holds %s unmasked", p)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", &logs)
	}
}
