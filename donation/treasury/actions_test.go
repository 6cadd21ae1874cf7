package treasury_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var errBeforeCommit = errors.New("injected: the transaction fails after writing, before its commit")

// failing is a store whose every transaction fails once fn has written all
// it meant to, just before the commit: as a crash there would.
type failing struct{ treasury.Store }

func (f failing) Update(ctx context.Context, phone string, fn func(treasury.Tx) error) error {
	return f.Store.Update(ctx, phone, func(tx treasury.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errBeforeCommit
	})
}

// state is everything a treasury step may change, as the store reads it.
type state struct {
	Refunds     []treasury.Refund
	Blocklist   []treasury.Block
	Forwards    []treasury.Forward
	Settlements []treasury.Settlement
	Donations   []donation.Donation
	Unforwarded []donation.Donation
}

func stateOf(t *testing.T, db *storage.DB, phone string) state {
	t.Helper()
	ctx := context.Background()
	var s state
	var err error
	for _, read := range []func() error{
		func() error { s.Refunds, err = db.Refunds(ctx, ""); return err },
		func() error { s.Blocklist, err = db.Blocklist(ctx, ""); return err },
		func() error { s.Forwards, err = db.Forwards(ctx, ""); return err },
		func() error { s.Settlements, err = db.Settlements(ctx); return err },
		func() error { s.Donations, err = db.Donations(ctx, phone); return err },
		func() error { s.Unforwarded, err = db.Unforwarded(ctx, ""); return err },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestActionCommittedWithChange: SPEC §11, issue 7. A refund request, a
// settlement import, a forward and a blocklist change each write exactly
// one action-log row, in the transaction of the change it records: when
// that transaction fails before its commit, neither the change nor the row
// is there.
func TestActionCommittedWithChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const phone = "+12125550100"
		ds := seed(t, db, phone, donation.Completed, donation.Completed, donation.Completed)
		file := header + fmt.Sprintf("%s,%s,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n", ds[2].ServerRef, ds[2].ID)
		settlement, err := treasury.ParseSettlement("SimMobile", "march.csv", strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Block(ctx, "C99999999", "+12125550199", "test", "test"); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			action string
			do     func(*treasury.Service) error
		}{
			{"refund.request", func(s *treasury.Service) error {
				_, err := s.Refund(ctx, ds[0].ID, treasury.Prohibited, time.Time{}, "treasurer")
				return err
			}},
			{"settlement.import", func(s *treasury.Service) error {
				_, err := s.ImportSettlement(ctx, settlement, "treasurer")
				return err
			}},
			{"forward.record", func(s *treasury.Service) error {
				_, err := s.RecordForward(ctx, "C99999999", received, nil, "WIRE-1", "treasurer")
				return err
			}},
			{"blocklist.add", func(s *treasury.Service) error {
				_, _, err := s.Block(ctx, "", "+12125550198", "fraud report", "treasurer")
				return err
			}},
			{"blocklist.remove", func(s *treasury.Service) error {
				_, err := s.Unblock(ctx, "C99999999", "+12125550199", "treasurer")
				return err
			}},
		} {
			svc := &treasury.Service{Carriers: &carrier{answer: donation.Charged}, Clock: &clock{now: received.Add(48 * time.Hour)}}
			before, _ := db.Actions(ctx)
			was := stateOf(t, db, phone)

			svc.Store = failing{db.Treasury()}
			if err := tt.do(svc); !errors.Is(err, errBeforeCommit) {
				t.Fatalf("%s, failing before its commit: %v", tt.action, err)
			}
			if after, _ := db.Actions(ctx); len(after) != len(before) {
				t.Errorf("%s, failed: %d action-log rows written, want none", tt.action, len(after)-len(before))
			}
			if now := stateOf(t, db, phone); !reflect.DeepEqual(now, was) {
				t.Errorf("%s, failed: the state changed:\n%+v\nwas\n%+v", tt.action, now, was)
			}

			svc.Store = db.Treasury()
			if err := tt.do(svc); err != nil {
				t.Fatalf("%s: %v", tt.action, err)
			}
			after, _ := db.Actions(ctx)
			if len(after) != len(before)+1 || after[len(after)-1].Action != tt.action || after[len(after)-1].Actor != "treasurer" {
				t.Errorf("%s: action log %+v, want one new row, %s by treasurer", tt.action, after[len(before):], tt.action)
			}
			if now := stateOf(t, db, phone); reflect.DeepEqual(now, was) {
				t.Errorf("%s: nothing changed", tt.action)
			}
		}
	})
}

// TestBlocklist: a treasurer's blocklist, per committee or global, stops
// the number at the keyword; adding again changes nothing; bad input
// changes nothing.
func TestBlocklist(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		seed(t, db, "+12125550100")
		svc := &treasury.Service{Store: db.Treasury(), Carriers: &carrier{}, Clock: &clock{now: received}}
		blocked := func(phone, committee string) bool {
			t.Helper()
			var b bool
			err := db.Update(ctx, phone, func(tx donation.Tx) error {
				var err error
				b, err = tx.Blocked(ctx, phone, committee)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		b, added, err := svc.Block(ctx, "C99999999", "(212) 555-0150", "foreign national", "treasurer")
		if err != nil || !added || b.Phone != "+12125550150" || b.Source != "treasurer" || !blocked("+12125550150", "C99999999") {
			t.Fatalf("block = %+v, %v, %v", b, added, err)
		}
		if _, added, err := svc.Block(ctx, "C99999999", "+12125550150", "again", "other"); err != nil || added {
			t.Errorf("block again: added %v, %v; want nothing changed", added, err)
		}
		if _, _, err := svc.Block(ctx, "", "+12125550151", "global", "treasurer"); err != nil || !blocked("+12125550151", "C12345678") {
			t.Errorf("global block: %v", err)
		}
		for _, tt := range []struct {
			committee, phone, reason string
			want                     donation.Kind
		}{
			{"C99999999", "+1555", "x", donation.Invalid},
			{"C99999999", "not a number", "x", donation.Invalid},
			{"C99999999", "+12125550152", "", donation.Invalid},
			{"C99999999", "+12125550152", strings.Repeat("x", 201), donation.Invalid},
			{"C00000000", "+12125550152", "x", donation.NotFound},
		} {
			if _, _, err := svc.Block(ctx, tt.committee, tt.phone, tt.reason, "treasurer"); donation.KindOf(err) != tt.want {
				t.Errorf("block %q %q %q: %v, want %s", tt.committee, tt.phone, tt.reason, err, tt.want)
			}
		}
		if acts, _ := db.Actions(ctx); len(acts) != 2 {
			t.Errorf("%d action-log rows, want 2 (the two blocks)", len(acts))
		}
		if _, err := svc.Unblock(ctx, "C99999999", "+12125550150", "treasurer"); err != nil || blocked("+12125550150", "C99999999") {
			t.Errorf("unblock: %v", err)
		}
		if _, err := svc.Unblock(ctx, "C99999999", "+12125550150", "treasurer"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("unblock again: %v, want not found", err)
		}
		if acts, _ := db.Actions(ctx); len(acts) != 3 || strings.Contains(acts[2].Detail, "+12125550150") {
			t.Errorf("action log %+v: want 3 rows, numbers masked", acts)
		}
	})
}
