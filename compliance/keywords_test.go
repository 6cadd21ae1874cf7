package compliance_test

import (
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"!!!", ""},
		{" yes! ", "YES"},
		{"yes.", "YES"},
		{"YES!", "YES"},
		{"Stop.", "STOP"},
		{"stop", "STOP"},
		{"  Stop   all ", "STOP ALL"},
		{"opt\tout", "OPT OUT"},
		{"$10", "$10"},
		{"$10.", "$10"},
		{" $10.50!", "$10.50"},
		{"10.00", "10.00"},
		{"$ 10", "10"},
		{"10$", "10"},
		{"-10", "-10"},
		{"-$10", "-$10"},
		{"--10", "-10"},
		{"give 10", "GIVE 10"},
		{"give  \n 10", "GIVE 10"},
		{"'give'", "GIVE"},
		{"\"HELP\"", "HELP"},
		{"¡help!", "HELP"},
		{"👍 yes 👍", "YES"},
		{"! yes !", "YES"},
		{"don't text me!!", "DON'T TEXT ME"},
		{"\u00a0stop\u00a0", "STOP"}, // no-break spaces
		{"é", "É"},
		{"$", ""},
		{"$$10", "$10"},
		{"\xff stop \xfe", "STOP"},
	} {
		if got := compliance.Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKeywordFamilies(t *testing.T) {
	type family struct {
		name string
		is   func(string) bool
	}
	stop := family{"IsStop", compliance.IsStop}
	help := family{"IsHelp", compliance.IsHelp}
	optIn := family{"IsOptIn", compliance.IsOptIn}
	yes := family{"IsYes", compliance.IsYes}
	no := family{"IsNo", compliance.IsNo}
	all := []family{stop, help, optIn, yes, no}
	for _, tc := range []struct {
		text string
		in   *family // nil: none
	}{
		{"STOP", &stop}, {"STOPALL", &stop}, {"STOP ALL", &stop}, {"END", &stop}, {"CANCEL", &stop},
		{"UNSUBSCRIBE", &stop}, {"UNSUB", &stop}, {"QUIT", &stop}, {"REVOKE", &stop},
		{"OPT OUT", &stop}, {"OPTOUT", &stop},
		{"stop", &stop}, {"Stop.", &stop}, {" opt  out! ", &stop},
		{"HELP", &help}, {"INFO", &help}, {"help?", &help},
		{"START", &optIn}, {"UNSTOP", &optIn},
		{"YES", &yes}, {"Y", &yes}, {"YES!", &yes}, {"yes.", &yes},
		{"NO", &no}, {"N", &no}, {"no.", &no},
		{"", nil}, {"STOPWATCH", nil}, {"STOP TEXTING ME", nil}, {"GIVE", nil}, {"YEAH", nil},
		{"YESS", nil}, {"NOPE", nil}, {"HELP ME", nil}, {"OPT", nil}, {"OUT", nil}, {"STARTS", nil},
		{"10", nil},
	} {
		for _, f := range all {
			want := tc.in != nil && tc.in.name == f.name
			if got := f.is(tc.text); got != want {
				t.Errorf("%s(%q) = %v, want %v", f.name, tc.text, got, want)
			}
		}
	}
}

func TestLooksLikeStop(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"STOP TEXTING ME", true},
		{"REMOVE ME", true},
		{"PLEASE STOP", true},
		{"DONT TEXT ME", true},
		{"DON'T TEXT ME", true},
		{"DON’T TEXT ME", true},
		{"DO NOT TEXT ME", true},
		{"UNSUBSCRIBE ME", true},
		{"TAKE ME OFF", true},
		{"TAKE ME OFF YOUR LIST", true},
		{"STOP SENDING ME MESSAGES", true},
		{"STOP!!! NOW", true},
		{"STOP, PLEASE", true},
		{"I SAID STOP", true},
		{"OPT ME OUT", true},
		{"PLEASE OPT OUT", true},
		{"CANCEL MY SUBSCRIPTION", true},
		{"END THIS", true},
		{"QUIT IT", true},
		{"LEAVE ME ALONE", true},
		{"WRONG NUMBER", true},
		{"NO MORE TEXTS", true},
		{"REMOVE MY NUMBER", true},
		{"NOT INTERESTED", true},
		{Normalize("stop texting me!"), true},

		// The exact STOP family is IsStop's, not LooksLikeStop's.
		{"STOP", false},
		{"STOP ALL", false},
		{"END", false},
		{"CANCEL", false},
		{"OPT OUT", false},
		{"stop.", false},

		{"", false},
		{"STOPWATCH", false},
		{"GIVE", false},
		{"GIVE 10", false},
		{"YES", false},
		{"NO", false},
		{"HELP", false},
		{"10", false},
		{"THE END IS NEAR", false},
		{"WEEKEND", false},
		{"NON STOPPABLE", false},
		{"REMOVED", false},
		{"DONT KNOW", false},
		{"TEXT ME MORE", false},
		{"I WANT TO GIVE", false},
	} {
		if got := compliance.LooksLikeStop(tc.text); got != tc.want {
			t.Errorf("LooksLikeStop(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// Normalize is used unqualified above for readability.
var Normalize = compliance.Normalize

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in    string
		cents int64
		ok    bool
	}{
		{"10", 1000, true},
		{"$10", 1000, true},
		{"10.00", 1000, true},
		{"$10.5", 1050, true},
		{"10.50", 1050, true},
		{"$10.05", 1005, true},
		{"0.01", 1, true},
		{"5", 500, true},
		{"05", 500, true},
		{" 20 ", 2000, true},
		{"100000", 100_000_00, true},
		{"100000.00", 100_000_00, true},

		{"", 0, false},
		{"$", 0, false},
		{"0", 0, false},
		{"0.00", 0, false},
		{"$0", 0, false},
		{"-10", 0, false},
		{"-$10", 0, false},
		{"$-10", 0, false},
		{"+10", 0, false},
		{"10.001", 0, false},
		{"10.", 0, false},
		{".50", 0, false},
		{"10.5.0", 0, false},
		{"1e3", 0, false},
		{"10,00", 0, false},
		{"1,000", 0, false},
		{"100000.01", 0, false},
		{"1000000", 0, false},
		{"99999999999999999999999", 0, false},
		{"ten", 0, false},
		{"GIVE 10", 0, false},
		{"10 dollars", 0, false},
		{"$$10", 0, false},
		{"١٠", 0, false}, // Arabic-Indic digits
		{"0x10", 0, false},
		{"10 .50", 0, false},
	} {
		cents, ok := compliance.ParseAmount(tc.in)
		if cents != tc.cents || ok != tc.ok {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v", tc.in, cents, ok, tc.cents, tc.ok)
		}
	}
}

func TestSplitKeyword(t *testing.T) {
	for _, tc := range []struct{ in, word, rest string }{
		{"", "", ""},
		{"GIVE", "GIVE", ""},
		{"GIVE 10", "GIVE", "10"},
		{"GIVE $10.50", "GIVE", "$10.50"},
		{"STOP ALL NOW", "STOP", "ALL NOW"},
		{" GIVE  10 ", "GIVE", "10"},
	} {
		word, rest := compliance.SplitKeyword(tc.in)
		if word != tc.word || rest != tc.rest {
			t.Errorf("SplitKeyword(%q) = %q, %q; want %q, %q", tc.in, word, rest, tc.word, tc.rest)
		}
	}
}

func TestIsReserved(t *testing.T) {
	for _, w := range []string{"STOP", "END", "HELP", "INFO", "START", "UNSTOP", "YES", "Y", "NO", "N", "OPTOUT"} {
		if !compliance.IsReserved(w) {
			t.Errorf("IsReserved(%q) = false", w)
		}
	}
	for _, w := range []string{"GIVE", "DONATE", "STOPWATCH", ""} {
		if compliance.IsReserved(w) {
			t.Errorf("IsReserved(%q) = true", w)
		}
	}
}
