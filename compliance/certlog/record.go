// Package certlog is the pure core of the certification log (SPEC §8): the
// canonical encoding of a certification record, the phone number commitment,
// and the transparency log around the records in the C2SP formats that
// existing clients and witnesses speak: signed checkpoints
// (c2sp.org/tlog-checkpoint, c2sp.org/signed-note), tiles and entry bundles
// (c2sp.org/tlog-tiles), proofs (c2sp.org/tlog-proof), and the offline
// verification of an export.
//
// The Merkle tree is RFC 6962's, built with golang.org/x/mod/sumdb/tlog:
// the log's entries are the records' canonical bytes, and an entry's leaf
// hash is tlog.RecordHash of them. The package knows nothing of storage or
// HTTP: it reads and writes bytes that its callers store and serve.
package certlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// RecordVersion is the first line of a record in the current encoding. A
// record in another encoding would begin with another line.
const RecordVersion = "shortcode certification v1"

// Channels on which a donor certifies.
const (
	SMS = "sms" // a YES by text, identified by its MO's message id
	Web = "web" // the page's checkbox and PIN, identified by a ClientDigest
)

// MaxField is the longest text field, in bytes before escaping. It keeps a
// record well under the 65535 bytes an entry bundle can hold.
const MaxField = 256

// timeLayout is UTC with nanoseconds, fixed width: one instant has one form.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// A Record is one certification, as published in the log (SPEC §8). It
// holds no personal data: the donor's number appears only as a salted
// commitment, and a web donor's address and browser only as a salted digest.
type Record struct {
	Index     int64     // position in the log, from 0
	Time      time.Time // when the donor certified
	Program   string
	Committee string
	Donation  string
	Channel   string // SMS or Web
	MessageID string // SMS: the MO that carried the YES; empty for Web
	// ClientDigest identifies a web certification's request (see
	// ClientDigest); zero for SMS.
	ClientDigest [32]byte

	TextVersion  string   // the certification text the donor accepted
	TextSHA256   [32]byte // of the exact text, as sent or shown
	TermsVersion string   // the full terms linked from it
	TermsSHA256  [32]byte

	Amount          int64    // cents
	PhoneCommitment [32]byte // Commit(salt, number)
}

// A Salt is the random per-record value that hides a phone number in its
// commitment. It is kept, with the number, out of the public log.
type Salt [16]byte

// NewSalt reads a salt from r, which should be crypto/rand.Reader.
func NewSalt(r io.Reader) (Salt, error) {
	var s Salt
	if _, err := io.ReadFull(r, s[:]); err != nil {
		return Salt{}, fmt.Errorf("certlog: salt: %w", err)
	}
	return s, nil
}

// MarshalText encodes s as 32 lowercase hex digits.
func (s Salt) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, s[:]), nil
}

// UnmarshalText decodes 32 hex digits.
func (s *Salt) UnmarshalText(b []byte) error {
	var v Salt
	if len(b) != 2*len(v) {
		return errors.New("certlog: salt: not 32 hex digits")
	}
	if _, err := hex.Decode(v[:], b); err != nil {
		return fmt.Errorf("certlog: salt: %w", err)
	}
	*s = v
	return nil
}

// Commit returns the commitment to a phone number published in a record:
// SHA-256(salt || phone), where phone is the E.164 number as stored
// ("+12015550123"). The salt has a fixed length, so the preimage is
// unambiguous; without the salt, the commitment cannot be tested against
// the few billion possible numbers.
func Commit(salt Salt, phone string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(phone))
	return [32]byte(h.Sum(nil))
}

// ClientDigest returns the digest that identifies a web certification's
// request in a record: SHA-256(salt || uint64(len(ip)) || ip ||
// uint64(len(userAgent)) || userAgent), lengths big-endian. It uses the
// record's salt, as an unsalted digest of an IP address could be reversed
// by trying them all; the lengths keep it apart from a phone commitment,
// whose preimage continues with "+" after the salt.
func ClientDigest(salt Salt, ip, userAgent string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	for _, s := range []string{ip, userAgent} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return [32]byte(h.Sum(nil))
}

// An Opening reveals what a record's commitments hide.
type Opening struct {
	Salt  Salt   `json:"salt"`
	Phone string `json:"phone"` // E.164
	// IP and UserAgent open a web record's ClientDigest, when present.
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Check reports whether o opens r's commitments.
func (o Opening) Check(r Record) error {
	if Commit(o.Salt, o.Phone) != r.PhoneCommitment {
		return errors.New("the opening does not match the phone commitment")
	}
	if o.IP == "" && o.UserAgent == "" {
		return nil
	}
	if r.Channel != Web {
		return errors.New("the opening has a web client for an sms record")
	}
	if ClientDigest(o.Salt, o.IP, o.UserAgent) != r.ClientDigest {
		return errors.New("the opening does not match the client digest")
	}
	return nil
}

// Marshal returns the canonical encoding of r: the RecordVersion line, then one
// line per field, in this order, each a key, a space and a value, ending in
// a newline:
//
//	shortcode certification v1
//	index 7
//	time 2026-03-14T15:09:26.535897000Z
//	program demo
//	committee C99999999
//	donation d-0001
//	channel sms
//	message SM0123456789abcdef0123456789abcdef
//	text-version v1-3f1a2b3c4d5e
//	text-sha256 <64 lowercase hex digits>
//	terms-version v1-0a1b2c3d4e5f
//	terms-sha256 <64 lowercase hex digits>
//	amount 1000
//	phone-sha256 <64 lowercase hex digits>
//
// A web record has "client-sha256 <64 lowercase hex digits>" (its
// ClientDigest) in place of the message line. Numbers are decimal without
// sign or leading zeroes; the time is UTC with nine fractional digits. Text
// values (program, committee, donation, message, versions) are 1 to
// MaxField bytes, with every byte outside '!' to '~', and '%', written as
// '%' and two uppercase hex digits, so a value never holds a space or a
// newline.
//
// Marshal refuses a record that Parse would refuse: a record cannot be
// removed from the log once appended.
func (r Record) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 640)
	b = append(b, RecordVersion+"\n"...)
	b = appendLine(b, "index", strconv.FormatInt(r.Index, 10))
	b = appendLine(b, "time", r.Time.UTC().Format(timeLayout))
	b = appendLine(b, "program", escape(r.Program))
	b = appendLine(b, "committee", escape(r.Committee))
	b = appendLine(b, "donation", escape(r.Donation))
	b = appendLine(b, "channel", r.Channel)
	if r.Channel == SMS {
		b = appendLine(b, "message", escape(r.MessageID))
	} else {
		b = appendLine(b, "client-sha256", hex.EncodeToString(r.ClientDigest[:]))
	}
	b = appendLine(b, "text-version", escape(r.TextVersion))
	b = appendLine(b, "text-sha256", hex.EncodeToString(r.TextSHA256[:]))
	b = appendLine(b, "terms-version", escape(r.TermsVersion))
	b = appendLine(b, "terms-sha256", hex.EncodeToString(r.TermsSHA256[:]))
	b = appendLine(b, "amount", strconv.FormatInt(r.Amount, 10))
	b = appendLine(b, "phone-sha256", hex.EncodeToString(r.PhoneCommitment[:]))
	return b, nil
}

func appendLine(b []byte, key, value string) []byte {
	b = append(b, key...)
	b = append(b, ' ')
	b = append(b, value...)
	return append(b, '\n')
}

// check reports why r cannot be encoded.
func (r Record) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("certlog: record: "+format, args...)
	}
	if r.Index < 0 {
		return bad("negative index %d", r.Index)
	}
	if y := r.Time.UTC().Year(); r.Time.IsZero() || y < 1 || y > 9999 {
		return bad("time %v out of range", r.Time)
	}
	for _, f := range []struct{ name, v string }{
		{"program", r.Program}, {"committee", r.Committee}, {"donation", r.Donation},
		{"text version", r.TextVersion}, {"terms version", r.TermsVersion},
	} {
		if err := checkText(f.v); err != nil {
			return bad("%s: %v", f.name, err)
		}
	}
	switch r.Channel {
	case SMS:
		if err := checkText(r.MessageID); err != nil {
			return bad("message id: %v", err)
		}
		if r.ClientDigest != ([32]byte{}) {
			return bad("client digest on an sms record")
		}
	case Web:
		if r.MessageID != "" {
			return bad("message id on a web record")
		}
		if r.ClientDigest == ([32]byte{}) {
			return bad("no client digest")
		}
	default:
		return bad("channel %q is not sms or web", r.Channel)
	}
	// An all-zero digest is a field left unset, not a SHA-256 output.
	switch {
	case r.TextSHA256 == [32]byte{}:
		return bad("no text SHA-256")
	case r.TermsSHA256 == [32]byte{}:
		return bad("no terms SHA-256")
	case r.PhoneCommitment == [32]byte{}:
		return bad("no phone commitment")
	case r.Amount <= 0:
		return bad("amount %d is not positive", r.Amount)
	}
	return nil
}

func checkText(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxField:
		return fmt.Errorf("longer than %d bytes", MaxField)
	}
	return nil
}

// Parse decodes a record in the encoding of Marshal. It accepts only the
// canonical form, so that Marshal(Parse(b)) == b: one certification has one
// encoding, and so one leaf hash.
func Parse(b []byte) (Record, error) {
	var r Record
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return r, errors.New("certlog: record: does not end in a newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if lines[0] != RecordVersion {
		if strings.HasPrefix(lines[0], "shortcode certification ") {
			return r, fmt.Errorf("certlog: record: unsupported version %.40q", lines[0])
		}
		return r, fmt.Errorf("certlog: record: first line is not %q", RecordVersion)
	}
	p := parser{lines: lines[1:], line: 1}
	r.Index = p.int("index", 0)
	r.Time = p.time("time")
	r.Program = p.text("program")
	r.Committee = p.text("committee")
	r.Donation = p.text("donation")
	r.Channel = p.value("channel")
	switch r.Channel {
	case SMS:
		r.MessageID = p.text("message")
	case Web:
		r.ClientDigest = p.hash("client-sha256")
	default:
		if p.err == nil {
			p.err = fmt.Errorf("line %d: channel %q is not sms or web", p.line, r.Channel)
		}
		p.skip()
	}
	r.TextVersion = p.text("text-version")
	r.TextSHA256 = p.hash("text-sha256")
	r.TermsVersion = p.text("terms-version")
	r.TermsSHA256 = p.hash("terms-sha256")
	r.Amount = p.int("amount", 1)
	r.PhoneCommitment = p.hash("phone-sha256")
	if p.err == nil && len(p.lines) > 0 {
		p.err = fmt.Errorf("line %d: data after the last field", p.line+1)
	}
	if p.err != nil {
		return Record{}, fmt.Errorf("certlog: record: %w", p.err)
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// parser reads a record's fields in order, keeping the first error.
type parser struct {
	lines []string
	line  int // number of the last line read, from 0
	err   error
}

// value returns the value of the next line, which must have the given key.
func (p *parser) value(key string) string {
	if p.err != nil {
		return ""
	}
	if len(p.lines) == 0 {
		p.err = fmt.Errorf("missing %s", key)
		return ""
	}
	s := p.lines[0]
	p.lines = p.lines[1:]
	p.line++
	k, v, ok := strings.Cut(s, " ")
	if k != key || !ok {
		p.err = fmt.Errorf("line %d: want %q, have %.40q", p.line, key, s)
		return ""
	}
	if v == "" || strings.ContainsAny(v, " \r\t") {
		p.err = fmt.Errorf("line %d: %s: malformed value %.40q", p.line, key, v)
		return ""
	}
	return v
}

// skip consumes the next line.
func (p *parser) skip() {
	if len(p.lines) > 0 {
		p.lines = p.lines[1:]
		p.line++
	}
}

func (p *parser) fail(key, v, why string) {
	if p.err == nil {
		p.err = fmt.Errorf("line %d: %s %.40q: %s", p.line, key, v, why)
	}
}

// int reads a decimal of at least min, without sign or leading zeroes.
func (p *parser) int(key string, min int64) int64 {
	v := p.value(key)
	if p.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil || v[0] == '+' || v[0] == '-':
		p.fail(key, v, "not a decimal int64")
	case v != strconv.FormatInt(n, 10):
		p.fail(key, v, "not canonical")
	case n < min:
		p.fail(key, v, fmt.Sprintf("less than %d", min))
	}
	return n
}

func (p *parser) time(key string) time.Time {
	v := p.value(key)
	if p.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, v)
	if err != nil || t.Format(timeLayout) != v {
		p.fail(key, v, "not "+timeLayout)
	}
	return t
}

func (p *parser) hash(key string) [32]byte {
	var h [32]byte
	v := p.value(key)
	if p.err != nil {
		return h
	}
	if len(v) != 64 || strings.ToLower(v) != v {
		p.fail(key, v, "not 64 lowercase hex digits")
		return h
	}
	if _, err := hex.Decode(h[:], []byte(v)); err != nil {
		p.fail(key, v, "not 64 lowercase hex digits")
	}
	return h
}

func (p *parser) text(key string) string {
	v := p.value(key)
	if p.err != nil {
		return ""
	}
	s, ok := unescape(v)
	switch {
	case !ok:
		p.fail(key, v, "bad escape")
	case escape(s) != v:
		p.fail(key, v, "not canonically escaped")
	case len(s) > MaxField:
		p.fail(key, v, fmt.Sprintf("longer than %d bytes", MaxField))
	}
	return s
}

const upperHex = "0123456789ABCDEF"

// literal reports whether c stands for itself in a text value.
func literal(c byte) bool { return '!' <= c && c <= '~' && c != '%' }

// escape writes s with every byte that is not literal as %XX.
func escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !literal(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; literal(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return string(b)
}

// unescape decodes %XX (either case; the caller checks the form).
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		var c [1]byte
		if _, err := hex.Decode(c[:], []byte(s[i+1:i+3])); err != nil {
			return "", false
		}
		b.WriteByte(c[0])
		i += 2
	}
	return b.String(), true
}
