package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// auditCommand is `shortcode audit`: the auditor's commands (docs/audit.md).
// checkpoint, export, show and proof are clients of the server; verify and
// verify-proof work offline, on files, with the log's verifier key only.
type auditCommand struct {
	Checkpoint  auditCheckpointCommand  `cmd:"" help:"Print the log's latest signed checkpoint; with --key, check its signature first."`
	Export      auditExportCommand      `cmd:"" help:"Download the log's records, with their openings and inclusion proofs, and the checkpoint they verify against."`
	Show        auditShowCommand        `cmd:"" help:"Show a donation's evidence: its texts, its certification record and opening, the PIN verification and the charge."`
	Proof       auditProofCommand       `cmd:"" help:"Download a donation's record and its inclusion proof, a c2sp.org/tlog-proof file."`
	Verify      auditVerifyCommand      `cmd:"" help:"Verify an export against its checkpoint and the log's verifier key, offline; name the first bad record."`
	VerifyProof auditVerifyProofCommand `cmd:"" name:"verify-proof" help:"Verify a proof file against the log's verifier key, offline."`
}

func (auditCommand) Help() string {
	return `checkpoint, export, show and proof ask a server (--server; --token with an auditor or admin token, but for checkpoint, which is public). verify and verify-proof read only files and the verifier key: they never touch a server or a database. docs/audit.md says how to check the log from scratch.`
}

// stampMilli is a time to the millisecond, UTC.
const stampMilli = "2006-01-02T15:04:05.000Z07:00"

type auditCheckpointCommand struct {
	Key      string `placeholder:"VERIFIER" help:"Check the checkpoint's signature with the log's verifier key, given as itself or as the file holding it."`
	apiFlags `embed:""`
}

func (c *auditCheckpointCommand) Run(ctx context.Context, s *stdio) error {
	v, err := optionalVerifier("--key", c.Key)
	if err != nil {
		return err
	}
	api, err := c.publicClient("audit checkpoint")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := api.Download(ctx, "/log/checkpoint", nil, &b); err != nil {
		return err
	}
	if v != nil {
		cp, err := certlog.OpenCheckpoint(b.Bytes(), v)
		if err != nil {
			return fmt.Errorf("the server's checkpoint does not verify: %w", keyError(err, v))
		}
		fmt.Fprintf(s.err, "the signature of %s verifies: size %d, root %v\n", cp.Origin, cp.N, cp.Hash)
	}
	_, err = s.out.Write(b.Bytes())
	return err
}

type auditExportCommand struct {
	From       int64  `default:"0" help:"The index of the first record."`
	To         *int64 `placeholder:"INT" help:"The index after the last record (default: the checkpoint's size, the whole log)."`
	Out        string `default:"-" placeholder:"FILE" help:"Write the records here, one JSON line each; - for stdout."`
	Checkpoint string `placeholder:"FILE" help:"Write the checkpoint here (default: --out with the extension .checkpoint, log.jsonl's is log.checkpoint; required with --out -)."`
	apiFlags   `embed:""`
}

func (auditExportCommand) Help() string {
	return `The export is taken in the tree of the server's latest checkpoint, fetched first: each record has its inclusion proof in that tree, and the checkpoint is saved beside the records. shortcode audit verify checks a whole export (from 0, without --to); --from and --to take a slice, for reading.`
}

func (c *auditExportCommand) Run(ctx context.Context, s *stdio) error {
	const path = "audit export"
	cpFile := c.Checkpoint
	if cpFile == "" {
		if c.Out == "-" {
			return usagef(path, "with the records on stdout, give --checkpoint FILE to keep the checkpoint they verify against (or --out FILE)")
		}
		cpFile = strings.TrimSuffix(c.Out, filepath.Ext(c.Out)) + ".checkpoint"
	}
	if filepath.Clean(cpFile) == filepath.Clean(c.Out) {
		return usagef(path, "--out and --checkpoint name one file, %s", cpFile)
	}
	// An export may take long: no bound on the whole answer, only on its
	// start.
	hc := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: 60 * time.Second,
	}}
	api, err := c.clientWith(path, hc)
	if err != nil {
		return err
	}
	var signed bytes.Buffer
	if _, err := api.Download(ctx, "/log/checkpoint", nil, &signed); err != nil {
		return err
	}
	cp, err := certlog.ReadCheckpoint(signed.Bytes())
	if err != nil {
		return fmt.Errorf("the server's checkpoint: %w", err)
	}
	to := cp.N
	if c.To != nil {
		to = *c.To
	}
	q := url.Values{"size": {strconv.FormatInt(cp.N, 10)}, "from": {strconv.FormatInt(c.From, 10)}, "to": {strconv.FormatInt(to, 10)}}

	out, commit, err := create(c.Out, s.out)
	if err != nil {
		return err
	}
	lines := &lineCounter{w: out}
	_, err = api.Download(ctx, "/api/v1/audit/records", q, lines)
	if err == nil && lines.n != to-c.From {
		err = fmt.Errorf("the server sent %d records of the %d asked for", lines.n, to-c.From)
	}
	if err := commit(err); err != nil {
		return err
	}
	if err := writeTo(cpFile, s.out, signed.Bytes()); err != nil {
		return err
	}
	where := c.Out
	if where == "-" {
		where = "stdout"
	}
	which := fmt.Sprintf("records %d to %d", c.From, to-1)
	if to <= c.From {
		which = "no records"
	}
	fmt.Fprintf(s.err, "exported %s of %s in its tree of size %d: %s; its checkpoint: %s\n", which, cp.Origin, cp.N, where, cpFile)
	if c.From == 0 && to == cp.N && c.Out != "-" {
		fmt.Fprintf(s.err, "verify them with: shortcode audit verify --log %s --checkpoint %s --key VERIFIER\n", c.Out, cpFile)
	}
	return nil
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w io.Writer
	n int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	l.n += int64(bytes.Count(p[:n], []byte("\n")))
	return n, err
}

// create returns the writer of file name, or of stdout for "-", and the
// function that ends the writing: given the error of the work, it keeps
// the file if there was none (a file is written whole or not at all).
func create(name string, stdout io.Writer) (io.Writer, func(error) error, error) {
	if name == "-" {
		return stdout, func(err error) error { return err }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return nil, nil, err
	}
	return f, func(err error) error {
		if err == nil {
			err = f.Chmod(0o644)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), name)
		}
		if err != nil {
			os.Remove(f.Name())
		}
		return err
	}, nil
}

// writeTo writes b to file name whole, or to stdout for "-".
func writeTo(name string, stdout io.Writer, b []byte) error {
	w, commit, err := create(name, stdout)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return commit(err)
}

type auditShowCommand struct {
	Donation string `arg:"" help:"The donation's id."`
	Key      string `placeholder:"VERIFIER" help:"Also check the checkpoint's signature and the record's inclusion proof with the log's verifier key (or the file holding it)."`
	JSON     bool   `name:"json" help:"Print the evidence as the API's JSON."`
	apiFlags `embed:""`
}

func (auditShowCommand) Help() string {
	return `The record's opening (salt and phone number) is always checked against its phone commitment; with --key, the checkpoint's signature and the record's inclusion proof in it are checked too. A check that fails is shown, and the command exits 1. The transcript is searched for the text whose SHA-256 the record holds and for the MO that carried the YES.`
}

func (c *auditShowCommand) Run(ctx context.Context, s *stdio) error {
	v, err := optionalVerifier("--key", c.Key)
	if err != nil {
		return err
	}
	api, err := c.client("audit show")
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := api.Get(ctx, "/api/v1/audit/donations/"+url.PathEscape(c.Donation), nil, &raw); err != nil {
		return err
	}
	var ev httpserver.EvidenceOfDonation
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("audit show: the server's answer: %w", err)
	}
	opening, inLog, failed := checkEvidence(ev, v)
	if c.JSON {
		if err := writeRaw(s.out, raw); err != nil {
			return err
		}
	} else if err := writeEvidence(s.out, ev, opening, inLog); err != nil {
		return err
	}
	return failed
}

// checkEvidence checks the opening of the evidence's record and, with v,
// its inclusion in the signed checkpoint. It returns what to say of each
// and the first failure.
func checkEvidence(ev httpserver.EvidenceOfDonation, v note.Verifier) (opening, inLog string, failed error) {
	rec, err := certlog.Parse([]byte(ev.Record))
	if err != nil {
		return "not checked: " + err.Error(), "not checked", fmt.Errorf("the record of donation %s: %w", ev.Donation, err)
	}
	if err := ev.Opening.Check(rec); err != nil {
		opening, failed = "FAILED: "+err.Error(), fmt.Errorf("donation %s: %w", ev.Donation, err)
	} else {
		opening = "yes: SHA-256(salt || phone) is the record's phone-sha256"
		if rec.Channel == certlog.Web {
			opening += ", and the client digest matches"
		}
	}
	if v == nil {
		return opening, "not checked: give --key VERIFIER", failed
	}
	cp, err := certlog.OpenCheckpoint([]byte(ev.Checkpoint), v)
	switch {
	case err != nil:
		err = keyError(err, v)
	case rec.Index != ev.Index:
		err = fmt.Errorf("the record holds index %d, the evidence says %d", rec.Index, ev.Index)
	case ev.Index >= cp.N:
		return opening, fmt.Sprintf("not yet: the latest checkpoint has %d records", cp.N), failed
	default:
		if err = tlog.CheckRecord(ev.Proof, cp.N, cp.Hash, ev.Index, tlog.RecordHash([]byte(ev.Record))); err != nil {
			err = fmt.Errorf("record %d is not in the checkpoint's tree: %w", ev.Index, err)
		}
	}
	if err != nil {
		if failed == nil {
			failed = fmt.Errorf("donation %s: %w", ev.Donation, err)
		}
		return opening, "FAILED: " + err.Error(), failed
	}
	return opening, fmt.Sprintf("yes: record %d is in the tree of size %d signed by %s (%08x)", ev.Index, cp.N, v.Name(), v.KeyHash()), failed
}

// writeEvidence prints a donation's evidence for a person.
func writeEvidence(w io.Writer, ev httpserver.EvidenceOfDonation, opening, inLog string) error {
	var b bytes.Buffer
	section(&b, "", [][2]string{
		{"donation", ev.Donation}, {"status", ev.Status}, {"amount", usd(ev.Amount)}, {"phone", ev.Phone},
	})

	b.WriteString("\ntranscript\n")
	t := newTable("  AT", "DIR", "MESSAGE", "STATUS", "TEXT")
	for _, l := range ev.Transcript {
		t.add("  "+l.At.UTC().Format(stampMilli), strings.ToUpper(l.Direction), l.MessageID, l.Status, l.Body)
	}
	if err := t.write(&b); err != nil {
		return err
	}

	fmt.Fprintf(&b, "\ncertification record %d\n", ev.Index)
	for _, line := range strings.SplitAfter(ev.Record, "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	if rec, err := certlog.Parse([]byte(ev.Record)); err == nil {
		section(&b, "in the transcript", inTranscript(rec, ev.Transcript))
	}
	salt, _ := ev.Opening.Salt.MarshalText()
	section(&b, "opening", [][2]string{
		{"salt", string(salt)}, {"phone", ev.Opening.Phone},
		{"ip", ev.Opening.IP}, {"user agent", ev.Opening.UserAgent},
		{"matches", opening}, {"in the log", inLog},
	})

	pin := [][2]string{{"given", "no"}}
	if p := ev.PIN; p != nil {
		pin = [][2]string{{"at", p.At.UTC().Format(stampMilli)}, {"channel", p.Channel},
			{"message", p.MessageID}, {"ip", p.IP}, {"user agent", p.UserAgent}}
	}
	section(&b, "PIN verification", pin)

	charge := [][2]string{{"posted", "no"}}
	if c := ev.Charge; c != nil {
		finished := ""
		if c.FinishedAt != nil {
			finished = c.FinishedAt.UTC().Format(stampMilli)
		}
		charge = [][2]string{
			{"posted", c.PostedAt.UTC().Format(stampMilli)}, {"correlator", c.Correlator}, {"carrier", c.Carrier},
			{"outcome", c.Outcome}, {"reference", c.Reference}, {"decline", c.Decline}, {"finished", finished},
		}
	}
	section(&b, "charge", charge)
	_, err := w.Write(b.Bytes())
	return err
}

// inTranscript finds the texts of the transcript that the record names:
// the text the donor accepted, by its SHA-256, and the MO that carried the
// YES, by its message id.
func inTranscript(rec certlog.Record, transcript []auditlog.TranscriptLine) [][2]string {
	text := "no text of the transcript has the record's text-sha256"
	for _, l := range transcript {
		if l.Direction == "mt" && sha256.Sum256([]byte(l.Body)) == rec.TextSHA256 {
			text = fmt.Sprintf("the MT %s of %s, whose SHA-256 is the record's text-sha256", l.MessageID, l.At.UTC().Format(stampMilli))
			break
		}
	}
	fields := [][2]string{{"text sent", text}}
	if rec.Channel == certlog.SMS {
		yes := "no MO of the transcript has the record's message id"
		for _, l := range transcript {
			if l.Direction == "mo" && l.MessageID == rec.MessageID {
				yes = fmt.Sprintf("the MO %s of %s: %q", l.MessageID, l.At.UTC().Format(stampMilli), l.Body)
				break
			}
		}
		fields = append(fields, [2]string{"certified by", yes})
	}
	return fields
}

// section writes a title (none when "") and its fields, aligned; empty
// values are written "-", and the fields of an opening that has none
// (ip, user agent) are left out.
func section(b *bytes.Buffer, title string, fields [][2]string) {
	indent := ""
	if title != "" {
		b.WriteString("\n" + title + "\n")
		indent = "  "
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		if f[1] == "" && (f[0] == "ip" || f[0] == "user agent" || f[0] == "message") {
			continue
		}
		v := f[1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s%s\t%s\n", indent, f[0], v)
	}
	tw.Flush()
}

type auditProofCommand struct {
	Donation string `arg:"" help:"The donation's id."`
	Out      string `default:"-" placeholder:"FILE" help:"Write the proof file here; - for stdout."`
	apiFlags `embed:""`
}

func (auditProofCommand) Help() string {
	return `The proof file holds the record, its index, its inclusion proof and the signed checkpoint: with the verifier key alone, shortcode audit verify-proof (or any c2sp.org/tlog-proof verifier) checks it. A donation certified less than the merge delay ago (serve --merge-delay, 1s) may not be in the log yet: try again a moment later.`
}

func (c *auditProofCommand) Run(ctx context.Context, s *stdio) error {
	api, err := c.client("audit proof")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := api.Download(ctx, "/api/v1/audit/donations/"+url.PathEscape(c.Donation)+"/proof", nil, &b); err != nil {
		return err
	}
	if err := writeTo(c.Out, s.out, b.Bytes()); err != nil {
		return err
	}
	if c.Out != "-" {
		fmt.Fprintf(s.err, "wrote the proof of donation %s to %s; check it with: shortcode audit verify-proof %s --key VERIFIER\n", c.Donation, c.Out, c.Out)
	}
	return nil
}

type auditVerifyCommand struct {
	Log        string `required:"" placeholder:"FILE" help:"The export: JSON lines, from shortcode audit export (- for stdin)."`
	Checkpoint string `required:"" placeholder:"FILE" help:"The signed checkpoint the export was taken in."`
	Key        string `required:"" placeholder:"VERIFIER" help:"The log's verifier key, given as itself or as the file holding it (shortcode keys generate's .pub)."`
}

func (auditVerifyCommand) Help() string {
	return `Offline: reads the files and the key, and nothing else. Checks the checkpoint's signature and origin; that the export holds records 0 to the checkpoint's size - 1, in order, each canonically encoded, holding its own index, in the checkpoint's tree by its inclusion proof, and matching its opening (salt and phone number); and that all of them make the checkpoint's root. A changed, missing, reordered or added record fails, naming the first bad one, and the command exits 1.`
}

func (c *auditVerifyCommand) Run(s *stdio) error {
	v, err := readVerifier("--key", c.Key)
	if err != nil {
		return err
	}
	signed, err := os.ReadFile(c.Checkpoint)
	if err != nil {
		return err
	}
	var export io.Reader = os.Stdin
	if c.Log != "-" {
		f, err := os.Open(c.Log)
		if err != nil {
			return err
		}
		defer f.Close()
		export = f
	}
	sum, err := certlog.VerifyExport(export, signed, v)
	if err != nil {
		return fmt.Errorf("%s does not verify against %s: %w", c.Log, c.Checkpoint, keyError(err, v))
	}
	cp := sum.Checkpoint
	fmt.Fprintf(s.out, "%s verifies against %s, signed by %s (%08x)\n", c.Log, c.Checkpoint, v.Name(), v.KeyHash())
	var b bytes.Buffer
	section(&b, "", [][2]string{
		{"origin", cp.Origin}, {"size", strconv.FormatInt(cp.N, 10)}, {"root", cp.Hash.String()},
		{"records", fmt.Sprintf("%d, each in the tree by its proof; together they make the root", cp.N)},
		{"openings", fmt.Sprintf("%d checked against their phone commitments", sum.Openings)},
	})
	_, err = s.out.Write(b.Bytes())
	return err
}

type auditVerifyProofCommand struct {
	File string `arg:"" placeholder:"FILE" help:"The proof file, from shortcode audit proof (- for stdin)."`
	Key  string `required:"" placeholder:"VERIFIER" help:"The log's verifier key, given as itself or as the file holding it."`
}

func (auditVerifyProofCommand) Help() string {
	return `Offline: reads the file and the key, and nothing else. Checks the checkpoint's signature and origin, that the record the file carries is canonically encoded and holds the proof's index, and that it is in the checkpoint's tree by the inclusion proof; then prints the record.`
}

func (c *auditVerifyProofCommand) Run(s *stdio) error {
	v, err := readVerifier("--key", c.Key)
	if err != nil {
		return err
	}
	var file []byte
	if c.File == "-" {
		file, err = io.ReadAll(os.Stdin)
	} else {
		file, err = os.ReadFile(c.File)
	}
	if err != nil {
		return err
	}
	rec, cp, err := certlog.VerifyProof(file, nil, v)
	if err != nil {
		return fmt.Errorf("%s does not verify: %w", c.File, keyError(err, v))
	}
	record, err := rec.Marshal()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s verifies: record %d is in the tree of size %d signed by %s (%08x)\n", c.File, rec.Index, cp.N, v.Name(), v.KeyHash())
	section(&b, "", [][2]string{{"origin", cp.Origin}, {"size", strconv.FormatInt(cp.N, 10)}, {"root", cp.Hash.String()}})
	b.WriteString("\nrecord\n")
	for _, line := range strings.SplitAfter(string(record), "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	_, err = s.out.Write(b.Bytes())
	return err
}

// optionalVerifier is readVerifier for a flag that may be left out: no
// verifier then, and no error.
func optionalVerifier(flag, value string) (note.Verifier, error) {
	if value == "" {
		return nil, nil
	}
	return readVerifier(flag, value)
}

// readVerifier returns the verifier of a note verifier key given as
// itself (NAME+HASH+KEY) or as the name of a file that holds it.
func readVerifier(flag, value string) (note.Verifier, error) {
	key, in := strings.TrimSpace(value), ""
	if _, err := note.NewVerifier(key); err != nil && !strings.HasPrefix(key, "PRIVATE+KEY+") {
		b, err := os.ReadFile(value)
		if err != nil {
			return nil, fmt.Errorf("%s: neither a verifier key (NAME+HASH+KEY) nor a file that holds one: %w", flag, err)
		}
		key, in = strings.TrimSpace(string(b)), " in "+value
	}
	if strings.HasPrefix(key, "PRIVATE+KEY+") {
		return nil, fmt.Errorf("%s: the key%s is the log's signer key, which must stay secret; give its verifier key (the .pub file of shortcode keys generate)", flag, in)
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("%s: the key%s is not a verifier key (NAME+HASH+KEY): %v", flag, in, err)
	}
	return v, nil
}

// keyError explains an error of a checkpoint that the verifier v did not
// sign, naming the keys that did.
func keyError(err error, v note.Verifier) error {
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		return err
	}
	var by []string
	for _, s := range u.Note.UnverifiedSigs {
		by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return fmt.Errorf("the checkpoint is not signed by the key given, %s+%08x (it is signed by %s)", v.Name(), v.KeyHash(), strings.Join(by, ", "))
}
