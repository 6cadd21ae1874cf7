package compliance

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalize prepares an MO text for keyword matching (SPEC §4.2): it trims
// the text, drops the punctuation, symbols and other non-letter, non-digit
// runes around it, collapses inner runs of white space to one space and
// upper-cases the rest. A leading "$" directly before a digit is kept, so that
// "$10" stays an amount, and so is a leading "-" before a digit or "$", so
// that "-10" stays a (refused) negative amount rather than becoming 10.
// Normalize is idempotent.
//
//	" yes! " -> "YES", "Stop." -> "STOP", "$10" -> "$10", "give  10" -> "GIVE 10"
func Normalize(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	start := len(text)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isAlnum(r) || keptSign(r, text[i+size:]) {
			start = i
			break
		}
		i += size
	}
	text = text[start:]
	end := 0
	for i := len(text); i > 0; {
		r, size := utf8.DecodeLastRuneInString(text[:i])
		if isAlnum(r) {
			end = i
			break
		}
		i -= size
	}
	// A run of punctuation trimmed at either end may leave white space
	// inside it at the new ends ("! yes !" -> "yes"); Fields already made
	// the inner runs single spaces.
	return strings.ToUpper(strings.TrimSpace(text[:end]))
}

// keptSign reports whether a leading r followed by rest is a sign that
// Normalize keeps: "$" before a digit, "-" before a digit or "$digit".
func keptSign(r rune, rest string) bool {
	next, size := utf8.DecodeRuneInString(rest)
	switch r {
	case '$':
		return isASCIIDigit(next)
	case '-':
		return isASCIIDigit(next) || (next == '$' && keptSign('$', rest[size:]))
	}
	return false
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

// wordSet is a set of normalized texts.
type wordSet map[string]bool

func newWordSet(words ...string) wordSet {
	s := make(wordSet, len(words))
	for _, w := range words {
		s[w] = true
	}
	return s
}

// has reports whether the normalized form of text is in the set. Inputs
// that are already normalized are unchanged by Normalize.
func (s wordSet) has(text string) bool { return s[Normalize(text)] }

var (
	// stopWords is the STOP family of SPEC §4.3 (CTIA; FCC 24-24).
	stopWords   = newWordSet("STOP", "STOPALL", "STOP ALL", "END", "CANCEL", "UNSUBSCRIBE", "UNSUB", "QUIT", "REVOKE", "OPT OUT", "OPTOUT")
	helpWords   = newWordSet("HELP", "INFO")
	optInWords  = newWordSet("START", "UNSTOP")
	yesWords    = newWordSet("YES", "Y")
	noWords     = newWordSet("NO", "N")
	reservedSet = func() wordSet {
		s := wordSet{}
		for _, set := range []wordSet{stopWords, helpWords, optInWords, yesWords, noWords} {
			for w := range set {
				s[w] = true
			}
		}
		return s
	}()
)

// IsStop reports whether norm is exactly one of the STOP family of SPEC
// §4.3: STOP, STOPALL, STOP ALL, END, CANCEL, UNSUBSCRIBE, UNSUB, QUIT,
// REVOKE, OPT OUT, OPTOUT.
func IsStop(norm string) bool { return stopWords.has(norm) }

// IsHelp reports whether norm is HELP or INFO.
func IsHelp(norm string) bool { return helpWords.has(norm) }

// IsOptIn reports whether norm is START or UNSTOP.
func IsOptIn(norm string) bool { return optInWords.has(norm) }

// IsYes reports whether norm is YES or Y ("yes.", "YES!" normalize to YES).
func IsYes(norm string) bool { return yesWords.has(norm) }

// IsNo reports whether norm is NO or N.
func IsNo(norm string) bool { return noWords.has(norm) }

// IsReserved reports whether norm is a word the conversation gives a fixed
// meaning (STOP, HELP, opt-in, YES and NO families), and so cannot be a
// program keyword.
func IsReserved(norm string) bool { return reservedSet.has(norm) }

var (
	// stopAnywhere are words that mean revocation wherever they stand as a
	// whole word: "PLEASE STOP", "I SAID UNSUBSCRIBE".
	stopAnywhere = newWordSet("STOP", "STOPALL", "UNSUBSCRIBE", "UNSUB", "OPTOUT", "REVOKE", "STOPP", "STAHP", "UNSUSCRIBE", "UNSUBCRIBE", "UNSUBSRIBE")
	// stopFirst are STOP-family words that mean revocation when they open a
	// longer text ("END THIS", "QUIT IT", "CANCEL MY SUBSCRIPTION") but are
	// too common to match anywhere.
	stopFirst = newWordSet("END", "CANCEL", "QUIT")
	// stopPhrases are word sequences that mean revocation anywhere in a text.
	stopPhrases = [][]string{
		{"OPT", "OUT"},
		{"OPT", "ME", "OUT"},
		{"REMOVE", "ME"},
		{"REMOVE", "MY", "NUMBER"},
		{"REMOVE", "THIS", "NUMBER"},
		{"REMOVE", "MY", "PHONE"},
		{"DELETE", "MY", "NUMBER"},
		{"DELETE", "ME"},
		{"LOSE", "MY", "NUMBER"},
		{"TAKE", "ME", "OFF"},
		{"TAKE", "MY", "NUMBER", "OFF"},
		{"DONT", "TEXT"},
		{"DONT", "MESSAGE"},
		{"DONT", "CONTACT"},
		{"DONT", "SEND"},
		{"DO", "NOT", "TEXT"},
		{"DO", "NOT", "MESSAGE"},
		{"DO", "NOT", "CONTACT"},
		{"DO", "NOT", "SEND"},
		{"NO", "MORE", "TEXTS"},
		{"NO", "MORE", "TEXT"},
		{"NO", "MORE", "MESSAGES"},
		{"NO", "MORE", "MSGS"},
		{"NO", "MORE", "SMS"},
		{"LEAVE", "ME", "ALONE"},
		{"WRONG", "NUMBER"},
		{"WRONG", "NUM"},
		{"WRONG", "PERSON"},
		{"NOT", "INTERESTED"},
	}
)

// LooksLikeStop reports whether norm reads like a request to stop that is
// not one of the exact STOP-family words ("STOP TEXTING ME", "REMOVE ME",
// "PLEASE STOP", "DON'T TEXT ME", "UNSUBSCRIBE ME", "TAKE ME OFF", "WRONG
// NUMBER"). SPEC §4.3 treats these as opt-outs too, and logs them for review.
// It matches whole words only ("STOPWATCH" is not "STOP"), ignores
// apostrophes and other punctuation inside the text, and returns false for
// texts IsStop accepts.
func LooksLikeStop(norm string) bool {
	if IsStop(norm) {
		return false
	}
	words := stopTokens(norm)
	if len(words) == 0 {
		return false
	}
	if stopFirst[words[0]] && len(words) > 1 {
		return true
	}
	for _, w := range words {
		if stopAnywhere[w] {
			return true
		}
	}
	for _, ph := range stopPhrases {
		if containsRun(words, ph) {
			return true
		}
	}
	return false
}

// stopTokens splits a text into upper-case words of letters and digits;
// apostrophes are dropped inside words ("DON'T" -> "DONT") and every other
// non-letter, non-digit rune separates words.
func stopTokens(text string) []string {
	text = strings.ToUpper(text)
	text = strings.NewReplacer("'", "", "’", "", "‘", "", "`", "").Replace(text)
	return strings.FieldsFunc(text, func(r rune) bool { return !isAlnum(r) })
}

// containsRun reports whether phrase occurs as consecutive words in words.
func containsRun(words, phrase []string) bool {
	for i := 0; i+len(phrase) <= len(words); i++ {
		match := true
		for j, p := range phrase {
			if words[i+j] != p {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// maxAmountCents is the largest amount ParseAmount accepts: $100,000. The
// caps refuse far less; this only bounds absurd input.
const maxAmountCents = 100_000_00

// ParseAmount parses a dollar amount as a donor would text it ("10", "$10",
// "10.00", "$10.5", "10.50", surrounding white space allowed) into cents.
// It refuses zero, negatives, more than two decimals, thousands separators,
// exponents, anything but ASCII digits, and amounts over $100,000.
func ParseAmount(s string) (cents int64, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allASCIIDigits(whole) || !allASCIIDigits(frac) {
		return 0, false
	}
	if hasDot && (len(frac) == 0 || len(frac) > 2) {
		return 0, false
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 6 { // > 999999 dollars: refused below anyway, and no overflow
		return 0, false
	}
	var dollars int64
	for _, c := range []byte(whole) {
		dollars = dollars*10 + int64(c-'0')
	}
	var fc int64
	for i, c := range []byte(frac) {
		d := int64(c - '0')
		if i == 0 {
			d *= 10
		}
		fc += d
	}
	cents = dollars*100 + fc
	if cents <= 0 || cents > maxAmountCents {
		return 0, false
	}
	return cents, true
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SplitKeyword splits a normalized text into its first word and the rest:
// "GIVE 10" -> ("GIVE", "10"), "GIVE" -> ("GIVE", "").
func SplitKeyword(norm string) (word, rest string) {
	norm = strings.TrimSpace(norm)
	i := strings.IndexFunc(norm, unicode.IsSpace)
	if i < 0 {
		return norm, ""
	}
	return norm[:i], strings.TrimSpace(norm[i:])
}
