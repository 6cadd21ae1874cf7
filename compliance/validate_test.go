package compliance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

func TestFECID(t *testing.T) {
	for id, ok := range map[string]bool{
		"C99999999": true, "C00123456": true,
		"": false, "C9999999": false, "C999999999": false, "c99999999": false,
		"H99999999": false, "C9999999A": false, " C99999999": false, "C99999999\n": false,
	} {
		if got := compliance.FECID.MatchString(id); got != ok {
			t.Errorf("FECID.MatchString(%q) = %v, want %v", id, got, ok)
		}
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestCommitteeValidate(t *testing.T) {
	good := compliance.DemoProgram("").Committee
	for _, tc := range []struct {
		name   string
		change func(*compliance.Committee)
		want   []string // substrings of the error; none means valid
	}{
		{"OK", func(*compliance.Committee) {}, nil},
		{"OKPAC", func(c *compliance.Committee) { c.Type = compliance.PAC }, nil},
		{"OKTimeZone", func(c *compliance.Committee) { c.TimeZone = "America/New_York" }, nil},
		{"OKElections", func(c *compliance.Committee) {
			c.PreviousElection, c.NextElection = day(2024, 11, 5), day(2026, 11, 3)
		}, nil},
		{"OKPACIgnoresElections", func(c *compliance.Committee) {
			c.Type = compliance.PAC
			c.PreviousElection = day(2026, 11, 3)
		}, nil},
		{"ErrFECID", func(c *compliance.Committee) { c.ID = "C123" }, []string{`FEC ID "C123"`}},
		{"ErrType", func(c *compliance.Committee) { c.Type = "party" }, []string{`type "party"`}},
		{"ErrTypeEmpty", func(c *compliance.Committee) { c.Type = "" }, []string{`type ""`}},
		{"ErrNameRequired", func(c *compliance.Committee) { c.Name = " " }, []string{"name is empty"}},
		{"ErrDisplayNameRequired", func(c *compliance.Committee) { c.DisplayName = "" }, []string{"display name is empty"}},
		{"ErrPaidForRequired", func(c *compliance.Committee) { c.PaidFor = "" }, []string{"paid-for-by line is empty"}},
		{"ErrCareRequired", func(c *compliance.Committee) { c.Care = "" }, []string{"customer-care contact is empty"}},
		{"ErrNotInGoodStanding", func(c *compliance.Committee) { c.GoodStanding = false }, []string{"good standing"}},
		{"ErrTimeZone", func(c *compliance.Committee) { c.TimeZone = "Mars/Olympus_Mons" }, []string{`time zone "Mars/Olympus_Mons"`}},
		{"ErrElectionsReversed", func(c *compliance.Committee) {
			c.PreviousElection, c.NextElection = day(2026, 11, 3), day(2024, 11, 5)
		}, []string{"previous election 2026-11-03 is not before next election 2024-11-05"}},
		{"ErrElectionsEqual", func(c *compliance.Committee) {
			c.PreviousElection, c.NextElection = day(2026, 11, 3), day(2026, 11, 3)
		}, []string{"is not before"}},
		{"ErrOnlyOneElection", func(c *compliance.Committee) { c.NextElection = day(2026, 11, 3) }, []string{"both previous and next"}},
		{"ErrAllAtOnce", func(c *compliance.Committee) { *c = compliance.Committee{} }, []string{
			`committee ""`, "FEC ID", "type", "name is empty", "display name is empty",
			"paid-for-by line is empty", "customer-care contact is empty", "good standing",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			checkErr(t, c.Validate(), tc.want)
		})
	}
}

// checkErr checks that err is nil when want is empty, else that it
// contains each of want.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestProgramValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*compliance.Program)
		want   []string
	}{
		{"OK", func(*compliance.Program) {}, nil},
		{"OKSeparate", func(p *compliance.Program) { p.Mode = compliance.Separate }, nil},
		{"OKSixDigitShortCode", func(p *compliance.Program) { p.ShortCode = "622622" }, nil},
		{"OKKeywords", func(p *compliance.Program) { p.Keywords = []string{"GIVE", "DONATE", "GIVE2"} }, nil},
		{"OKOnePricePoint", func(p *compliance.Program) { p.PricePoints = []int64{2000} }, nil},
		{"OKNoReprompts", func(p *compliance.Program) { p.MaxReprompts = 0 }, nil},
		{"OKNotRolling", func(p *compliance.Program) { p.Limits.Rolling = false }, nil},
		{"OKEqualCaps", func(p *compliance.Program) { p.Limits = compliance.Limits{PerMessage: 2000, Month: 2000, Cycle: 2000} }, nil},
		{"OKInactive", func(p *compliance.Program) { p.Active = false }, nil},

		{"ErrIDRequired", func(p *compliance.Program) { p.ID = "" }, []string{"id is empty"}},
		{"ErrShortCodeShort", func(p *compliance.Program) { p.ShortCode = "6226" }, []string{`short code "6226"`}},
		{"ErrShortCodeLong", func(p *compliance.Program) { p.ShortCode = "6226200" }, []string{"short code"}},
		{"ErrShortCodeLetters", func(p *compliance.Program) { p.ShortCode = "GIVE1" }, []string{"short code"}},
		{"ErrNoKeyword", func(p *compliance.Program) { p.Keywords = nil }, []string{"no keyword"}},
		{"ErrKeywordLowerCase", func(p *compliance.Program) { p.Keywords = []string{"give"} }, []string{`keyword "give"`}},
		{"ErrKeywordTwoWords", func(p *compliance.Program) { p.Keywords = []string{"GIVE NOW"} }, []string{`keyword "GIVE NOW"`}},
		{"ErrKeywordPunctuation", func(p *compliance.Program) { p.Keywords = []string{"GIVE!"} }, []string{`keyword "GIVE!"`}},
		{"ErrKeywordEmpty", func(p *compliance.Program) { p.Keywords = []string{""} }, []string{`keyword ""`}},
		{"ErrKeywordDigits", func(p *compliance.Program) { p.Keywords = []string{"10"} }, []string{`keyword "10"`}},
		{"ErrKeywordStop", func(p *compliance.Program) { p.Keywords = []string{"STOP"} }, []string{`keyword "STOP" is a reserved word`}},
		{"ErrKeywordOptOut", func(p *compliance.Program) { p.Keywords = []string{"OPTOUT"} }, []string{"reserved"}},
		{"ErrKeywordHelp", func(p *compliance.Program) { p.Keywords = []string{"INFO"} }, []string{"reserved"}},
		{"ErrKeywordStart", func(p *compliance.Program) { p.Keywords = []string{"UNSTOP"} }, []string{"reserved"}},
		{"ErrKeywordYes", func(p *compliance.Program) { p.Keywords = []string{"Y"} }, []string{"reserved"}},
		{"ErrKeywordNo", func(p *compliance.Program) { p.Keywords = []string{"NO"} }, []string{"reserved"}},
		{"ErrKeywordDuplicate", func(p *compliance.Program) { p.Keywords = []string{"GIVE", "GIVE"} }, []string{`keyword "GIVE" is listed twice`}},
		{"ErrCommittee", func(p *compliance.Program) { p.Committee.GoodStanding = false }, []string{`committee "C99999999"`, "good standing"}},
		{"ErrNoPricePoints", func(p *compliance.Program) { p.PricePoints = nil }, []string{"no price points"}},
		{"ErrPricePointZero", func(p *compliance.Program) { p.PricePoints = []int64{0, 500} }, []string{"price point $0 is not positive"}},
		{"ErrPricePointNegative", func(p *compliance.Program) { p.PricePoints = []int64{-500} }, []string{"price point $-5 is not positive"}},
		{"ErrPricePointOverCap", func(p *compliance.Program) { p.PricePoints = []int64{500, 2500} }, []string{"price point $25 is over the per-message cap $20"}},
		{"ErrPricePointsDescending", func(p *compliance.Program) { p.PricePoints = []int64{1000, 500} }, []string{"not strictly ascending: $5 after $10"}},
		{"ErrPricePointsRepeated", func(p *compliance.Program) { p.PricePoints = []int64{500, 500} }, []string{"not strictly ascending"}},
		{"ErrPerMessageZero", func(p *compliance.Program) { p.Limits.PerMessage = 0 }, []string{"per-message cap $0 is not positive"}},
		{"ErrMonthZero", func(p *compliance.Program) { p.Limits.Month = 0 }, []string{"monthly cap $0 is not positive"}},
		{"ErrCycleNegative", func(p *compliance.Program) { p.Limits.Cycle = -1 }, []string{"cycle/year cap $-0.01 is not positive"}},
		{"ErrPerMessageOverMonth", func(p *compliance.Program) {
			p.Limits.PerMessage, p.Limits.Month = 6000, 5000
			p.PricePoints = []int64{500}
		}, []string{"per-message cap $60 is over the monthly cap $50"}},
		{"ErrMonthOverCycle", func(p *compliance.Program) { p.Limits.Month = 30000 }, []string{"monthly cap $300 is over the cycle/year cap $200"}},
		{"ErrConfirmExpiry", func(p *compliance.Program) { p.ConfirmExpiry = 0 }, []string{"confirmation expiry 0s"}},
		{"ErrPINExpiry", func(p *compliance.Program) { p.PINExpiry = -time.Minute }, []string{"PIN expiry -1m0s"}},
		{"ErrMode", func(p *compliance.Program) { p.Mode = "" }, []string{`mode ""`}},
		{"ErrMaxPINTries", func(p *compliance.Program) { p.MaxPINTries = 0 }, []string{"max PIN tries 0"}},
		{"ErrMaxReprompts", func(p *compliance.Program) { p.MaxReprompts = -1 }, []string{"max reprompts -1"}},
		{"ErrTermsURL", func(p *compliance.Program) { p.TermsURL = "" }, []string{"terms URL is empty"}},
		{"ErrDonationURL", func(p *compliance.Program) { p.DonationURL = "" }, []string{"donation URL is empty"}},
		{"ErrTemplates", func(p *compliance.Program) { p.Committee.DisplayName = strings.Repeat("N", 30) }, []string{"template confirm"}},
		{"ErrTermsHostTooLong", func(p *compliance.Program) { p.TermsURL = "very-long-host-name.example.com/t/demo" }, []string{"template confirm"}},
		{"ErrAllAtOnce", func(p *compliance.Program) { *p = compliance.Program{} }, []string{
			`program ""`, "id is empty", "short code", "no keyword", "committee", "no price points",
			"per-message cap", "monthly cap", "confirmation expiry", "PIN expiry", "mode", "max PIN tries",
			"terms URL", "donation URL", "template confirm: empty",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compliance.DemoProgram("")
			tc.change(&p)
			checkErr(t, p.Validate(), tc.want)
		})
	}
}

func TestCheckShortCodes(t *testing.T) {
	prog := func(id, code string, keywords ...string) compliance.Program {
		p := compliance.DemoProgram("")
		p.ID, p.ShortCode, p.Keywords = id, code, keywords
		return p
	}
	for _, tc := range []struct {
		name     string
		programs []compliance.Program
		want     []string
	}{
		{"OKEmpty", nil, nil},
		{"OKOne", []compliance.Program{prog("a", "62262", "GIVE")}, nil},
		{"OKSharedShortCodeUniqueKeywords", []compliance.Program{
			prog("a", "62262", "GIVE", "DONATE"), prog("b", "62262", "HELPUS"),
		}, nil},
		{"OKSameKeywordOtherShortCode", []compliance.Program{
			prog("a", "62262", "GIVE"), prog("b", "50555", "GIVE"),
		}, nil},
		{"OKSameProgramListedTwice", []compliance.Program{
			prog("a", "62262", "GIVE"), prog("a", "62262", "GIVE"),
		}, nil},
		{"ErrKeywordTwice", []compliance.Program{
			prog("a", "62262", "GIVE"), prog("b", "62262", "DONATE", "GIVE"),
		}, []string{`keyword "GIVE" on short code 62262 maps to both program "a" and program "b"`}},
		{"ErrKeywordTwiceAnyCase", []compliance.Program{
			prog("a", "62262", "GIVE"), prog("b", "62262", "give"),
		}, []string{`keyword "GIVE" on short code 62262`}},
		{"ErrEveryConflict", []compliance.Program{
			prog("a", "62262", "GIVE", "DONATE"), prog("b", "62262", "GIVE"), prog("c", "62262", "DONATE"),
		}, []string{`"GIVE" on short code 62262 maps to both program "a" and program "b"`,
			`"DONATE" on short code 62262 maps to both program "a" and program "c"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, compliance.CheckShortCodes(tc.programs), tc.want)
		})
	}
}
