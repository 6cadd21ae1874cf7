package certlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// An Entry is one line of an export of the log, in JSON:
//
//	{"index":7,"record":"<base64>","proof":["<base64>",...],
//	 "opening":{"salt":"<32 hex digits>","phone":"+12015550123"}}
//
// An export is the log from index 0, one entry per line, in order, with
// inclusion proofs in the tree of the checkpoint it goes with. The proofs
// let VerifyExport name the record that a change breaks: the checkpoint's
// root alone only says that something changed.
type Entry struct {
	Index   int64            `json:"index"`
	Record  []byte           `json:"record"` // canonical bytes
	Proof   tlog.RecordProof `json:"proof"`
	Opening *Opening         `json:"opening,omitempty"` // for the auditor
}

// A RecordError names the first bad record of an export: the index the
// record at fault has, or should have, in the log.
type RecordError struct {
	Index int64
	Err   error
}

// Error returns "record <index>: " and the reason.
func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }

// Unwrap returns the reason.
func (e *RecordError) Unwrap() error { return e.Err }

// A Summary describes a verified export.
type Summary struct {
	Checkpoint Checkpoint // its size is the number of records
	Openings   int64      // commitments opened and checked
}

// maxLine bounds an export line: a record, its proof and its opening.
const maxLine = 1 << 20

// VerifyExport verifies an export read from r against a signed checkpoint
// and the log's verifier key, without trusting whoever produced either. It
// checks the checkpoint's signature (see OpenCheckpoint); that the entries
// are indexes 0 to the checkpoint's size - 1, in order; that each record
// parses canonically, holds its own index, is in the checkpoint's tree by
// its proof, and matches its opening, if any; and that the tree of all the
// records has the checkpoint's root. A changed, removed, reordered or
// added record fails with a *RecordError naming the first bad index.
func VerifyExport(r io.Reader, checkpoint []byte, v note.Verifier) (Summary, error) {
	c, err := OpenCheckpoint(checkpoint, v)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Checkpoint: c}
	var tree frontier
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	var i int64
	for ; sc.Scan(); i++ {
		opened, err := verifyEntry(sc.Bytes(), i, c, &tree)
		if err != nil {
			return Summary{}, &RecordError{Index: i, Err: err}
		}
		if opened {
			s.Openings++
		}
	}
	if err := sc.Err(); err != nil {
		return Summary{}, &RecordError{Index: i, Err: err}
	}
	if i < c.N {
		return Summary{}, &RecordError{Index: i, Err: fmt.Errorf("missing: the export ends after %d records, the checkpoint has %d", i, c.N)}
	}
	// Every record is in the tree by its proof, so this holds; it is
	// checked all the same, as the definition of the tree.
	root, err := tlog.TreeHash(c.N, &tree)
	if err != nil {
		return Summary{}, err
	}
	if root != c.Hash {
		return Summary{}, fmt.Errorf("certlog: the records' tree hash %v is not the checkpoint's %v", root, c.Hash)
	}
	return s, nil
}

// verifyEntry verifies export line b, which should hold record i, and adds
// the record to the tree. It reports whether the line had an opening.
func verifyEntry(b []byte, i int64, c Checkpoint, tree *frontier) (opened bool, err error) {
	var e Entry
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return false, fmt.Errorf("malformed line: %v", err)
	}
	if d.More() {
		return false, errors.New("malformed line: data after the entry")
	}
	if i >= c.N {
		return false, fmt.Errorf("beyond the checkpoint's size %d", c.N)
	}
	if e.Index != i {
		return false, fmt.Errorf("the entry has index %d", e.Index)
	}
	r, err := Parse(e.Record)
	if err != nil {
		return false, err
	}
	if r.Index != i {
		return false, fmt.Errorf("the record holds index %d", r.Index)
	}
	h := tlog.RecordHash(e.Record)
	if err := tlog.CheckRecord(e.Proof, c.N, c.Hash, i, h); err != nil {
		return false, fmt.Errorf("not in the checkpoint's tree: %v", err)
	}
	if e.Opening != nil {
		if err := e.Opening.Check(r); err != nil {
			return false, err
		}
	}
	if err := tree.add(i, h); err != nil {
		return false, err
	}
	return e.Opening != nil, nil
}

// A frontier holds the stored hashes of a tree being built from its
// records that later records or the tree hash may need: those of the
// complete subtrees along its right edge, at most one per level. It lets
// VerifyExport check a log of any length in little memory.
type frontier struct {
	size   int64
	hashes map[int64]tlog.Hash // by stored hash index
}

// add appends the record with leaf hash h, which must have index f.size.
func (f *frontier) add(n int64, h tlog.Hash) error {
	if n != f.size {
		return fmt.Errorf("certlog: record %d added to a tree of size %d", n, f.size)
	}
	if f.hashes == nil {
		f.hashes = make(map[int64]tlog.Hash)
	}
	stored, err := tlog.StoredHashesForRecordHash(n, h, f)
	if err != nil {
		return err
	}
	for k, s := range stored {
		f.hashes[tlog.StoredHashIndex(0, n)+int64(k)] = s
	}
	f.size++
	keep := make(map[int64]bool)
	for level := 0; f.size>>level > 0; level++ {
		if f.size>>level&1 == 1 {
			keep[tlog.StoredHashIndex(level, f.size>>level-1)] = true
		}
	}
	for k := range f.hashes {
		if !keep[k] {
			delete(f.hashes, k)
		}
	}
	return nil
}

// ReadHashes implements tlog.HashReader for the hashes kept.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := f.hashes[x]
		if !ok {
			level, n := tlog.SplitStoredHashIndex(x)
			return nil, fmt.Errorf("certlog: hash %d at level %d is not kept", n, level)
		}
		out[i] = h
	}
	return out, nil
}
