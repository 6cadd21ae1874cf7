package compliance

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone is wrapped by every error of ParsePhone.
var ErrInvalidPhone = errors.New("invalid phone number")

// maxPhoneInput bounds what ParsePhone hands to libphonenumber.
const maxPhoneInput = 64

// ParsePhone parses a phone number as a person would type it ("+1 201 555
// 0123", "(201) 555-0123"; numbers without a leading + are read as US
// numbers) and returns it in E.164 form ("+12015550123"). Numbers that
// libphonenumber does not consider valid (such as +1555... or +1999...), and
// numbers with an extension, are refused with an error wrapping
// ErrInvalidPhone, which shows the input only masked.
func ParsePhone(s string) (string, error) {
	num, err := parsePhone(s)
	if err != nil {
		return "", err
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// parsePhone is ParsePhone before formatting. Its errors say why the input
// is refused and show it masked, never in full: they reach the logs, and a
// phone number is personal data (SPEC §11).
func parsePhone(s string) (num *phonenumbers.PhoneNumber, err error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidPhone)
	case len(s) > maxPhoneInput:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidPhone, maxPhoneInput)
	case !utf8.ValidString(s):
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalidPhone)
	}
	defer func() {
		// libphonenumber is a large port; never let a bad input take the
		// MO handler down with it. The panic value may hold the input, so
		// only its type is kept.
		if r := recover(); r != nil {
			num, err = nil, fmt.Errorf("%w: %q: parser failure (%T)", ErrInvalidPhone, MaskPhone(s), r)
		}
	}()
	num, err = phonenumbers.Parse(s, "US")
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInvalidPhone, MaskPhone(s), parseReason(err))
	}
	if num.GetExtension() != "" {
		return nil, fmt.Errorf("%w: %q: has an extension", ErrInvalidPhone, MaskPhone(s))
	}
	if !phonenumbers.IsValidNumber(num) {
		return nil, fmt.Errorf("%w: %q: not a valid number for any region", ErrInvalidPhone, MaskPhone(s))
	}
	return num, nil
}

// parseReasons are libphonenumber's errors, fixed texts without the input.
var parseReasons = []error{
	phonenumbers.ErrInvalidCountryCode,
	phonenumbers.ErrNotANumber,
	phonenumbers.ErrTooShortNSN,
	phonenumbers.ErrTooShortAfterIDD,
	phonenumbers.ErrNumTooLong,
}

// parseReason is the libphonenumber error err if it is one of the known
// fixed texts; any other error might quote the input, so it is replaced.
func parseReason(err error) error {
	for _, known := range parseReasons {
		if errors.Is(err, known) {
			return known
		}
	}
	return errors.New("not a phone number")
}

// IsUS reports whether an E.164 number belongs to the United States: +1 is
// shared by the NANP countries, so +1416... (Toronto) is not US. Invalid
// numbers are not US.
func IsUS(e164 string) bool {
	if !strings.HasPrefix(e164, "+1") {
		return false
	}
	num, err := parsePhone(e164)
	return err == nil && phonenumbers.GetRegionCodeForNumber(num) == "US"
}

// MaskPhone hides all but the first two and the last four characters of a
// phone number: "+12015554321" -> "+1******4321". Inputs of six characters
// or fewer are masked entirely.
func MaskPhone(e164 string) string {
	r := []rune(e164)
	if len(r) <= 6 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:2]) + strings.Repeat("*", len(r)-6) + string(r[len(r)-4:])
}

// phoneLike is what MaskPhones takes for a phone number: 7 or more digits,
// perhaps after a '+', perhaps punctuated as people write numbers.
var phoneLike = regexp.MustCompile(`\+?\(?[0-9](?:[ ().-]{0,2}[0-9]){6,}`)

// MaskPhones masks, with MaskPhone, whatever looks like a phone number in a
// text from outside, such as a carrier's error message, which may quote the
// donor's number in any form ("tel:+12015554321", "(201) 555-4321").
// Other runs of 7 or more digits, dates written with dashes among them,
// are masked too: a mangled date costs less than a leaked number.
func MaskPhones(s string) string {
	return phoneLike.ReplaceAllStringFunc(s, MaskPhone)
}
