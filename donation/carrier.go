package donation

import (
	"context"
	"errors"
	"github.com/shortcode/shortcode/compliance"
)

// LineType is the kind of account behind a phone number.
type LineType string

const (
	Postpaid LineType = "postpaid"
	Prepaid  LineType = "prepaid"
	Business LineType = "business"
	Landline LineType = "landline"
)

// Line is what a number lookup tells (SPEC §6.1).
type Line struct {
	Country string   // ISO 3166 alpha-2, "US"
	Carrier string   // the carrier's name, which picks its billing endpoint
	Type    LineType // postpaid, prepaid, business or landline
}

// Looker looks a number up at the carrier side. An error means the lookup
// failed, and screening then fails closed.
type Looker interface {
	Lookup(ctx context.Context, phone string) (Line, error)
}

// ChargeRequest is what a carrier needs to bill one donation.
type ChargeRequest struct {
	DonationID    string // the business reference (referenceCode)
	Correlator    string // the retry key (clientCorrelator), persisted before the call
	Phone         string // E.164
	Amount        int64  // cents
	Carrier       string // the carrier whose endpoint bills it
	CommitteeID   string
	CommitteeName string
	Channel       string // "SMS" or "WEB"
}

// Outcome of a charge attempt or status query.
type Outcome string

const (
	Charged        Outcome = "charged"
	ChargeDeclined Outcome = "declined"
	// Unknown: timeout, 5xx, connection lost. Never charge again blindly.
	Unknown Outcome = "unknown"
	// NotCharged: a status query found no charge under the reference, so
	// posting it again with the same correlator cannot bill twice.
	NotCharged Outcome = "not_charged"
)

// ChargeResult is a carrier's answer.
type ChargeResult struct {
	Outcome   Outcome
	ServerRef string // the carrier's reference (serverReferenceCode) when charged
	Code      string // the carrier's decline code, e.g. "POL1001"
	Reason    string // the decline taxonomy name and the carrier's text
}

// RefundRequest credits a charged donation back to the donor's bill.
type RefundRequest struct {
	DonationID        string // the charged donation
	Reference         string // a new referenceCode for the refund
	Correlator        string // the refund's retry key, persisted before the call
	Phone             string
	Amount            int64
	Carrier           string
	OriginalServerRef string // the charge's serverReferenceCode
	CommitteeID       string
	CommitteeName     string
}

// RefundResult is a carrier's answer to a refund.
type RefundResult struct {
	Outcome   Outcome // Charged here means "refunded"; ChargeDeclined "refused"
	ServerRef string
	Code      string
	Reason    string
}

// Biller posts charges and refunds to one carrier's billing API. A non-nil
// error means the outcome is unknown.
type Biller interface {
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	// Status asks what became of a charge posted under req's reference.
	Status(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
}

// ErrUnknownCarrier: no billing endpoint is configured for a carrier.
var ErrUnknownCarrier = errors.New("unknown carrier")

// Fees is a carrier's fee schedule: the carrier's share and the
// aggregator's fee, in basis points of the gross, plus a fixed fee in cents.
type Fees struct {
	CarrierBPS      int64 `json:"carrier_fee_bps"`
	AggregatorBPS   int64 `json:"aggregator_fee_bps"`
	AggregatorFixed int64 `json:"aggregator_fee_fixed"`
}

// Apply returns the fees on a gross amount, rounded half up to the cent.
func (f Fees) Apply(gross int64) (carrier, aggregator int64) {
	return bps(gross, f.CarrierBPS), bps(gross, f.AggregatorBPS) + f.AggregatorFixed
}

// For returns the fees of a contribution to program p: the program's own
// aggregator fee when it sets one (SPEC §6.3), else the carrier file's.
func (f Fees) For(p compliance.Program) Fees {
	if a := p.AggregatorFee; a != nil {
		f.AggregatorBPS, f.AggregatorFixed = a.BPS, a.Fixed
	}
	return f
}

func bps(amount, points int64) int64 { return (amount*points + 5000) / 10000 }

// Carriers routes billing to the donor's carrier.
type Carriers interface {
	// Biller returns the billing client of a carrier, or an error wrapping
	// ErrUnknownCarrier.
	Biller(carrier string) (Biller, error)
	// Fees returns a carrier's fee schedule, or an error wrapping
	// ErrUnknownCarrier.
	Fees(carrier string) (Fees, error)
}
