package treasury_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestRefundLogged: a completed refund gets one INFO line that names it
// without the number.
func TestRefundLogged(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	var logs bytes.Buffer
	svc := &treasury.Service{Store: db.Treasury(), Carriers: &donationtest.Carrier{Name: "SimMobile"},
		Clock: donationtest.NewClock(received.Add(48 * time.Hour)), Log: slog.New(slog.NewTextHandler(&logs, nil))}
	phone := "+12125550100"
	ds := seed(t, db, phone, donation.Completed)

	r, err := svc.Refund(context.Background(), ds[0].ID, treasury.DonorRequest, time.Time{}, "treasurer")
	if err != nil || r.Status != treasury.Refunded {
		t.Fatalf("refund = %+v, %v", r, err)
	}
	want := regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="refund completed" refund=` + r.ID + ` donation=` + ds[0].ID +
		` phone=` + regexp.QuoteMeta(compliance.MaskPhone(phone)) + ` amount_cents=1000 program=demo$`)
	if n := len(want.FindAllString(logs.String(), -1)); n != 1 {
		t.Errorf("%d lines match %v, want 1; log:\n%s", n, want, &logs)
	}
	if strings.Contains(logs.String(), phone[2:]) {
		t.Errorf("the log holds %s unmasked:\n%s", phone, &logs)
	}
}
