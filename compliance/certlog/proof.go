package certlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// proofHeader is the first line of a c2sp.org/tlog-proof file.
const proofHeader = "c2sp.org/tlog-proof@v1"

// A Proof is a c2sp.org/tlog-proof: an offline-verifiable proof that an
// entry is in the log, made of the entry's index, its inclusion proof and
// the signed checkpoint of the tree it is proved in.
//
// shortcode's proofs carry the record's canonical bytes as their extra data,
// so that a proof file is all an auditor needs besides the verifier key. The
// extra data is not trusted: VerifyProof checks its hash against the
// checkpoint.
type Proof struct {
	Extra      []byte // optional; shortcode's: the record
	Index      int64
	Path       tlog.RecordProof // from the leaf's sibling up to the root's child
	Checkpoint []byte           // the signed note, verbatim
}

// maxPath is the longest inclusion proof in a tree of at most 2⁶³ entries.
const maxPath = 63

// Marshal returns p in the tlog-proof format:
//
//	c2sp.org/tlog-proof@v1
//	extra <base64 of Extra, the line omitted if Extra is empty>
//	index <decimal>
//	<one base64 hash per line>
//	<an empty line>
//	<the checkpoint>
func (p Proof) Marshal() ([]byte, error) {
	if p.Index < 0 {
		return nil, fmt.Errorf("certlog: proof: negative index %d", p.Index)
	}
	if len(p.Path) > maxPath {
		return nil, fmt.Errorf("certlog: proof: %d hashes, more than %d", len(p.Path), maxPath)
	}
	if len(p.Checkpoint) == 0 || p.Checkpoint[len(p.Checkpoint)-1] != '\n' {
		return nil, errors.New("certlog: proof: checkpoint does not end in a newline")
	}
	var b bytes.Buffer
	b.WriteString(proofHeader + "\n")
	if len(p.Extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatInt(p.Index, 10) + "\n")
	for _, h := range p.Path {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes(), nil
}

// ParseProof parses a proof in the format of Marshal, accepting only that
// form. It checks no signature or hash: see VerifyProof.
func ParseProof(b []byte) (Proof, error) {
	var p Proof
	bad := func(format string, args ...any) (Proof, error) {
		return Proof{}, fmt.Errorf("certlog: proof: "+format, args...)
	}
	rest := b
	next := func() (string, bool) {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return "", false
		}
		rest = after
		return string(line), true
	}
	line, ok := next()
	if !ok || line != proofHeader {
		return bad("first line is not %q", proofHeader)
	}
	if line, ok = next(); !ok {
		return bad("truncated")
	}
	if v, found := strings.CutPrefix(line, "extra "); found {
		x, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(x) == 0 || base64.StdEncoding.EncodeToString(x) != v {
			return bad("extra data is not base64")
		}
		p.Extra = x
		if line, ok = next(); !ok {
			return bad("truncated")
		}
	}
	v, found := strings.CutPrefix(line, "index ")
	n, isDecimal := decimal(v)
	if !found || !isDecimal {
		return bad("want an index line, have %.40q", line)
	}
	p.Index = n
	for {
		if line, ok = next(); !ok {
			return bad("no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		h, ok := parseHash(line)
		if !ok {
			return bad("inclusion proof line %.60q is not a base64 hash", line)
		}
		if len(p.Path) == maxPath {
			return bad("more than %d hashes", maxPath)
		}
		p.Path = append(p.Path, h)
	}
	if len(rest) == 0 || rest[len(rest)-1] != '\n' {
		return bad("no checkpoint, or it does not end in a newline")
	}
	p.Checkpoint = rest
	return p, nil
}

// VerifyProof verifies a proof file against the log's verifier key: the
// checkpoint is signed by v (see OpenCheckpoint), the record parses
// canonically, its index is the proof's, and its leaf hash is at that index
// in the checkpointed tree. The record is the one given, or, if record is
// nil, the one the proof carries; if both are present they must be equal.
func VerifyProof(file, record []byte, v note.Verifier) (Record, Checkpoint, error) {
	p, err := ParseProof(file)
	if err != nil {
		return Record{}, Checkpoint{}, err
	}
	switch {
	case record == nil && len(p.Extra) == 0:
		return Record{}, Checkpoint{}, errors.New("certlog: proof: carries no record, and none was given")
	case record == nil:
		record = p.Extra
	case len(p.Extra) > 0 && !bytes.Equal(record, p.Extra):
		return Record{}, Checkpoint{}, errors.New("certlog: proof: carries another record than the one given")
	}
	c, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return Record{}, Checkpoint{}, err
	}
	r, err := Parse(record)
	if err != nil {
		return Record{}, Checkpoint{}, err
	}
	if r.Index != p.Index {
		return Record{}, Checkpoint{}, fmt.Errorf("certlog: proof: for index %d, of record %d", p.Index, r.Index)
	}
	if p.Index >= c.N {
		return Record{}, Checkpoint{}, fmt.Errorf("certlog: proof: index %d is not in a tree of size %d", p.Index, c.N)
	}
	if err := tlog.CheckRecord(p.Path, c.N, c.Hash, p.Index, tlog.RecordHash(record)); err != nil {
		return Record{}, Checkpoint{}, fmt.Errorf("certlog: proof: record %d is not in the checkpoint's tree: %w", p.Index, err)
	}
	return r, c, nil
}
