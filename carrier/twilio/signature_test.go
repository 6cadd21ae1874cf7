package twilio_test

import (
	"net/url"
	"testing"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// specURL, specToken, specParams and specSignature are the test vector of
// SPEC §12.1 (Twilio's documented example).
const (
	specURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	specToken     = "12345"
	specSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

func specParams() url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
}

func TestSignature(t *testing.T) {
	if got := twilio.Signature(specToken, specURL, specParams()); got != specSignature {
		t.Fatalf("Signature = %q, want %q", got, specSignature)
	}
}

func TestSignatureRepeatedKeys(t *testing.T) {
	// Distinct values of a repeated name are appended sorted, each with its
	// name, as Twilio's libraries do: order and repeats do not matter.
	a := twilio.Signature("tok", "https://x.test/h", url.Values{"A": {"1", "2"}, "B": {"3"}})
	b := twilio.Signature("tok", "https://x.test/h", url.Values{"A": {"2", "1", "2"}, "B": {"3"}})
	if a != b {
		t.Error("the order or repetition of values changed the signature")
	}
	// Equivalent to signing the concatenation A1A2B3 as a single parameter
	// named "A" with value "1A2B3".
	c := twilio.Signature("tok", "https://x.test/h", url.Values{"A": {"1A2B3"}})
	if a != c {
		t.Errorf("repeated values: got %q, want %q", a, c)
	}
}

func TestValidSignature(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		url    string
		params url.Values
		got    string
		want   bool
	}{
		{"OK", specToken, specURL, specParams(), specSignature, true},
		{"WrongToken", "54321", specURL, specParams(), specSignature, false},
		{"WrongURL", specToken, "https://mycompany.com/myapp.php?foo=1&bar=3", specParams(), specSignature, false},
		{"ExtraParam", specToken, specURL, func() url.Values { p := specParams(); p.Set("Body", "x"); return p }(), specSignature, false},
		{"Empty", specToken, specURL, specParams(), "", false},
		{"Truncated", specToken, specURL, specParams(), specSignature[:10], false},
		{"EmptyToken", "", specURL, specParams(), twilio.Signature("", specURL, specParams()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := twilio.ValidSignature(tt.token, tt.url, tt.params, tt.got); got != tt.want {
				t.Errorf("ValidSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkSignature measures the check of one MO webhook's signature: the
// form as Twilio posts it, HMAC-SHA1 over the URL and the sorted
// parameters, compared in constant time.
func BenchmarkSignature(b *testing.B) {
	const token, u = "12345678901234567890123456789012", "https://sc.example/gateways/twilio/sms"
	form := url.Values{
		"AccountSid": {"AC00000000000000000000000000000000"}, "ApiVersion": {"2010-04-01"}, "Body": {"GIVE 10"},
		"From": {"+12125550100"}, "FromCountry": {"US"}, "MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsMessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"SmsSid": {"SM0123456789abcdef0123456789abcdef"}, "SmsStatus": {"received"}, "To": {"62262"},
	}
	sig := twilio.Signature(token, u, form)
	for b.Loop() {
		if !twilio.ValidSignature(token, u, form, sig) {
			b.Fatal("signature refused")
		}
	}
}
