package certlog_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// The parsers accept only canonical input: whatever parses encodes back to
// the same bytes. Run longer with e.g. go test -fuzz FuzzParse ./compliance/certlog/.

func FuzzParse(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add([]byte(v.Record))
		f.Add([]byte(strings.Replace(v.Record, "amount", "amount 0", 1)))
	}
	f.Add([]byte(certlog.RecordVersion + "\n"))
	f.Add([]byte("program a%20b%25\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := certlog.Parse(b)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, which Marshal refuses: %v", b, r, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Parse(%q)) = %q", b, again)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(testdata, "checkpoint-1000"))
	if err != nil {
		f.Fatal(err)
	}
	text, _, _ := strings.Cut(string(b), "\n\n")
	f.Add(text + "\n")
	f.Add(text + "\nextension\n")
	f.Add("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := certlog.ParseCheckpoint(text)
		if err != nil {
			return
		}
		again, err := c.Text()
		if err != nil || again != text {
			t.Fatalf("Text(ParseCheckpoint(%q)) = %q, %v", text, again, err)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(testdata, "record-7.tlog-proof"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := certlog.ParseProof(b)
		if err != nil {
			return
		}
		again, err := p.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Marshal(ParseProof(%q)) = %q, %v", b, again, err)
		}
	})
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/x001/x234/067", "tile/entries/000.p/7", "tile/63/999", "tile/1/x001/000.p/255"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tile, err := certlog.ParseTilePath(path)
		if err != nil {
			return
		}
		if again := certlog.TilePath(tile); again != path {
			t.Fatalf("TilePath(ParseTilePath(%q)) = %q", path, again)
		}
	})
}

// FuzzRecord: any record Marshal accepts parses back to itself, and its
// bytes are canonical (Parse then Marshal gives them again); Marshal
// refuses exactly the records the encoding's rules exclude (Record.Marshal's
// comment and SPEC §8), restated here.
func FuzzRecord(f *testing.F) {
	for _, r := range vectorRecords {
		f.Add(r.Index, r.Time.Unix(), int64(r.Time.Nanosecond()), r.Program, r.Committee, r.Donation, r.Channel, r.MessageID,
			r.TextVersion, r.TermsVersion, r.Amount, "seed", uint8(0))
	}
	f.Add(int64(-1), int64(0), int64(0), "", "C1", "D1", "sms", "SM1", "t", "u", int64(0), "", uint8(0xff))
	f.Add(int64(0), int64(-62135596800), int64(0), "a b%", "\x00\n", strings.Repeat("x", 257), "web", "", "%41", " ", int64(1), "x", uint8(1))
	f.Add(int64(1<<62), int64(253402300799), int64(999999999), "\xff\xfe", "c", "d", "web", "m", "t", "u", int64(1<<62), "y", uint8(2))
	f.Fuzz(func(t *testing.T, index, sec, nsec int64, program, committee, donation, channel, message, textVersion, termsVersion string,
		amount int64, seed string, zero uint8) {
		hash := func(i uint8) [32]byte {
			if zero&(1<<i) != 0 {
				return [32]byte{}
			}
			return sha256.Sum256([]byte{i, ':'})
		}
		r := certlog.Record{
			Index: index, Time: time.Unix(sec, nsec).In(time.FixedZone("fuzz", int(nsec%50000))), Program: program, Committee: committee,
			Donation: donation, Channel: channel, MessageID: message, TextVersion: textVersion, TermsVersion: termsVersion,
			Amount: amount, TextSHA256: hash(0), TermsSHA256: hash(1), PhoneCommitment: hash(2), ClientDigest: hash(3),
		}
		if seed != "" {
			r.TextSHA256 = sha256.Sum256([]byte(seed))
		}
		b, err := r.Marshal()
		if valid := recordValid(r); (err == nil) != valid {
			t.Fatalf("Marshal(%+v) = %v; the rules say valid %v", r, err, valid)
		}
		if err != nil {
			return
		}
		got, err := certlog.Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(%+v)) = %v; bytes %q", r, err, b)
		}
		if !got.Time.Equal(r.Time) || got.Time.Location() != time.UTC {
			t.Fatalf("time %v came back as %v", r.Time, got.Time)
		}
		got.Time = r.Time
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("Parse(Marshal(r)) = %+v, want %+v", got, r)
		}
		again, err := got.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Parse(%q)) = %q, %v", b, again, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[1:] {
			if k, v, ok := strings.Cut(line, " "); !ok || k == "" || v == "" || strings.ContainsAny(v, " \r\t") {
				t.Fatalf("line %q is not a key and a value", line)
			}
		}
	})
}

// recordValid restates the record's rules: index >= 0; a time in years 1
// to 9999; text fields 1 to MaxField bytes; channel sms with a message id
// and no client digest, or web with a client digest and no message id;
// non-zero digests and commitment; a positive amount.
func recordValid(r certlog.Record) bool {
	text := func(s string) bool { return s != "" && len(s) <= certlog.MaxField }
	var zero [32]byte
	y := r.Time.UTC().Year()
	ok := r.Index >= 0 && !r.Time.IsZero() && y >= 1 && y <= 9999 && r.Amount > 0 &&
		text(r.Program) && text(r.Committee) && text(r.Donation) && text(r.TextVersion) && text(r.TermsVersion) &&
		r.TextSHA256 != zero && r.TermsSHA256 != zero && r.PhoneCommitment != zero
	switch r.Channel {
	case certlog.SMS:
		return ok && text(r.MessageID) && r.ClientDigest == zero
	case certlog.Web:
		return ok && r.MessageID == "" && r.ClientDigest != zero
	}
	return false
}
