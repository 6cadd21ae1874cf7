package certlog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Checkpoint is a signed tree head in the form of c2sp.org/tlog-checkpoint:
// the note text is the origin, the tree size in decimal and the base64 root
// hash, one per line, then any extension lines.
//
// shortcode signs its checkpoints with an Ed25519 note key named after the
// origin (which the specification recommends), so a verifier key alone
// identifies the log: OpenCheckpoint takes the origin from it.
type Checkpoint struct {
	Origin string
	tlog.Tree
	Extensions []string // opaque; NOT RECOMMENDED by the specification
}

// Text returns the checkpoint's note text.
func (c Checkpoint) Text() (string, error) {
	if err := checkLine(c.Origin); err != nil {
		return "", fmt.Errorf("certlog: checkpoint: origin: %w", err)
	}
	if c.N < 0 {
		return "", fmt.Errorf("certlog: checkpoint: negative size %d", c.N)
	}
	var b strings.Builder
	b.WriteString(c.Origin + "\n")
	b.WriteString(strconv.FormatInt(c.N, 10) + "\n")
	b.WriteString(c.Hash.String() + "\n")
	for _, e := range c.Extensions {
		if err := checkLine(e); err != nil {
			return "", fmt.Errorf("certlog: checkpoint: extension: %w", err)
		}
		b.WriteString(e + "\n")
	}
	return b.String(), nil
}

// checkLine reports why s cannot be a line of a note.
func checkLine(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// ParseCheckpoint parses a checkpoint's note text, as returned by Text. It
// checks no signature: see OpenCheckpoint.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("certlog: checkpoint: "+format, args...)
	}
	if !strings.HasSuffix(text, "\n") {
		return bad("does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return bad("fewer than 3 lines")
	}
	c.Origin = lines[0]
	if err := checkLine(c.Origin); err != nil {
		return bad("origin: %v", err)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || lines[1] != strconv.FormatInt(n, 10) {
		return bad("size %.40q is not a decimal without sign or leading zeroes", lines[1])
	}
	c.N = n
	h, ok := parseHash(lines[2])
	if !ok {
		return bad("root hash %.60q is not a base64 SHA-256 hash", lines[2])
	}
	c.Hash = h
	for _, e := range lines[3:] {
		if err := checkLine(e); err != nil {
			return bad("extension line: %v", err)
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// parseHash decodes a hash in its one base64 form.
func parseHash(s string) (tlog.Hash, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return tlog.Hash{}, false
	}
	return tlog.Hash(b), true
}

// SignCheckpoint returns c as a signed note, signed by s, whose name must
// be c's origin.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("certlog: checkpoint: signer %q is not named after the origin %q", s.Name(), c.Origin)
	}
	text, err := c.Text()
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return nil, fmt.Errorf("certlog: checkpoint: %w", err)
	}
	return msg, nil
}

// ReadCheckpoint reads a signed checkpoint without checking any signature:
// for a client that checks it later (an export verified offline) or not at
// all. OpenCheckpoint is the reading that trusts it.
func ReadCheckpoint(msg []byte) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &unverified):
		n = unverified.Note
	case err != nil:
		return Checkpoint{}, fmt.Errorf("certlog: checkpoint: %w", err)
	}
	return ParseCheckpoint(n.Text)
}

// OpenCheckpoint verifies a signed checkpoint: v must have signed it, and
// its origin must be v's name. Other signatures, such as witnesses'
// cosignatures, are ignored. Errors from the note package
// (*note.InvalidSignatureError, *note.UnverifiedNoteError) are wrapped.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("certlog: checkpoint: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("certlog: checkpoint: origin %q is not the key's, %q", c.Origin, v.Name())
	}
	return c, nil
}
