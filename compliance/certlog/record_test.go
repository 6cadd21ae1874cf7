package certlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// vectorRecords are the fields of the test vectors in
// testdata/certlog/vectors-v1.json. Neither may ever change: every record
// in every log was encoded so.
var vectorRecords = map[string]certlog.Record{
	"sms": {
		Index:           41,
		Time:            time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
		Program:         "demo",
		Committee:       "C99999999",
		Donation:        "DGEZDGNBVGY3TQOJQ",
		Channel:         certlog.SMS,
		MessageID:       "SM0123456789abcdef0123456789abcdef",
		TextVersion:     "v1-3f1a2b3c4d5e",
		TextSHA256:      sha256.Sum256([]byte("Reply YES to give $10 to Demo Committee for America.")),
		TermsVersion:    "v1-0a1b2c3d4e5f",
		TermsSHA256:     sha256.Sum256([]byte("Text donations to Demo Committee for America\n")),
		Amount:          1000,
		PhoneCommitment: certlog.Commit(certlog.Salt{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "+12015550123"),
	},
	"web": {
		Index:     1234567,
		Time:      time.Date(2026, 11, 2, 23, 59, 59, 7, time.UTC),
		Program:   "Spring Drive 100%",
		Committee: "C00123456",
		Donation:  "DMFRGGZDFMZTWQ2LK",
		Channel:   certlog.Web,
		ClientDigest: certlog.ClientDigest(certlog.Salt{0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f},
			"2001:db8::1", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
		TextVersion:  "v1-9e8d7c6b5a49",
		TextSHA256:   sha256.Sum256([]byte("I certify that...")),
		TermsVersion: "v1-0a1b2c3d4e5f",
		TermsSHA256:  sha256.Sum256([]byte("Text donations to Demo Committee for America\n")),
		Amount:       2500,
		PhoneCommitment: certlog.Commit(certlog.Salt{0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f},
			"+447700900123"),
	},
}

// vector is one entry of vectors-v1.json: a record's exact bytes and leaf
// hash, with the opening of its commitments.
type vector struct {
	Name       string       `json:"name"`
	Salt       certlog.Salt `json:"salt"`
	Phone      string       `json:"phone"`
	IP         string       `json:"ip"`
	UserAgent  string       `json:"user_agent"`
	Record     string       `json:"record"`
	RecordHash tlog.Hash    `json:"record_hash"`
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "vectors-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(vectorRecords) {
		t.Fatalf("%d vectors, want %d", len(vs), len(vectorRecords))
	}
	return vs
}

// TestVectors checks the encoding against its test vectors, which are
// never rewritten: a difference is a change of format, which needs a new
// RecordVersion, not an update of the vector.
func TestVectors(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			r, ok := vectorRecords[v.Name]
			if !ok {
				t.Fatalf("no fields for vector %q", v.Name)
			}
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != v.Record {
				t.Fatalf("Marshal:\n%s\nwant:\n%s", b, v.Record)
			}
			if h := tlog.RecordHash(b); h != v.RecordHash {
				t.Errorf("RecordHash = %v, want %v", h, v.RecordHash)
			}
			got, err := certlog.Parse([]byte(v.Record))
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, r) {
				t.Errorf("Parse = %+v, want %+v", got, r)
			}
			o := certlog.Opening{Salt: v.Salt, Phone: v.Phone, IP: v.IP, UserAgent: v.UserAgent}
			if err := o.Check(got); err != nil {
				t.Errorf("opening: %v", err)
			}
		})
	}
}

// equal compares records, times by instant.
func equal(a, b certlog.Record) bool {
	at, bt := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return at.Equal(bt) && a == b
}

func TestMarshalRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*certlog.Record)
	}{
		{"negative index", func(r *certlog.Record) { r.Index = -1 }},
		{"zero time", func(r *certlog.Record) { r.Time = time.Time{} }},
		{"year 10000", func(r *certlog.Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year 0", func(r *certlog.Record) { r.Time = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) }},
		{"no program", func(r *certlog.Record) { r.Program = "" }},
		{"no committee", func(r *certlog.Record) { r.Committee = "" }},
		{"no donation", func(r *certlog.Record) { r.Donation = "" }},
		{"long donation", func(r *certlog.Record) { r.Donation = strings.Repeat("D", certlog.MaxField+1) }},
		{"no text version", func(r *certlog.Record) { r.TextVersion = "" }},
		{"no terms version", func(r *certlog.Record) { r.TermsVersion = "" }},
		{"no channel", func(r *certlog.Record) { r.Channel = "" }},
		{"channel SMS", func(r *certlog.Record) { r.Channel = "SMS" }},
		{"channel fax", func(r *certlog.Record) { r.Channel = "fax" }},
		{"sms without message", func(r *certlog.Record) { r.MessageID = "" }},
		{"sms with client", func(r *certlog.Record) { r.ClientDigest = sha256.Sum256(nil) }},
		{"web with message", func(r *certlog.Record) { r.Channel, r.ClientDigest = certlog.Web, sha256.Sum256(nil) }},
		{"web without client", func(r *certlog.Record) { r.Channel, r.MessageID = certlog.Web, "" }},
		{"no text sha256", func(r *certlog.Record) { r.TextSHA256 = [32]byte{} }},
		{"no terms sha256", func(r *certlog.Record) { r.TermsSHA256 = [32]byte{} }},
		{"no phone commitment", func(r *certlog.Record) { r.PhoneCommitment = [32]byte{} }},
		{"zero amount", func(r *certlog.Record) { r.Amount = 0 }},
		{"negative amount", func(r *certlog.Record) { r.Amount = -1000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := vectorRecords["sms"]
			tt.change(&r)
			if b, err := r.Marshal(); err == nil {
				t.Fatalf("Marshal = %q, want an error", b)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	sms := []byte(readVectors(t)[0].Record)
	web := []byte(readVectors(t)[1].Record)
	// swap exchanges the whole lines i and j (from 0).
	swap := func(b []byte, i, j int) []byte {
		lines := strings.Split(string(b), "\n")
		lines[i], lines[j] = lines[j], lines[i]
		return []byte(strings.Join(lines, "\n"))
	}
	replace := func(b []byte, old, new string) []byte {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%q not in the vector", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"newline", []byte("\n")},
		{"no final newline", sms[:len(sms)-1]},
		{"CRLF", bytes.ReplaceAll(sms, []byte("\n"), []byte("\r\n"))},
		{"trailing newline", append(sms[:len(sms):len(sms)], '\n')},
		{"trailing data", append(sms[:len(sms):len(sms)], "note hi\n"...)},
		{"leading blank line", append([]byte("\n"), sms...)},
		{"wrong version", replace(sms, "certification v1", "certification v2")},
		{"no version", []byte(strings.SplitN(string(sms), "\n", 2)[1])},
		{"other format", replace(sms, "shortcode certification v1", "go.sum database tree")},
		{"reordered fields", swap(sms, 3, 4)},
		{"reordered hashes", swap(sms, 9, 11)},
		{"missing field", replace(sms, "amount 1000\n", "")},
		{"duplicate field", replace(sms, "amount 1000\n", "amount 1000\namount 1000\n")},
		{"unknown field", replace(sms, "amount 1000\n", "amount 1000\nphone +12015550123\n")},
		{"key case", replace(sms, "amount", "Amount")},
		{"double space", replace(sms, "amount 1000", "amount  1000")},
		{"trailing space", replace(sms, "amount 1000", "amount 1000 ")},
		{"tab", replace(sms, "amount 1000", "amount\t1000")},
		{"no value", replace(sms, "amount 1000", "amount ")},
		{"no separator", replace(sms, "amount 1000", "amount")},
		{"index leading zero", replace(sms, "index 41", "index 041")},
		{"index plus", replace(sms, "index 41", "index +41")},
		{"index negative", replace(sms, "index 41", "index -41")},
		{"index minus zero", replace(sms, "index 41", "index -0")},
		{"index hex", replace(sms, "index 41", "index 0x29")},
		{"index overflow", replace(sms, "index 41", "index 9223372036854775808")},
		{"amount zero", replace(sms, "amount 1000", "amount 0")},
		{"amount negative", replace(sms, "amount 1000", "amount -1000")},
		{"amount huge", replace(sms, "amount 1000", "amount 99999999999999999999")},
		{"amount decimal", replace(sms, "amount 1000", "amount 10.00")},
		{"amount underscore", replace(sms, "amount 1000", "amount 1_000")},
		{"time without nanoseconds", replace(sms, "15:09:26.535897000Z", "15:09:26.535897Z")},
		{"time without fraction", replace(sms, "15:09:26.535897000Z", "15:09:26Z")},
		{"time offset", replace(sms, "15:09:26.535897000Z", "15:09:26.535897000+00:00")},
		{"time lowercase z", replace(sms, "15:09:26.535897000Z", "15:09:26.535897000z")},
		{"time space", replace(sms, "2026-03-14T15", "2026-03-14 15")},
		{"time invalid", replace(sms, "2026-03-14", "2026-02-30")},
		{"time year zero", replace(sms, "2026-03-14", "0000-03-14")},
		{"hash uppercase", replace(sms, "ef6a3abc", "EF6A3ABC")},
		{"hash short", replace(sms, "phone-sha256 ef", "phone-sha256 ")},
		{"hash long", replace(sms, "phone-sha256 ef", "phone-sha256 efef")},
		{"hash not hex", replace(sms, "phone-sha256 ef", "phone-sha256 eg")},
		{"hash zero", replace(sms, "ef6a3abc1f87e684bcd7788ba9899221a44df31fe0565b6ad20c51b60df2d254", strings.Repeat("0", 64))},
		{"hash base64", replace(sms, "ef6a3abc1f87e684bcd7788ba9899221a44df31fe0565b6ad20c51b60df2d254", "72o6vB+H5oS813iLqZmSIaRN8x/gVltq0gxRtg3y0lQ=")},
		{"channel uppercase", replace(sms, "channel sms", "channel SMS")},
		{"channel fax", replace(sms, "channel sms", "channel fax")},
		{"sms with client line", replace(sms, "message SM0123456789abcdef0123456789abcdef", "client-sha256 ef6a3abc1f87e684bcd7788ba9899221a44df31fe0565b6ad20c51b60df2d254")},
		{"web with message line", replace(web, "client-sha256 abaaa2829f5d2d2971b492743faa0b507516477bae2bb3da87166f313af2f2c3", "message SM0123456789abcdef0123456789abcdef")},
		{"web without client", replace(web, "client-sha256 abaaa2829f5d2d2971b492743faa0b507516477bae2bb3da87166f313af2f2c3\n", "")},
		{"escape lowercase", replace(sms, "program demo", "program demo%ff")},
		{"escape unneeded", replace(web, "Spring", "%53pring")},
		{"escape truncated", replace(web, "100%25", "100%2")},
		{"escape bad", replace(web, "100%25", "100%zz")},
		{"raw percent", replace(web, "100%25", "100%")},
		{"raw space", replace(web, "Spring%20Drive", "Spring Drive")},
		{"raw non-ASCII", replace(sms, "program demo", "program démo")},
		{"text too long", replace(sms, "program demo", "program "+strings.Repeat("d", certlog.MaxField+1))},
		{"escaped too long", replace(sms, "program demo", "program "+strings.Repeat("%20", certlog.MaxField+1))},
		{"NUL", replace(sms, "program demo", "program demo\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := certlog.Parse(tt.b); err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.b, r)
			}
		})
	}
}

// TestRoundTrip encodes text values with bytes that must be escaped.
func TestRoundTrip(t *testing.T) {
	for _, s := range []string{
		"a", "%", "100%", "%25", " ", "two words", "line\nbreak", "cr\r", "tab\t", "\x00", "\xff\xfe",
		"démo", "👍", "~!", "+12015550123", strings.Repeat("%", certlog.MaxField), strings.Repeat("x", certlog.MaxField),
	} {
		r := vectorRecords["web"]
		r.Program, r.Committee, r.Donation, r.TextVersion, r.TermsVersion = s, s, s, s, s
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if n := bytes.Count(b, []byte("\n")); n != 14 {
			t.Errorf("%q: %d lines, want 14:\n%s", s, n, b)
		}
		got, err := certlog.Parse(b)
		if err != nil {
			t.Fatalf("%q: %v\n%s", s, err, b)
		}
		if !equal(got, r) {
			t.Errorf("%q: Parse(Marshal) = %+v, want %+v", s, got, r)
		}
	}
}

// TestTimeUTC checks that one instant has one encoding, whatever the zone
// and monotonic reading of the time given.
func TestTimeUTC(t *testing.T) {
	r := vectorRecords["sms"]
	want, _ := r.Marshal()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	r.Time = r.Time.In(ny)
	if got, _ := r.Marshal(); !bytes.Equal(got, want) {
		t.Errorf("in New York:\n%s\nwant:\n%s", got, want)
	}
	now := time.Now()
	r.Time = now
	a, _ := r.Marshal()
	r.Time = now.Round(0)
	if b, _ := r.Marshal(); !bytes.Equal(a, b) {
		t.Errorf("the monotonic reading changed the encoding")
	}
}

func TestCommit(t *testing.T) {
	salt := certlog.Salt{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	// The preimage is the salt's 16 bytes, then the number's.
	want := sha256.Sum256(append(salt[:], "+12015550123"...))
	if got := certlog.Commit(salt, "+12015550123"); got != want {
		t.Errorf("Commit = %x, want %x", got, want)
	}
	if certlog.Commit(salt, "+12015550124") == want {
		t.Error("another number gives the same commitment")
	}
	other := salt
	other[15]++
	if certlog.Commit(other, "+12015550123") == want {
		t.Error("another salt gives the same commitment")
	}
	// Client digests are length-prefixed: moving bytes between the two
	// values changes the digest.
	if certlog.ClientDigest(salt, "1.2.3.4", "UA") == certlog.ClientDigest(salt, "1.2.3.4U", "A") {
		t.Error("ClientDigest is ambiguous")
	}
}

func TestNewSalt(t *testing.T) {
	r := bytes.NewReader([]byte("0123456789abcdefXYZ"))
	s, err := certlog.NewSalt(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(s[:]) != "0123456789abcdef" {
		t.Errorf("NewSalt = %q", s[:])
	}
	if _, err := certlog.NewSalt(r); err == nil {
		t.Error("NewSalt read 3 bytes without an error")
	}
	text, _ := s.MarshalText()
	if string(text) != "30313233343536373839616263646566" {
		t.Errorf("MarshalText = %s", text)
	}
	var back certlog.Salt
	if err := back.UnmarshalText(text); err != nil || back != s {
		t.Errorf("UnmarshalText = %x, %v", back, err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("0", 31), strings.Repeat("0", 33), strings.Repeat("g", 32)} {
		if err := back.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestOpeningCheck(t *testing.T) {
	sms, web := vectorRecords["sms"], vectorRecords["web"]
	vs := readVectors(t)
	so := certlog.Opening{Salt: vs[0].Salt, Phone: vs[0].Phone}
	wo := certlog.Opening{Salt: vs[1].Salt, Phone: vs[1].Phone, IP: vs[1].IP, UserAgent: vs[1].UserAgent}
	tests := []struct {
		name string
		o    certlog.Opening
		r    certlog.Record
		ok   bool
	}{
		{"sms", so, sms, true},
		{"web", wo, web, true},
		{"web phone only", certlog.Opening{Salt: wo.Salt, Phone: wo.Phone}, web, true},
		{"other number", certlog.Opening{Salt: so.Salt, Phone: "+12015550124"}, sms, false},
		{"formatted number", certlog.Opening{Salt: so.Salt, Phone: "(201) 555-0123"}, sms, false},
		{"other salt", certlog.Opening{Phone: so.Phone}, sms, false},
		{"other record", so, web, false},
		{"web client on sms", certlog.Opening{Salt: so.Salt, Phone: so.Phone, IP: "1.2.3.4"}, sms, false},
		{"other ip", certlog.Opening{Salt: wo.Salt, Phone: wo.Phone, IP: "2001:db8::2", UserAgent: wo.UserAgent}, web, false},
		{"other user agent", certlog.Opening{Salt: wo.Salt, Phone: wo.Phone, IP: wo.IP}, web, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Check(tt.r)
			if (err == nil) != tt.ok {
				t.Errorf("Check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
