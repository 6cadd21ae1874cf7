package compliance

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// TermsText is the full certification and terms of SPEC §4.5, shown at
// GET /t/{program} and on each donation's page. Paragraphs are separated
// by blank lines; the first line is the title. Program-specific values are
// placeholders that Terms fills in: {CommitteeName} {Committee} {FECID}
// {PaidFor} {care} {keyword} {short_code} {amounts} {per_message} {month}
// {rolling_rule} {period_limit} {period}.
const TermsText = `Text donations to {CommitteeName}

{CommitteeName} ("{Committee}" in our texts) is registered with the Federal Election Commission as committee {FECID}. These terms apply to contributions to it by text message to short code {short_code}, and on our web pages.

Certification. By replying YES to give by text, or by ticking the certification box on our page, you certify that:
1. I am a United States citizen or a lawful permanent resident of the United States (a green card holder).
2. I am 18 years of age or older.
3. This contribution is made from my own funds, not those of another person, and I will not be reimbursed for it by anyone.
4. I am not a federal government contractor.
5. The mobile phone account this contribution is billed to is not paid for by a corporation, labor organization or other business.

Who may not give. Federal law forbids contributions from foreign nationals and from federal government contractors. A foreign national is anyone who is not a citizen or national of the United States and is not lawfully admitted for permanent residence; foreign governments, foreign political parties and foreign companies are foreign nationals too (52 U.S.C. 30121). A federal government contractor is a person or business that has a contract with the United States government, or one of its departments or agencies, to provide services, materials, equipment or supplies, or to buy or sell land or buildings, paid for from funds appropriated by Congress, from the start of negotiations until the contract is completed or the negotiations end (52 U.S.C. 30119). A person employed by a contractor is not a contractor and may give from their own funds.

Limits. Each text message gives one of these amounts: {amounts}, at most ${per_message} in one message. You may give at most ${month} per calendar month{rolling_rule}, and at most ${period_limit} per {period}, to {CommitteeName} by text. We refuse a gift that would pass a limit and tell you how much you can still give.

How you are charged. Nothing is charged until you reply YES and enter the PIN we text you, by text or on the donation page. The contribution is then billed to your mobile phone account and appears on your next mobile phone bill as a charge from short code {short_code}. Prepaid and business phone accounts cannot give by text. Message and data rates may apply.

Fees. Your mobile carrier and the processor keep fees from each contribution, so {CommitteeName} receives less than the amount you give. The full amount you give counts toward the limits above.

Refunds. To ask for a refund, or about a charge you do not recognize, contact {care}. A refund is credited to your mobile phone bill, and a refunded contribution no longer counts toward your limits.

Help and stopping. Text HELP to {short_code} for help. Text STOP to {short_code} at any time to stop all messages: we confirm once and send nothing more. Text {keyword} to {short_code} to give again.

Privacy. We use your phone number only to process your contributions, to send the messages you ask for and to keep the records federal law requires. We do not sell or share it for any other purpose.

Customer care: {care}.

Contributions to {CommitteeName} are not tax deductible for federal income tax purposes.

Paid for by {PaidFor}.
`

// Terms returns TermsText filled in for program p. The result is the exact
// text whose Version is recorded with each certification: any change to the
// program's committee, limits or amounts gives a new version.
func Terms(p Program) string {
	amounts := make([]string, len(p.PricePoints))
	for i, a := range p.PricePoints {
		amounts[i] = "$" + FormatAmount(a)
	}
	rolling := ""
	if p.Limits.Rolling {
		rolling = " and in any 31 days"
	}
	period := "election cycle (from the day after one general election through the next)"
	if p.Committee.Type == PAC {
		period = "calendar year"
	}
	keyword := ""
	if len(p.Keywords) > 0 {
		keyword = p.Keywords[0]
	}
	return strings.NewReplacer(
		"{CommitteeName}", p.Committee.Name,
		"{Committee}", p.Committee.DisplayName,
		"{FECID}", p.Committee.ID,
		"{PaidFor}", p.Committee.PaidFor,
		"{care}", p.Committee.Care,
		"{keyword}", keyword,
		"{short_code}", p.ShortCode,
		"{amounts}", strings.Join(amounts, ", "),
		"{per_message}", FormatAmount(p.Limits.PerMessage),
		"{month}", FormatAmount(p.Limits.Month),
		"{rolling_rule}", rolling,
		"{period_limit}", FormatAmount(p.Limits.Cycle),
		"{period}", period,
	).Replace(TermsText)
}

// Version identifies an exact text: sha256hex is the hex SHA-256 of its
// bytes, and version is "v1-" and the first 12 hex digits of it.
func Version(text string) (version, sha256hex string) {
	sum := sha256.Sum256([]byte(text))
	sha256hex = hex.EncodeToString(sum[:])
	return "v1-" + sha256hex[:12], sha256hex
}
