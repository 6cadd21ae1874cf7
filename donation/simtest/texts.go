package simtest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/shortcode/shortcode/compliance"
)

// The donors' vocabulary, each text with what it means (SPEC §4.2, §4.3):
// the simulation's own lists, so that the model does not learn what a text
// means from the code under test.
var (
	stopTexts     = []string{"STOP", "stop", "Stop.", "STOP ALL", "STOPALL", "END", "CANCEL", "UNSUBSCRIBE", "UNSUB", "QUIT", "REVOKE", "OPT OUT", "OPTOUT", " quit! "}
	inferredTexts = []string{"stop texting me", "remove me", "please stop", "Don't text me", "wrong number"}
	helpTexts     = []string{"HELP", "help", "INFO", "Help?"}
	optInTexts    = []string{"START", "start", "UNSTOP"}
	yesTexts      = []string{"YES", "Y", "yes.", "YES!", "yes"}
	noTexts       = []string{"NO", "no", "N"}
	otherTexts    = []string{"hello", "who is this", "'; DROP TABLE donations; --", "🙂 thanks", "maybe later", "ok", "GIVEME"}
)

func pick(rng *rand.Rand, texts []string) string { return texts[rng.IntN(len(texts))] }

func stopText(rng *rand.Rand) Text {
	if rng.IntN(5) == 0 {
		return Text{Body: pick(rng, inferredTexts), Class: "inferred_stop"}
	}
	return Text{Body: pick(rng, stopTexts), Class: "stop"}
}

func helpText(rng *rand.Rand) Text  { return Text{Body: pick(rng, helpTexts), Class: "help"} }
func optInText(rng *rand.Rand) Text { return Text{Body: pick(rng, optInTexts), Class: "optin"} }
func yesText(rng *rand.Rand) Text   { return Text{Body: pick(rng, yesTexts), Class: "yes"} }
func noText(rng *rand.Rand) Text    { return Text{Body: pick(rng, noTexts), Class: "no"} }
func otherText(rng *rand.Rand) Text { return Text{Body: pick(rng, otherTexts), Class: "other"} }

// amountText writes cents as a donor would: "10", "$10", "10.00".
func amountText(rng *rand.Rand, cents int64) Text {
	d := compliance.FormatAmount(cents)
	switch rng.IntN(4) {
	case 0:
		return Text{Body: "$" + d, Class: "other", Amount: cents, IsAmount: true}
	case 1:
		return Text{Body: fmt.Sprintf("%d.%02d", cents/100, cents%100), Class: "other", Amount: cents, IsAmount: true}
	}
	return Text{Body: d, Class: "other", Amount: cents, IsAmount: true, Digits: true}
}

// pinText is a PIN as typed.
func pinText(pin string) Text {
	t := Text{Body: pin, Class: "other", Digits: true}
	t.Amount, t.IsAmount = compliance.ParseAmount(pin) // digits also read as an amount
	return t
}

// keywordText is a program's keyword, alone or with an amount.
func keywordText(rng *rand.Rand, keyword, program string, cents int64) Text {
	kw := keyword
	switch rng.IntN(4) {
	case 0:
		kw = strings.ToLower(kw)
	case 1:
		kw = strings.ToUpper(kw[:1]) + strings.ToLower(kw[1:])
		if cents == 0 {
			kw += "!" // punctuation around the text goes; inside it, it stays
		}
	}
	t := Text{Body: kw, Class: "keyword", Program: program}
	if cents > 0 {
		a := amountText(rng, cents)
		t.Body += " " + a.Body
		t.Amount, t.IsAmount = a.Amount, true
	}
	return t
}
