package compliance

import (
	"fmt"
	"strings"
)

// An Element is something a message text must say, whatever its wording.
type Element struct {
	// Name says what is missing, as CheckTemplates reports it.
	Name string
	// Forms are the ways of saying it, any one of which will do; a form is
	// a placeholder or a phrase, matched without regard to case or runs of
	// spaces and hyphens.
	Forms []string
	// Source is the rule that asks for it.
	Source string
}

// The elements the texts share.
var (
	elemAmount = Element{"the amount ({amount})", []string{"{amount}"},
		"SPEC §4.4; AO 2012-17 (the donor confirms the exact amount)"}
	elemBilled = Element{`that the gift is billed to the mobile account ("phone bill", "mobile account"...)`,
		[]string{"phone bill", "mobile bill", "wireless bill", "mobile account", "phone account", "wireless account"},
		"SPEC §4.4; AO 2012-17 (the charge appears on the donor's bill); CTIA Messaging Principles (cost disclosure)"}
	elemTerms = Element{"the terms link ({url})", []string{"{url}"},
		"SPEC §4.5 (every certification links to the full terms)"}
	elemAdult = Element{`the age certification ("18")`, []string{"18"},
		"AO 2012-17 certification; SPEC §4.5"}
	elemOwnFunds = Element{`the own-funds certification ("own funds")`, []string{"own funds", "own money"},
		"52 U.S.C. 30122 (contributions in the name of another); AO 2012-17 certification"}
	elemForeign = Element{`"foreign national"`, []string{"foreign national"},
		"52 U.S.C. 30121, 11 CFR 110.20; AO 2012-17 certification"}
	elemContractor = Element{`"contractor"`, []string{"contractor"},
		"52 U.S.C. 30119, 11 CFR 115.2; AO 2012-17 certification"}
	elemCare = Element{"the customer-care contact ({care})", []string{"{care}"},
		"CTIA Messaging Principles and Best Practices (HELP gives contact details); SPEC §4.4"}
	elemStopHow = Element{`how to stop ("STOP")`, []string{"stop"},
		"CTIA Messaging Principles and Best Practices (HELP gives opt-out instructions); SPEC §4.4"}
	elemFrequency = Element{`the message frequency ("msgs per gift", "msg freq"...)`,
		[]string{"msg freq", "message freq", "msgs per", "messages per", "texts per", "msgs/"},
		"CTIA Messaging Principles and Best Practices; CTIA Short Code Monitoring Handbook (HELP states the frequency)"}
	elemRates = Element{`"Msg&data rates may apply"`,
		[]string{"msg&data rates", "msg & data rates", "msg and data rates", "message and data rates", "message & data rates"},
		"CTIA Short Code Monitoring Handbook (HELP and the opt-in state message and data rates); SPEC §4.4"}
	elemUnsubscribed = Element{`a confirmation that the number is unsubscribed ("unsubscribed", "no more messages"...)`,
		[]string{"unsubscribed", "opted out", "no more messages", "no further messages", "no more texts"},
		"CTIA Messaging Principles and Best Practices; 47 CFR 64.1200(a)(12) (one confirmation of the opt-out)"}
	elemPaidFor = Element{`the disclaimer "Paid for by"`, []string{"paid for by"},
		"11 CFR 110.11 (disclaimers; small items and text messages)"}
	elemNotDeductible = Element{`"not tax deductible"`, []string{"not tax deductible", "not deductible"},
		"26 U.S.C. 6113 (political solicitations state that gifts are not deductible)"}
)

// Required lists, by a template's JSON name, the elements it must contain
// (SPEC §4.4, CTIA, 11 CFR 110.11). Templates not listed may say what they
// like within the other rules of CheckTemplates.
var Required = map[string][]Element{
	// Combined mode: one YES confirms the charge and certifies.
	"confirm": {elemAmount, elemBilled, elemAdult, elemOwnFunds, elemForeign, elemContractor, elemTerms},
	// Separate mode: the charge is confirmed, then a second YES certifies.
	"confirm_only": {elemAmount, elemBilled, elemTerms},
	"certify":      {elemAdult, elemOwnFunds, elemForeign, elemContractor, elemTerms},
	"help":         {elemCare, elemStopHow, elemFrequency, elemRates},
	"stop":         {elemUnsubscribed},
	"receipt":      {elemAmount, elemPaidFor, elemNotDeductible},
}

// Missing returns the elements of want that text lacks.
func Missing(text string, want []Element) []Element {
	norm := normalizeForms(text)
	var missing []Element
	for _, e := range want {
		found := false
		for _, f := range e.Forms {
			if strings.Contains(norm, normalizeForms(f)) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, e)
		}
	}
	return missing
}

// normalizeForms lowers s and turns each run of spaces and hyphens into one
// space, so that "Not tax-deductible" says "not tax deductible".
func normalizeForms(s string) string {
	s = strings.ToLower(s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '\n' || r == '\t' }), " ")
}

// checkRequired refuses a template that lacks an element Required asks of
// it, naming each missing element and its source.
func checkRequired(t namedTemplate) error {
	missing := Missing(t.text, Required[t.name])
	if len(missing) == 0 {
		return nil
	}
	var b strings.Builder
	for i, e := range missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", e.Name, e.Source)
	}
	return fmt.Errorf("lacks %s", b.String())
}
