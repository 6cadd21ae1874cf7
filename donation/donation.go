// Package donation is the donor conversation: the per-subscriber state
// machine of SPEC §4 and the service that applies it to one inbound message
// at a time. It knows no SQL and no HTTP; storage and gateways plug in
// through the interfaces defined here.
package donation

import (
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// State is a subscriber's place in the conversation (SPEC §4.1).
type State string

const (
	Idle           State = "idle"
	ChoosingAmount State = "choosing_amount"
	Confirming     State = "confirming"
	Certifying     State = "certifying"
	VerifyingPIN   State = "verifying_pin"
	Charging       State = "charging"
)

// Status is where a donation stands. Only Open donations hold a reservation
// against the caps; Completed ones count as contributions.
type Status string

const (
	Open      Status = "open"
	Completed Status = "completed"
	Declined  Status = "declined"
	Expired   Status = "expired"
	Cancelled Status = "cancelled"
)

// Subscriber is one phone number on one short code.
type Subscriber struct {
	Phone      string // E.164
	ShortCode  string
	State      State
	ProgramID  string // program of the open donation, or the last one used
	DonationID string // open donation, empty when idle
	OptedOut   bool
	// Reprompts counts unrecognised replies in the current step.
	Reprompts int
	// HintAt is when the "text GIVE to donate" hint was last sent.
	HintAt time.Time
	// ExpiredNotice is set when an open request expired silently; the next
	// message gets the "that request expired" text.
	ExpiredNotice bool
}

// Donation is one attempt to give.
type Donation struct {
	ID          string
	ProgramID   string
	CommitteeID string
	Phone       string
	ShortCode   string
	Amount      int64 // cents; zero until chosen
	Status      Status
	CreatedAt   time.Time
	// ReservedAt is when the amount was reserved against the caps (the
	// confirmation prompt was sent); zero while choosing the amount.
	ReservedAt time.Time
	// ReceivedAt is the date of receipt: when the donor confirmed and
	// certified (FEC Q&A on AO 2012-17).
	ReceivedAt  time.Time
	CertifiedAt time.Time
	ExpiresAt   time.Time
	// PINHash is the hex SHA-256 of the donation id and the PIN; the PIN
	// itself is never stored.
	PINHash  string
	PINTries int
	// Token names the donation's web page (/d/{token}).
	Token string
	// Carrier is the donor's carrier, from the lookup at the keyword; it
	// picks the billing endpoint.
	Carrier string
	// ChargePostedAt, Correlator: recorded before the billing call.
	ChargePostedAt time.Time
	Correlator     string
	// ChargeAttempts counts billing calls whose outcome was unknown;
	// NextChargeAt is when to ask again.
	ChargeAttempts int
	NextChargeAt   time.Time
	ServerRef      string // carrier's reference for a completed charge
	DeclineCode    string // carrier's code, e.g. POL1001
	DeclineReason  string
	// CarrierFee and AggregatorFee are recorded with the charge (estimated
	// from the fee schedule; settlement replaces the carrier's with its
	// actual fee). Reports show contributions gross; fees are the
	// committee's operating expenditures, never netted out.
	CarrierFee    int64
	AggregatorFee int64
	FinishedAt    time.Time // completed, declined, expired or cancelled
	// RefundedAt is set when a refund of the contribution was credited.
	RefundedAt time.Time
}

// Reserved reports whether the donation holds a reservation against the caps.
func (d *Donation) Reserved() bool { return d.Status == Open && d.Amount > 0 && !d.ReservedAt.IsZero() }

// MO is an inbound (mobile-originated) message as the gateway delivered it.
type MO struct {
	Gateway   string // e.g. "twilio"
	MessageID string // the gateway's id, unique per gateway
	From      string // E.164
	To        string // short code
	Body      string
	At        time.Time
}

// MT is an outbound (mobile-terminated) message.
type MT struct {
	To         string // E.164
	From       string // short code
	Body       string
	DonationID string // empty when not about a donation
	Kind       MTKind
	// Redacted is Body with its secrets (a PIN, a page token) masked: what
	// is kept once the MT has left the queue. Empty when Body has none.
	Redacted string
}

// MTKind tells apart the MTs the sending rules treat differently.
type MTKind string

const (
	// Reply is any MT but the opt-out confirmation.
	Reply MTKind = ""
	// OptOutConfirmation is the one text a number gets after STOP (SPEC
	// §10 (4)); it is sent although the number has opted out.
	OptOutConfirmation MTKind = "opt_out"
)

// DeliveryStatus is what the gateway reports of an MT it took, in our words;
// each gateway's adapter maps its own vocabulary onto these.
type DeliveryStatus string

const (
	// DeliveryUnknown is a status the adapter does not know.
	DeliveryUnknown DeliveryStatus = "unknown"
	// DeliveryQueued: the gateway holds the MT.
	DeliveryQueued DeliveryStatus = "queued"
	// DeliverySent: the gateway handed the MT to the carrier.
	DeliverySent DeliveryStatus = "sent"
	// DeliveryDelivered: the carrier confirmed delivery to the phone.
	DeliveryDelivered DeliveryStatus = "delivered"
	// DeliveryUndelivered: the carrier could not deliver the MT.
	DeliveryUndelivered DeliveryStatus = "undelivered"
	// DeliveryFailed: the gateway could not send the MT.
	DeliveryFailed DeliveryStatus = "failed"
)

// Certification is one record of the certification log (SPEC §8).
type Certification struct {
	At          time.Time
	ProgramID   string
	CommitteeID string
	Phone       string
	DonationID  string
	Channel     string // "sms" or "web"
	MessageID   string // the MO that carried the YES (sms)
	// IP and UserAgent are the request's that certified on the web; the
	// log publishes only their digest under the record's salt.
	IP, UserAgent string
	TextVersion   string
	TextSHA256    string // hex SHA-256 of the exact text the donor accepted
	TermsVersion  string
	TermsSHA256   string
	Amount        int64
	// Text and Terms are the exact texts whose hashes are recorded, kept
	// once each so that an auditor can read what a donor accepted.
	Text, Terms string
	// Salt is the random salt of the record's commitment to the phone
	// number: the public log holds the commitment, not the number.
	Salt [16]byte
}

// PINVerification is the evidence of a correct PIN (SPEC §8): when it came,
// on which channel, and from where.
type PINVerification struct {
	DonationID string
	At         time.Time
	Channel    string // "sms" or "web"
	MessageID  string // sms: the MO that carried the PIN
	// IP and UserAgent are the page's request (web).
	IP, UserAgent string
}

// ConsentEvent records an opt-out or re-opt-in, kept for review.
type ConsentEvent struct {
	Phone     string
	ShortCode string
	At        time.Time
	Kind      string // "opt_out" or "opt_in"
	MessageID string
	Text      string // the MO text that caused it
	// Inferred is set when the text was not a listed keyword but looked
	// like a revocation ("stop texting me").
	Inferred bool
}

// EffectKind names a side effect of one step, for logs, metrics and tests.
type EffectKind string

const (
	Keyword EffectKind = "keyword"  // a program keyword opened a request
	OverCap EffectKind = "over_cap" // a cap refused an amount (Effect.Cap)
	Reserve EffectKind = "reserve"
	Release EffectKind = "release"
	Certify EffectKind = "certify"
	Charge  EffectKind = "charge"
	OptOut  EffectKind = "opt_out"
	OptIn   EffectKind = "opt_in"
)

// Effect is one side effect of a step on one donation (or none).
type Effect struct {
	Kind       EffectKind
	DonationID string
	Amount     int64
	Cap        compliance.Cap // the cap that refused Amount, for OverCap
}

// Result is everything one step changes; storage commits it in one
// transaction.
type Result struct {
	Subscriber    Subscriber
	Donations     []Donation // created or changed, in order
	MTs           []MT
	Certification *Certification
	// Verification is the evidence of a correct PIN.
	Verification *PINVerification
	Consent      *ConsentEvent
	Effects      []Effect
	// DropQueued cancels the subscriber's MTs still waiting in the outbox
	// (STOP): after an opt-out only its confirmation may go out.
	DropQueued bool
}

// Errors returned by the service.
var (
	ErrUnknownShortCode = NewError(NotFound, "unknown short code")
	ErrDuplicate        = NewError(Conflict, "duplicate message")
	ErrNotFound         = NewError(NotFound, "not found")
)

// Usage is a phone number's history with one committee, as the caps count it.
type Usage = []compliance.Entry
