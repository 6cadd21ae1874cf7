package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

const (
	phoneA    = "+12025550101"
	phoneB    = "+12025550102"
	shortCode = "62262"
	committee = "C99999999"
	// lease is how long PendingMTs claims an MT in these tests.
	lease = 30 * time.Second
)

// certOf is a certification of donation id that the log can publish.
func certOf(phone, id string, amount int64) *donation.Certification {
	return &donation.Certification{At: t0, ProgramID: "demo", CommitteeID: committee, Phone: phone, DonationID: id,
		Channel: "sms", MessageID: "SM" + id, TextVersion: "sms-1", TextSHA256: strings.Repeat("a", 64),
		TermsVersion: "terms-1", TermsSHA256: strings.Repeat("b", 64), Amount: amount}
}

func update(t *testing.T, db *storage.DB, phone string, fn func(donation.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), phone, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func apply(t *testing.T, db *storage.DB, r donation.Result, now time.Time, moID string) {
	t.Helper()
	phone := r.Subscriber.Phone
	if phone == "" && len(r.Donations) > 0 {
		phone = r.Donations[0].Phone
	}
	if phone == "" && len(r.MTs) > 0 {
		phone = r.MTs[0].To
	}
	update(t, db, phone, func(tx donation.Tx) error { return tx.Apply(context.Background(), r, now, moID) })
}

func mo(id, from, body string, at time.Time) donation.MO {
	return donation.MO{Gateway: "twilio", MessageID: id, From: from, To: shortCode, Body: body, At: at}
}

func donationOf(id, phone string, amount int64, status donation.Status) donation.Donation {
	return donation.Donation{
		ID: id, ProgramID: "demo", CommitteeID: committee, Phone: phone, ShortCode: shortCode,
		Amount: amount, Status: status, CreatedAt: t0,
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("d1", phoneA, 500, donation.Open)}}, t0, "")
		for i := 0; i < 2; i++ {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		}
		ds, err := db.Donations(ctx, phoneA)
		if err != nil || len(ds) != 1 {
			t.Fatalf("Donations after re-migrate = %v, %v; want the one donation", ds, err)
		}
		if db.Driver() != storage.SQLite && db.Driver() != storage.Postgres {
			t.Fatalf("Driver() = %q", db.Driver())
		}
	})
}

func TestRecordMODuplicate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		record := func(m donation.MO) bool {
			var fresh bool
			update(t, db, m.From, func(tx donation.Tx) error {
				var err error
				fresh, err = tx.RecordMO(ctx, m)
				return err
			})
			return fresh
		}
		if !record(mo("SM1", phoneA, "GIVE", t0)) {
			t.Fatal("first delivery: fresh = false")
		}
		if record(mo("SM1", phoneA, "GIVE again", t0.Add(time.Second))) {
			t.Fatal("gateway retry: fresh = true")
		}
		other := mo("SM1", phoneA, "GIVE", t0)
		other.Gateway = "smpp"
		if !record(other) {
			t.Fatal("same id on another gateway: fresh = false")
		}
		if n, err := db.MOCount(ctx); err != nil || n != 2 {
			t.Fatalf("MOCount = %d, %v; want 2", n, err)
		}
		mos, err := db.MOs(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if len(mos) != 2 || mos[0].Body != "GIVE" || !mos[0].At.Equal(t0) || mos[0].To != shortCode {
			t.Fatalf("MOs = %+v", mos)
		}
	})
}

func TestApplyRoundTrip(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		sub := donation.Subscriber{
			Phone: phoneA, ShortCode: shortCode, State: donation.VerifyingPIN, ProgramID: "demo",
			DonationID: "d1", OptedOut: true, Reprompts: 2, HintAt: t0.Add(-time.Hour), ExpiredNotice: true,
		}
		d1 := donation.Donation{
			ID: "d1", ProgramID: "demo", CommitteeID: committee, Phone: phoneA, ShortCode: shortCode,
			Amount: 1000, Status: donation.Open, CreatedAt: t0, ReservedAt: t0.Add(time.Second),
			ReceivedAt: t0.Add(2 * time.Second), CertifiedAt: t0.Add(3 * time.Second),
			ExpiresAt: t0.Add(10 * time.Minute), PINHash: "abc123", PINTries: 1, Token: "tok1",
			ChargePostedAt: t0.Add(4 * time.Second), Correlator: "corr1", ServerRef: "ref1",
			DeclineReason: "none", FinishedAt: t0.Add(5 * time.Second),
		}
		d2 := donationOf("d2", phoneA, 0, donation.Cancelled)
		cert := &donation.Certification{
			At: t0.Add(3 * time.Second), ProgramID: "demo", CommitteeID: committee, Phone: phoneA,
			DonationID: "d1", Channel: "sms", MessageID: "SM2", TextVersion: "sms-1", TextSHA256: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			TermsVersion: "terms-1", TermsSHA256: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Amount: 1000,
		}
		consent := &donation.ConsentEvent{
			Phone: phoneA, ShortCode: shortCode, At: t0, Kind: "opt_out", MessageID: "SM2",
			Text: "stop texting me", Inferred: true,
		}
		mts := []donation.MT{
			{To: phoneA, From: shortCode, Body: "first", DonationID: "d1"},
			{To: phoneA, From: shortCode, Body: "second"},
		}
		apply(t, db, donation.Result{
			Subscriber: sub, Donations: []donation.Donation{d1, d2}, MTs: mts,
			Certification: cert, Consent: consent,
		}, t0, "SM2")

		update(t, db, phoneA, func(tx donation.Tx) error {
			got, err := tx.Subscriber(ctx, phoneA, shortCode)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, sub) {
				t.Errorf("Subscriber = %+v\nwant %+v", got, sub)
			}
			fresh, err := tx.Subscriber(ctx, phoneA, "99999")
			if err != nil {
				return err
			}
			if want := (donation.Subscriber{Phone: phoneA, ShortCode: "99999", State: donation.Idle}); fresh != want {
				t.Errorf("unknown Subscriber = %+v, want %+v", fresh, want)
			}
			gotD, err := tx.Donation(ctx, "d1")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(gotD, d1) {
				t.Errorf("Donation = %+v\nwant %+v", gotD, d1)
			}
			if _, err := tx.Donation(ctx, "nope"); !errors.Is(err, donation.ErrNotFound) {
				t.Errorf("Donation(nope) err = %v, want ErrNotFound", err)
			}
			return nil
		})

		ds, err := db.Donations(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ds, []donation.Donation{d1, d2}) {
			t.Errorf("Donations = %+v", ds)
		}

		recs, err := db.OutboxRecords(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 {
			t.Fatalf("outbox has %d MTs, want 2", len(recs))
		}
		for i, r := range recs {
			if r.MT != mts[i] || r.Status != "pending" || r.Attempts != 0 || r.MOID != "SM2" ||
				!r.NextAttemptAt.Equal(t0) || !r.CreatedAt.Equal(t0) || r.SID != "" || r.DeliveryStatus != "" {
				t.Errorf("outbox[%d] = %+v", i, r)
			}
		}
		got, err := db.MTs(ctx, phoneA)
		if err != nil || len(got) != 2 || got[0].ID != recs[0].ID || got[1].MT != mts[1] {
			t.Errorf("MTs = %+v, %v", got, err)
		}

		// Queued by the MO's transaction, in the log once sequenced.
		for _, seq := range []int64{0, 1} {
			if seq == 1 {
				storagetest.Sequence(t, db)
			}
			certs, err := db.Certifications(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := []storage.CertificationRecord{{Seq: seq, Certification: *cert}}; !reflect.DeepEqual(certs, want) {
				t.Errorf("Certifications = %+v\nwant %+v", certs, want)
			}
		}
		events, err := db.ConsentEvents(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if want := []donation.ConsentEvent{*consent}; !reflect.DeepEqual(events, want) {
			t.Errorf("ConsentEvents = %+v\nwant %+v", events, want)
		}

		// A second step updates in place: the subscriber goes idle, the
		// donation completes, times cleared to zero become NULL again.
		sub2 := donation.Subscriber{Phone: phoneA, ShortCode: shortCode, State: donation.Idle, ProgramID: "demo"}
		d1.Status, d1.ServerRef, d1.ChargePostedAt = donation.Completed, "ref2", time.Time{}
		apply(t, db, donation.Result{Subscriber: sub2, Donations: []donation.Donation{d1}}, t0.Add(time.Minute), "")
		update(t, db, phoneA, func(tx donation.Tx) error {
			got, err := tx.Subscriber(ctx, phoneA, shortCode)
			if err != nil {
				return err
			}
			if got != sub2 {
				t.Errorf("Subscriber after update = %+v, want %+v", got, sub2)
			}
			gotD, err := tx.Donation(ctx, "d1")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(gotD, d1) {
				t.Errorf("Donation after update = %+v\nwant %+v", gotD, d1)
			}
			return nil
		})
		if certs, _ := db.Certifications(ctx); len(certs) != 1 {
			t.Errorf("a step without certification appended one: %d records", len(certs))
		}
	})
}

func TestCertificationSeqGapFree(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				phone := fmt.Sprintf("+1202555%04d", i)
				id := fmt.Sprintf("d%02d", i)
				errs <- db.Update(ctx, phone, func(tx donation.Tx) error {
					return tx.Apply(ctx, donation.Result{
						Donations:     []donation.Donation{donationOf(id, phone, 500, donation.Open)},
						Certification: certOf(phone, id, 500),
					}, t0, "")
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		size := storagetest.Sequence(t, db)
		certs, err := db.Certifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != n {
			t.Fatalf("%d certifications, want %d", len(certs), n)
		}
		seen := map[string]bool{}
		for i, c := range certs {
			if c.Seq != int64(i+1) {
				t.Fatalf("record %d has seq %d", i, c.Seq)
			}
			if seen[c.DonationID] {
				t.Fatalf("donation %s certified twice", c.DonationID)
			}
			seen[c.DonationID] = true
		}
		if size != n {
			t.Fatalf("log size = %d, want %d", size, n)
		}
	})
}

func TestUsage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		completed := donationOf("completed", phoneA, 1000, donation.Completed)
		completed.ReservedAt, completed.ReceivedAt = t0.Add(time.Minute), t0.Add(2*time.Minute)
		reserved := donationOf("reserved", phoneA, 500, donation.Open)
		reserved.ReservedAt, reserved.ExpiresAt = t0.Add(3*time.Minute), t0.Add(63*time.Minute)
		certified := donationOf("certified", phoneA, 1500, donation.Open) // waiting for the PIN
		certified.ReservedAt, certified.ReceivedAt, certified.ExpiresAt = t0.Add(4*time.Minute), t0.Add(5*time.Minute), t0.Add(15*time.Minute)
		choosing := donationOf("choosing", phoneA, 0, donation.Open) // no reservation yet
		refunded := donationOf("refunded", phoneA, 2000, donation.Completed)
		refunded.ReceivedAt = t0
		otherCommittee := donationOf("other-committee", phoneA, 700, donation.Completed)
		otherCommittee.CommitteeID, otherCommittee.ReceivedAt = "C00000001", t0
		otherPhone := donationOf("other-phone", phoneB, 900, donation.Completed)
		otherPhone.ReceivedAt = t0
		ds := []donation.Donation{completed, reserved, certified, choosing, refunded, otherCommittee}
		for _, s := range []donation.Status{donation.Expired, donation.Cancelled, donation.Declined} {
			d := donationOf(string(s), phoneA, 1500, s)
			d.ReservedAt, d.ReceivedAt = t0, t0
			ds = append(ds, d)
		}
		apply(t, db, donation.Result{Donations: ds}, t0, "")
		apply(t, db, donation.Result{Donations: []donation.Donation{otherPhone}}, t0, "")
		if err := db.SetRefundedForTest(ctx, "refunded", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		var got []compliance.Entry
		update(t, db, phoneA, func(tx donation.Tx) error {
			var err error
			got, err = tx.Usage(ctx, phoneA, committee)
			return err
		})
		want := []compliance.Entry{
			{At: t0.Add(2 * time.Minute), Amount: 1000}, // completed, at its receipt
			// open, not yet certified: from its reservation through its expiry
			{At: t0.Add(3 * time.Minute), Until: t0.Add(63 * time.Minute), Amount: 500},
			{At: t0.Add(5 * time.Minute), Amount: 1500}, // open, certified: at its receipt
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Usage = %+v\nwant %+v", got, want)
		}
	})
}

func TestDueAndCharging(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		due := donationOf("due", phoneA, 500, donation.Open)
		due.ExpiresAt = t0
		later := donationOf("later", phoneA, 500, donation.Open)
		later.ExpiresAt = t0.Add(time.Nanosecond)
		charging := donationOf("charging", phoneB, 500, donation.Open)
		charging.ExpiresAt, charging.ChargePostedAt = t0.Add(-time.Hour), t0.Add(-time.Minute)
		done := donationOf("done", phoneB, 500, donation.Completed)
		done.ExpiresAt, done.ChargePostedAt = t0.Add(-time.Hour), t0.Add(-time.Minute)
		apply(t, db, donation.Result{Donations: []donation.Donation{due, later}}, t0, "")
		apply(t, db, donation.Result{Donations: []donation.Donation{charging, done}}, t0, "")

		got, err := db.Due(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != "due" {
			t.Errorf("Due(t0) = %+v, want [due]", got)
		}
		if got, _ := db.Due(ctx, t0.Add(time.Hour)); len(got) != 2 {
			t.Errorf("Due(t0+1h) = %d donations, want 2", len(got))
		}
		got, err = db.Charging(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], charging) {
			t.Errorf("Charging = %+v, want [charging]", got)
		}
	})
}

func TestOutbox(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mt := func(to, body string) donation.MT { return donation.MT{To: to, From: shortCode, Body: body} }
		apply(t, db, donation.Result{MTs: []donation.MT{mt(phoneA, "a1"), mt(phoneA, "a2")}}, t0, "SM1")
		apply(t, db, donation.Result{MTs: []donation.MT{mt(phoneB, "b1")}}, t0.Add(time.Millisecond), "SM2")
		// The clock stood still (or stepped back): a3 still sorts after a2.
		apply(t, db, donation.Result{MTs: []donation.MT{mt(phoneA, "a3")}}, t0.Add(-time.Second), "SM3")

		bodies := func(ms []donation.OutboxMT) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.MT.Body)
			}
			return out
		}
		a, err := db.MTs(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if got := bodies(a); !reflect.DeepEqual(got, []string{"a1", "a2", "a3"}) {
			t.Fatalf("MTs(A) = %v", got)
		}
		a1, a2, a3 := a[0].ID, a[1].ID, a[2].ID
		b, _ := db.MTs(ctx, phoneB)
		b1 := b[0].ID
		claim := func(at time.Time) []string {
			t.Helper()
			got, err := db.PendingMTs(ctx, at, 10, lease)
			if err != nil {
				t.Fatal(err)
			}
			return bodies(got)
		}
		if got := claim(t0.Add(-time.Hour)); len(got) != 0 {
			t.Fatalf("PendingMTs before anything is due = %v", got)
		}
		// One MT per number, the oldest; b1 is due 1ms after t0.
		if got := claim(t0); !reflect.DeepEqual(got, []string{"a1"}) {
			t.Fatalf("PendingMTs(t0) = %v, want a1", got)
		}
		now := t0.Add(time.Millisecond)
		if got := claim(now); !reflect.DeepEqual(got, []string{"b1"}) {
			t.Fatalf("PendingMTs(t0+1ms) = %v, want b1 (a1 is claimed, a2 waits behind it)", got)
		}
		if got := claim(now); len(got) != 0 {
			t.Fatalf("claimed MTs were handed out again: %v", got)
		}
		if err := db.MarkSent(ctx, a1, "SMsid1", now); err != nil {
			t.Fatal(err)
		}
		if got := claim(now); !reflect.DeepEqual(got, []string{"a2"}) {
			t.Fatalf("after a1 was sent, PendingMTs = %v, want a2", got)
		}
		// A claim lapses after the lease: a server that died mid-send.
		now = now.Add(lease + time.Second)
		retaken, err := db.PendingMTs(ctx, now, 10, lease)
		if err != nil || len(retaken) != 2 || retaken[0].MT.Body != "a2" || retaken[1].MT.Body != "b1" {
			t.Fatalf("after the lease, PendingMTs = %+v, %v; want a2 b1", retaken, err)
		}
		// Their first claims ended with no outcome: they may have been sent.
		if !retaken[0].Unknown || !retaken[1].Unknown || !retaken[0].ClaimedUntil.Equal(now.Add(lease)) {
			t.Fatalf("retaken claims = %+v, want Unknown and claimed until now+lease", retaken)
		}
		// Retry: not due until next, with the attempt counted; a3 waits.
		if err := db.MarkRetry(ctx, a2, "gateway 503", now.Add(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		if got := claim(now); len(got) != 0 {
			t.Fatalf("after a retry, PendingMTs = %v, want nothing (a3 waits behind a2)", got)
		}
		got, _ := db.PendingMTs(ctx, now.Add(time.Minute), 10, lease)
		if len(got) != 2 || got[0].ID != a2 || got[0].Attempts != 1 || got[0].Unknown || got[1].ID != b1 {
			t.Fatalf("after retry, PendingMTs(+1m) = %+v", got)
		}
		// Fail: never pending again; a3 is next.
		if err := db.MarkFailed(ctx, a2, "21610 unsubscribed", now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if got := claim(now); !reflect.DeepEqual(got, []string{"a3", "b1"}) {
			t.Fatalf("after a2 failed, PendingMTs = %v, want a3 b1", got)
		}
		// Sent: never pending again, and delivery statuses only go forward.
		// Several at once, as the sender's batches do: the unknown one is
		// said to have left the queue, the others are marked.
		gone, err := db.MarkAllSent(ctx, []donation.SentMT{{ID: a3, SID: "SMsid3"}, {ID: "nope", SID: "SMnope"}, {ID: b1, SID: "SMsidb"}}, t0.Add(time.Second))
		if err != nil || !reflect.DeepEqual(gone, []string{"nope"}) {
			t.Fatalf("MarkAllSent(a3, nope, b1) = %v, %v; want [nope]", gone, err)
		}
		for phone, sid := range map[string]string{phoneA: "SMsid3", phoneB: "SMsidb"} {
			recs, err := db.OutboxRecords(ctx, phone)
			if err != nil {
				t.Fatal(err)
			}
			if last := recs[len(recs)-1]; last.Status != "sent" || last.SID != sid || last.InFlight {
				t.Errorf("after MarkAllSent, %s's last MT = %+v, want sent as %s", phone, last, sid)
			}
		}
		if got := claim(now.Add(time.Hour)); len(got) != 0 {
			t.Fatalf("after everything was sent, PendingMTs = %v", got)
		}
		if err := db.MarkSent(ctx, a3, "SMother", t0); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("MarkSent of a sent MT: err = %v, want ErrNotFound", err)
		}
		if err := db.MarkRetry(ctx, "nope", "x", t0, false); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("MarkRetry of an unknown MT: err = %v, want ErrNotFound", err)
		}

		delivery := func() storage.OutboxRecord {
			t.Helper()
			recs, err := db.OutboxRecords(ctx, phoneA)
			if err != nil {
				t.Fatal(err)
			}
			return recs[2]
		}
		steps := []struct {
			status donation.DeliveryStatus
			code   string
			want   donation.DeliveryStatus
		}{
			{donation.DeliveryUnknown, "", donation.DeliveryUnknown}, // stored when nothing is yet
			{donation.DeliveryQueued, "", donation.DeliveryQueued},
			{donation.DeliverySent, "", donation.DeliverySent},
			{donation.DeliverySent, "", donation.DeliverySent},                  // repeat
			{donation.DeliveryQueued, "", donation.DeliverySent},                // out of order
			{donation.DeliveryDelivered, "", donation.DeliveryDelivered},        // forward
			{donation.DeliverySent, "", donation.DeliveryDelivered},             // late callback never goes back
			{donation.DeliveryUndelivered, "30003", donation.DeliveryDelivered}, // first final status stays
			{donation.DeliveryUnknown, "", donation.DeliveryDelivered},          // unknown status ranks lowest
			{"mystery", "", donation.DeliveryDelivered},                         // so does a word not ours
		}
		for _, s := range steps {
			if err := db.RecordStatus(ctx, "SMsid3", s.status, s.code, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := delivery().DeliveryStatus; got != s.want {
				t.Fatalf("after %s: delivery status %q, want %q", s.status, got, s.want)
			}
		}
		if err := db.RecordStatus(ctx, "SMunknown", donation.DeliveryDelivered, "", t0); err != nil {
			t.Errorf("RecordStatus of an unknown sid: %v", err)
		}

		recs, err := db.OutboxRecords(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		r1, r2, r3 := recs[0], recs[1], recs[2]
		if r1.Status != "sent" || r1.SID != "SMsid1" || r1.Attempts != 0 {
			t.Errorf("first MT = %+v", r1)
		}
		if r2.Status != "failed" || r2.Attempts != 1 || r2.LastError != "21610 unsubscribed" ||
			!r2.FailedAt.Equal(t0.Add(time.Millisecond+lease+time.Second)) {
			t.Errorf("failed MT = %+v", r2)
		}
		if r3.Status != "sent" || r3.SID != "SMsid3" || !r3.SentAt.Equal(t0.Add(time.Second)) ||
			r3.DeliveryStatus != donation.DeliveryDelivered || r3.MOID != "SM3" {
			t.Errorf("sent MT = %+v", r3)
		}
	})
}

func testProgram(id string, keywords ...string) compliance.Program {
	return compliance.Program{
		ID:        id,
		ShortCode: shortCode,
		Keywords:  keywords,
		Committee: compliance.Committee{
			ID: committee, Type: compliance.PAC, Name: "Demo Committee", DisplayName: "Demo PAC",
			PaidFor: "Demo Committee", Care: "support@example.org", GoodStanding: true, TimeZone: "America/New_York",
		},
		PricePoints:   []int64{500, 1000, 1500, 2000},
		Limits:        compliance.DefaultLimits,
		Templates:     compliance.DefaultTemplates,
		TermsURL:      "sc.example/t/" + id,
		DonationURL:   "sc.example/d/",
		ConfirmExpiry: time.Hour,
		PINExpiry:     10 * time.Minute,
		Mode:          compliance.Combined,
		MaxPINTries:   3,
		MaxReprompts:  2,
		Active:        true,
	}
}

// TestClaimPastOnePage: the claim reads the waiting MTs a page at a time
// (64 first); MTs backing off fill the first page, the due ones come
// after it, and a number's later MT past the page still waits behind its
// earlier one.
func TestClaimPastOnePage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		number := func(i int) string { return fmt.Sprintf("+1202555%04d", 2000+i) }
		mt := func(to, body string) donation.MT { return donation.MT{To: to, From: shortCode, Body: body} }
		// x's first MT is the oldest; its second comes after 150 others.
		apply(t, db, donation.Result{MTs: []donation.MT{mt(phoneA, "x1")}}, t0, "SMx1")
		for i := range 150 {
			at := t0.Add(time.Duration(i+1) * time.Millisecond)
			apply(t, db, donation.Result{MTs: []donation.MT{mt(number(i), fmt.Sprint("n", i))}}, at, fmt.Sprint("SMn", i))
		}
		apply(t, db, donation.Result{MTs: []donation.MT{mt(phoneA, "x2")}}, t0.Add(time.Second), "SMx2")
		backoff := func(phone string, n int) {
			t.Helper()
			ms, err := db.MTs(ctx, phone)
			if err != nil || len(ms) != n {
				t.Fatalf("MTs(%s) = %v, %v; want %d", phone, ms, err, n)
			}
			if err := db.MarkRetry(ctx, ms[0].ID, "gateway 503", t0.Add(time.Hour), false); err != nil {
				t.Fatal(err)
			}
		}
		backoff(phoneA, 2)
		for i := range 140 {
			backoff(number(i), 1)
		}
		got, err := db.PendingMTs(ctx, t0.Add(time.Second), 20, lease)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, m := range got {
			bodies = append(bodies, m.MT.Body)
		}
		var want []string
		for i := 140; i < 150; i++ {
			want = append(want, fmt.Sprint("n", i))
		}
		if !reflect.DeepEqual(bodies, want) {
			t.Fatalf("PendingMTs = %v, want %v (x2 waits behind x1)", bodies, want)
		}
	})
}

func TestSaveProgram(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		give := testProgram("give", "GIVE", "DONATE")
		if err := db.SaveProgram(ctx, give); err != nil {
			t.Fatal(err)
		}
		got, err := db.Program(ctx, "give")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, give) {
			t.Fatalf("Program = %+v\nwant %+v", got, give)
		}
		if _, err := db.Program(ctx, "nope"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("Program(nope) err = %v, want ErrNotFound", err)
		}

		// Another committee's program may not take a keyword on the same
		// short code; nothing of it is stored.
		clash := testProgram("clash", "HOPE", "give")
		clash.Committee.ID = "C00000001"
		if err := db.SaveProgram(ctx, clash); !errors.Is(err, storage.ErrKeywordTaken) {
			t.Fatalf("SaveProgram(clash) err = %v, want ErrKeywordTaken", err)
		}
		if _, err := db.Program(ctx, "clash"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("a refused program was stored: %v", err)
		}
		if n, err := db.CountPrograms(ctx); err != nil || n != 1 {
			t.Errorf("CountPrograms = %d, %v; want 1", n, err)
		}

		// The same keyword on another short code is fine.
		elsewhere := testProgram("elsewhere", "GIVE")
		elsewhere.ShortCode, elsewhere.Active = "55555", false
		if err := db.SaveProgram(ctx, elsewhere); err != nil {
			t.Fatal(err)
		}
		// Re-saving a program replaces its keywords, freeing the old ones.
		give.Keywords = []string{"GIVE"}
		if err := db.SaveProgram(ctx, give); err != nil {
			t.Fatal(err)
		}
		hope := testProgram("hope", "DONATE")
		if err := db.SaveProgram(ctx, hope); err != nil {
			t.Fatalf("keyword freed by re-save: %v", err)
		}

		active, err := db.Programs(ctx, shortCode)
		if err != nil {
			t.Fatal(err)
		}
		if len(active) != 2 || !reflect.DeepEqual(active[0], give) || !reflect.DeepEqual(active[1], hope) {
			t.Errorf("Programs(%s) = %+v", shortCode, active)
		}
		// Inactive programs are listed too (their donors' STOP must work),
		// after the active ones.
		if inactive, err := db.Programs(ctx, "55555"); err != nil || len(inactive) != 1 || inactive[0].Active {
			t.Errorf("Programs(55555) = %+v, %v; want the inactive program", inactive, err)
		}
		if got, err := db.Program(ctx, "elsewhere"); err != nil || got.Active {
			t.Errorf("Program(elsewhere) = %+v, %v", got, err)
		}
		if n, err := db.CountPrograms(ctx); err != nil || n != 3 {
			t.Errorf("CountPrograms = %d, %v; want 3", n, err)
		}
	})
}

func TestRolledBackUpdateLeavesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Update(ctx, phoneA, func(tx donation.Tx) error {
			if _, err := tx.RecordMO(ctx, mo("SM1", phoneA, "YES", t0)); err != nil {
				return err
			}
			err := tx.Apply(ctx, donation.Result{
				Subscriber:    donation.Subscriber{Phone: phoneA, ShortCode: shortCode, State: donation.VerifyingPIN},
				Donations:     []donation.Donation{donationOf("d1", phoneA, 500, donation.Open)},
				MTs:           []donation.MT{{To: phoneA, From: shortCode, Body: "PIN"}},
				Certification: certOf(phoneA, "d1", 500),
				Consent:       &donation.ConsentEvent{Phone: phoneA, ShortCode: shortCode, At: t0, Kind: "opt_in"},
			}, t0, "SM1")
			if err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update err = %v, want boom", err)
		}
		if n, _ := db.MOCount(ctx); n != 0 {
			t.Errorf("MOCount = %d after rollback", n)
		}
		if ds, _ := db.Donations(ctx, phoneA); len(ds) != 0 {
			t.Errorf("Donations = %+v after rollback", ds)
		}
		if ms, _ := db.MTs(ctx, phoneA); len(ms) != 0 {
			t.Errorf("MTs = %+v after rollback", ms)
		}
		if cs, _ := db.Certifications(ctx); len(cs) != 0 {
			t.Errorf("Certifications = %+v after rollback", cs)
		}
		if es, _ := db.ConsentEvents(ctx, phoneA); len(es) != 0 {
			t.Errorf("ConsentEvents = %+v after rollback", es)
		}
		update(t, db, phoneA, func(tx donation.Tx) error {
			s, err := tx.Subscriber(ctx, phoneA, shortCode)
			if s.State != donation.Idle {
				t.Errorf("Subscriber after rollback = %+v", s)
			}
			return err
		})
		// Nothing was queued: the next record is number 1.
		apply(t, db, donation.Result{
			Donations:     []donation.Donation{donationOf("d2", phoneA, 500, donation.Open)},
			Certification: certOf(phoneA, "d2", 500),
		}, t0, "")
		storagetest.Sequence(t, db)
		if cs, _ := db.Certifications(ctx); len(cs) != 1 || cs[0].Seq != 1 {
			t.Errorf("Certifications = %+v, want one with seq 1", cs)
		}
	})
}

// TestUpdateSerialisesPerPhone: read-modify-write under Update never loses
// an update, whatever the interleaving.
func TestUpdateSerialisesPerPhone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("counter", phoneA, 0, donation.Open)}}, t0, "")
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.Update(ctx, phoneA, func(tx donation.Tx) error {
					d, err := tx.Donation(ctx, "counter")
					if err != nil {
						return err
					}
					d.Amount++
					return tx.Apply(ctx, donation.Result{Donations: []donation.Donation{d}}, t0, "")
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		ds, err := db.Donations(ctx, phoneA)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Amount != n {
			t.Fatalf("counter = %+v, want amount %d", ds, n)
		}
	})
}

// TestConcurrentDuplicateMO: a message delivered 50 times at once is fresh
// exactly once, also when the deliveries lock different numbers (so the
// inserts themselves race).
func TestConcurrentDuplicateMO(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, samePhone := range []bool{true, false} {
			id := fmt.Sprintf("SMdup-%v", samePhone)
			const n = 50
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				fresh int
			)
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lock := phoneA
					if !samePhone {
						lock = fmt.Sprintf("+1202555%04d", i)
					}
					errs <- db.Update(ctx, lock, func(tx donation.Tx) error {
						ok, err := tx.RecordMO(ctx, mo(id, phoneA, "GIVE", t0))
						if ok {
							mu.Lock()
							fresh++
							mu.Unlock()
						}
						return err
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if fresh != 1 {
				t.Fatalf("same phone %v: %d deliveries were fresh, want 1", samePhone, fresh)
			}
		}
		if n, err := db.MOCount(ctx); err != nil || n != 2 {
			t.Fatalf("MOCount = %d, %v; want 2", n, err)
		}
	})
}

// TestConcurrentMigrate: two processes migrating one fresh PostgreSQL
// database at once both succeed (goose's session lock).
func TestConcurrentMigrate(t *testing.T) {
	t.Run(storage.Postgres, testConcurrentMigrate)
}

func testConcurrentMigrate(t *testing.T) {
	dsn := storagetest.DSN(t, storage.Postgres)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := storage.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
}

// Several servers claiming at once never get the same MT (SPEC §10 (5):
// nothing sent twice).
func TestPendingMTsClaimedOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := range 30 {
			apply(t, db, donation.Result{MTs: []donation.MT{{To: fmt.Sprintf("+1202555%04d", 200+i), From: shortCode, Body: "hi"}}}, t0, fmt.Sprintf("SMc%d", i))
		}
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := db.PendingMTs(ctx, t0.Add(time.Minute), 100, lease)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, m := range got {
					claimed[m.ID]++
				}
			}()
		}
		wg.Wait()
		if len(claimed) != 30 {
			t.Errorf("%d MTs claimed, want 30", len(claimed))
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("MT %s claimed %d times", id, n)
			}
		}
	})
}

// A status callback that arrives before the sender stored the sid (it
// races the gateway's answer) is applied once the sid is stored.
func TestStatusBeforeSent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		apply(t, db, donation.Result{MTs: []donation.MT{{To: phoneA, From: shortCode, Body: "hi"}}}, t0, "SMe1")
		got, err := db.PendingMTs(ctx, t0, 10, lease)
		if err != nil || len(got) != 1 {
			t.Fatalf("PendingMTs = %v, %v", got, err)
		}
		for _, st := range []donation.DeliveryStatus{donation.DeliverySent, donation.DeliveryDelivered} {
			if err := db.RecordStatus(ctx, "SMearly", st, "", t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.MarkSent(ctx, got[0].ID, "SMearly", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		recs, err := db.OutboxRecords(ctx, phoneA)
		if err != nil || len(recs) != 1 || recs[0].DeliveryStatus != donation.DeliveryDelivered {
			t.Errorf("after MarkSent, records = %+v, %v; want delivered", recs, err)
		}
	})
}

// TestMigrationBlocksProhibitedRefunds: migration 5 blocklists the numbers
// of prohibited refunds recorded before a refund blocked as it was recorded,
// refused ones included.
func TestMigrationBlocksProhibitedRefunds(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i, phone := range []string{phoneA, phoneB} {
			d := donationOf(fmt.Sprintf("d%d", i), phone, 500, donation.Completed)
			d.ServerRef = "SRV-" + d.ID
			apply(t, db, donation.Result{Donations: []donation.Donation{d}}, t0, "")
		}
		refund := func(id, donationID, phone string, reason treasury.Reason) treasury.Refund {
			r := treasury.Refund{ID: id, DonationID: donationID, Phone: phone, CommitteeID: committee, Carrier: "SimMobile",
				Amount: 500, Reason: reason, Status: treasury.Posted, Correlator: id + "-1", RequestedAt: t0, NextAttemptAt: t0}
			put(t, db, phone, treasury.Change{Refund: &r})
			return r
		}
		r := refund("R1", "d0", phoneA, treasury.Prohibited)
		r.Status, r.FinishedAt = treasury.Refused, t0
		put(t, db, phoneA, treasury.Change{Refund: &r})
		refund("R2", "d1", phoneB, treasury.Excessive)

		blocked := func(phone string) bool {
			var b bool
			update(t, db, phone, func(tx donation.Tx) error {
				var err error
				b, err = tx.Blocked(ctx, phone, committee)
				return err
			})
			return b
		}
		// The blocklist as the code before left it.
		if err := db.UnblockForTest(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.MigrateDownForTest(ctx, 4); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if !blocked(phoneA) {
			t.Error("a refused prohibited refund's number is not blocked after the migration")
		}
		if blocked(phoneB) {
			t.Error("an excessive refund's number is blocked after the migration")
		}
	})
}

// put writes a treasury change in one transaction of the number's.
func put(t *testing.T, db *storage.DB, phone string, c treasury.Change) {
	t.Helper()
	err := db.Treasury().Update(context.Background(), phone, func(tx treasury.Tx) error { return tx.Apply(context.Background(), c) })
	if err != nil {
		t.Fatal(err)
	}
}
