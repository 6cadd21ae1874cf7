package httpserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func init() {
	mounts = append(mounts, func(e *env) { e.hs.LogRoutes(e.db, storagetest.LogVerifier()) })
	routeTables = append(routeTables, auditRoutes)
}

// auditRoutes use the treasury group's donations, certified and in the
// log (mountTreasury sequences them).
func auditRoutes(e *env) []route {
	read := []auth.Role{auth.Auditor, auth.Admin}
	return []route{
		{"GET", "/api/v1/audit/records", "", read},
		{"GET", "/api/v1/audit/donations/" + donor1, "", read},
		{"GET", "/api/v1/audit/donations/" + donor1 + "/proof", "", read},
		{"GET", "/api/v1/audit/consistency?old=1&new=3", "", read},
	}
}

// httpTiles reads the served tiles, for x/mod's verifying tile reader.
type httpTiles struct {
	e *env
}

func (h httpTiles) Height() int { return certlog.TileHeight }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		a := h.e.do("GET", "/log/"+certlog.TilePath(t), "", "")
		if a.status != 200 {
			h.e.t.Fatalf("GET /log/%s: %d %s", certlog.TilePath(t), a.status, a.body)
		}
		out[i] = []byte(a.body)
	}
	return out, nil
}

func (httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestLogServed: the checkpoint and tiles need no token and hold no phone
// number; every record's inclusion is proved from the served tiles alone
// (through x/mod's tile reader, which checks each tile against the signed
// tree); an auditor's export verifies offline against the checkpoint, and
// each donation's proof file on its own.
func TestLogServed(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		v := storagetest.LogVerifier()
		a := e.do("GET", "/log/checkpoint", "", "")
		c, err := certlog.OpenCheckpoint([]byte(a.body), v)
		if a.status != 200 || err != nil || c.N != 3 || !strings.Contains(a.header.Get("Cache-Control"), "max-age") {
			t.Fatalf("checkpoint: %d %q %v (%+v)", a.status, a.body, err, c)
		}
		bundle := e.do("GET", "/log/tile/entries/000.p/3", "", "")
		records, err := certlog.ParseEntryBundle(tlog.Tile{H: certlog.TileHeight, L: -1, N: 0, W: 3}, []byte(bundle.body))
		if err != nil || len(records) != 3 {
			t.Fatalf("entry bundle: %v, %d records", err, len(records))
		}
		hr := tlog.TileHashReader(c.Tree, httpTiles{e})
		for i, rec := range records {
			if strings.Contains(string(rec), donorPhone[2:]) {
				t.Errorf("record %d holds the phone number:\n%s", i, rec)
			}
			p, err := tlog.ProveRecord(c.N, int64(i), hr)
			if err != nil {
				t.Fatalf("prove %d from the tiles: %v", i, err)
			}
			if err := tlog.CheckRecord(p, c.N, c.Hash, int64(i), tlog.RecordHash(rec)); err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
		if a := e.do("GET", "/log/tile/0/000.p/4", "", ""); a.status != 404 {
			t.Errorf("a tile past the tree: %d", a.status)
		}
		if a := e.do("GET", "/log/tile/0/x1", "", ""); a.status != 404 {
			t.Errorf("a malformed tile path: %d", a.status)
		}

		auditor := e.tokens["auditor"]
		export := e.do("GET", "/api/v1/audit/records?size=3", auditor, "")
		sum, err := certlog.VerifyExport(strings.NewReader(export.body), []byte(a.body), v)
		if export.status != 200 || err != nil || sum.Openings != 3 {
			t.Errorf("export: %d, %v, %+v\n%s", export.status, err, sum, export.body)
		}
		proof := e.do("GET", "/api/v1/audit/donations/"+donor1+"/proof", auditor, "")
		rec, _, err := certlog.VerifyProof([]byte(proof.body), nil, v)
		if proof.status != 200 || err != nil || rec.Donation != donor1 {
			t.Errorf("proof: %d %v %+v\n%s", proof.status, err, rec, proof.body)
		}
		var ev httpserver.EvidenceOfDonation
		a = e.do("GET", "/api/v1/audit/donations/"+donor1, auditor, "")
		if err := json.Unmarshal([]byte(a.body), &ev); a.status != 200 || err != nil || ev.Opening.Phone != donorPhone ||
			ev.Opening.Check(rec) != nil || ev.Charge == nil || ev.PIN == nil || ev.PIN.Channel != "sms" || !strings.HasPrefix(ev.PIN.MessageID, "SM") {
			t.Errorf("evidence: %d %v %s", a.status, err, a.body)
		}
		cons := e.do("GET", "/api/v1/audit/consistency?old=1&new=3", auditor, "")
		var cp struct {
			Proof tlog.TreeProof `json:"proof"`
		}
		if err := json.Unmarshal([]byte(cons.body), &cp); cons.status != 200 || err != nil {
			t.Fatalf("consistency: %d %v", cons.status, err)
		}
		old, err := tlog.TreeHash(1, hr)
		if err != nil || tlog.CheckTree(cp.Proof, 3, c.Hash, 1, old) != nil {
			t.Errorf("consistency proof does not check: %v", err)
		}
		for _, q := range []string{"?from=-1", "?to=9", "?size=4", "?from=x"} {
			if a := e.do("GET", "/api/v1/audit/records"+q, auditor, ""); a.status != 400 || !isProblem(a) {
				t.Errorf("records%s: %d %s", q, a.status, a.body)
			}
		}
		if a := e.do("GET", "/api/v1/audit/donations/nope/proof", auditor, ""); a.status != 404 {
			t.Errorf("proof of an unknown donation: %d", a.status)
		}
	})
}
