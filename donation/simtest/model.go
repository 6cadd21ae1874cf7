package simtest

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// The conversation model: SPEC §4.2 for one subscriber (a phone number on
// a short code), checked with porcupine against the history the
// simulation observed. Each operation is one thing that happened to the
// subscriber, with what the simulation saw come of it: an MO (its text as
// the donor meant it), a pass of the workers, a gift started on the web, a
// PIN entered on a page; the output is the kinds of the MTs it queued, the
// subscriber's state and opt-out afterwards, and a web step's outcome.
//
// The model leaves open only what it cannot know: whether an amount passes
// the caps (checked on its own after every step), and whether a timer ran
// out when the clock read within the few microseconds of an operation. Its
// step function returns every state the SPEC allows (a nondeterministic
// model), and porcupine keeps the set of states that explain the history.

// Text is an MO as the donor meant it: the simulation writes texts from
// lists of its own, so it knows what each one is.
type Text struct {
	Body  string
	Class string // keyword, stop, inferred_stop, help, optin, yes, no, other
	// Keyword texts: the program the keyword selects, and whether an
	// amount follows it.
	Program string
	// Amount is the text's (or, for a keyword, what follows it) amount in
	// cents when it reads as one; Digits says it is all digits (a PIN).
	Amount   int64
	IsAmount bool
	Digits   bool
}

// Op kinds.
const (
	opMO     = "mo"
	opWorker = "worker"
	opGive   = "give"
	opWebPIN = "webpin"
)

// Input is one operation on a subscriber.
type Input struct {
	Op string
	// Lo and Hi are clock readings just before and just after the
	// operation: the service read its time in between.
	Lo, Hi  time.Time
	Text    Text   // opMO
	Limited bool   // opMO: over the rate limit, recorded and not answered
	Screen  string // opMO with a keyword, opGive: the refusal's template kind, "" when the number passes
	Program string // opGive
	Amount  int64  // opGive
	Token   string // opWebPIN
	PIN     string // opWebPIN
}

// MT is an MT as the model sees it: its template's kind, and for a PIN text
// the PIN and the page token.
type MT struct {
	Kind       string
	PIN, Token string
}

// Output is what came of an operation.
type Output struct {
	MTs      []MT
	State    donation.State
	OptedOut bool
	Web      string // opGive, opWebPIN: the outcome
}

func (o Output) kinds() []string {
	ks := make([]string, len(o.MTs))
	for i, m := range o.MTs {
		ks[i] = m.Kind
	}
	return ks
}

// conv is the model's state of one subscriber. Times the service read
// inside an operation are known to the interval [Lo, Hi] of its clock
// readings.
type conv struct {
	State         donation.State
	OptedOut      bool
	Program       string
	ExpLo, ExpHi  time.Time
	Tries         int
	Reprompts     int
	ExpiredNotice bool
	HintLo        time.Time
	HintHi        time.Time
	PIN, Token    string
	// Orphans counts charges that ran on after a STOP: their outcome
	// comes later, with a receipt or decline if the donor opted back in.
	Orphans int
}

// normal clears what an idle subscriber does not keep.
func (c conv) normal() conv {
	if c.State == donation.Idle {
		c.Program, c.ExpLo, c.ExpHi, c.Tries, c.Reprompts, c.PIN, c.Token = "", time.Time{}, time.Time{}, 0, 0, "", ""
	}
	return c
}

// progInfo is what the model knows of a program.
type progInfo struct {
	mode                  compliance.Mode
	maxTries, maxReprompt int
	confirmExp, pinExp    time.Duration
	prices                []int64
}

// branch is one outcome the SPEC allows: the next state, the kinds of the
// MTs queued, a web outcome.
type branch struct {
	st  conv
	mts []string
	web string
}

type model struct {
	progs map[string]progInfo
	in    Input
}

func (m *model) add(bs []branch, st conv, mts ...string) []branch {
	return append(bs, branch{st: st.normal(), mts: mts})
}

// expired tells whether the open request's timer may have run out (maybe)
// and whether it surely has (surely).
func (m *model) expired(c conv) (maybe, surely bool) {
	if c.State == donation.Idle || c.State == donation.Charging {
		return false, false
	}
	return !c.ExpLo.After(m.in.Hi), !c.ExpHi.After(m.in.Lo)
}

// lapse returns the states a subscriber may be in once its timer is
// looked at.
func (m *model) lapse(c conv) []conv {
	maybe, surely := m.expired(c)
	switch {
	case surely:
		return []conv{expire(c)}
	case maybe:
		return []conv{c, expire(c)}
	}
	return []conv{c}
}

func expire(c conv) conv {
	c.State, c.ExpiredNotice = donation.Idle, true
	return c.normal()
}

func (m *model) next(c conv) []branch {
	var bs []branch
	switch m.in.Op {
	case opMO:
		if m.in.Limited {
			return m.add(nil, c)
		}
		for _, s := range m.lapse(c) {
			bs = append(bs, m.mo(s)...)
		}
	case opWorker:
		bs = m.worker(c)
	case opGive:
		for _, s := range m.lapse(c) {
			bs = append(bs, m.give(s)...)
		}
	case opWebPIN:
		bs = m.webPIN(c)
	}
	return bs
}

func (m *model) mo(s conv) []branch {
	t := m.in.Text
	switch {
	case t.Class == "stop" || t.Class == "inferred_stop":
		if s.OptedOut {
			return m.add(nil, s)
		}
		return m.add(nil, revoke(s), "Stop")
	case t.Class == "help":
		return m.add(nil, s, "Help")
	case s.OptedOut:
		switch t.Class {
		case "keyword":
			s.OptedOut = false
			return m.keyword(s, t.Program)
		case "optin", "yes":
			s.OptedOut = false
			return m.add(nil, s, "OptIn")
		}
		return m.add(nil, s)
	case t.Class == "keyword":
		if s.State == donation.Charging {
			return m.add(nil, s, "Processing")
		}
		return m.keyword(s, t.Program)
	}
	switch s.State {
	case donation.Idle:
		return m.idle(s)
	case donation.ChoosingAmount:
		if t.Class == "no" {
			return m.add(nil, idle(s), "Cancelled")
		}
		if t.IsAmount {
			return m.choose(s, t.Amount)
		}
	case donation.Confirming:
		if t.Class == "no" {
			return m.add(nil, idle(s), "Cancelled")
		}
		if t.Class == "yes" {
			if m.progs[s.Program].mode == compliance.Separate {
				s.State, s.Reprompts = donation.Certifying, 0
				return m.add(nil, s, "Certify")
			}
			return m.certify(s)
		}
	case donation.Certifying:
		if t.Class == "no" {
			return m.add(nil, idle(s), "Cancelled")
		}
		if t.Class == "yes" {
			return m.certify(s)
		}
	case donation.VerifyingPIN:
		if t.Class == "no" {
			return m.add(nil, idle(s), "Cancelled")
		}
		if t.Digits {
			return m.pin(s, t.Body)
		}
	case donation.Charging:
		return m.add(nil, s, "Processing")
	}
	return m.reprompt(s)
}

func idle(s conv) conv {
	s.State = donation.Idle
	return s.normal()
}

// revoke is an opt-out: an open request is cancelled, a charge under way
// runs on without its subscriber.
func revoke(s conv) conv {
	if s.State == donation.Charging {
		s.Orphans++
	}
	s.State, s.OptedOut, s.ExpiredNotice = donation.Idle, true, false
	return s.normal()
}

func (m *model) keyword(s conv, program string) []branch {
	s = idle(s) // an open request is replaced
	s.ExpiredNotice = false
	if m.in.Screen != "" {
		return m.add(nil, s, m.in.Screen)
	}
	p := m.progs[program]
	s.State, s.Program = donation.ChoosingAmount, program
	s.ExpLo, s.ExpHi = m.in.Lo.Add(p.confirmExp), m.in.Hi.Add(p.confirmExp)
	if t := m.in.Text; t.IsAmount {
		return m.choose(s, t.Amount)
	}
	return m.add(nil, s, "AmountPrompt")
}

// choose: an amount that is no price point is re-prompted; one that is
// fits the caps (reserved, confirmation prompt) or not (the remaining
// allowance, or the limit text when too little is left for any).
func (m *model) choose(s conv, amount int64) []branch {
	p := m.progs[s.Program]
	if !slices.Contains(p.prices, amount) {
		return m.reprompt(s)
	}
	bs := m.add(nil, s, "OverLimit")
	bs = m.add(bs, idle(s), "LimitReached")
	ok := s
	ok.State, ok.Reprompts = donation.Confirming, 0
	ok.ExpLo, ok.ExpHi = m.in.Lo.Add(p.confirmExp), m.in.Hi.Add(p.confirmExp)
	confirm := "Confirm"
	if p.mode == compliance.Separate {
		confirm = "ConfirmOnly"
	}
	return m.add(bs, ok, confirm)
}

// certify sends the PIN, unless the caps refuse the date the YES gives the
// gift.
func (m *model) certify(s conv) []branch {
	p := m.progs[s.Program]
	bs := m.add(nil, idle(s), "LimitReached")
	s.State, s.Tries, s.Reprompts = donation.VerifyingPIN, 0, 0
	s.ExpLo, s.ExpHi = m.in.Lo.Add(p.pinExp), m.in.Hi.Add(p.pinExp)
	return m.add(bs, s, "PIN")
}

func (m *model) pin(s conv, pin string) []branch {
	if pin == s.PIN {
		s.State, s.Reprompts = donation.Charging, 0
		return m.add(nil, s)
	}
	s.Tries++
	if s.Tries >= m.progs[s.Program].maxTries {
		return m.add(nil, idle(s), "PINLocked")
	}
	return m.add(nil, s, "WrongPIN")
}

func (m *model) reprompt(s conv) []branch {
	if s.State == donation.Idle {
		return m.idle(s)
	}
	p := m.progs[s.Program]
	if s.Reprompts >= p.maxReprompt {
		return m.add(nil, idle(s), "Cancelled")
	}
	s.Reprompts++
	kind := map[donation.State]string{
		donation.ChoosingAmount: "AmountPrompt", donation.Confirming: "Confirm",
		donation.Certifying: "Certify", donation.VerifyingPIN: "WrongPIN",
	}[s.State]
	if s.State == donation.Confirming && p.mode == compliance.Separate {
		kind = "ConfirmOnly"
	}
	return m.add(nil, s, kind)
}

// idle answers text that starts nothing: the expired notice once, else a
// hint at most once a day.
func (m *model) idle(s conv) []branch {
	if s.ExpiredNotice {
		s.ExpiredNotice = false
		return m.add(nil, s, "Expired")
	}
	hint := s
	hint.HintLo, hint.HintHi = m.in.Lo, m.in.Hi
	const day = 24 * time.Hour
	switch {
	case s.HintHi.IsZero() || m.in.Lo.Sub(s.HintHi) >= day:
		return m.add(nil, hint, "Hint")
	case m.in.Hi.Sub(s.HintLo) < day:
		return m.add(nil, s)
	}
	return m.add(m.add(nil, s), hint, "Hint")
}

// worker: what the workers may do to a subscriber in one pass, one or
// more of: expire its request, settle its charge (receipt or decline),
// settle a charge that ran on after a STOP, record an opt-out the gateway
// reported.
func (m *model) worker(c conv) []branch {
	var out []branch
	var walk func(b branch, depth int)
	walk = func(b branch, depth int) {
		out = append(out, b)
		if depth == 0 {
			return
		}
		s := b.st
		then := func(st conv, mts ...string) {
			walk(branch{st: st.normal(), mts: append(slices.Clone(b.mts), mts...)}, depth-1)
		}
		if maybe, _ := m.expired(s); maybe {
			then(expire(s))
		}
		if s.State == donation.Charging {
			then(idle(s), "Receipt")
			then(idle(s), "Decline")
		}
		if s.Orphans > 0 {
			o := s
			o.Orphans--
			then(o)
			if !s.OptedOut {
				then(o, "Receipt")
				then(o, "Decline")
			}
		}
		if !s.OptedOut {
			then(revoke(s))
		}
	}
	walk(branch{st: c}, 3)
	return out
}

func (m *model) give(s conv) []branch {
	web := func(bs []branch, outcome string) []branch {
		bs[len(bs)-1].web = outcome
		return bs
	}
	switch {
	case s.OptedOut:
		return web(m.add(nil, s), string(donation.WebOptedOut))
	case s.State == donation.Charging:
		return web(m.add(nil, s), string(donation.WebBusy))
	case m.in.Screen != "":
		return web(m.add(nil, s), string(donation.WebRefused))
	}
	bs := web(m.add(nil, s), string(donation.WebOverLimit))
	p := m.progs[m.in.Program]
	g := idle(s)
	g.State, g.Program, g.ExpiredNotice, g.Tries, g.Reprompts = donation.VerifyingPIN, m.in.Program, false, 0, 0
	g.ExpLo, g.ExpHi = m.in.Lo.Add(p.pinExp), m.in.Hi.Add(p.pinExp)
	return web(m.add(bs, g, "PIN"), string(donation.WebPINSent))
}

func (m *model) webPIN(c conv) []branch {
	var bs []branch
	web := func(outcome donation.PINOutcome) { bs[len(bs)-1].web = string(outcome) }
	current := c.Token == m.in.Token && (c.State == donation.VerifyingPIN || c.State == donation.Charging)
	if !current {
		for _, o := range []donation.PINOutcome{donation.PINUsed, donation.PINExpired, donation.PINClosed} {
			bs = m.add(bs, c)
			web(o)
		}
		return bs
	}
	if c.State == donation.Charging {
		bs = m.add(bs, c)
		web(donation.PINUsed)
		return bs
	}
	for _, s := range m.lapse(c) {
		if s.State == donation.Idle {
			bs = m.add(bs, s)
			web(donation.PINExpired)
			continue
		}
		for _, b := range m.pin(s, m.in.PIN) {
			bs = append(bs, b)
			switch {
			case b.st.State == donation.Charging:
				web(donation.PINAccepted)
			case b.st.State == donation.Idle:
				web(donation.PINLocked)
			default:
				web(donation.PINWrong)
			}
		}
	}
	return bs
}

// step is the porcupine step function. porcupine checks partitions in
// parallel, so each step gets a model of its own.
func (m *model) step(state, input, output any) []any {
	c, out := state.(conv), output.(Output)
	m = &model{progs: m.progs, in: input.(Input)}
	var next []any
	bs := m.next(c)
	if out.Web == "crash" {
		// The process died before the step, or after it committed.
		bs = m.add(bs, c)
	}
	for _, b := range bs {
		if b.st.State != out.State || b.st.OptedOut != out.OptedOut || (out.Web != "crash" && b.web != out.Web) || !slices.Equal(b.mts, out.kinds()) {
			continue
		}
		s := b.st
		if n := len(out.MTs); n > 0 && out.MTs[n-1].Kind == "PIN" {
			s.PIN, s.Token = out.MTs[n-1].PIN, out.MTs[n-1].Token
		}
		next = append(next, s)
	}
	return next
}

// opKey names an operation's subscriber.
type opKey struct{ phone, shortCode string }

// checkModel checks each subscriber's history against the model.
func checkModel(progs map[string]progInfo, ops []porcupine.Operation, visualize string) error {
	m := &model{progs: progs}
	nm := porcupine.NondeterministicModel{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := map[opKey][]porcupine.Operation{}
			var keys []opKey
			for _, op := range h {
				k := op.Metadata.(opKey)
				if _, ok := by[k]; !ok {
					keys = append(keys, k)
				}
				by[k] = append(by[k], op)
			}
			out := make([][]porcupine.Operation, len(keys))
			for i, k := range keys {
				out[i] = by[k]
			}
			return out
		},
		Init: func() []any { return []any{conv{State: donation.Idle}} },
		Step: m.step,
		DescribeOperation: func(in, out any) string {
			i, o := in.(Input), out.(Output)
			what := i.Op
			switch i.Op {
			case opMO:
				what = fmt.Sprintf("MO %q (%s)", i.Text.Body, i.Text.Class)
				if i.Limited {
					what += " over the rate limit"
				}
			case opGive:
				what = fmt.Sprintf("web gift %s %d", i.Program, i.Amount)
			case opWebPIN:
				what = fmt.Sprintf("web PIN %s", i.PIN)
			}
			return fmt.Sprintf("%s -> %v %s opted_out=%v %s", what, o.kinds(), o.State, o.OptedOut, o.Web)
		},
		DescribeState: func(s any) string { return fmt.Sprintf("%+v", s.(conv)) },
		DescribeOperationMetadata: func(info any) string {
			k := info.(opKey)
			return k.phone + " on " + k.shortCode
		},
	}
	model := nm.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, ops, 0)
	if res == porcupine.Ok {
		return nil
	}
	msg := fmt.Sprintf("porcupine: the conversation history is %s for the SPEC §4.2 model", res)
	if visualize != "" {
		if err := porcupine.VisualizePath(model, info, visualize); err == nil {
			msg += "; visualization in " + visualize
		}
	}
	// Name the first subscriber whose history the model cannot explain.
	for _, part := range model.Partition(ops) {
		if r, _ := porcupine.CheckOperationsVerbose(model, part, 0); r != porcupine.Ok {
			k := part[0].Metadata.(opKey)
			var lines []string
			states := []any{conv{State: donation.Idle}}
			for _, op := range part {
				var next []any
				for _, s := range states {
					next = append(next, m.step(s, op.Input, op.Output)...)
				}
				lines = append(lines, nm.DescribeOperation(op.Input, op.Output))
				if len(next) == 0 {
					msg += fmt.Sprintf("\nsubscriber %s on %s, from states %v:\n  %s", k.phone, k.shortCode, states, strings.Join(lines, "\n  "))
					break
				}
				states = next
			}
			break
		}
	}
	return fmt.Errorf("%s", msg)
}

// classifier tells an MT's template kind from its text.
type classifier struct {
	byShortCode map[string][]pattern
}

type pattern struct {
	kind     string
	re       *regexp.Regexp
	tokenURL string // the program's donation page base, before the token
}

func newClassifier(programs []compliance.Program) (*classifier, error) {
	c := &classifier{byShortCode: map[string][]pattern{}}
	for _, p := range programs {
		tv := reflect.ValueOf(p.Templates)
		seen := map[string]string{}
		for i := range tv.NumField() {
			kind := tv.Type().Field(i).Name
			tmpl := tv.Field(i).String()
			if tmpl == "" {
				continue
			}
			v := compliance.ProgramVars(p)
			v.Amount, v.Remaining, v.PIN = "\x01", "\x01", "\x02"
			if kind == "PIN" {
				v.URL = "\x03"
			}
			expr := regexp.QuoteMeta(compliance.Render(tmpl, v))
			expr = strings.NewReplacer("\x01", `[0-9.]+`, "\x02", `([0-9]{6})`, "\x03", `(\S+)`).Replace(expr)
			if other, dup := seen[expr]; dup {
				return nil, fmt.Errorf("program %s: templates %s and %s read alike", p.ID, other, kind)
			}
			seen[expr] = kind
			c.byShortCode[p.ShortCode] = append(c.byShortCode[p.ShortCode],
				pattern{kind: kind, re: regexp.MustCompile("^" + expr + "$"), tokenURL: p.DonationURL})
		}
	}
	return c, nil
}

// classify returns the kind of an MT sent from shortCode, or "" for a text
// no template makes.
func (c *classifier) classify(shortCode, body string) MT {
	for _, p := range c.byShortCode[shortCode] {
		if m := p.re.FindStringSubmatch(body); m != nil {
			mt := MT{Kind: p.kind}
			if p.kind == "PIN" {
				mt.PIN, mt.Token = m[1], strings.TrimSuffix(strings.TrimPrefix(m[2], p.tokenURL), ",")
			}
			return mt
		}
	}
	return MT{Kind: "?" + body}
}
