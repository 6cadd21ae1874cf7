package program_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var t0 = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

// clock ticks a second each time it is read, so that the action log,
// ordered by time, is in the order of the changes.
type clock struct{ ticks *int }

func (c clock) Now() time.Time {
	*c.ticks++
	return t0.Add(time.Duration(*c.ticks) * time.Second)
}

func newClock() clock { return clock{ticks: new(int)} }

// state is everything a program change may touch: the programs, with their
// committees, and the action log.
func state(t *testing.T, db *storage.DB) string {
	t.Helper()
	ctx := context.Background()
	ps, err := db.AllPrograms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := db.Actions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range ps {
		j, _ := json.Marshal(p)
		fmt.Fprintf(&b, "%s\n", j)
	}
	for _, a := range acts {
		fmt.Fprintf(&b, "%s %s %s %s\n", a.At.Format(time.RFC3339), a.Actor, a.Action, a.Detail)
	}
	return b.String()
}

// actions lists the action log as "action detail" lines.
func actions(t *testing.T, db *storage.DB) []string {
	t.Helper()
	acts, err := db.Actions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range acts {
		out = append(out, a.Action+" "+a.Detail)
	}
	return out
}

// other is a second program on the demo's short code, of another
// committee, inactive.
func other() compliance.Program {
	p := compliance.DemoProgram("")
	p.ID, p.Keywords, p.Active = "hope", []string{"HOPE"}, false
	p.Committee.ID, p.Committee.DisplayName = "C00123456", "Hope PAC"
	return p
}

// TestSave: a valid program is saved with its action-log row; every
// refusal has its kind, says why, and changes nothing.
func TestSave(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := &program.Service{Store: db, Clock: newClock()}
		demo := compliance.DemoProgram("")
		if _, created, err := svc.Save(ctx, demo, "admin"); err != nil || !created {
			t.Fatalf("save demo: created %v, %v", created, err)
		}
		if _, created, err := svc.Save(ctx, other(), "admin"); err != nil || !created {
			t.Fatalf("save hope: created %v, %v", created, err)
		}
		edited := demo
		edited.Templates.Hint = "Text {keyword} to give. STOP to end."
		if got, created, err := svc.Save(ctx, edited, "admin"); err != nil || created || got.Templates.Hint != edited.Templates.Hint {
			t.Fatalf("re-save demo: created %v, %v", created, err)
		}
		if got, err := svc.Program(ctx, "demo"); err != nil || got.Templates.Hint != edited.Templates.Hint {
			t.Fatalf("stored demo: %+v, %v", got, err)
		}
		want := []string{
			"program.save demo on 62262 (GIVE) committee C99999999",
			"program.save hope on 62262 (HOPE) committee C00123456",
			"program.save demo on 62262 (GIVE) committee C99999999",
		}
		if got := actions(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("actions = %q, want %q", got, want)
		}

		for _, tc := range []struct {
			name   string
			change func(*compliance.Program)
			kind   donation.Kind
			is     error
			want   []string
		}{
			{"every problem listed", func(p *compliance.Program) {
				p.ShortCode, p.Keywords, p.PricePoints = "1", []string{"give"}, []int64{500, 2500}
				p.Templates.Help = "{Committee}: up to $75/mo. Help: {care}."
			}, donation.Invalid, program.ErrInvalid, []string{
				`short code "1"`, `keyword "give"`, "price point $25 is over the per-message cap $20",
				`template help: states "$75/mo", but the monthly cap is $50`,
			}},
			{"an active program needs a committee in good standing", func(p *compliance.Program) {
				p.ID, p.Keywords, p.Committee.ID = "new", []string{"NEW"}, "C00000042"
				p.Committee.GoodStanding = false
			}, donation.Invalid, program.ErrInvalid, []string{"good standing"}},
			{"keyword of another program", func(p *compliance.Program) {
				p.Keywords = []string{"GIVE", "HOPE"}
			}, donation.Conflict, program.ErrKeywordTaken, []string{`keyword "HOPE" on short code 62262 maps to both program "hope" and program "demo"`}},
			{"keyword of an inactive program", func(p *compliance.Program) {
				p.ID, p.Keywords, p.Active = "new", []string{"NEW", "HOPE"}, false
			}, donation.Conflict, program.ErrKeywordTaken, []string{`keyword "HOPE"`}},
			{"deactivate by saving", func(p *compliance.Program) { p.Active = false },
				donation.Conflict, program.ErrOwnRequest, []string{`program "demo" is active; save it active and use activate or deactivate`}},
			{"withdraw good standing by saving", func(p *compliance.Program) { *p = other(); p.Committee.GoodStanding = false },
				donation.Conflict, program.ErrOwnRequest, []string{"committee C00123456 has good_standing true"}},
			{"a committee's display name that its other program cannot hold", func(p *compliance.Program) {
				p.ID, p.Keywords, p.Active = "long", []string{"LONG"}, false
				p.TermsURL = "s.ex/t/l"
				p.Committee.DisplayName = strings.Repeat("N", 24)
			}, donation.Conflict, program.ErrSharedCommittee, []string{`program "demo"`, "template confirm"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := state(t, db)
				p := compliance.DemoProgram("")
				tc.change(&p)
				_, _, err := svc.Save(ctx, p, "admin")
				if err == nil {
					t.Fatal("saved")
				}
				if donation.KindOf(err) != tc.kind || !errors.Is(err, tc.is) {
					t.Errorf("error %v: kind %v, want %v wrapping %v", err, donation.KindOf(err), tc.kind, tc.is)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				if after := state(t, db); after != before {
					t.Errorf("a refused save changed the store:\n%s\n->\n%s", before, after)
				}
			})
		}

		// An inactive program may be saved for a committee out of good
		// standing: only activation needs it.
		draft := other()
		draft.ID, draft.Keywords, draft.Committee.ID, draft.Committee.GoodStanding = "draft", []string{"DRAFT"}, "C00000043", false
		if _, _, err := svc.Save(ctx, draft, "admin"); err != nil {
			t.Errorf("inactive program, committee out of good standing: %v", err)
		}
	})
}

// TestActivation: activate and deactivate each log one row, and doing
// either again changes nothing; withdrawing a committee's good standing
// deactivates every program of it, on any short code, and activation is
// refused until it is restored.
func TestActivation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := &program.Service{Store: db, Clock: newClock()}
		demo := compliance.DemoProgram("")
		elsewhere := compliance.DemoProgram("")
		elsewhere.ID, elsewhere.ShortCode = "elsewhere", "50555"
		hope := other()
		for _, p := range []compliance.Program{demo, elsewhere, hope} {
			if _, _, err := svc.Save(ctx, p, "admin"); err != nil {
				t.Fatal(err)
			}
		}
		base := len(actions(t, db))
		for range 2 {
			if p, err := svc.Deactivate(ctx, "demo", "admin"); err != nil || p.Active {
				t.Fatalf("deactivate: %+v, %v", p.Active, err)
			}
		}
		for range 2 {
			if p, err := svc.Activate(ctx, "demo", "admin"); err != nil || !p.Active {
				t.Fatalf("activate: %+v, %v", p.Active, err)
			}
		}
		for range 2 {
			p, err := svc.SetGoodStanding(ctx, "demo", false, "admin")
			if err != nil || p.Active || p.Committee.GoodStanding {
				t.Fatalf("withdraw: active %v, good standing %v, %v", p.Active, p.Committee.GoodStanding, err)
			}
		}
		for _, id := range []string{"demo", "elsewhere"} {
			if p, err := svc.Program(ctx, id); err != nil || p.Active || p.Committee.GoodStanding {
				t.Errorf("%s after withdrawal: active %v, good standing %v, %v", id, p.Active, p.Committee.GoodStanding, err)
			}
		}
		before := state(t, db)
		_, err := svc.Activate(ctx, "elsewhere", "admin")
		if !errors.Is(err, program.ErrCannotActivate) || donation.KindOf(err) != donation.Conflict || !strings.Contains(err.Error(), "good standing") {
			t.Errorf("activate while withdrawn: %v, want a conflict naming good standing", err)
		}
		if state(t, db) != before {
			t.Error("a refused activation changed the store")
		}
		if p, err := svc.SetGoodStanding(ctx, "elsewhere", true, "admin"); err != nil || !p.Committee.GoodStanding || p.Active {
			t.Fatalf("restore: %+v, %v", p, err)
		}
		if p, err := svc.Activate(ctx, "elsewhere", "admin"); err != nil || !p.Active {
			t.Fatalf("activate after restore: %v", err)
		}
		if p, err := svc.Program(ctx, "hope"); err != nil || p.Active || !p.Committee.GoodStanding {
			t.Errorf("another committee's program changed: %+v, %v", p, err)
		}
		want := []string{
			"program.deactivate demo on 62262 (GIVE) committee C99999999",
			"program.activate demo on 62262 (GIVE) committee C99999999",
			"committee.withdraw-good-standing C99999999; deactivated demo, elsewhere",
			"committee.restore-good-standing C99999999",
			"program.activate elsewhere on 50555 (GIVE) committee C99999999",
		}
		if got := actions(t, db)[base:]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("actions = %q\nwant %q", got, want)
		}

		for _, f := range []func() error{
			func() error { _, err := svc.Activate(ctx, "nope", "admin"); return err },
			func() error { _, err := svc.Deactivate(ctx, "nope", "admin"); return err },
			func() error { _, err := svc.SetGoodStanding(ctx, "nope", false, "admin"); return err },
			func() error { _, err := svc.Program(ctx, "nope"); return err },
		} {
			if err := f(); donation.KindOf(err) != donation.NotFound {
				t.Errorf("unknown program: %v, want not found", err)
			}
		}
	})
}

// TestConcurrentSaves: program changes are serialised, so the rules see
// every change committed before theirs: of programs racing for one
// keyword, one is saved and the rule refuses the others.
func TestConcurrentSaves(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := &program.Service{Store: db, Clock: newClock()}
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			go func() {
				p := other()
				p.ID, p.Keywords = fmt.Sprintf("p%d", i), []string{"RACE", fmt.Sprintf("OWN%d", i)}
				_, _, err := svc.Save(ctx, p, "admin")
				errs <- err
			}()
		}
		saved := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				saved++
			case !errors.Is(err, program.ErrKeywordTaken):
				t.Errorf("refused by %v, want the keyword rule", err)
			}
		}
		if saved != 1 {
			t.Errorf("%d programs saved with one keyword, want 1", saved)
		}
	})
}

// failingLog is a store whose action log cannot be written.
type failingLog struct{ *storage.DB }

func (s failingLog) UpdatePrograms(ctx context.Context, fn func(program.Tx) error) error {
	return s.DB.UpdatePrograms(ctx, func(tx program.Tx) error { return fn(failingLogTx{tx}) })
}

type failingLogTx struct{ program.Tx }

func (failingLogTx) LogAction(context.Context, time.Time, string, string, string) error {
	return errors.New("disk full")
}

// TestChangeAndLogCommitTogether: a change whose action-log row cannot be
// written is not made.
func TestChangeAndLogCommitTogether(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, _, err := (&program.Service{Store: db, Clock: newClock()}).Save(ctx, compliance.DemoProgram(""), "admin"); err != nil {
			t.Fatal(err)
		}
		svc := &program.Service{Store: failingLog{db}, Clock: newClock()}
		before := state(t, db)
		edited := compliance.DemoProgram("")
		edited.Keywords = []string{"GIVE", "DONATE"}
		for name, f := range map[string]func() error{
			"save":       func() error { _, _, err := svc.Save(ctx, edited, "admin"); return err },
			"deactivate": func() error { _, err := svc.Deactivate(ctx, "demo", "admin"); return err },
			"withdraw":   func() error { _, err := svc.SetGoodStanding(ctx, "demo", false, "admin"); return err },
		} {
			if err := f(); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("%s: %v, want the log's error", name, err)
			}
			if after := state(t, db); after != before {
				t.Errorf("%s changed the store without its log row:\n%s", name, after)
			}
		}
	})
}

// TestDemo: the demo program is installed on an empty store only, and its
// links follow the server's URL; links the texts cannot hold are refused
// and change nothing.
func TestDemo(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := &program.Service{Store: db, Clock: newClock()}
		if ok, err := svc.InstallDemo(ctx, "http://127.0.0.1:8080", "serve"); err != nil || !ok {
			t.Fatalf("install: %v, %v", ok, err)
		}
		if ok, err := svc.InstallDemo(ctx, "https://sc.example", "serve"); err != nil || ok {
			t.Fatalf("install again: %v, %v", ok, err)
		}
		if ok, err := svc.FollowDemoLinks(ctx, "http://127.0.0.1:8080", "serve"); err != nil || ok {
			t.Fatalf("same links: %v, %v", ok, err)
		}
		if _, err := svc.Deactivate(ctx, "demo", "admin"); err != nil {
			t.Fatal(err)
		}
		if ok, err := svc.FollowDemoLinks(ctx, "https://sc.example/", "serve"); err != nil || !ok {
			t.Fatalf("new links: %v, %v", ok, err)
		}
		p, err := svc.Program(ctx, "demo")
		if err != nil || p.TermsURL != "sc.example/t/demo" || p.DonationURL != "sc.example/d/" || p.Active {
			t.Errorf("demo after a new URL: %q %q active %v, %v", p.TermsURL, p.DonationURL, p.Active, err)
		}
		before := state(t, db)
		_, err = svc.FollowDemoLinks(ctx, "https://a-much-too-long-host.example.org", "serve")
		if donation.KindOf(err) != donation.Invalid || !strings.Contains(err.Error(), "template confirm") {
			t.Errorf("links too long: %v, want invalid naming the confirmation", err)
		}
		if state(t, db) != before {
			t.Error("refused links changed the store")
		}
		want := []string{
			"program.save demo on 62262 (GIVE) committee C99999999",
			"program.deactivate demo on 62262 (GIVE) committee C99999999",
			"program.links demo: terms sc.example/t/demo, donation sc.example/d/",
		}
		if got := actions(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("actions = %q\nwant %q", got, want)
		}
		// A program called demo that is not the demo is left alone.
		other := other()
		other.ID = "demo"
		if err := db.SaveProgram(ctx, other); err != nil {
			t.Fatal(err)
		}
		if ok, err := svc.FollowDemoLinks(ctx, "http://127.0.0.1:9999", "serve"); err != nil || ok {
			t.Errorf("someone else's demo: %v, %v", ok, err)
		}
	})
}
