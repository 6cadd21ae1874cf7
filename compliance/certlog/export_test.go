package certlog_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// export returns the lines of an export of l in the tree of size n, with
// the openings given, if any.
func (l *memLog) export(t testing.TB, n int64, openings []certlog.Opening) [][]byte {
	t.Helper()
	var lines [][]byte
	for i := range n {
		p, err := tlog.ProveRecord(n, i, l)
		if err != nil {
			t.Fatal(err)
		}
		e := certlog.Entry{Index: i, Record: l.entries[i], Proof: p}
		if openings != nil {
			e.Opening = &openings[i]
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	return lines
}

// join makes an export file of lines.
func join(lines [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestVerifyExport verifies a log of 1000 records, SMS and web, end to
// end: with and without the auditor's openings.
func TestVerifyExport(t *testing.T) {
	s, v := testKey(t)
	l, openings := newLog(t, 1000)
	cp := l.checkpoint(t, 1000, s)
	for _, tt := range []struct {
		name     string
		openings []certlog.Opening
	}{
		{"with openings", openings},
		{"without openings", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := certlog.VerifyExport(bytes.NewReader(join(l.export(t, 1000, tt.openings))), cp, v)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Checkpoint.N != 1000 || sum.Openings != int64(len(tt.openings)) {
				t.Errorf("VerifyExport = %+v", sum)
			}
		})
	}
}

// TestExportGolden keeps a small export and its checkpoint as examples of
// the format, for the docs and for other implementations.
func TestExportGolden(t *testing.T) {
	s, v := testKey(t)
	l, openings := newLog(t, 10)
	cp := l.checkpoint(t, 10, s)
	export := join(l.export(t, 10, openings))
	golden(t, "checkpoint-10", cp)
	golden(t, "export-10.jsonl", export)
	if _, err := certlog.VerifyExport(bytes.NewReader(export), cp, v); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyExportEmpty(t *testing.T) {
	s, v := testKey(t)
	l, openings := newLog(t, 1)
	empty := l.checkpoint(t, 0, s)
	if sum, err := certlog.VerifyExport(strings.NewReader(""), empty, v); err != nil || sum.Checkpoint.N != 0 {
		t.Errorf("empty log: %+v, %v", sum, err)
	}
	var re *certlog.RecordError
	_, err := certlog.VerifyExport(bytes.NewReader(join(l.export(t, 1, openings))), empty, v)
	if !errors.As(err, &re) || re.Index != 0 {
		t.Errorf("a record beyond an empty log: %v", err)
	}
}

// entryEdit changes the entry of an export line.
func entryEdit(t testing.TB, line []byte, change func(*certlog.Entry)) []byte {
	t.Helper()
	var e certlog.Entry
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatal(err)
	}
	change(&e)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyExportTampering changes an export of 1000 records in each way
// an operator with database access could, and checks that verification
// fails and names the first record at fault.
func TestVerifyExportTampering(t *testing.T) {
	s, v := testKey(t)
	l, openings := newLog(t, 1000)
	cp := l.checkpoint(t, 1000, s)
	good := l.export(t, 1000, openings)

	// Record 500 is a web certification, record 501 an SMS one.
	marshal := func(r certlog.Record) []byte {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	edit := func(k int, change func(*certlog.Entry)) func([][]byte) [][]byte {
		return func(lines [][]byte) [][]byte {
			lines[k] = entryEdit(t, lines[k], change)
			return lines
		}
	}
	tests := []struct {
		name   string
		change func(lines [][]byte) [][]byte
		first  int64 // the record named
	}{
		{"amount changed", edit(500, func(e *certlog.Entry) {
			if !bytes.Contains(e.Record, []byte("\namount 500\n")) {
				t.Fatalf("record 500:\n%s", e.Record)
			}
			e.Record = bytes.Replace(e.Record, []byte("\namount 500\n"), []byte("\namount 900\n"), 1)
		}), 500},
		{"valid forgery in place", edit(501, func(e *certlog.Entry) {
			r, _ := sample(501)
			r.TextVersion = "v1-ffffffffffff"
			e.Record = marshal(r)
		}), 501},
		{"record re-indexed", edit(501, func(e *certlog.Entry) {
			r, _ := sample(501)
			r.Index = 502
			e.Record = marshal(r)
		}), 501},
		{"entry index changed", edit(501, func(e *certlog.Entry) { e.Index = 502 }), 501},
		{"record deleted", func(lines [][]byte) [][]byte { return append(lines[:500:500], lines[501:]...) }, 500},
		{"first deleted", func(lines [][]byte) [][]byte { return lines[1:] }, 0},
		{"last deleted", func(lines [][]byte) [][]byte { return lines[:999] }, 999},
		{"truncated", func(lines [][]byte) [][]byte { return lines[:900] }, 900},
		{"all deleted", func(lines [][]byte) [][]byte { return nil }, 0},
		{"swapped", func(lines [][]byte) [][]byte {
			lines[300], lines[700] = lines[700], lines[300]
			return lines
		}, 300},
		{"neighbours swapped", func(lines [][]byte) [][]byte {
			lines[998], lines[999] = lines[999], lines[998]
			return lines
		}, 998},
		{"swapped, indexes kept", func(lines [][]byte) [][]byte {
			a, b := lines[300], lines[700]
			lines[300] = entryEdit(t, b, func(e *certlog.Entry) { e.Index = 300 })
			lines[700] = entryEdit(t, a, func(e *certlog.Entry) { e.Index = 700 })
			return lines
		}, 300},
		{"duplicated", func(lines [][]byte) [][]byte {
			return append(lines[:501:501], lines[500:]...)
		}, 501},
		{"forged append", func(lines [][]byte) [][]byte {
			r, o := sample(1000)
			p, _ := tlog.ProveRecord(1000, 999, l)
			b, _ := json.Marshal(certlog.Entry{Index: 1000, Record: marshal(r), Proof: p, Opening: &o})
			return append(lines, b)
		}, 1000},
		{"last appended again", func(lines [][]byte) [][]byte { return append(lines, lines[999]) }, 1000},
		{"proof hash changed", edit(500, func(e *certlog.Entry) { e.Proof[3][7] ^= 0x80 }), 500},
		{"proof removed", edit(500, func(e *certlog.Entry) { e.Proof = nil }), 500},
		{"proof of another record", edit(500, func(e *certlog.Entry) { e.Proof, _ = tlog.ProveRecord(1000, 501, l) }), 500},
		{"opening: other number", edit(501, func(e *certlog.Entry) { e.Opening.Phone = "+12015559999" }), 501},
		{"opening: other salt", edit(501, func(e *certlog.Entry) { e.Opening.Salt[0] ^= 1 }), 501},
		{"opening: other ip", edit(500, func(e *certlog.Entry) { e.Opening.IP = "203.0.113.9" }), 500},
		{"opening: web client on sms", edit(501, func(e *certlog.Entry) { e.Opening.IP = "203.0.113.9" }), 501},
		{"malformed JSON", func(lines [][]byte) [][]byte {
			lines[500] = lines[500][:len(lines[500])-1]
			return lines
		}, 500},
		{"blank line", func(lines [][]byte) [][]byte {
			return append(lines[:500:500], append([][]byte{{}}, lines[500:]...)...)
		}, 500},
		{"unknown field", func(lines [][]byte) [][]byte {
			lines[500] = append([]byte(`{"note":"x",`), lines[500][1:]...)
			return lines
		}, 500},
		{"two entries on a line", func(lines [][]byte) [][]byte {
			lines[500] = append(bytes.Clone(lines[500]), lines[501]...)
			return lines
		}, 500},
		{"record not base64", func(lines [][]byte) [][]byte {
			lines[500] = bytes.Replace(lines[500], []byte(`"record":"`), []byte(`"record":"!`), 1)
			return lines
		}, 500},
		{"huge line", func(lines [][]byte) [][]byte {
			lines[500] = bytes.Repeat([]byte(" "), 2<<20)
			return lines
		}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.change(append([][]byte(nil), good...))
			_, err := certlog.VerifyExport(bytes.NewReader(join(lines)), cp, v)
			var re *certlog.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("VerifyExport: %v, want a *RecordError", err)
			}
			if re.Index != tt.first {
				t.Errorf("VerifyExport: %v, want record %d named", err, tt.first)
			}
			if !strings.HasPrefix(err.Error(), "record ") {
				t.Errorf("error %q does not begin with the record", err)
			}
		})
	}
}

// TestVerifyExportEveryByte changes each byte of each record of a small
// log, one at a time: each change is caught at its record.
func TestVerifyExportEveryByte(t *testing.T) {
	s, v := testKey(t)
	const n = 6 // records 2 and 5 are web certifications
	l, openings := newLog(t, n)
	cp := l.checkpoint(t, n, s)
	good := l.export(t, n, openings)
	for k := range n {
		for j := range l.entries[k] {
			lines := append([][]byte(nil), good...)
			lines[k] = entryEdit(t, lines[k], func(e *certlog.Entry) {
				e.Record = bytes.Clone(e.Record)
				e.Record[j] ^= 1
			})
			_, err := certlog.VerifyExport(bytes.NewReader(join(lines)), cp, v)
			var re *certlog.RecordError
			if !errors.As(err, &re) || re.Index != int64(k) {
				t.Fatalf("record %d, byte %d changed: %v", k, j, err)
			}
		}
	}
}

func TestVerifyExportCheckpoint(t *testing.T) {
	s, v := testKey(t)
	l, openings := newLog(t, 100)
	export := join(l.export(t, 100, openings))
	otherKey, otherVKey, _ := note.GenerateKey(rand.Reader, s.Name())
	other, _ := note.NewSigner(otherKey)
	otherV, _ := note.NewVerifier(otherVKey)

	// A checkpoint the log's key did not sign fails before any record.
	for _, tt := range []struct {
		name string
		cp   []byte
		v    note.Verifier
	}{
		{"signed by another key", l.checkpoint(t, 100, other), v},
		{"verified with another key", l.checkpoint(t, 100, s), otherV},
		{"size changed", bytes.Replace(l.checkpoint(t, 100, s), []byte("\n100\n"), []byte("\n99\n"), 1), v},
		{"no checkpoint", nil, v},
	} {
		_, err := certlog.VerifyExport(bytes.NewReader(export), tt.cp, tt.v)
		var re *certlog.RecordError
		if err == nil || errors.As(err, &re) {
			t.Errorf("%s: VerifyExport: %v, want a checkpoint error", tt.name, err)
		}
	}

	// A genuine checkpoint of another size is not the tree the proofs
	// are in.
	for _, size := range []int64{99, 50} {
		_, err := certlog.VerifyExport(bytes.NewReader(export), l.checkpoint(t, size, s), v)
		if err == nil {
			t.Errorf("checkpoint of %d records verified an export of 100", size)
		}
	}
}
