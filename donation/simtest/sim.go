// Package simtest is a deterministic simulation of the donation service in
// its world, in the spirit of FoundationDB's and TigerBeetle's: donors
// texting several short codes and programs, a gateway and carriers that
// lose, delay, duplicate and fail, a process that crashes at any call and
// restarts, all driven by one seeded random source and a fake clock, over
// a real store. After every step it checks the invariants of SPEC §10 that
// hold in one process; at the end of a run it checks the certification
// log and, with porcupine, every subscriber's conversation against a model
// of SPEC §4.2. The same seed replays the same history, step for step.
package simtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// Config is one simulated run.
type Config struct {
	Seed uint64
	// Sessions is how many donor sessions to run: a donor taking up a
	// program's keyword (or its web form) and going on as the replies
	// and their own whims lead them.
	Sessions int
	// DB is a fresh, migrated store.
	DB *storage.DB
	// Trace, when set, is told every line of the history.
	Trace func(line string)
	// Visualize is where porcupine writes its visualization of a history
	// the model cannot explain; none when empty.
	Visualize string
}

// Report sums up a run.
type Report struct {
	Seed           uint64
	Sessions       int
	Steps          int
	MOs            int // deliveries of MOs to the service, redeliveries included
	MTs            int // MTs the gateway took
	Completed      int
	CompletedCents int64
	Restarts       int
	Faults         Faults
	// Operations is how many operations porcupine checked.
	Operations int
	// Digest is the SHA-256 of the whole history: the same seed gives the
	// same digest.
	Digest string
}

// InvariantError is a broken invariant, with the end of the history that
// led to it.
type InvariantError struct {
	Step int
	What string
	Tail []string
}

func (e *InvariantError) Error() string {
	return fmt.Sprintf("step %d: %s\nlast steps of the history:\n  %s", e.Step, e.What, strings.Join(e.Tail, "\n  "))
}

const (
	start       = "2027-12-27T15:00:00Z" // near the ends of a month and a year
	maxActive   = 6                      // sessions under way at once
	rateLimit   = 20                     // the service's default: MOs per minute per number
	pinKey      = "simulation PIN key, 32 bytes..."
	shortCodeA  = "62262"
	shortCodeB  = "62263"
	webIP       = "198.51.100.7"
	webAgent    = "simulated browser/1.0"
	historyTail = 60
)

var shortCodes = []string{shortCodeA, shortCodeB}

// Programs are the simulation's programs: two committees share short code
// 62262 (GIVE, VOTE), the first committee also takes GIVE and DONATE on
// 62263 (so its caps race across short codes), and a third committee has
// CHIP there; one PAC in separate mode with small caps in New York time,
// one program with a short PIN expiry and two PIN tries.
func Programs() []compliance.Program {
	committee := func(id, name string, t compliance.CommitteeType) compliance.Committee {
		c := compliance.DemoProgram("https://sc.example").Committee
		c.ID, c.Name, c.DisplayName, c.PaidFor, c.Type = id, name+" Committee", name, name+" Committee", t
		return c
	}
	program := func(id, shortCode string, c compliance.Committee, keywords ...string) compliance.Program {
		p := compliance.DemoProgram("https://sc.example")
		p.ID, p.ShortCode, p.Keywords, p.Committee = id, shortCode, keywords, c
		p.TermsURL = "sc.example/t/" + id
		return p
	}
	alphaC := committee("C00000001", "Alpha", compliance.Candidate)
	betaC := committee("C00000002", "Beta PAC", compliance.PAC)
	betaC.TimeZone = "America/New_York"
	gammaC := committee("C00000003", "Gamma", compliance.Candidate)

	alpha := program("alpha", shortCodeA, alphaC, "GIVE")
	beta := program("beta", shortCodeA, betaC, "VOTE")
	beta.Mode = compliance.Separate
	beta.PricePoints = []int64{500, 1000, 1500}
	beta.Limits = compliance.Limits{PerMessage: 1500, Month: 2500, Rolling: true, Cycle: 6000}
	alpha2 := program("alpha2", shortCodeB, alphaC, "GIVE", "DONATE")
	gamma := program("gamma", shortCodeB, gammaC, "CHIP")
	gamma.PINExpiry, gamma.ConfirmExpiry, gamma.MaxPINTries = 5*time.Minute, 30*time.Minute, 2
	gamma.Limits.Rolling = false
	return []compliance.Program{alpha, beta, alpha2, gamma}
}

// delivery is an MO on its way through the gateway.
type delivery struct {
	mo   donation.MO
	text Text
	due  time.Time
	// retry: the gateway delivers it again, having had no answer.
	retry bool
	// durable: an earlier delivery committed it (its answer was lost), so
	// this one must change nothing.
	durable bool
	// dup: the gateway delivers an acknowledged MO a second time.
	dup bool
}

type inboxMsg struct {
	sc   string
	mt   MT
	at   time.Time
	read bool
}

type donor struct {
	phone  string
	inbox  []*inboxMsg
	active map[string]*session // by short code
}

type session struct {
	id       int
	d        *donor
	sc       string
	program  string
	keyword  string
	acts     int
	began    time.Time
	lastAct  time.Time
	started  bool
	web      bool
	pin      string
	token    string
	wrong    bool // tries a wrong PIN first
	viaWeb   bool // enters the PIN on the page
	last     Text
	stopped  bool
	patience time.Duration
}

// optOutWatch follows a subscriber after a STOP that opted it out: until
// it opts back in, the gateway may take one MT for it, the confirmation.
type optOutWatch struct {
	step  int
	taken int
}

// webGift is a gift the simulation started on the web, by its page token.
type webGift struct {
	phone, program string
	amount         int64
	pins           []string // PINs entered on its page
}

type sim struct {
	ctx      context.Context
	cfg      Config
	db       *storage.DB
	w        *world
	rng      *rand.Rand
	clock    *donationtest.Clock
	gw       *gateway
	carriers *carriers
	looker   *looker
	svcRand  *rand.ChaCha8
	jitter   *rand.Rand
	svc      *donation.Service
	inc      *incarnation
	log      *auditlog.Log

	programs  []compliance.Program
	progs     map[string]progInfo
	byID      map[string]compliance.Program
	keywords  map[[2]string]string // (short code, keyword) -> program
	cls       *classifier
	donors    []*donor
	byPhone   map[string]*donor
	active    []*session
	started   int
	queue     []*delivery
	moSeq     int
	acked     []*delivery
	committed map[string]Text        // MO id -> text, for MOs the store holds
	recorded  map[string][]time.Time // phone -> times of its recorded MOs
	dirty     map[string]bool
	subs      map[opKey]donation.Subscriber
	seenMTs   map[string]int
	ops       []porcupine.Operation
	verified  map[string]bool
	watches   map[opKey]*optOutWatch
	pins      map[string]string // donation id -> PIN sent
	gifts     map[string]*webGift

	step    int
	hist    hash.Hash
	tail    []string
	failure *InvariantError
	report  Report
}

// Run simulates cfg.Sessions donor sessions from cfg.Seed and returns its
// report, or the first broken invariant as an *InvariantError.
func Run(ctx context.Context, cfg Config) (Report, error) {
	s, err := newSim(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	err = s.run()
	s.report.Digest = hex.EncodeToString(s.hist.Sum(nil))
	return s.report, err
}

func newSim(ctx context.Context, cfg Config) (*sim, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed5eed5eed5eed))
	s := &sim{
		ctx: ctx, cfg: cfg, db: cfg.DB, rng: rng,
		progs: map[string]progInfo{}, byID: map[string]compliance.Program{}, keywords: map[[2]string]string{},
		byPhone: map[string]*donor{}, committed: map[string]Text{}, recorded: map[string][]time.Time{},
		dirty: map[string]bool{}, subs: map[opKey]donation.Subscriber{}, seenMTs: map[string]int{},
		verified: map[string]bool{}, watches: map[opKey]*optOutWatch{}, pins: map[string]string{},
		gifts: map[string]*webGift{}, hist: sha256.New(),
	}
	s.report = Report{Seed: cfg.Seed, Faults: Faults{}}
	t0, _ := time.Parse(time.RFC3339, start)
	// Each seed starts somewhere else in the year, so that months, years
	// and election cycles end at different points of its runs.
	t0 = t0.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
	s.clock = donationtest.NewClock(t0)
	// Every reading moves the clock on a microsecond: no two records get
	// one time, so stored orders never hang on random tie-breaks.
	s.clock.Tick = time.Microsecond
	s.w = &world{rng: rng, clock: s.clock, faults: s.report.Faults, trace: s.trace, violation: s.violation}
	s.gw = newGateway(s.w)
	s.gw.took = s.took
	s.carriers = newCarriers(s.w, "TelA", "TelB")
	s.looker = &looker{w: s.w, lines: map[string]line{}, last: map[string]*donation.Line{}}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], rng.Uint64())
	binary.LittleEndian.PutUint64(key[8:], rng.Uint64())
	s.svcRand = rand.NewChaCha8(key)
	s.jitter = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	s.log = &auditlog.Log{Store: s.db, Signer: storagetest.LogSigner(), Clock: s.clock}

	s.programs = Programs()
	for _, p := range s.programs {
		if err := s.db.SaveProgram(ctx, p); err != nil {
			return nil, fmt.Errorf("save program %s: %w", p.ID, err)
		}
		s.byID[p.ID] = p
		s.progs[p.ID] = progInfo{mode: p.Mode, maxTries: p.MaxPINTries, maxReprompt: p.MaxReprompts,
			confirmExp: p.ConfirmExpiry, pinExp: p.PINExpiry, prices: p.PricePoints}
		for _, k := range p.Keywords {
			s.keywords[[2]string{p.ShortCode, k}] = p.ID
		}
	}
	cls, err := newClassifier(s.programs)
	if err != nil {
		return nil, err
	}
	s.cls = cls
	s.makeDonors(max(6, cfg.Sessions/8))
	s.restart("start")
	return s, nil
}

// makeDonors makes n donors with the lines of SPEC §6.1's cases.
func (s *sim) makeDonors(n int) {
	areas := []string{"212", "646", "718", "917"}
	for i := range n {
		phone := fmt.Sprintf("+1%s555%04d", areas[(i/10000)%len(areas)], i%10000)
		ln := line{line: donation.Line{Country: "US", Carrier: []string{"TelA", "TelB"}[s.rng.IntN(2)], Type: donation.Postpaid}}
		switch r := s.rng.Float64(); {
		case r < 0.03:
			ln.line.Type = donation.Prepaid
		case r < 0.05:
			ln.line.Type = donation.Business
		case r < 0.06:
			ln.line.Type = donation.Landline
		case r < 0.09:
			phone = fmt.Sprintf("+1416555%04d", i%10000)
			ln.line.Country = "CA"
		case r < 0.11:
			ln.line.Carrier = "NoSuchTel"
		case r < 0.14:
			ln.flaky = true
		case r < 0.18:
			s.carriers.byName[ln.line.Carrier].decline[phone] = true
		}
		if _, dup := s.byPhone[phone]; dup {
			continue
		}
		s.looker.lines[phone] = ln
		d := &donor{phone: phone, active: map[string]*session{}}
		s.donors = append(s.donors, d)
		s.byPhone[phone] = d
	}
}

// restart drops the service and builds a new one on the same store: what
// it held in memory is lost.
func (s *sim) restart(why string) {
	s.inc = &incarnation{s: s}
	s.svc = &donation.Service{
		Store: store{s.inc}, Outbox: outbox{s.inc}, Looker: lookups{s.inc}, Carriers: billers{s.inc},
		Sender: sender{s.inc}, Clock: s.clock, Rand: s.svcRand, Jitter: s.jitter,
		PINKey: []byte(pinKey), Workers: 1, Senders: 1, RateLimit: rateLimit,
	}
	s.svc.Start()
	if why != "start" {
		s.report.Restarts++
		s.trace("restart: %s", why)
	}
}

func (s *sim) trace(format string, args ...any) {
	line := fmt.Sprintf("%d %s ", s.step, s.clock.Now().Format("2006-01-02T15:04:05.000000")) + fmt.Sprintf(format, args...)
	s.hist.Write([]byte(line))
	s.hist.Write([]byte{'\n'})
	if len(s.tail) == historyTail {
		s.tail = s.tail[1:]
	}
	s.tail = append(s.tail, line)
	if s.cfg.Trace != nil {
		s.cfg.Trace(line)
	}
}

func (s *sim) violation(format string, args ...any) {
	if s.failure != nil {
		return
	}
	what := fmt.Sprintf(format, args...)
	s.trace("VIOLATION %s", what)
	s.failure = &InvariantError{Step: s.step, What: what, Tail: slices.Clone(s.tail)}
}

// fail reports an error of the simulation itself (not of the service).
func (s *sim) fail(format string, args ...any) { s.violation("simulation: "+format, args...) }

func (s *sim) run() error {
	for s.failure == nil && (s.started < s.cfg.Sessions || len(s.active) > 0) {
		s.step++
		s.once()
		s.afterStep()
	}
	if s.failure == nil {
		s.drain()
	}
	if s.failure == nil {
		s.final()
	}
	if s.failure != nil {
		return s.failure
	}
	return nil
}

// once takes one step: a delivery due, else a random action.
func (s *sim) once() {
	now := s.clock.Now()
	if len(s.queue) > 0 && !s.queue[0].due.After(now) {
		d := s.queue[0]
		s.queue = s.queue[1:]
		s.deliver(d)
		return
	}
	switch r := s.rng.Float64(); {
	case r < 0.40 && len(s.active) > 0:
		s.act(s.active[s.rng.IntN(len(s.active))])
	case r < 0.50:
		if s.started < s.cfg.Sessions && len(s.active) < maxActive {
			s.startSession()
		} else {
			s.advance(time.Duration(1+s.rng.IntN(20)) * time.Second)
		}
	case r < 0.62:
		s.sendPass()
	case r < 0.68:
		s.chargePass()
	case r < 0.71:
		s.expirePass()
	case r < 0.73:
		s.sequence()
	case r < 0.92:
		s.advance(time.Duration(1+s.rng.IntN(20)) * time.Second)
	case r < 0.94:
		s.advance(time.Duration(1+s.rng.IntN(10)) * time.Minute)
	case r < 0.942:
		s.advance(time.Duration(30+s.rng.IntN(90)) * time.Minute)
	case r < 0.9421:
		s.w.fault("days_pass")
		s.advance(time.Duration(1+s.rng.IntN(10)) * 24 * time.Hour)
	case r < 0.98:
		s.duplicate()
	case r < 0.985:
		s.w.fault("restart")
		s.restart("the process was restarted")
	default:
		n, after := 1+s.rng.IntN(6), s.rng.IntN(2) == 0
		s.trace("crash armed at the %d-th call from now (after it: %v)", n, after)
		s.inc.arm(n, after)
	}
}

func (s *sim) advance(d time.Duration) {
	s.clock.Advance(d)
	s.trace("clock +%s", d)
}

// afterStep restarts a process that died, then observes and checks what
// the step changed.
func (s *sim) afterStep() {
	if s.inc.dead {
		s.advance(time.Duration(1+s.rng.IntN(10)) * time.Second)
		s.restart("the process died")
	}
	s.observe(nil, Input{}, Output{})
	s.report.Steps = s.step
}

// --- donors ---

func (s *sim) startSession() {
	d := s.donors[s.rng.IntN(len(s.donors))]
	sc := shortCodes[s.rng.IntN(len(shortCodes))]
	if d.active[sc] != nil {
		return // this donor is busy on that short code; try another step
	}
	var ps []compliance.Program
	for _, p := range s.programs {
		if p.ShortCode == sc {
			ps = append(ps, p)
		}
	}
	p := ps[s.rng.IntN(len(ps))]
	s.started++
	ses := &session{
		id: s.started, d: d, sc: sc, program: p.ID, keyword: p.Keywords[s.rng.IntN(len(p.Keywords))],
		began: s.clock.Now(), web: s.rng.Float64() < 0.06, wrong: s.rng.Float64() < 0.1,
		viaWeb: s.rng.Float64() < 0.2, patience: time.Duration(2+s.rng.IntN(20)) * time.Minute,
	}
	d.active[sc] = ses
	s.active = append(s.active, ses)
	s.trace("session %d: %s on %s (%s)", ses.id, d.phone, sc, p.ID)
	s.act(ses)
}

func (s *sim) endSession(ses *session, why string) {
	s.trace("session %d ends: %s", ses.id, why)
	delete(ses.d.active, ses.sc)
	s.active = slices.DeleteFunc(s.active, func(x *session) bool { return x == ses })
	s.report.Sessions++
}

// act is one move of a donor: they read what came, and answer it, or
// wander off, or text something else.
func (s *sim) act(ses *session) {
	now := s.clock.Now()
	ses.acts++
	if ses.acts > 40 || now.Sub(ses.began) > 6*time.Hour {
		s.endSession(ses, "the donor lost interest")
		return
	}
	if !ses.started {
		ses.started, ses.lastAct = true, now
		p := s.byID[ses.program]
		if ses.web {
			s.give(ses, p.PricePoints[s.rng.IntN(len(p.PricePoints))])
			return
		}
		var amount int64
		if s.rng.IntN(2) == 0 {
			amount = p.PricePoints[s.rng.IntN(len(p.PricePoints))]
		}
		s.text(ses, keywordText(s.rng, ses.keyword, p.ID, amount))
		return
	}
	// What arrived since the donor last looked.
	var news []*inboxMsg
	for _, m := range ses.d.inbox {
		if !m.read && m.sc == ses.sc && !m.at.After(now) {
			m.read = true
			news = append(news, m)
		}
	}
	switch r := s.rng.Float64(); {
	case r < 0.03:
		s.text(ses, helpText(s.rng))
		return
	case r < 0.05:
		s.text(ses, otherText(s.rng))
		return
	case r < 0.065:
		ses.stopped = true
		s.text(ses, stopText(s.rng))
		return
	case r < 0.075:
		s.switchProgram(ses)
		return
	case r < 0.077:
		s.burst(ses)
		return
	}
	if len(news) == 0 {
		if now.Sub(ses.lastAct) < ses.patience {
			return
		}
		switch r := s.rng.Float64(); {
		case r < 0.3 && ses.last.Body != "":
			s.trace("session %d: the donor texts again", ses.id)
			s.text(ses, ses.last)
		case r < 0.6:
			s.endSession(ses, "no answer came")
		default:
			ses.lastAct = now
		}
		return
	}
	s.react(ses, news[len(news)-1].mt, news)
}

// react answers the latest text the donor got.
func (s *sim) react(ses *session, mt MT, news []*inboxMsg) {
	p := s.byID[ses.program]
	switch mt.Kind {
	case "AmountPrompt":
		if s.rng.Float64() < 0.1 {
			s.text(ses, amountText(s.rng, int64(100*(1+s.rng.IntN(30)))))
			return
		}
		s.text(ses, amountText(s.rng, p.PricePoints[s.rng.IntN(len(p.PricePoints))]))
	case "OverLimit":
		if s.rng.IntN(2) == 0 {
			s.text(ses, amountText(s.rng, p.PricePoints[0]))
		} else {
			s.text(ses, noText(s.rng))
		}
	case "Confirm", "ConfirmOnly", "Certify":
		switch r := s.rng.Float64(); {
		case r < 0.85:
			s.text(ses, yesText(s.rng))
		case r < 0.92:
			s.text(ses, noText(s.rng))
		default:
			s.text(ses, otherText(s.rng))
		}
	case "PIN":
		ses.pin, ses.token = mt.PIN, mt.Token
		s.enterPIN(ses)
	case "WrongPIN":
		if ses.pin == "" || s.rng.IntN(4) == 0 {
			s.endSession(ses, "the donor gave up on the PIN")
			return
		}
		s.enterPIN(ses)
	case "Stop":
		if s.rng.IntN(3) == 0 {
			ses.stopped = false
			s.text(ses, optInText(s.rng))
			return
		}
		s.endSession(ses, "opted out")
	case "OptIn", "Expired", "Hint":
		if s.rng.IntN(2) == 0 {
			s.text(ses, keywordText(s.rng, ses.keyword, ses.program, 0))
			return
		}
		s.endSession(ses, "the donor was told "+mt.Kind)
	case "Help", "Processing":
		ses.lastAct = s.clock.Now()
	default:
		// Receipt, Decline, LimitReached, Cancelled, PINLocked, refusals.
		s.endSession(ses, "the donor was told "+mt.Kind)
	}
}

// enterPIN sends the PIN by text or on the page, perhaps a wrong one first.
func (s *sim) enterPIN(ses *session) {
	pin := ses.pin
	if ses.wrong {
		ses.wrong = false
		pin = fmt.Sprintf("%06d", (s.rng.IntN(999999)+1+atoi(pin))%1000000)
	}
	if ses.viaWeb && ses.token != "" {
		s.webPIN(ses, pin)
		return
	}
	s.text(ses, pinText(pin))
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// switchProgram texts another program's keyword on the same short code,
// which replaces the open request.
func (s *sim) switchProgram(ses *session) {
	var others []compliance.Program
	for _, p := range s.programs {
		if p.ShortCode == ses.sc && p.ID != ses.program {
			others = append(others, p)
		}
	}
	p := others[s.rng.IntN(len(others))]
	ses.program, ses.keyword = p.ID, p.Keywords[0]
	s.text(ses, keywordText(s.rng, ses.keyword, p.ID, 0))
}

// burst sends more MOs in a minute than the rate limit lets through.
func (s *sim) burst(ses *session) {
	s.w.fault("mo_burst")
	for range rateLimit + 5 {
		s.text(ses, otherText(s.rng))
	}
}

// text hands an MO to the gateway, which may lose it on the way.
func (s *sim) text(ses *session, t Text) {
	ses.last, ses.lastAct = t, s.clock.Now()
	if s.w.chance(0.01) {
		s.w.fault("mo_lost")
		return
	}
	s.moSeq++
	mo := donation.MO{Gateway: "sim", MessageID: fmt.Sprintf("SM%032x", 1<<40+s.moSeq), From: ses.d.phone, To: ses.sc, Body: t.Body}
	s.enqueue(&delivery{mo: mo, text: t, due: s.clock.Now().Add(time.Duration(s.rng.IntN(3000)) * time.Millisecond)})
}

func (s *sim) enqueue(d *delivery) {
	i, _ := slices.BinarySearchFunc(s.queue, d.due, func(x *delivery, t time.Time) int {
		if x.due.After(t) {
			return 1
		}
		return -1 // equal dues keep the order they came in
	})
	s.queue = slices.Insert(s.queue, i, d)
}

// took is told of each MT the gateway takes: it reaches the donor's phone
// after a while, or never, and must not break an opt-out.
func (s *sim) took(m message) {
	s.report.MTs++
	mt := s.cls.classify(m.From, m.Body)
	if mt.Kind == "PIN" && m.DonationID != "" {
		s.pins[m.DonationID] = mt.PIN
	}
	key := opKey{m.To, m.From}
	if w := s.watches[key]; w != nil {
		w.taken++
		if m.Kind != donation.OptOutConfirmation || w.taken > 1 {
			s.violation("SPEC §10 (4): %s opted out of %s at step %d, and the gateway took %q (%s, the %d-th MT since)",
				m.To, m.From, w.step, m.Body, mt.Kind, w.taken)
		}
	}
	d := s.byPhone[m.To]
	if d == nil {
		s.violation("MT to %s, who never texted", m.To)
		return
	}
	if s.w.chance(0.02) {
		s.w.fault("mt_lost_in_network")
		return
	}
	delay := time.Duration(s.rng.IntN(20000)) * time.Millisecond
	if s.w.chance(0.05) {
		s.w.fault("mt_delayed")
		delay = time.Duration(1+s.rng.IntN(10)) * time.Minute
	}
	d.inbox = append(d.inbox, &inboxMsg{sc: m.From, mt: mt, at: m.At.Add(delay)})
}

// --- the service's entry points ---

// deliver hands an MO to the service as the gateway's webhook would, and
// queues it again when no answer came.
func (s *sim) deliver(d *delivery) {
	if d.dup {
		s.deliverDuplicate(d)
		return
	}
	s.report.MOs++
	mo := d.mo
	lo := s.clock.Now()
	mo.At = lo
	key := opKey{mo.From, mo.To}
	in := Input{Op: opMO, Text: d.text, Lo: lo}
	in.Limited = s.overRate(mo.From, lo, d.text)
	var before snapshot
	if d.durable {
		before = s.snapshot(mo.From)
	}
	delete(s.looker.last, mo.From)
	s.inc.committed = false
	err := s.svc.HandleMO(s.ctx, mo)
	in.Hi = s.clock.Now()
	s.trace("mo %s %s -> %s %q: %v", mo.MessageID, mo.From, mo.To, mo.Body, errClass(err))
	applied := false
	switch {
	case d.durable:
		// SPEC §10 (5): an MO acknowledged, or committed, once changes
		// nothing and sends nothing when the gateway delivers it again.
		if !errors.Is(err, donation.ErrDuplicate) && !errors.Is(err, errCrash) {
			s.violation("SPEC §10 (5): MO %s, committed before, delivered again: got %v, want a duplicate", mo.MessageID, err)
		}
		if after := s.snapshot(mo.From); !reflect.DeepEqual(before, after) {
			s.violation("SPEC §10 (5): MO %s delivered again changed the store:\nbefore %+v\nafter  %+v", mo.MessageID, before, after)
		}
		if err == nil || errors.Is(err, donation.ErrDuplicate) {
			s.acked = append(s.acked, d)
			return
		}
	case err == nil:
		applied = true
		s.acked = append(s.acked, d)
	case errors.Is(err, errCrash):
		applied = s.inc.committed
	case errors.Is(err, donation.ErrDuplicate):
		s.violation("MO %s delivered for the first time was taken for a duplicate", mo.MessageID)
		return
	default:
		s.violation("MO %s: unexpected error %v", mo.MessageID, err)
		return
	}
	if applied {
		s.committed[mo.MessageID] = d.text
		s.recorded[mo.From] = append(s.recorded[mo.From], mo.At)
		s.gatewayOptIn(mo.From, mo.To, d.text)
		in.Screen = s.screen(mo.From)
		s.watchOptOut(key, d.text, in.Limited)
		s.observe(&key, in, Output{})
	}
	if err != nil {
		// No answer reached the gateway: it delivers the MO again later,
		// committed or not.
		s.w.fault("mo_redelivered")
		s.enqueue(&delivery{mo: d.mo, text: d.text, due: s.clock.Now().Add(time.Duration(5+s.rng.IntN(55)) * time.Second),
			retry: true, durable: applied || d.durable})
	}
}

// duplicate has the gateway deliver an acknowledged MO again.
func (s *sim) duplicate() {
	if len(s.acked) == 0 {
		return
	}
	d := *s.acked[s.rng.IntN(len(s.acked))]
	d.dup, d.durable = true, true
	s.w.fault("mo_duplicated")
	s.deliverDuplicate(&d)
}

func (s *sim) deliverDuplicate(d *delivery) {
	s.report.MOs++
	before := s.snapshot(d.mo.From)
	mo := d.mo
	mo.At = s.clock.Now()
	err := s.svc.HandleMO(s.ctx, mo)
	s.trace("mo %s again %s -> %s %q: %v", mo.MessageID, mo.From, mo.To, mo.Body, errClass(err))
	if errors.Is(err, errCrash) {
		s.enqueue(&delivery{mo: d.mo, text: d.text, due: s.clock.Now().Add(10 * time.Second), durable: true})
	} else if !errors.Is(err, donation.ErrDuplicate) {
		s.violation("SPEC §10 (5): MO %s delivered again: got %v, want a duplicate", mo.MessageID, err)
	}
	if after := s.snapshot(mo.From); !reflect.DeepEqual(before, after) {
		s.violation("SPEC §10 (5): MO %s delivered again changed the store:\nbefore %+v\nafter  %+v", mo.MessageID, before, after)
	}
}

func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, donation.ErrDuplicate):
		return "duplicate"
	case errors.Is(err, errCrash):
		return "crashed"
	}
	return "error: " + err.Error()
}

// overRate tells whether an MO at t is over the number's rate limit: more
// than rateLimit MOs recorded in the minute up to it, itself included. STOP
// is honoured whatever the rate.
func (s *sim) overRate(phone string, t time.Time, text Text) bool {
	if text.Class == "stop" || text.Class == "inferred_stop" {
		return false
	}
	n := 1
	for _, at := range s.recorded[phone] {
		if !at.Before(t.Add(-time.Minute)) {
			n++
		}
	}
	return n > rateLimit
}

// screen is the refusal SPEC §6.1 calls for after the latest lookup, if
// one was made: its template's kind, or "" for a number that passes.
func (s *sim) screen(phone string) string {
	if !compliance.IsUS(phone) {
		return "NotUS"
	}
	ln, looked := s.looker.last[phone]
	switch {
	case !looked:
		return "" // no keyword, no lookup
	case ln == nil || (ln.Country == "US" && s.carriers.byName[ln.Carrier] == nil):
		return "LookupFailed"
	case ln.Country != "US":
		return "NotUS"
	case ln.Type == donation.Prepaid:
		return "Prepaid"
	case ln.Type == donation.Business:
		return "Business"
	case ln.Type != donation.Postpaid:
		return "Blocked"
	}
	return ""
}

// gatewayOptIn: an opt-in word or a keyword through the gateway ends an
// opt-out the gateway itself holds.
func (s *sim) gatewayOptIn(phone, sc string, t Text) {
	if t.Class == "optin" || t.Class == "keyword" || t.Class == "yes" {
		s.gw.optIn(phone, sc)
	}
}

// watchOptOut starts or ends the watch of SPEC §10 (4) for an applied MO.
func (s *sim) watchOptOut(key opKey, t Text, limited bool) {
	if limited {
		return
	}
	switch t.Class {
	case "stop", "inferred_stop":
		if !s.subs[key].OptedOut {
			s.watches[key] = &optOutWatch{step: s.step}
		}
	case "optin", "yes", "keyword":
		delete(s.watches, key)
	}
}

// give starts a gift on the web form.
func (s *sim) give(ses *session, amount int64) {
	p := s.byID[ses.program]
	key := opKey{ses.d.phone, p.ShortCode}
	in := Input{Op: opGive, Program: p.ID, Amount: amount, Lo: s.clock.Now()}
	delete(s.looker.last, ses.d.phone)
	res, err := s.svc.Give(s.ctx, donation.Gift{ProgramID: p.ID, Phone: ses.d.phone, Amount: amount, Certified: true,
		Client: donation.Client{IP: webIP, UserAgent: webAgent}})
	in.Hi = s.clock.Now()
	in.Screen = s.screen(ses.d.phone)
	s.trace("web gift %s %s %d: %s %v", ses.d.phone, p.ID, amount, res.Outcome, errClass(err))
	out := Output{Web: string(res.Outcome)}
	switch {
	case errors.Is(err, errCrash):
		out.Web = "crash"
	case err != nil:
		s.violation("web gift: %v", err)
		return
	}
	if res.Token != "" {
		s.gifts[res.Token] = &webGift{phone: ses.d.phone, program: p.ID, amount: amount}
		ses.viaWeb = s.rng.Float64() < 0.6
	}
	s.observe(&key, in, out)
	if res.Outcome != donation.WebPINSent {
		s.endSession(ses, "web gift "+string(res.Outcome))
	}
}

// webPIN enters a PIN on the donation's page.
func (s *sim) webPIN(ses *session, pin string) {
	key := opKey{ses.d.phone, ses.sc}
	in := Input{Op: opWebPIN, Token: ses.token, PIN: pin, Lo: s.clock.Now()}
	out, _, err := s.svc.EnterPIN(s.ctx, ses.token, pin, donation.Client{IP: webIP, UserAgent: webAgent})
	in.Hi = s.clock.Now()
	s.trace("web PIN %s %s: %s %v", ses.d.phone, pin, out, errClass(err))
	o := Output{Web: string(out)}
	switch {
	case errors.Is(err, errCrash):
		o.Web = "crash"
	case err != nil:
		s.violation("web PIN: %v", err)
		return
	}
	if g := s.gifts[ses.token]; g != nil {
		g.pins = append(g.pins, pin)
	} else {
		s.gifts[ses.token] = &webGift{phone: ses.d.phone, pins: []string{pin}}
	}
	ses.lastAct = s.clock.Now()
	s.observe(&key, in, o)
	switch out {
	case donation.PINAccepted, donation.PINWrong:
	default:
		if !errors.Is(err, errCrash) {
			s.endSession(ses, "web PIN "+string(out))
		}
	}
}

// --- workers ---

func (s *sim) pass(name string, fn func(context.Context) (int, error)) {
	lo := s.clock.Now()
	n, err := fn(s.ctx)
	s.trace("%s: %d %v", name, n, errClass(err))
	if err != nil && !errors.Is(err, errCrash) {
		s.violation("%s: %v", name, err)
	}
	s.observe(nil, Input{Op: opWorker, Lo: lo, Hi: s.clock.Now()}, Output{})
}

func (s *sim) sendPass() {
	for range 8 {
		s.inc.claims = 0
		s.pass("send", s.svc.SendPending)
		if s.inc.claims == 0 || s.inc.dead {
			return
		}
	}
}

func (s *sim) chargePass() { s.pass("charge", s.svc.ChargePending) }
func (s *sim) expirePass() { s.pass("expire", s.svc.ExpireDue) }

// sequence runs the certification log's sequencer (a process of its own).
func (s *sim) sequence() {
	for {
		n, err := s.log.Integrate(s.ctx)
		if err != nil {
			s.violation("sequencer: %v", err)
			return
		}
		if n == 0 {
			return
		}
		s.trace("sequencer: %d records", n)
	}
}

// --- observation and invariants ---

// snapshot is what an MO may change for a number.
type snapshot struct {
	Subs      []donation.Subscriber
	Donations []donation.Donation
	Outbox    []string
	MOs       int
}

func (s *sim) snapshot(phone string) snapshot {
	sn := snapshot{Subs: s.subscribers(phone)}
	ds, err := s.db.Donations(s.ctx, phone)
	if err != nil {
		s.fail("donations: %v", err)
	}
	sn.Donations = ds
	recs, err := s.db.OutboxRecords(s.ctx, phone)
	if err != nil {
		s.fail("outbox: %v", err)
	}
	for _, r := range recs {
		sn.Outbox = append(sn.Outbox, r.ID+" "+r.Status)
	}
	mos, err := s.db.MOs(s.ctx, phone)
	if err != nil {
		s.fail("mos: %v", err)
	}
	sn.MOs = len(mos)
	return sn
}

// subscribers reads a number's subscriber on each short code.
func (s *sim) subscribers(phone string) []donation.Subscriber {
	var subs []donation.Subscriber
	err := s.db.Update(s.ctx, phone, func(tx donation.Tx) error {
		subs = subs[:0]
		for _, sc := range shortCodes {
			sub, err := tx.Subscriber(s.ctx, phone, sc)
			if err != nil {
				return err
			}
			subs = append(subs, sub)
		}
		return nil
	})
	if err != nil {
		s.fail("subscriber: %v", err)
	}
	return subs
}

// observe reads what changed for every phone the step touched: for own
// (the subscriber an MO or a web step was for) it records the operation
// in; for any other subscriber that changed, an operation of the workers.
// Then it checks the invariants for those phones.
func (s *sim) observe(own *opKey, in Input, out Output) {
	phones := make([]string, 0, len(s.dirty))
	for p := range s.dirty {
		phones = append(phones, p)
	}
	slices.Sort(phones)
	clear(s.dirty)
	if own != nil && !slices.Contains(phones, own.phone) {
		phones = append(phones, own.phone)
	}
	for _, phone := range phones {
		recs, err := s.db.OutboxRecords(s.ctx, phone)
		if err != nil {
			s.fail("outbox: %v", err)
			return
		}
		news := map[string][]MT{}
		for _, r := range recs[s.seenMTs[phone]:] {
			news[r.MT.From] = append(news[r.MT.From], s.cls.classify(r.MT.From, r.MT.Body))
		}
		s.seenMTs[phone] = len(recs)
		subs := s.subscribers(phone)
		for i, sc := range shortCodes {
			key := opKey{phone, sc}
			sub := subs[i]
			prev, known := s.subs[key]
			changed := !known || sub.State != prev.State || sub.OptedOut != prev.OptedOut
			s.subs[key] = sub
			o := Output{MTs: news[sc], State: sub.State, OptedOut: sub.OptedOut}
			op := Input{Op: opWorker, Lo: in.Lo, Hi: in.Hi}
			switch {
			case own != nil && *own == key:
				op, o.Web = in, out.Web
			case len(news[sc]) == 0 && (!changed || (!known && sub.State == donation.Idle && !sub.OptedOut)):
				continue
			}
			if op.Lo.IsZero() {
				op.Lo, op.Hi = s.clock.Now(), s.clock.Now()
			}
			s.ops = append(s.ops, porcupine.Operation{Input: op, Output: o, Call: int64(2 * len(s.ops)), Return: int64(2*len(s.ops) + 1), Metadata: key})
			s.trace("observed %s on %s: %v %s opted_out=%v %s", phone, sc, o.kinds(), o.State, o.OptedOut, o.Web)
		}
		s.checkPhone(phone)
	}
}

// checkPhone checks SPEC §10 (1), (2) and (3) for one number's donations.
func (s *sim) checkPhone(phone string) {
	ds, err := s.db.Donations(s.ctx, phone)
	if err != nil {
		s.fail("donations: %v", err)
		return
	}
	for _, d := range ds {
		ch, billed := s.carriers.applied(d.ID)
		switch d.Status {
		case donation.Completed:
			// (1) completed: billed once, for its amount.
			if !billed || ch.req.Amount != d.Amount || ch.out.ServerRef != d.ServerRef {
				s.violation("SPEC §10 (1): donation %s completed for %d cents (ref %s), carrier charge %+v", d.ID, d.Amount, d.ServerRef, ch)
			}
			if !s.verified[d.ID] {
				s.checkEvidence(d, ch)
			}
		case donation.Open:
			if billed && d.ChargePostedAt.IsZero() {
				s.violation("SPEC §10 (1): donation %s billed but its charge was never posted", d.ID)
			}
		default:
			if billed {
				s.violation("SPEC §10 (1): donation %s is %s, yet the carrier billed it", d.ID, d.Status)
			}
		}
	}
	s.checkCaps(phone, ds)
}

// span is an amount counted against the caps, dated somewhere in [lo, hi].
type span struct {
	lo, hi time.Time
	amount int64
}

// checkCaps checks SPEC §10 (2) on its own terms: for every period of the
// caps of §5.1, the completed contributions dated in it and the open
// reservations that may yet be dated in it sum to at most the cap.
func (s *sim) checkCaps(phone string, ds []donation.Donation) {
	byCommittee := map[string][]span{}
	var committees []string
	for _, d := range ds {
		var sp span
		switch {
		case d.Status == donation.Completed && d.RefundedAt.IsZero():
			sp = span{d.ReceivedAt, d.ReceivedAt, d.Amount}
		case d.Status == donation.Open && !d.ReservedAt.IsZero() && d.Amount > 0:
			sp = span{d.ReceivedAt, d.ReceivedAt, d.Amount}
			if d.ReceivedAt.IsZero() {
				sp = span{d.ReservedAt, d.ExpiresAt, d.Amount}
			}
		default:
			continue
		}
		p := s.byID[d.ProgramID]
		if d.Amount > p.Limits.PerMessage || !slices.Contains(p.PricePoints, d.Amount) {
			s.violation("SPEC §10 (2): donation %s of %d cents, not a price point of %s under its per-message cap", d.ID, d.Amount, p.ID)
		}
		if _, ok := byCommittee[d.CommitteeID]; !ok {
			committees = append(committees, d.CommitteeID)
		}
		byCommittee[d.CommitteeID] = append(byCommittee[d.CommitteeID], sp)
	}
	for _, cid := range committees {
		spans := byCommittee[cid]
		var p compliance.Program
		for _, q := range s.programs {
			if q.Committee.ID == cid {
				p = q
				break
			}
		}
		c, l := p.Committee, p.Limits
		loc := c.Location()
		sum := func(start, end time.Time) (n int64) {
			for _, sp := range spans {
				if sp.lo.Before(end) && !sp.hi.Before(start) {
					n += sp.amount
				}
			}
			return n
		}
		for _, sp := range spans {
			for t := sp.lo; !t.After(sp.hi); {
				local := t.In(loc)
				ms := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
				if n := sum(ms, ms.AddDate(0, 1, 0)); n > l.Month {
					s.violation("SPEC §10 (2): %s gives committee %s %d cents in the month of %s, cap %d", phone, cid, n, ms.Format("2006-01"), l.Month)
				}
				t = ms.AddDate(0, 1, 0)
			}
			for t := sp.lo; !t.After(sp.hi); {
				ps, pe := c.Period(t)
				if n := sum(ps, pe); n > l.Cycle {
					s.violation("SPEC §10 (2): %s gives committee %s %d cents in [%s, %s), cap %d", phone, cid, n, ps, pe, l.Cycle)
				}
				t = pe
			}
			if l.Rolling {
				// The 31 days that end at this amount's earliest date.
				var n int64
				for _, o := range spans {
					if o.hi.After(sp.lo.Add(-compliance.RollingWindow)) && !o.lo.After(sp.lo) {
						n += o.amount
					}
				}
				if n > l.Month {
					s.violation("SPEC §10 (2): %s gives committee %s %d cents in the 31 days to %s, cap %d", phone, cid, n, sp.lo, l.Month)
				}
			}
		}
	}
}

// checkEvidence checks SPEC §10 (3) for a completed donation: an allowed
// amount, a YES (an MO the donor meant as one, or the web form), a record
// in the certification log, a correct PIN from the same number (or the
// donation's page), in that order, all before the carrier billed it.
func (s *sim) checkEvidence(d donation.Donation, ch *charge) {
	s.verified[d.ID] = true
	bad := func(format string, args ...any) {
		s.violation("SPEC §10 (3): completed donation %s: %s", d.ID, fmt.Sprintf(format, args...))
	}
	p := s.byID[d.ProgramID]
	if !slices.Contains(p.PricePoints, d.Amount) {
		bad("amount %d is not a price point", d.Amount)
	}
	s.sequence()
	e, err := s.db.EntryOf(s.ctx, d.ID)
	if err != nil {
		bad("no record in the certification log: %v", err)
		return
	}
	rec, err := certlog.Parse(e.Record)
	if err != nil {
		bad("its record does not parse: %v", err)
		return
	}
	if rec.Donation != d.ID || rec.Amount != d.Amount || rec.Program != d.ProgramID || rec.Committee != d.CommitteeID {
		bad("its record is for %s, %d cents, %s, %s", rec.Donation, rec.Amount, rec.Program, rec.Committee)
	}
	if err := e.Opening.Check(rec); err != nil || e.Opening.Phone != d.Phone {
		bad("its record's commitment does not open to %s: %v", d.Phone, err)
	}
	switch rec.Channel {
	case certlog.SMS:
		t, ok := s.committed[rec.MessageID]
		if !ok || t.Class != "yes" {
			bad("certified by MO %s, which the donor did not send as a YES (%q)", rec.MessageID, t.Body)
		}
	case certlog.Web:
		if g := s.gifts[d.Token]; g == nil || g.phone != d.Phone || g.amount != d.Amount || g.program != d.ProgramID {
			bad("certified on the web, where no such gift was started")
		}
		if e.Opening.IP != webIP || e.Opening.UserAgent != webAgent {
			bad("web certification by %q %q", e.Opening.IP, e.Opening.UserAgent)
		}
	default:
		bad("certified on channel %q", rec.Channel)
	}
	v, err := s.db.Verification(s.ctx, d.ID)
	if err != nil {
		bad("no PIN verification: %v", err)
		return
	}
	pin, sent := s.pins[d.ID]
	if !sent {
		bad("its PIN never left the gateway")
	}
	switch v.Channel {
	case "sms":
		if t, ok := s.committed[v.MessageID]; !ok || t.Body != pin {
			bad("PIN verified by MO %s %q, the PIN sent was %s", v.MessageID, t.Body, pin)
		}
	case "web":
		if g := s.gifts[d.Token]; g == nil || !slices.Contains(g.pins, pin) || v.IP != webIP || v.UserAgent != webAgent {
			bad("PIN verified on the web, where the donor never entered %s", pin)
		}
	default:
		bad("PIN verified on channel %q", v.Channel)
	}
	if rec.Time.After(v.At) || v.At.After(d.ChargePostedAt) || d.ChargePostedAt.After(ch.at) {
		bad("out of order: certified %s, PIN %s, charge posted %s, billed %s", rec.Time, v.At, d.ChargePostedAt, ch.at)
	}
}

// drain lets every timer run out and every MT and charge reach its end.
func (s *sim) drain() {
	s.trace("drain")
	for i := 0; ; i++ {
		if i == 2000 {
			s.violation("liveness: after 2000 rounds the outbox, the charges or the gateway's queue are not empty")
			return
		}
		s.step++
		for len(s.queue) > 0 && s.failure == nil {
			if d := s.queue[0]; d.due.After(s.clock.Now()) {
				s.clock.Set(d.due)
			}
			d := s.queue[0]
			s.queue = s.queue[1:]
			s.deliver(d)
			s.afterStep()
		}
		s.advance(time.Minute)
		s.sendPass()
		s.afterStep()
		s.chargePass()
		s.afterStep()
		s.expirePass()
		s.afterStep()
		if s.failure != nil {
			return
		}
		if i%30 == 29 {
			s.advance(time.Hour) // the longest timer
		}
		if s.quiet() {
			break
		}
	}
	s.advance(2 * time.Hour)
	s.expirePass()
	s.sendPass()
	s.afterStep()
}

func (s *sim) quiet() bool {
	if len(s.queue) > 0 {
		return false
	}
	charging, err := s.db.Charging(s.ctx)
	if err != nil || len(charging) > 0 {
		return false
	}
	oldest, err := s.db.OldestPendingMT(s.ctx)
	if err != nil || !oldest.IsZero() {
		return false
	}
	due, err := s.db.Due(s.ctx, s.clock.Now().Add(3*time.Hour))
	return err == nil && len(due) == 0
}

// final checks what holds once everything has settled.
func (s *sim) final() {
	s.sequence()
	var completed int
	var cents int64
	for _, d := range s.donors {
		ds, err := s.db.Donations(s.ctx, d.phone)
		if err != nil {
			s.fail("donations: %v", err)
			return
		}
		for _, x := range ds {
			switch x.Status {
			case donation.Completed:
				completed++
				cents += x.Amount
			case donation.Open:
				s.violation("donation %s still open after the drain: %+v", x.ID, x)
			}
			s.trace("donation %s %s %s %s %d %s", x.ID, x.Phone, x.ProgramID, x.Status, x.Amount, x.DeclineCode)
		}
		s.checkPhone(d.phone)
	}
	s.report.Completed, s.report.CompletedCents = completed, cents
	// (1) once settled: the carriers billed exactly the completed donations.
	if n, billed := s.carriers.billed(); n != completed || billed != cents {
		s.violation("SPEC §10 (1): the carriers billed %d charges, %d cents; %d donations completed, %d cents", n, billed, completed, cents)
	}
	// (4) every opt-out still in force got its one confirmation, unless the
	// gateway refused it for good.
	keys := make([]opKey, 0, len(s.watches))
	for k := range s.watches {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b opKey) int { return strings.Compare(a.phone+a.shortCode, b.phone+b.shortCode) })
	for _, k := range keys {
		if w := s.watches[k]; w.taken == 0 && !s.confirmationFailed(k) {
			s.violation("SPEC §10 (4): %s opted out of %s at step %d and never got the confirmation", k.phone, k.shortCode, w.step)
		}
	}
	s.verifyLog()
	if s.failure != nil {
		return
	}
	s.report.Operations = len(s.ops)
	if err := checkModel(s.progs, s.ops, s.cfg.Visualize); err != nil {
		s.violation("%v", err)
	}
	b, _ := json.Marshal(s.report.Faults)
	s.trace("faults %s", b)
}

// confirmationFailed tells whether the latest opt-out confirmation queued
// for a subscriber failed for good at the gateway (refused, or the donor
// opted out there too).
func (s *sim) confirmationFailed(k opKey) bool {
	recs, err := s.db.OutboxRecords(s.ctx, k.phone)
	if err != nil {
		return false
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if r := recs[i]; r.MT.From == k.shortCode && r.MT.Kind == donation.OptOutConfirmation {
			return r.Status == "failed"
		}
	}
	return false
}

// verifyLog checks SPEC §10 (6): the certification log, exported with
// inclusion proofs, verifies against its latest signed checkpoint.
func (s *sim) verifyLog() {
	cp, err := s.db.Checkpoint(s.ctx)
	if err != nil {
		s.violation("SPEC §10 (6): no checkpoint: %v", err)
		return
	}
	c, err := certlog.OpenCheckpoint(cp, storagetest.LogVerifier())
	if err != nil {
		s.violation("SPEC §10 (6): checkpoint: %v", err)
		return
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.db.ReadHashes(s.ctx, idx) })
	var export bytes.Buffer
	es, err := s.db.Entries(s.ctx, 0, c.N)
	if err != nil {
		s.violation("SPEC §10 (6): entries: %v", err)
		return
	}
	for _, e := range es {
		proof, err := tlog.ProveRecord(c.N, e.Index, hr)
		if err != nil {
			s.violation("SPEC §10 (6): proof of record %d: %v", e.Index, err)
			return
		}
		open := e.Opening
		b, _ := json.Marshal(certlog.Entry{Index: e.Index, Record: e.Record, Proof: proof, Opening: &open})
		export.Write(append(b, '\n'))
	}
	sum, err := certlog.VerifyExport(&export, cp, storagetest.LogVerifier())
	if err != nil {
		s.violation("SPEC §10 (6): the certification log does not verify: %v", err)
		return
	}
	s.trace("certification log verified: %d records, %d openings", sum.Checkpoint.N, sum.Openings)
}
