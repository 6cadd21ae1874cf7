package compliance

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/gsm7"
)

// Segment sizes of GSM-7 text (3GPP TS 23.040): one message holds 160
// septets; a concatenated message spends 7 septets per part on its header
// and holds 153.
const (
	SingleSegmentSeptets = 160
	MultiSegmentSeptets  = 153
)

// ErrNotGSM7 is wrapped by the errors of Septets and Segments for text with
// a character outside the GSM 03.38 basic set and extension table.
var ErrNotGSM7 = errors.New("not GSM-7")

// gsmEncoder is the GSM 03.38 default alphabet and its extension table.
// It is built once at package initialisation: the library fills its tables
// lazily, which is not safe for concurrent first use.
var gsmEncoder = gsm7.NewEncoder()

// esc is the GSM-7 escape to the extension table; the library maps the
// rune U+001B to it, but as text it is a control character, not GSM-7.
const esc = '\x1b'

// septetsOf returns the septets each rune of text takes (1, or 2 for the
// extension table), or an error naming the first character that is not
// GSM-7.
func septetsOf(text string) ([]int, error) {
	sizes := make([]int, 0, len(text))
	for i, r := range text {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(text[i:]); size <= 1 {
				return nil, fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrNotGSM7, i)
			}
		}
		var g []byte
		var err error
		if r != esc {
			g, err = gsmEncoder.Encode([]byte(string(r)))
		}
		if r == esc || err != nil || len(g) == 0 {
			return nil, fmt.Errorf("%w: character %q (%U) at byte %d", ErrNotGSM7, r, r, i)
		}
		sizes = append(sizes, len(g))
	}
	return sizes, nil
}

// Septets returns the number of GSM-7 septets text takes: one per character
// of the GSM 03.38 basic set, two for the extension table (^ { } [ ] ~ | \ €
// and form feed). Text with any other character is an error that names the
// first such character.
func Septets(text string) (int, error) {
	sizes, err := septetsOf(text)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range sizes {
		n += s
	}
	return n, nil
}

// Segments returns how many SMS segments text takes in GSM-7: 0 for "", 1
// up to 160 septets, else parts of 153 septets. An extension character is
// never split across two parts, so a long text may need one part more than
// ceil(septets/153).
func Segments(text string) (int, error) {
	sizes, err := septetsOf(text)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	switch {
	case total == 0:
		return 0, nil
	case total <= SingleSegmentSeptets:
		return 1, nil
	}
	parts, used := 1, 0
	for _, s := range sizes {
		if used+s > MultiSegmentSeptets {
			parts++
			used = 0
		}
		used += s
	}
	return parts, nil
}
