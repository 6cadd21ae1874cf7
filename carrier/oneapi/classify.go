package oneapi

import (
	"strconv"
	"strings"
)

// Classify maps a OneAPI messageId to the decline taxonomy that donations
// record (SPEC §12.2): "insufficient_credit" (POL1000), "spending_limit"
// (POL1001), "over_charge_limit" (POL0254), "refused_by_user" (POL0253),
// "billing_blocked" (POL0001), "charging_failed" (SVC0270),
// "unknown_subscriber" (SVC0004), "missing_original" (POL1005), and
// "declined" for any other code.
func Classify(code string) string {
	switch code {
	case "POL1000":
		return "insufficient_credit"
	case "POL1001":
		return "spending_limit"
	case "POL0254":
		return "over_charge_limit"
	case "POL0253":
		return "refused_by_user"
	case "POL0001":
		return "billing_blocked"
	case "SVC0270":
		return "charging_failed"
	case "SVC0004":
		return "unknown_subscriber"
	case "POL1005":
		return "missing_original"
	default:
		return "declined"
	}
}

// expand replaces the placeholders %1, %2, ... in a OneAPI exception text
// with the exception's variables. A placeholder without a variable stays as
// it is. Of a run of digits after '%', the longest prefix that names a
// variable is used, so "%12" with one variable is the variable then "2".
func expand(text string, vars []string) string {
	if len(vars) == 0 || !strings.Contains(text, "%") {
		return text
	}
	// Longer digit runs cannot name a variable; bounding them keeps a
	// hostile text from costing quadratic time.
	maxDigits := len(strconv.Itoa(len(vars)))
	var b strings.Builder
	for i := 0; i < len(text); {
		c := text[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		used := 0
		for l := min(j-(i+1), maxDigits); l > 0; l-- {
			n, err := strconv.Atoi(text[i+1 : i+1+l])
			if err == nil && n >= 1 && n <= len(vars) {
				b.WriteString(vars[n-1])
				used = 1 + l
				break
			}
		}
		if used == 0 {
			b.WriteByte('%')
			i++
			continue
		}
		i += used
	}
	return b.String()
}
