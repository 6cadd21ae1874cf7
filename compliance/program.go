// Package compliance holds the rules a text-donation program must obey, as
// pure code: program validation (SPEC §3), keyword families (§4.3), message
// templates and GSM-7 segments (§4.4), contribution caps (§5) and phone
// numbers. It knows nothing of SQL, HTTP or the conversation.
package compliance

import (
	"time"
)

// CommitteeType decides how a committee aggregates contributions: per
// election cycle (candidate) or per calendar year (pac/party).
type CommitteeType string

// The committee types.
const (
	Candidate CommitteeType = "candidate" // authorized committee: per election cycle
	PAC       CommitteeType = "pac"       // PAC or party committee: per calendar year
)

// Committee is the FEC-registered recipient of contributions.
type Committee struct {
	ID           string        `json:"id"`            // FEC ID, ^C[0-9]{8}$
	Type         CommitteeType `json:"type"`          // candidate or pac
	Name         string        `json:"name"`          // full registered name
	DisplayName  string        `json:"display_name"`  // short name used in texts, e.g. "Demo PAC"
	PaidFor      string        `json:"paid_for"`      // "Paid for by" line
	Care         string        `json:"care"`          // customer-care contact, e.g. a phone number
	GoodStanding bool          `json:"good_standing"` // operator-set (AO 2012-26)
	// PreviousElection and NextElection bound the election cycle of a
	// candidate committee: the cycle runs from the day after
	// PreviousElection through NextElection. Zero values mean the US
	// general elections around the contribution date.
	PreviousElection time.Time `json:"previous_election,omitzero"`
	NextElection     time.Time `json:"next_election,omitzero"`
	// TimeZone names the IANA zone used for calendar months, years and
	// report dates. Empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Treasurer and Address are the committee's as its FEC reports state
	// them: the cover record of a .fec file needs both (SPEC §9).
	Treasurer Person  `json:"treasurer,omitzero"`
	Address   Address `json:"address,omitzero"`
}

// Person is a name as FEC forms write it.
type Person struct {
	Last   string `json:"last"`
	First  string `json:"first"`
	Middle string `json:"middle,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Suffix string `json:"suffix,omitempty"`
}

// Address is a US mailing address as FEC forms write it.
type Address struct {
	Street1 string `json:"street1"`
	Street2 string `json:"street2,omitempty"`
	City    string `json:"city"`
	State   string `json:"state"` // two letters
	ZIP     string `json:"zip"`   // 5 or 9 digits
}

// Mode is how a program collects the certification.
type Mode string

const (
	// Combined: one YES confirms the charge and certifies (AO 2012-17 sample).
	Combined Mode = "combined"
	// Separate: a second YES certifies.
	Separate Mode = "separate"
)

// Limits are the contribution caps of SPEC §5.1, in cents.
type Limits struct {
	PerMessage int64 `json:"per_message"` // largest single charge
	Month      int64 `json:"month"`       // per calendar month
	Rolling    bool  `json:"rolling"`     // strict mode: also any rolling 31 days
	Cycle      int64 `json:"cycle"`       // per election cycle (candidate) or calendar year (pac)
}

// DefaultLimits are the conservative defaults of SPEC §5.1.
var DefaultLimits = Limits{PerMessage: 2000, Month: 5000, Rolling: true, Cycle: 20000}

// Program is one committee's text-donation campaign on one short code.
type Program struct {
	ID          string    `json:"id"`
	ShortCode   string    `json:"short_code"`
	Keywords    []string  `json:"keywords"` // upper case, first is the one advertised
	Committee   Committee `json:"committee"`
	PricePoints []int64   `json:"price_points"` // cents, ascending
	Limits      Limits    `json:"limits"`
	Templates   Templates `json:"templates"`
	// TermsURL is the full-terms page as printed in texts, without scheme
	// to save characters (e.g. "sc.example/t/give").
	TermsURL string `json:"terms_url"`
	// DonationURL is the base of the per-donation page; the donation's token
	// is appended (e.g. "sc.example/d/").
	DonationURL   string        `json:"donation_url"`
	ConfirmExpiry time.Duration `json:"confirm_expiry"`
	PINExpiry     time.Duration `json:"pin_expiry"`
	Mode          Mode          `json:"mode"`
	MaxPINTries   int           `json:"max_pin_tries"`
	MaxReprompts  int           `json:"max_reprompts"`
	Active        bool          `json:"active"`
	// AggregatorFee is this program's own fee (SPEC §6.3), replacing the
	// carrier file's; nil keeps the carrier file's.
	AggregatorFee *Fee `json:"aggregator_fee,omitempty"`
}

// Fee is a fee on each contribution: basis points of the gross plus a
// fixed amount in cents.
type Fee struct {
	BPS   int64 `json:"bps"`
	Fixed int64 `json:"fixed_cents"`
}

// TakesDonations reports whether p may open a donation now: it is active
// and its committee is in good standing (AO 2012-26). Withdrawing the
// standing deactivates a committee's programs, and every keyword checks
// both, so that a program stored active under a committee out of good
// standing still takes nothing.
func (p Program) TakesDonations() bool { return p.Active && p.Committee.GoodStanding }

// Templates are a program's message texts (SPEC §4.4). Placeholders:
// {Committee} {amount} {url} {pin} {PaidFor} {care} {remaining} {keyword},
// and the program's settings {MonthCap} {PINMinutes} {PricePoints}, which a
// text must use rather than state them literally (CheckTemplates).
type Templates struct {
	AmountPrompt string `json:"amount_prompt"`
	Confirm      string `json:"confirm"`      // combined mode: confirms and certifies
	ConfirmOnly  string `json:"confirm_only"` // separate mode: confirms the charge
	Certify      string `json:"certify"`      // separate mode: the certification
	PIN          string `json:"pin"`
	Receipt      string `json:"receipt"`
	Help         string `json:"help"`
	Stop         string `json:"stop"`
	OptIn        string `json:"opt_in"`
	Decline      string `json:"decline"`
	LimitReached string `json:"limit_reached"`
	OverLimit    string `json:"over_limit"` // names the remaining allowance
	Expired      string `json:"expired"`
	Blocked      string `json:"blocked"` // blocklisted or not a mobile line
	NotUS        string `json:"not_us"`
	Prepaid      string `json:"prepaid"`
	Business     string `json:"business"`
	LookupFailed string `json:"lookup_failed"`
	WrongPIN     string `json:"wrong_pin"`
	PINLocked    string `json:"pin_locked"`
	Cancelled    string `json:"cancelled"`
	Hint         string `json:"hint"`
	Processing   string `json:"processing"`
}

// DefaultTemplates are the texts of SPEC §4.4, with the settings they state
// as placeholders: for the defaults of SPEC §3 and §5.1 they read word for
// word as the SPEC's.
var DefaultTemplates = Templates{
	AmountPrompt: "{Committee}: thanks! Reply {PricePoints} to give that many dollars, billed to your mobile account. Msg&data rates may apply. HELP for help, STOP to end.",
	Confirm:      "Reply YES to give ${amount} to {Committee} on your phone bill & certify 18+, own funds, not foreign national or fed contractor. Terms {url}",
	ConfirmOnly:  "Reply YES to give ${amount} to {Committee}, billed to your mobile account. Terms {url} Msg&data rates may apply. Reply NO to cancel.",
	Certify:      "Reply YES to certify you are 18+, giving your own funds, not a foreign national or federal contractor. Terms {url}",
	PIN:          "Your PIN is {pin}. Reply with it, or enter it at {url}, to finish your ${amount} gift to {Committee}. It expires in {PINMinutes} min. Msg&data rates may apply.",
	Receipt:      "Thank you! ${amount} to {Committee} will appear on your mobile bill. Not tax deductible. Paid for by {PaidFor}. HELP for help, STOP to end.",
	Help:         "{Committee} text gifts, up to ${MonthCap}/mo on your mobile bill. 4 msgs per gift. Msg&data rates may apply. Help: {care}. Reply STOP to end.",
	Stop:         "{Committee}: you are unsubscribed and will get no more messages. Help: {care}.",
	OptIn:        "{Committee}: you are subscribed again. Text {keyword} to give. HELP for help, STOP to end.",
	Decline:      "{Committee}: your carrier could not bill this gift, so no charge was made. Thank you for trying.",
	LimitReached: "{Committee}: you have reached the text-giving limit, so no charge was made. Thank you for your support!",
	OverLimit:    "{Committee}: that is over your text-giving limit; you can give up to ${remaining} more. Reply a smaller amount. No charge was made.",
	Expired:      "{Committee}: that request expired and no charge was made. Text {keyword} to start again.",
	Blocked:      "{Committee}: this number cannot give by text, so no charge was made. Help: {care}.",
	NotUS:        "{Committee}: text giving is open to US mobile numbers only, so no charge was made. Help: {care}.",
	Prepaid:      "{Committee}: prepaid phones cannot give by text, so no charge was made. Thank you for your support!",
	Business:     "{Committee}: phones on business accounts cannot give by text, so no charge was made. Help: {care}.",
	LookupFailed: "{Committee}: we could not check your number just now, so no charge was made. Please try again later.",
	WrongPIN:     "{Committee}: that PIN is not right, no charge was made. Reply with the PIN we sent, or NO to cancel.",
	PINLocked:    "{Committee}: too many wrong PINs, so your gift was cancelled and no charge was made. Text {keyword} to start again.",
	Cancelled:    "{Committee}: OK, no donation was made. Text {keyword} to start again.",
	Hint:         "Text {keyword} to donate to {Committee}. HELP for help, STOP to end.",
	Processing:   "{Committee}: your gift is being processed. We will text you when it is done.",
}
