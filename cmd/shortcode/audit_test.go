package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance/certlog"
)

// giveMany runs donations of $10 through the simulator's phones: numbers
// phones from +1312555 and first on, each giving each times, all the
// phones at once. It returns once every receipt has come.
func giveMany(t *testing.T, s *sim.Sim, first, numbers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &donor{t: t, sim: s, phone: fmt.Sprintf("+1312555%04d", first+i), to: "62262"}
			for range each {
				d.say("GIVE 10")
				d.next(reConfirm)
				d.say("YES")
				d.say(d.next(rePIN)[1])
				d.next(reReceipt)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// logSize waits until the server's signed checkpoint has at least n
// records and returns its size.
func logSize(t *testing.T, server string, v note.Verifier, n int64) int64 {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(server + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		signed, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		c, err := certlog.OpenCheckpoint(signed, v)
		if err != nil {
			t.Fatalf("checkpoint: %s: %v\n%s", resp.Status, err, signed)
		}
		if c.N >= n {
			return c.N
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkpoint has %d records after 10 s, want %d", c.N, n)
		}
	}
}

// testLogVerifier is the verifier key of the test log of
// testdata/certlog (compliance/certlog's tests).
const testLogVerifier = "shortcode.example/log+01afac07+ARRzLoGE1ZQyp0PUpWnazP2iooLDpv36uK6IpAp9JKAZ"

// offlineEnv points the client settings at a server and a database that
// do not exist: the offline commands must not need either.
func offlineEnv(t *testing.T) []string {
	return []string{"SHORTCODE_SERVER=http://" + freeAddr(t), "SHORTCODE_TOKEN=" + testToken,
		"SHORTCODE_DB=" + filepath.Join(t.TempDir(), "no", "such.db")}
}

// TestAuditLog is issue 9's acceptance test of the auditor's side (SPEC
// §8, §10 (6)). The log's keys come from keys generate, and a serve
// process signs with the signer key; 200 donations are made by text; an
// auditor token exports the log and a donation's proof and evidence. Then,
// with the server stopped and only the verifier key, the export verifies
// offline, and every kind of tampering with it fails naming the record;
// the proof verifies, and fails once a byte of it changed. The torchwood
// subtest checks the served log with an independent C2SP client.
func TestAuditLog(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	shortcode(t, dir, nil, "keys", "generate", "--origin", "audit.test/shortcode/log").want(t, 0)
	skey, err := os.ReadFile(filepath.Join(dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(filepath.Join(dir, "log.pub"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "audit.db")
	shortcode(t, dir, nil, "migrate", "--db", db).want(t, 0)
	tokens := map[string]string{}
	for _, role := range []string{"auditor", "treasurer"} {
		r := shortcode(t, dir, nil, "token", "create", "--db", db, "--role", role, "--name", role)
		r.want(t, 0)
		tokens[role] = strings.TrimSpace(r.stdout)
	}

	addr := freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addr, 100*time.Millisecond)
	srv := serve(t, addr, "--db", db, "--sim-addr", "off", "--twilio-api-url", simURL, "--carriers", carriers,
		"--twilio-auth-token", "test-token", "--charge-backoff", "20ms", "--merge-delay", "100ms",
		"--log-key", strings.TrimSpace(string(skey)))
	giveMany(t, s, 0, 50, 4)
	const size = 200
	if n := logSize(t, srv.url, verifier, size); n != size {
		t.Fatalf("the log has %d records after %d donations", n, size)
	}
	t.Logf("%d donations in the log after %v", size, time.Since(start).Round(time.Millisecond))
	api := []string{"SHORTCODE_SERVER=" + srv.url, "SHORTCODE_TOKEN=" + tokens["auditor"]}

	// Online: the checkpoint, the export, a proof and the evidence.
	cp := shortcode(t, dir, []string{"SHORTCODE_SERVER=" + srv.url}, "audit", "checkpoint", "--key", "log.pub")
	cp.want(t, 0)
	if !strings.HasPrefix(cp.stdout, "audit.test/shortcode/log\n200\n") || !strings.Contains(cp.stderr, "verifies: size 200") {
		t.Errorf("audit checkpoint:\n%s\n%s", cp.stdout, cp.stderr)
	}
	other := shortcode(t, dir, []string{"SHORTCODE_SERVER=" + srv.url}, "audit", "checkpoint", "--key", testLogVerifier)
	other.want(t, 1)
	if other.stdout != "" || !strings.Contains(other.stderr, "the checkpoint is not signed by the key given, shortcode.example/log+01afac07 (it is signed by audit.test/shortcode/log+") {
		t.Errorf("audit checkpoint with another log's key: %s", other.stderr)
	}
	export := shortcode(t, dir, api, "audit", "export", "--out", "log.jsonl")
	export.want(t, 0)
	if !strings.Contains(export.stderr, "exported records 0 to 199 of audit.test/shortcode/log in its tree of size 200: log.jsonl; its checkpoint: log.checkpoint") {
		t.Errorf("audit export: %s", export.stderr)
	}
	exported, err := os.ReadFile(filepath.Join(dir, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(exported), "\n"), "\n")
	if len(lines) != size {
		t.Fatalf("the export has %d lines, want %d", len(lines), size)
	}
	entry := func(i int) certlog.Entry {
		var e certlog.Entry
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			t.Fatalf("export line %d: %v", i, err)
		}
		return e
	}
	record := func(i int) certlog.Record {
		r, err := certlog.Parse(entry(i).Record)
		if err != nil {
			t.Fatalf("export line %d: %v", i, err)
		}
		return r
	}
	const shown = 57
	donation := record(shown).Donation
	shortcode(t, dir, api, "audit", "proof", donation, "--out", "d.tlog-proof").want(t, 0)

	show := shortcode(t, dir, api, "audit", "show", donation, "--key", "log.pub")
	show.want(t, 0)
	for _, re := range []string{
		`(?m)^donation\s+` + donation + `$`, `(?m)^status\s+completed$`, `(?m)^amount\s+\$10\.00$`, `(?m)^phone\s+\+1312555\d{4}$`,
		`(?m)^  \S+Z\s+MO\s+SM[0-9a-f]{32}\s+-\s+GIVE 10$`, `(?m)^  \S+Z\s+MT\s+SM[0-9a-f]{32}\s+sent\s+Reply YES to give \$10`,
		`(?m)^  \S+Z\s+MO\s+SM[0-9a-f]{32}\s+-\s+YES$`, `(?m)^  \S+Z\s+MT\s+.*Your PIN is \*\*\*\*\*\*\.`, `(?m)^  \S+Z\s+MT\s+.*Thank you! \$10`,
		`(?m)^certification record 57$`, `(?m)^  donation ` + donation + `$`, `(?m)^  amount 1000$`,
		`(?m)^  text sent\s+the MT SM[0-9a-f]{32} of \S+Z, whose SHA-256 is the record's text-sha256$`,
		`(?m)^  certified by\s+the MO SM[0-9a-f]{32} of \S+Z: "YES"$`,
		`(?m)^  matches\s+yes: SHA-256\(salt \|\| phone\) is the record's phone-sha256$`,
		`(?m)^  in the log\s+yes: record 57 is in the tree of size 200 signed by audit.test/shortcode/log`,
		`(?m)^PIN verification\n  at\s+\S+Z\n  channel\s+sms$`, `(?m)^  outcome\s+completed$`, `(?m)^  correlator\s+` + donation + `-1$`,
	} {
		if !regexp.MustCompile(re).MatchString(show.stdout) {
			t.Errorf("audit show lacks %s:\n%s", re, show.stdout)
		}
	}
	showJSON := shortcode(t, dir, api, "audit", "show", donation, "--json")
	showJSON.want(t, 0)
	var ev struct {
		Donation string `json:"donation"`
		Index    int64  `json:"index"`
		Opening  struct{ Phone string }
	}
	if err := json.Unmarshal([]byte(showJSON.stdout), &ev); err != nil || ev.Donation != donation || ev.Index != shown || ev.Opening.Phone == "" {
		t.Errorf("audit show --json: %v\n%s", err, showJSON.stdout)
	}
	// The audit routes are the auditor's and the admin's.
	r := shortcode(t, dir, []string{"SHORTCODE_SERVER=" + srv.url, "SHORTCODE_TOKEN=" + tokens["treasurer"]}, "audit", "show", donation)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "403") {
		t.Errorf("a treasurer's audit show: %s", r.stderr)
	}

	t.Run("torchwood", func(t *testing.T) { checkWithTorchwood(t, srv.url, verifier, s, lines) })

	// Offline, with the server gone and the settings pointing nowhere.
	srv.stop()
	offline := offlineEnv(t)
	for _, key := range []string{"log.pub", string(vkey)} {
		r := shortcode(t, dir, offline, "audit", "verify", "--log", "log.jsonl", "--checkpoint", "log.checkpoint", "--key", key)
		r.want(t, 0)
		for _, re := range []string{`^log.jsonl verifies against log.checkpoint, signed by audit.test/shortcode/log \([0-9a-f]{8}\)\n`,
			`(?m)^size\s+200$`, `(?m)^root\s+[A-Za-z0-9+/]{43}=$`, `(?m)^records\s+200,`, `(?m)^openings\s+200 checked`} {
			if !regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("audit verify lacks %s:\n%s", re, r.stdout)
			}
		}
	}

	t.Run("tampered", func(t *testing.T) {
		line := func(e certlog.Entry) string {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		edit := func(f func(ls []string) []string) []string {
			return f(append([]string(nil), lines...))
		}
		type tamper struct {
			name  string
			lines []string
			bad   int // the record verify must name
		}
		var cases []tamper
		for _, i := range []int{0, 1, shown, 128, size - 1} {
			n := len(entry(i).Record)
			for _, at := range []int{0, 30, n / 2, n - 2, n - 1} {
				e := entry(i)
				e.Record[at] ^= 0x01
				cases = append(cases, tamper{fmt.Sprintf("byte %d of record %d changed", at, i), edit(func(ls []string) []string {
					ls[i] = line(e)
					return ls
				}), i})
			}
		}
		// A change that keeps the record canonical: only the proof sees it.
		e := entry(shown)
		e.Record = []byte(strings.Replace(string(e.Record), "\namount 1000\n", "\namount 2000\n", 1))
		cases = append(cases, tamper{"amount changed", edit(func(ls []string) []string { ls[shown] = line(e); return ls }), shown})
		o := entry(shown)
		o.Opening.Phone = "+13125559999"
		cases = append(cases, tamper{"opening changed", edit(func(ls []string) []string { ls[shown] = line(o); return ls }), shown})
		for _, i := range []int{0, shown, size - 1} {
			cases = append(cases, tamper{fmt.Sprintf("record %d deleted", i), edit(func(ls []string) []string { return append(ls[:i], ls[i+1:]...) }), i})
		}
		cases = append(cases, tamper{"records 3 and 150 swapped", edit(func(ls []string) []string {
			ls[3], ls[150] = ls[150], ls[3]
			return ls
		}), 3})
		cases = append(cases, tamper{"neighbours swapped", edit(func(ls []string) []string {
			ls[shown], ls[shown+1] = ls[shown+1], ls[shown]
			return ls
		}), shown})
		// A forged record, validly encoded, with the next index.
		forged := record(size - 1)
		forged.Index, forged.Donation = size, "DFORGED"
		b, err := forged.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		last := entry(size - 1)
		cases = append(cases, tamper{"forged record appended", edit(func(ls []string) []string {
			return append(ls, line(certlog.Entry{Index: size, Record: b, Proof: last.Proof, Opening: last.Opening}))
		}), size})

		for _, c := range cases {
			name := filepath.Join(dir, "tampered.jsonl")
			if err := os.WriteFile(name, []byte(strings.Join(c.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := shortcode(t, dir, offline, "audit", "verify", "--log", name, "--checkpoint", "log.checkpoint", "--key", "log.pub")
			r.want(t, 1, c.name)
			if want := fmt.Sprintf(": record %d: ", c.bad); !strings.Contains(r.stderr, want) || r.stdout != "" {
				t.Errorf("%s: stderr %q, want it to name %q", c.name, r.stderr, want)
			}
		}
	})

	t.Run("proof", func(t *testing.T) {
		r := shortcode(t, dir, offline, "audit", "verify-proof", "d.tlog-proof", "--key", "log.pub")
		r.want(t, 0)
		if !strings.HasPrefix(r.stdout, "d.tlog-proof verifies: record 57 is in the tree of size 200 signed by audit.test/shortcode/log") ||
			!strings.Contains(r.stdout, "\n  donation "+donation+"\n") {
			t.Errorf("audit verify-proof:\n%s", r.stdout)
		}
		proof, err := os.ReadFile(filepath.Join(dir, "d.tlog-proof"))
		if err != nil {
			t.Fatal(err)
		}
		// A byte changed anywhere: the header, the record, the index, the
		// hashes, the checkpoint and its signature.
		for k := range 16 {
			at := k * (len(proof) - 1) / 15
			changed := append([]byte(nil), proof...)
			if changed[at] == 'A' {
				changed[at] = 'B'
			} else {
				changed[at] = 'A'
			}
			if changed[at] == proof[at] {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, "changed.tlog-proof"), changed, 0o644); err != nil {
				t.Fatal(err)
			}
			r := shortcode(t, dir, offline, "audit", "verify-proof", "changed.tlog-proof", "--key", "log.pub")
			r.want(t, 1, "byte", fmt.Sprint(at))
			if !strings.Contains(r.stderr, "changed.tlog-proof does not verify") {
				t.Errorf("byte %d changed: %s", at, r.stderr)
			}
		}
	})
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// checkWithTorchwood checks the served log with filippo.io/torchwood, a
// C2SP client that shares no code with shortcode: its tile fetcher reads
// the checkpoint and the tiles over HTTP under /log/, x/mod's note checks
// the checkpoint's signature with the verifier key, and its client proves
// every record's inclusion from the tiles (each checked against the signed
// root) and reads every entry in order. Then the log grows, and a
// consistency proof between the two checkpoints is built from the served
// tiles and checked.
func checkWithTorchwood(t *testing.T, server string, v note.Verifier, s *sim.Sim, exported []string) {
	ctx := context.Background()
	tiles, err := torchwood.NewTileFetcher(server + "/log/")
	if err != nil {
		t.Fatal(err)
	}
	checkpoint := func() torchwood.Checkpoint {
		t.Helper()
		signed, err := tiles.ReadEndpoint(ctx, "checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(signed, note.VerifierList(v))
		if err != nil {
			t.Fatalf("the checkpoint's signature: %v\n%s", err, signed)
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil || c.Origin != v.Name() {
			t.Fatalf("checkpoint %+v, %v: want the origin %s", c, err, v.Name())
		}
		return c
	}
	old := checkpoint()
	if old.N != int64(len(exported)) {
		t.Fatalf("the checkpoint has %d records, the export %d", old.N, len(exported))
	}
	client, err := torchwood.NewClient(tiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := range old.N {
		entry, proof, err := client.Entry(ctx, old.Tree, i)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, old.N, old.Hash, i, tlog.RecordHash(entry)); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		if string(mustEntry(t, exported[i]).Record) != string(entry) {
			t.Errorf("record %d served is not the one exported:\n%s", i, entry)
		}
		if regexp.MustCompile(`1?312555\d{4}`).Match(entry) {
			t.Errorf("record %d holds a phone number:\n%s", i, entry)
		}
	}
	// The log grows past its first full tile, 256 records.
	giveMany(t, s, 500, 15, 4)
	var cur torchwood.Checkpoint
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cur = checkpoint(); cur.N >= old.N+60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log has %d records, want %d", cur.N, old.N+60)
		}
	}
	proof, err := tlog.ProveTree(cur.N, old.N, torchwood.TileHashReaderWithContext(ctx, cur.Tree, tiles))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, old.Hash); err != nil {
		t.Errorf("consistency of %d and %d: %v", old.N, cur.N, err)
	}
	forged := old.Hash
	forged[0] ^= 1
	if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, forged); err == nil {
		t.Errorf("a forged root of size %d is consistent with the log", old.N)
	}

	// What the tiles specification asks of caches: a full tile never
	// changes; a partial one and the checkpoint do.
	for path, want := range map[string]string{
		"tile/0/000": "immutable", "tile/entries/000": "immutable",
		fmt.Sprintf("tile/0/001.p/%d", cur.N-256): "max-age=5", "checkpoint": "max-age=5",
	} {
		resp, err := http.Get(server + "/log/" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || !strings.Contains(cc, want) || (want != "immutable" && strings.Contains(cc, "immutable")) {
			t.Errorf("GET /log/%s: %s, Cache-Control %q, want %s", path, resp.Status, cc, want)
		}
	}

	// Every entry of the grown tree, in order, each checked against it:
	// Entries stops before a partial tile, so read on from there.
	var n int64
	for n < cur.N {
		before := n
		for i, entry := range client.Entries(ctx, cur.Tree, n) {
			if i != n || len(entry) == 0 {
				t.Fatalf("entry %d came as %d", n, i)
			}
			if i < old.N && string(entry) != string(mustEntry(t, exported[i]).Record) {
				t.Errorf("entry %d is not the record exported", i)
			}
			n++
		}
		if err := client.Err(); err != nil || n == before {
			t.Fatalf("Entries from %d: %v", before, err)
		}
	}
	if n != cur.N {
		t.Errorf("Entries read %d of %d entries", n, cur.N)
	}
	t.Logf("torchwood: %d records proved in the tree of size %d, consistent with the tree of size %d, whose %d entries all read", old.N, old.N, cur.N, n)
}

// mustEntry decodes a line of an export.
func mustEntry(t *testing.T, line string) certlog.Entry {
	t.Helper()
	var e certlog.Entry
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// certlogTestdata copies files of testdata/certlog into dir.
func certlogTestdata(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "certlog", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditOffline: audit verify and verify-proof read their files and the
// key, and nothing else. Run with no server and no database, and settings
// that point to a server and a database that are not there, they verify
// the test log of testdata/certlog (golden output), refuse a changed
// record, another log's key and the signer key, and write no file.
func TestAuditOffline(t *testing.T) {
	dir := t.TempDir()
	files := []string{"export-10.jsonl", "checkpoint-10", "record-7.tlog-proof", "test.vkey", "test.key"}
	certlogTestdata(t, dir, files...)
	export, err := os.ReadFile(filepath.Join(dir, "export-10.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Record 3 gives 9 times more.
	lines := strings.SplitAfter(string(export), "\n")
	e := mustEntry(t, lines[3])
	e.Record = []byte(strings.Replace(string(e.Record), "\namount ", "\namount 9", 1))
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	lines[3] = string(b) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "changed.jsonl"), []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, "changed.jsonl")
	otherKey := func() string {
		_, vkey, err := note.GenerateKey(rand.Reader, "other.example/log")
		if err != nil {
			t.Fatal(err)
		}
		return vkey
	}()

	env := offlineEnv(t)
	tests := []struct {
		args   []string
		code   int
		golden string // of stdout, under testdata/cli
		err    string // in stderr
	}{
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10", "--key", "test.vkey"}, golden: "audit-verify.txt"},
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10", "--key", testLogVerifier}, golden: "audit-verify.txt"},
		{args: []string{"audit", "verify-proof", "record-7.tlog-proof", "--key", "test.vkey"}, golden: "audit-verify-proof.txt"},
		{args: []string{"audit", "verify", "--log", "changed.jsonl", "--checkpoint", "checkpoint-10", "--key", "test.vkey"}, code: 1,
			err: "changed.jsonl does not verify against checkpoint-10: record 3: "},
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10", "--key", otherKey}, code: 1,
			err: "the checkpoint is not signed by the key given, other.example/log+"},
		{args: []string{"audit", "verify-proof", "record-7.tlog-proof", "--key", otherKey}, code: 1,
			err: "record-7.tlog-proof does not verify: the checkpoint is not signed by the key given"},
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10", "--key", "test.key"}, code: 1,
			err: "is the log's signer key, which must stay secret"},
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10", "--key", "no-such.pub"}, code: 1,
			err: "--key: neither a verifier key (NAME+HASH+KEY) nor a file that holds one"},
		{args: []string{"audit", "verify", "--log", "export-10.jsonl", "--checkpoint", "checkpoint-10"}, code: 2, err: "--key"},
		{args: []string{"audit", "verify-proof", "--key", "test.vkey"}, code: 2, err: "<file>"},
	}
	for _, tt := range tests {
		r := shortcode(t, dir, env, tt.args...)
		r.want(t, tt.code, tt.args...)
		if tt.golden != "" {
			golden(t, tt.golden, r.stdout)
		}
		if !strings.Contains(r.stderr, tt.err) {
			t.Errorf("shortcode %q: stderr lacks %q:\n%s", tt.args, tt.err, r.stderr)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("the folder holds %d files after the offline commands, want the %d given", len(entries), len(files))
	}
}

// TestAuditExport: export asks for the checkpoint, then the records in its
// tree, and writes both whole, or neither: a short answer is an error and
// leaves no file.
func TestAuditExport(t *testing.T) {
	src := t.TempDir()
	certlogTestdata(t, src, "export-10.jsonl", "checkpoint-10")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	export, checkpoint := read("export-10.jsonl"), read("checkpoint-10")
	api := newFakeAPI(t)
	api.answerPath("/log/checkpoint", checkpoint)
	api.answerPath("/api/v1/audit/records", export)
	env := []string{"SHORTCODE_SERVER=" + api.srv.URL, "SHORTCODE_TOKEN=" + testToken}

	dir := t.TempDir()
	r := shortcode(t, dir, env, "audit", "export", "--out", "log.jsonl")
	r.want(t, 0)
	got := api.take()
	if len(got) != 2 || got[0].uri != "/log/checkpoint" || got[1].uri != "/api/v1/audit/records?from=0&size=10&to=10" || got[1].auth != "Bearer "+testToken {
		t.Errorf("audit export sent %+v", got)
	}
	for name, want := range map[string]string{"log.jsonl": export, "log.checkpoint": checkpoint} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %v\n%s", name, err, b)
		}
	}
	certlogTestdata(t, dir, "test.vkey")
	shortcode(t, dir, offlineEnv(t), "audit", "verify", "--log", "log.jsonl", "--checkpoint", "log.checkpoint", "--key", "test.vkey").want(t, 0)

	lines := strings.SplitAfter(export, "\n")
	api.answerPath("/api/v1/audit/records", strings.Join(lines[2:5], ""))
	r = shortcode(t, dir, env, "audit", "export", "--from", "2", "--to", "5", "--out", "-", "--checkpoint", "slice.checkpoint")
	r.want(t, 0)
	if got := api.take(); len(got) != 2 || got[1].uri != "/api/v1/audit/records?from=2&size=10&to=5" || r.stdout != strings.Join(lines[2:5], "") {
		t.Errorf("audit export --from 2 --to 5 sent %+v and printed\n%s", got, r.stdout)
	}

	// The server sends 9 records of 10: no file is left.
	api.answerPath("/api/v1/audit/records", strings.Join(lines[:9], ""))
	empty := t.TempDir()
	r = shortcode(t, empty, env, "audit", "export", "--out", "log.jsonl")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "the server sent 9 records of the 10 asked for") {
		t.Errorf("a short export: %s", r.stderr)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a failed export left %v", entries)
	}

	r = shortcode(t, empty, env, "audit", "export")
	r.want(t, 2)
	if !strings.Contains(r.stderr, "give --checkpoint FILE") {
		t.Errorf("export to stdout without --checkpoint: %s", r.stderr)
	}
	shortcode(t, empty, env, "audit", "export", "--out", "x.checkpoint").want(t, 2)
}

// TestAuditShowChecks: audit show checks the opening, and with --key the
// checkpoint and the inclusion proof; a check that fails is shown, and the
// command exits 1. It looks for the text the record hashes and the YES it
// names in the transcript, and says when they are not there.
func TestAuditShowChecks(t *testing.T) {
	var ev map[string]any
	if err := json.Unmarshal([]byte(apiFile(t, "evidence.json")), &ev); err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI(t)
	env := []string{"SHORTCODE_SERVER=" + api.srv.URL, "SHORTCODE_TOKEN=" + testToken}
	edit := func(key string, v any) map[string]any {
		e := map[string]any{}
		for k, x := range ev {
			e[k] = x
		}
		e[key] = v
		return e
	}
	_, otherKey, err := note.GenerateKey(rand.Reader, "other.example/log")
	if err != nil {
		t.Fatal(err)
	}
	proof := ev["proof"].([]any)
	otherProof := append([]any{proof[1]}, proof[1:]...)
	tests := []struct {
		evidence map[string]any
		key      string
		stdout   string
		stderr   string
	}{
		{edit("opening", map[string]any{"salt": "73616c742d3030303030303030303037", "phone": "+12015550008"}), "",
			"matches     FAILED: the opening does not match the phone commitment", "donation d-000007: the opening does not match the phone commitment"},
		{edit("proof", otherProof), testLogVerifier,
			"in the log  FAILED: record 7 is not in the checkpoint's tree", "donation d-000007: record 7 is not in the checkpoint's tree"},
		{ev, otherKey, "in the log  FAILED: the checkpoint is not signed by the key given",
			"the checkpoint is not signed by the key given, other.example/log+"},
		{ev, "", "in the log  not checked: give --key VERIFIER", ""},
		// Not a cryptographic check: said, not failed.
		{edit("transcript", []any{}), "", "text sent     no text of the transcript has the record's text-sha256\n  certified by  no MO of the transcript has the record's message id\n", ""},
	}
	for _, tt := range tests {
		api.answerWith(200, jsonOf(t, tt.evidence))
		args := []string{"audit", "show", "d-000007"}
		if tt.key != "" {
			args = append(args, "--key", tt.key)
		}
		r := shortcode(t, "", env, args...)
		code := 1
		if tt.stderr == "" {
			code = 0
		}
		r.want(t, code, args...)
		if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("audit show %v:\nstdout:\n%s\nstderr: %s\nwant %q and %q", args, r.stdout, r.stderr, tt.stdout, tt.stderr)
		}
	}
}
