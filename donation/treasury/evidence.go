package treasury

import (
	"fmt"
	"regexp"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Evidence is a donation with what shows it was made as the law asks: its
// certification record, whether its PIN was verified, its charge, and the
// money after it.
type Evidence struct {
	Donation donation.Donation
	// Certification is the record the donor's YES appended to the
	// certification log (SPEC §8), with its sequence number; nil until then.
	Certification    *donation.Certification
	CertificationSeq int64
	Refunds          []Refund // oldest first
	RemittedAt       time.Time
	RemittedNet      int64
	ForwardID        string // "" until forwarded
}

// PINVerified tells whether the donor gave the right PIN: a charge is
// posted only after it.
func (e Evidence) PINVerified() bool { return !e.Donation.ChargePostedAt.IsZero() }

// State is where the donation stands, in one word: open, charging,
// completed, refunded, declined, expired or cancelled.
func (e Evidence) State() string {
	d := e.Donation
	switch {
	case d.Status == donation.Open && !d.ChargePostedAt.IsZero():
		return "charging"
	case d.Status == donation.Completed && !d.RefundedAt.IsZero():
		return "refunded"
	}
	return string(d.Status)
}

// Query selects donations, oldest first. Zero fields select everything.
type Query struct {
	// Phone is a full E.164 number, or, when Masked, one as MaskPhone
	// shows it ("+1******4321"), which matches every number of its length
	// with those first and last characters.
	Phone  string
	Masked bool
	// CommitteeID selects one committee's donations.
	CommitteeID string
	// From and To select donations received (or, never received, created)
	// at or after From and before To.
	From, To time.Time
	// Limit bounds how many are returned; zero means DefaultLimit.
	Limit int
}

// Limits of a Query.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// maskedPhone is a number as compliance.MaskPhone shows it.
var maskedPhone = regexp.MustCompile(`^\+[0-9]\*{1,10}[0-9]{4}$`)

// ParsePhoneQuery reads a phone number to search by: a full number (in any
// form ParsePhone takes), or a masked one as MaskPhone writes it. Errors
// are of kind donation.Invalid and never show the input unmasked.
func ParsePhoneQuery(s string) (phone string, masked bool, err error) {
	if maskedPhone.MatchString(s) {
		return s, true, nil
	}
	phone, err = compliance.ParsePhone(s)
	if err != nil {
		return "", false, fmt.Errorf("phone: %w (or masked as +1******4321)", err)
	}
	return phone, false, nil
}
