package twilio_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// nodeSigner signs each case with getExpectedTwilioSignature of the npm
// package twilio, an independent implementation (SPEC §12.1).
const nodeSigner = `
const twilio = require('twilio');
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  const out = cases.map(c => twilio.getExpectedTwilioSignature(c.token, c.url, c.params));
  process.stdout.write(JSON.stringify(out));
});
`

// TestSignatureAgainstNode compares Signature with the npm package twilio.
// It runs when TWILIO_NODE_MODULES names a node_modules directory holding
// twilio (e.g. after "npm install twilio@6.2.0" in a scratch directory) and
// node is on the PATH; otherwise it is skipped.
//
// The cases have no repeated parameter names: the npm package deduplicates
// and sorts the values of a repeated name, Signature keeps them in order.
func TestSignatureAgainstNode(t *testing.T) {
	modules := os.Getenv("TWILIO_NODE_MODULES")
	if modules == "" {
		t.Skip("TWILIO_NODE_MODULES not set")
	}
	if _, err := os.Stat(filepath.Join(modules, "twilio")); err != nil {
		t.Skipf("no twilio package in %s: %v", modules, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}

	type signCase struct {
		Token  string              `json:"token"`
		URL    string              `json:"url"`
		Params map[string][]string `json:"params"`
	}
	one := func(m map[string]string) map[string][]string {
		out := map[string][]string{}
		for k, v := range m {
			out[k] = []string{v}
		}
		return out
	}
	cases := []signCase{
		{specToken, specURL, one(map[string]string{
			"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
			"From": "+12349013030", "To": "+18005551212"})},
		{"f00dfeedf00dfeedf00dfeedf00dfeed", "http://127.0.0.1:8080/gateways/twilio/sms", one(map[string]string{
			"MessageSid": "SM0123456789abcdef0123456789abcdef", "SmsSid": "SM0123456789abcdef0123456789abcdef",
			"AccountSid": "AC00000000000000000000000000000000", "From": "+12025554321", "To": "41444",
			"Body": "Oui, je donne 10 € — YES 👍", "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"})},
		{"tok", "https://sms.example.org/gateways/twilio/status?x=a%20b&y=%E2%82%AC", one(map[string]string{
			"MessageSid": "SMfedcba9876543210fedcba9876543210", "MessageStatus": "undelivered",
			"ErrorCode": "30003", "Empty": "", "lower": "after Upper", "Upper": "x"})},
		{"tok", "https://sms.example.org/empty", map[string][]string{}},
		// A repeated name: Twilio's signer sorts and deduplicates the values.
		{"tok", "https://sms.example.org/repeat", map[string][]string{"A": {"2", "1", "2"}, "B": {"x"}}},
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "-e", nodeSigner)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if len(want) != len(cases) {
		t.Fatalf("node signed %d cases, want %d", len(want), len(cases))
	}
	for i, c := range cases {
		params := url.Values(c.Params)
		if got := twilio.Signature(c.Token, c.URL, params); got != want[i] {
			t.Errorf("case %d (%s): Signature = %q, node says %q", i, c.URL, got, want[i])
		}
	}
}
