package donation

import (
	"context"
	"errors"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// Store is the durable state the service needs. Storage implements it.
type Store interface {
	// Update runs fn in one transaction that serialises on the phone number
	// (across short codes, committees and servers) and commits when fn
	// returns nil. Any error rolls everything back.
	Update(ctx context.Context, phone string, fn func(Tx) error) error

	// Programs returns every program on a short code, active ones first;
	// none means the short code is not ours.
	Programs(ctx context.Context, shortCode string) ([]compliance.Program, error)
	// Program returns one program by id, active or not.
	Program(ctx context.Context, id string) (compliance.Program, error)

	// TermsText returns the full terms of a program in one version, as
	// kept with a certification to them, or an error wrapping ErrNotFound.
	TermsText(ctx context.Context, programID, version string) (string, error)
	// DonationByToken returns the donation whose page token is token, or
	// an error wrapping ErrNotFound.
	DonationByToken(ctx context.Context, token string) (Donation, error)

	// Charging returns the donations whose charge was posted but whose
	// outcome is not recorded yet (state charging).
	Charging(ctx context.Context) ([]Donation, error)
	// Due returns open donations whose expiry is at or before now.
	Due(ctx context.Context, now time.Time) ([]Donation, error)
}

// Tx is one open transaction of Store.Update.
type Tx interface {
	// RecordMO stores an inbound message; fresh is false when the gateway
	// already delivered this message id (nothing else may then change).
	RecordMO(ctx context.Context, mo MO) (fresh bool, err error)
	// CountMOs counts the MOs from a phone number received at or after
	// since, the one being handled included.
	CountMOs(ctx context.Context, phone string, since time.Time) (int, error)
	// Subscriber returns the subscriber, or a new idle one if none is stored.
	Subscriber(ctx context.Context, phone, shortCode string) (Subscriber, error)
	// Donation returns one donation by id, or ErrNotFound.
	Donation(ctx context.Context, id string) (Donation, error)
	// Usage returns what counts against the caps for a phone number and a
	// committee: completed contributions not refunded, and open
	// reservations, each at its date of receipt or reservation.
	Usage(ctx context.Context, phone, committeeID string) ([]compliance.Entry, error)
	// Blocked tells whether a number is on a committee's blocklist or the
	// global one.
	Blocked(ctx context.Context, phone, committeeID string) (bool, error)
	// Apply writes a step's result: the subscriber, the donations, the MTs
	// into the outbox, the certification record and the consent event.
	// moID is the message id that caused it (empty for timers and charges).
	Apply(ctx context.Context, r Result, now time.Time, moID string) error
}

// Clock tells the time; tests inject a fixed one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// OutboxMT is an MT waiting in, or sent from, the outbox.
type OutboxMT struct {
	ID        string // sorts in the order the MTs were written
	MT        MT
	Attempts  int
	CreatedAt time.Time
	// Unknown is set on a claimed MT when an earlier attempt may have
	// reached the gateway (a timeout, or a server that died mid-send): it
	// must be looked up at the gateway before it is sent again.
	Unknown bool
	// ClaimedUntil is when the claim of PendingMTs ends; no gateway call
	// about the MT may outlast it.
	ClaimedUntil time.Time
	// Cancel is set on an Unknown MT to a number that opted out since: it
	// is looked up at the gateway, and cancelled if it is not there,
	// never sent.
	Cancel bool
}

// SentMT is an MT the gateway took, and the message id it gave it.
type SentMT struct{ ID, SID string }

// Outbox is the queue of MTs written in the same transaction as the state
// change that caused them, then sent until the gateway accepts them.
type Outbox interface {
	// PendingMTs claims unsent MTs due at now for lease, oldest first and
	// at most one per number, so that several servers neither send an MT
	// twice nor a number's MTs out of order. MTs to a number that opted
	// out after they were queued are cancelled, not returned, except the
	// opt-out confirmation.
	PendingMTs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMT, error)
	// MarkAllSent records the gateway's acceptance of each MT and its
	// message id, all at once; it returns the ids of those that had left
	// the queue meanwhile.
	MarkAllSent(ctx context.Context, sent []SentMT, now time.Time) (gone []string, err error)
	// MarkRetry counts a failed attempt and schedules the next; unknown
	// says the attempt may have reached the gateway.
	MarkRetry(ctx context.Context, id, lastErr string, next time.Time, unknown bool) error
	// MarkFailed gives up on an MT the gateway refused for good.
	MarkFailed(ctx context.Context, id, reason string, now time.Time) error
	// MarkCancelled drops an MT to a number that opted out, known not to
	// have reached the gateway.
	MarkCancelled(ctx context.Context, id string, now time.Time) error
	// KnownSIDs returns which of sids are already recorded for an MT.
	KnownSIDs(ctx context.Context, sids []string) (map[string]bool, error)
}

// Sender is the messaging gateway.
type Sender interface {
	// Send hands one MT to the gateway and returns its message id. Errors
	// wrapping ErrUnsubscribed or ErrRejected are final; ErrNotSent means
	// the gateway surely did not take the MT; after any other error the
	// MT may or may not have been taken.
	Send(ctx context.Context, mt MT) (sid string, err error)
	// Sent returns the ids of the messages the gateway took, oldest first,
	// from mt.From to mt.To with exactly mt.Body, created at or after
	// since: how an MT whose send outcome is unknown is resolved.
	Sent(ctx context.Context, mt MT, since time.Time) ([]string, error)
}

var (
	// ErrUnsubscribed: the gateway says the recipient opted out (Twilio 21610).
	ErrUnsubscribed = errors.New("recipient unsubscribed")
	// ErrRejected: the gateway refused the message for good.
	ErrRejected = errors.New("message rejected")
	// ErrNotSent: the gateway answered, and did not take the message; it
	// may be sent again as it is.
	ErrNotSent = errors.New("message not taken")
)
