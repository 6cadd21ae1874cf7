package sim

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// behaviour is what the simulated carrier does with a number: the number
// plan of SPEC §12.3, on the +1 NPA 555-01xx numbers.
type behaviour int

const (
	ordinary   behaviour = iota // postpaid consumer line; charges succeed
	prepaid                     // +1201555 01xx: prepaid line, charges POL1000
	business                    // +1202555 01xx: business line, charges POL0001
	capped                      // +1203555 01xx: charges POL1001 "monthly"
	blocked                     // +1205555 01xx: charges POL0001 premium blocked
	lookupDown                  // +1206555 01xx: lookups answer 503
	lostAnswer                  // +1207555 01xx: the first charge applies, then times out
	flaky                       // +1208555 01xx: the first two charge attempts answer 500
)

// plan maps an NPA (area code) to the behaviour of its 555-01xx numbers.
var plan = map[string]behaviour{
	"201": prepaid,
	"202": business,
	"203": capped,
	"205": blocked,
	"206": lookupDown,
	"207": lostAnswer,
	"208": flaky,
}

// behaviourOf returns the plan's behaviour for an E.164 number.
func behaviourOf(phone string) behaviour {
	// "+1" NPA "55501" xx
	if len(phone) == 12 && strings.HasPrefix(phone, "+1") && phone[5:10] == "55501" {
		return plan[phone[2:5]] // ordinary when the NPA is not in the plan
	}
	return ordinary
}

// Line types a lookup answers.
const (
	linePostpaid = "postpaid"
	linePrepaid  = "prepaid"
	lineBusiness = "business"
)

// lookup is the answer of GET /lookup/v1/{tel}.
type lookup struct {
	Country  string `json:"country"`
	Carrier  string `json:"carrier"`
	LineType string `json:"lineType"`
}

// lineOf looks up an E.164 number. ok is false when libphonenumber does not
// consider it a valid number: the simulated network has no such subscriber.
func lineOf(phone string) (l lookup, ok bool) {
	region, ok := regionOf(phone)
	if !ok {
		return lookup{}, false
	}
	l = lookup{Country: region, Carrier: carrierOf(phone), LineType: linePostpaid}
	switch behaviourOf(phone) {
	case prepaid:
		l.LineType = linePrepaid
	case business:
		l.LineType = lineBusiness
	}
	return l, true
}

// regionOf returns the ISO 3166 region of a valid E.164 number ("US",
// "CA" for +1416..., "GB" for +44...), or false for an invalid number.
func regionOf(phone string) (region string, ok bool) {
	defer func() {
		// libphonenumber is a large port; a bad input must not take the
		// simulator down.
		if recover() != nil {
			region, ok = "", false
		}
	}()
	num, err := phonenumbers.Parse(phone, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	region = phonenumbers.GetRegionCodeForNumber(num)
	if region == "" || region == "001" { // non-geographic numbers
		region = "ZZ"
	}
	return region, true
}

// carrierOf names the simulated carrier of a number: SimMobile when its
// last digit is even, SimWireless when odd.
func carrierOf(phone string) string {
	if phone == "" || (phone[len(phone)-1]-'0')%2 == 0 {
		return SimMobile
	}
	return SimWireless
}

// parseTel returns the E.164 number of a OneAPI endUserId ("tel:+1...").
func parseTel(endUserID string) (phone string, ok bool) {
	phone, ok = strings.CutPrefix(endUserID, "tel:")
	if !ok || !e164.MatchString(phone) {
		return "", false
	}
	return phone, true
}

// telPath is the endUserId of phone as it appears in a URL path:
// "tel:%2B12125550100".
func telPath(phone string) string {
	return "tel:%2B" + strings.TrimPrefix(phone, "+")
}
