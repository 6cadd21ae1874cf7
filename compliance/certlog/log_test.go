package certlog_test

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// sample returns record i of a test log, and its opening: every third is
// a web certification, and the amounts cycle through the price points.
func sample(i int64) (certlog.Record, certlog.Opening) {
	var salt certlog.Salt
	copy(salt[:], fmt.Sprintf("salt-%011d", i))
	o := certlog.Opening{Salt: salt, Phone: fmt.Sprintf("+1201555%04d", i%10000)}
	r := certlog.Record{
		Index:           i,
		Time:            time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond),
		Program:         "demo",
		Committee:       "C99999999",
		Donation:        fmt.Sprintf("d-%06d", i),
		Channel:         certlog.SMS,
		MessageID:       fmt.Sprintf("SM%032x", i),
		TextVersion:     "v1-3f1a2b3c4d5e",
		TextSHA256:      sha256.Sum256([]byte("Reply YES to give $" + fmt.Sprint(i))),
		TermsVersion:    "v1-0a1b2c3d4e5f",
		TermsSHA256:     sha256.Sum256([]byte("terms")),
		Amount:          500 * (i%4 + 1),
		PhoneCommitment: certlog.Commit(salt, o.Phone),
	}
	if i%3 == 2 {
		o.IP, o.UserAgent = fmt.Sprintf("198.51.100.%d", i%256), "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X)"
		r.Channel, r.MessageID = certlog.Web, ""
		r.ClientDigest = certlog.ClientDigest(salt, o.IP, o.UserAgent)
	}
	return r, o
}

// A memLog is a log kept in memory, as the sequencer keeps it in storage.
type memLog struct {
	entries [][]byte
	hashes  []tlog.Hash // by stored hash index
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) append(t testing.TB, entry []byte) {
	t.Helper()
	n := int64(len(l.entries))
	hs, err := tlog.StoredHashes(n, entry, l)
	if err != nil {
		t.Fatal(err)
	}
	l.entries = append(l.entries, entry)
	l.hashes = append(l.hashes, hs...)
}

func (l *memLog) readEntries(start, end int64) ([][]byte, error) {
	if start < 0 || end > int64(len(l.entries)) || start > end {
		return nil, fmt.Errorf("no entries [%d, %d)", start, end)
	}
	return l.entries[start:end], nil
}

// checkpoint signs the tree of the first n entries.
func (l *memLog) checkpoint(t testing.TB, n int64, s note.Signer) []byte {
	t.Helper()
	h, err := tlog.TreeHash(n, l)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: n, Hash: h}}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// newLog returns a log of n sample records and their openings.
func newLog(t testing.TB, n int64) (*memLog, []certlog.Opening) {
	t.Helper()
	l := new(memLog)
	var openings []certlog.Opening
	for i := range n {
		r, o := sample(i)
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		l.append(t, b)
		openings = append(openings, o)
	}
	return l, openings
}
