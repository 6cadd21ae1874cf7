package simtest

import (
	"context"
	"errors"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
)

// errCrash is what every call of a crashed process returns: the process
// is gone, and the simulation restarts the service.
var errCrash = errors.New("simulated crash: the process died")

// incarnation is one life of the service's process: the ports it is given
// (store, outbox, gateway, carriers, lookups) wrapped so that the process
// can die at a chosen call, before or after the call takes effect, and so
// that nothing it does after its death reaches the world. A restart makes
// a new incarnation; the store and the world stay.
type incarnation struct {
	s    *sim
	dead bool
	// crashIn counts down the calls before the crash; zero: no crash armed.
	crashIn int
	// crashAfter: the call at which the process dies takes effect first
	// (committed, sent, charged) and its answer is lost.
	crashAfter bool
	// committed is set when the process died after its last Update
	// committed: the MO it was handling is durable but not acknowledged.
	committed bool
	// claimed are the MTs of the last PendingMTs not sent yet, in order:
	// how a Send is matched to its outbox id (the workers run one MT at a
	// time).
	claimed []donation.OutboxMT
	// claims counts the MTs claimed by the last PendingMTs.
	claims int
}

// arm makes the process die at its n-th call from now.
func (inc *incarnation) arm(n int, after bool) { inc.crashIn, inc.crashAfter = n, after }

// call runs one call of the process: not at all when it is dead, or when it
// dies now before the call; with its answer lost when it dies just after.
func (inc *incarnation) call(what string, fn func() error) error {
	if inc.dead {
		return errCrash
	}
	if inc.crashIn > 0 {
		inc.crashIn--
		if inc.crashIn == 0 {
			inc.dead = true
			if !inc.crashAfter {
				inc.s.w.fault("crash_before_" + what)
				return errCrash
			}
			err := fn()
			inc.committed = err == nil && what == "update"
			inc.s.w.fault("crash_after_" + what)
			return errCrash
		}
	}
	return fn()
}

// store is donation.Store over the real database, for one incarnation.
type store struct{ inc *incarnation }

func (st store) db() *storage.DB { return st.inc.s.db }

func (st store) Update(ctx context.Context, phone string, fn func(donation.Tx) error) error {
	st.inc.s.dirty[phone] = true
	return st.inc.call("update", func() error { return st.db().Update(ctx, phone, fn) })
}

func (st store) Programs(ctx context.Context, shortCode string) (ps []compliance.Program, err error) {
	err = st.inc.call("read", func() error { ps, err = st.db().Programs(ctx, shortCode); return err })
	return ps, err
}

func (st store) Program(ctx context.Context, id string) (p compliance.Program, err error) {
	err = st.inc.call("read", func() error { p, err = st.db().Program(ctx, id); return err })
	return p, err
}

func (st store) TermsText(ctx context.Context, programID, version string) (s string, err error) {
	err = st.inc.call("read", func() error { s, err = st.db().TermsText(ctx, programID, version); return err })
	return s, err
}

func (st store) DonationByToken(ctx context.Context, token string) (d donation.Donation, err error) {
	err = st.inc.call("read", func() error { d, err = st.db().DonationByToken(ctx, token); return err })
	return d, err
}

func (st store) Charging(ctx context.Context) (ds []donation.Donation, err error) {
	err = st.inc.call("read", func() error { ds, err = st.db().Charging(ctx); return err })
	return ds, err
}

func (st store) Due(ctx context.Context, now time.Time) (ds []donation.Donation, err error) {
	err = st.inc.call("read", func() error { ds, err = st.db().Due(ctx, now); return err })
	return ds, err
}

// outbox is donation.Outbox over the real database, for one incarnation.
type outbox struct{ inc *incarnation }

func (o outbox) PendingMTs(ctx context.Context, now time.Time, limit int, lease time.Duration) (mts []donation.OutboxMT, err error) {
	err = o.inc.call("claim", func() error {
		mts, err = o.inc.s.db.PendingMTs(ctx, now, limit, lease)
		return err
	})
	// Claims change no subscriber: only Update does, and marks the
	// phone for the simulation to look at.
	o.inc.claimed, o.inc.claims = mts, len(mts)
	return mts, err
}

func (o outbox) MarkAllSent(ctx context.Context, sent []donation.SentMT, now time.Time) (gone []string, err error) {
	err = o.inc.call("mark", func() error { gone, err = o.inc.s.db.MarkAllSent(ctx, sent, now); return err })
	return gone, err
}

func (o outbox) MarkCancelled(ctx context.Context, id string, now time.Time) error {
	return o.inc.call("mark", func() error { return o.inc.s.db.MarkCancelled(ctx, id, now) })
}

func (o outbox) MarkRetry(ctx context.Context, id, lastErr string, next time.Time, unknown bool) error {
	return o.inc.call("mark", func() error { return o.inc.s.db.MarkRetry(ctx, id, lastErr, next, unknown) })
}

func (o outbox) MarkFailed(ctx context.Context, id, reason string, now time.Time) error {
	return o.inc.call("mark", func() error { return o.inc.s.db.MarkFailed(ctx, id, reason, now) })
}

func (o outbox) KnownSIDs(ctx context.Context, sids []string) (known map[string]bool, err error) {
	err = o.inc.call("read", func() error { known, err = o.inc.s.db.KnownSIDs(ctx, sids); return err })
	return known, err
}

// sender is donation.Sender through the simulated gateway.
type sender struct{ inc *incarnation }

func (s sender) Send(_ context.Context, mt donation.MT) (sid string, err error) {
	id := s.inc.outboxID(mt)
	err = s.inc.call("send", func() error { sid, err = s.inc.s.gw.send(mt, id); return err })
	return sid, err
}

func (s sender) Sent(_ context.Context, mt donation.MT, since time.Time) (sids []string, err error) {
	err = s.inc.call("read", func() error { sids, err = s.inc.s.gw.sent(mt, since); return err })
	return sids, err
}

// outboxID finds the claimed MT a Send is about: the first claimed one with
// its text (earlier ones were resolved without a send, or failed first).
func (inc *incarnation) outboxID(mt donation.MT) string {
	for i, m := range inc.claimed {
		if m.MT.To == mt.To && m.MT.From == mt.From && m.MT.Body == mt.Body {
			inc.claimed = inc.claimed[i+1:]
			return m.ID
		}
	}
	inc.s.violation("a send of an MT that was not claimed: to %s %q", mt.To, mt.Body)
	return ""
}

// billers is donation.Carriers through the simulated carriers.
type billers struct{ inc *incarnation }

func (b billers) Biller(name string) (donation.Biller, error) {
	c, err := b.inc.s.carriers.get(name)
	if err != nil {
		return nil, err
	}
	return biller{b.inc, c}, nil
}

func (b billers) Fees(name string) (donation.Fees, error) {
	c, err := b.inc.s.carriers.get(name)
	if err != nil {
		return donation.Fees{}, err
	}
	return c.fees, nil
}

type biller struct {
	inc *incarnation
	c   *carrier
}

func (b biller) Charge(_ context.Context, req donation.ChargeRequest) (out donation.ChargeResult, err error) {
	err = b.inc.call("charge", func() error { out, err = b.c.charge(req); return err })
	return out, err
}

func (b biller) Status(_ context.Context, req donation.ChargeRequest) (out donation.ChargeResult, err error) {
	err = b.inc.call("read", func() error { out, err = b.c.status(req); return err })
	return out, err
}

func (b biller) Refund(context.Context, donation.RefundRequest) (donation.RefundResult, error) {
	return donation.RefundResult{}, errors.New("the simulation makes no refunds")
}

// lookups is donation.Looker through the simulated lookups.
type lookups struct{ inc *incarnation }

func (l lookups) Lookup(_ context.Context, phone string) (ln donation.Line, err error) {
	err = l.inc.call("read", func() error { ln, err = l.inc.s.looker.lookup(phone); return err })
	return ln, err
}
