// Package twilio is the adapter for Twilio-compatible messaging gateways
// (SPEC §12.1): the webhook that receives inbound messages (MOs) and
// delivery status callbacks, the request signature that authenticates them,
// and the client that sends outbound messages (MTs).
//
// The package maps Twilio's wire format onto the donation domain and nothing
// more: it decodes and authenticates requests, checks that the fields it
// needs are present and well shaped, and leaves every decision about the
// conversation to the donation service.
package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/url"
	"slices"
)

// SignatureHeader is the request header that carries a Twilio signature.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes the value of the X-Twilio-Signature header for a
// request to fullURL (the public URL as the gateway requested it, including
// the query string) with the form-encoded POST parameters params.
//
// The signature is the base64 encoding of HMAC-SHA1 keyed with authToken
// over fullURL followed by every parameter, sorted by name, appended as name
// and value with no separators. A name with several values is appended once
// per distinct value, values sorted, as Twilio's own libraries do (a form
// can repeat a name; Twilio's SMS webhooks do not).
func Signature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, fullURL)
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, value := range slices.Compact(values) {
			io.WriteString(mac, name)
			io.WriteString(mac, value)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether got is the signature of a request to
// fullURL with the POST parameters params under authToken. The comparison
// takes constant time. An empty authToken or an empty got is never valid.
func ValidSignature(authToken, fullURL string, params url.Values, got string) bool {
	if authToken == "" || got == "" {
		return false
	}
	want := Signature(authToken, fullURL, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
