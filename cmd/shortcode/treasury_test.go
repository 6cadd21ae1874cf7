package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation"
)

// cli runs a shortcode command against m's database and simulator.
func cli(t *testing.T, m *Main, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	args = append(args, "--db", m.DB, "--sim", m.SimURL, "--actor", "test-treasurer")
	err := run(context.Background(), args, strings.NewReader(""), &out, io.Discard)
	return out.String(), err
}

// give runs a whole $amount donation from phone and returns its id.
func give(t *testing.T, m *Main, phone, amount string) string {
	t.Helper()
	d := &donor{t: t, sim: m.Sim, phone: phone, to: "62262"}
	d.seen = len(m.Sim.Messages(phone))
	d.say("GIVE " + amount)
	d.next(reConfirm)
	d.say("YES")
	d.say(d.next(rePIN)[1])
	d.next(reReceipt)
	ds, err := m.Store.Donations(context.Background(), phone)
	if err != nil || len(ds) == 0 {
		t.Fatalf("donations: %v", err)
	}
	return ds[len(ds)-1].ID
}

// TestSettlementFromSimulator: the simulator's own settlement files import
// with every line matched, refunds included; tampered lines are reported,
// never dropped; a re-import changes nothing (SPEC §6.3, §10 (7)).
func TestSettlementFromSimulator(t *testing.T) {
	m := fastMain(t, testDriver())
	ctx := context.Background()
	// Last digit even: SimMobile; odd: SimWireless.
	ids := []string{give(t, m, "+12125550120", "10"), give(t, m, "+12125550122", "20"), give(t, m, "+12125550121", "5")}
	if out, err := cli(t, m, "refund", ids[1], "--reason", "prohibited"); err != nil || !strings.Contains(out, "refunded $20.00") {
		t.Fatalf("refund: %q, %v", out, err)
	}
	// The refunded number is now blocklisted for the committee.
	d := &donor{t: t, sim: m.Sim, phone: "+12125550122", to: "62262", seen: len(m.Sim.Messages("+12125550122"))}
	d.say("GIVE 5")
	d.next(regexp.MustCompile(`this number cannot give by text`))

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mobile := m.Sim.Settlement(sim.SimMobile, time.Time{}, time.Time{})
	out, err := cli(t, m, "settle", "import", write("mobile.csv", mobile), "--carrier", "SimMobile")
	if err != nil || !strings.Contains(out, "3 lines, 3 matched, 0 reported") {
		t.Fatalf("import SimMobile: %q, %v\n%s", out, err, mobile)
	}
	out, err = cli(t, m, "settle", "import", write("mobile.csv", mobile), "--carrier", "SimMobile")
	if err != nil || !strings.Contains(out, "already imported") {
		t.Errorf("re-import: %q, %v", out, err)
	}
	got, _ := m.Store.Donation(ctx, ids[0])
	if got.CarrierFee != 300 || got.Status != donation.Completed {
		t.Errorf("settled donation: fee %d, status %s", got.CarrierFee, got.Status)
	}

	// Tampered: a wrong amount, an unknown reference and a duplicate line.
	lines := strings.Split(strings.TrimSpace(string(m.Sim.Settlement(sim.SimWireless, time.Time{}, time.Time{}))), "\r\n")
	if len(lines) != 2 {
		t.Fatalf("SimWireless file: %q", lines)
	}
	wrong := strings.Replace(lines[1], ",5.00,", ",50.00,", 1)
	wrong = strings.Replace(wrong, ",3.25,", ",48.25,", 1) // keep net = gross - fee
	unknown := strings.Replace(lines[1], ids[2], "DNOSUCHDONATION", 1)
	tampered := strings.Join([]string{lines[0], lines[1], wrong, unknown, lines[1]}, "\r\n") + "\r\n"
	out, err = cli(t, m, "settle", "import", write("wireless.csv", []byte(tampered)), "--carrier", "SimWireless")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 lines, 1 matched, 3 reported", "line 2", "gross $50.00, donation was $5.00", "line 3", "unmatched", "line 4", "duplicate"} {
		if !strings.Contains(out, want) {
			t.Errorf("tampered import output lacks %q:\n%s", want, out)
		}
	}

	// Bad input: nothing changes.
	if _, err := cli(t, m, "settle", "import", write("bad.csv", []byte("ref,amount\nD1,10.00\n")), "--carrier", "SimMobile"); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("bad header: %v", err)
	}
	if _, err := cli(t, m, "settle", "import", write("m2.csv", mobile), "--carrier", "NoSuchTel"); err == nil || !strings.Contains(err.Error(), "unknown carrier") {
		t.Errorf("unknown carrier: %v", err)
	}
	if _, err := cli(t, m, "refund", ids[1], "--reason", "excessive"); err == nil || !strings.Contains(err.Error(), "not refundable") {
		t.Errorf("refund of a refunded donation: %v", err)
	}
	if _, err := cli(t, m, "refund", ids[0], "--reason", "because"); err == nil {
		t.Error("refund with a bad reason: want an error")
	}

	// Forwarding: due now, recorded once, with the amount checked.
	if out, err := cli(t, m, "forward", "due", "--within", "240h"); err != nil || strings.Count(out, "near") != 2 {
		t.Errorf("forward due: %q, %v", out, err)
	}
	if _, err := cli(t, m, "forward", "record", "--committee", "C99999999", "--reference", "W1", "--amount", "99.00"); err == nil {
		t.Error("forward with the wrong amount: want an error")
	}
	if out, err := cli(t, m, "forward", "record", "--committee", "C99999999", "--reference", "W1", "--amount", "15.00"); err != nil || !strings.Contains(out, "2 contributions, $15.00") {
		t.Errorf("forward record: %q, %v", out, err)
	}
	if out, _ := cli(t, m, "forward", "due", "--within", "240h"); strings.Contains(out, "near") {
		t.Errorf("still due after forwarding: %q", out)
	}
}
