// Package metrics exports what shortcode does as Prometheus metrics, on
// github.com/prometheus/client_golang. A Metrics is the observer of the
// donation service (donation.Observer), of the certification log's
// sequencer (auditlog.Observer) and of the HTTP server
// (httpserver.RequestObserver); it counts the delivery status callbacks the
// gateway sends (Deliveries); it reads the outbox and the charges under way
// from the store at each scrape; and it adds the Go runtime and process
// metrics. Mounted on the HTTP server, it serves them at GET /metrics.
//
// No label value is ever a phone number, nor anything a sender can make up:
// labels are program ids and carrier names from the configuration, caps,
// states, statuses and outcomes from fixed sets, route templates (never the
// path as requested) and net/http's methods. docs/architecture.md lists
// every metric.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// Path is where the metrics are served.
const Path = "/metrics"

// NoProgram is the program label of an MO that belongs to no program's
// conversation (or was not read that far, as a duplicate).
const NoProgram = "none"

// Store is what the metrics read at each scrape. storage.DB implements it.
type Store interface {
	// PendingCount counts the MTs due to be sent at now.
	PendingCount(ctx context.Context, now time.Time) (int, error)
	// OldestPendingMT returns when the oldest MT waiting to be sent was
	// queued; the zero time when none is.
	OldestPendingMT(ctx context.Context) (time.Time, error)
	// ChargeCounts counts the charges posted whose outcome is not
	// recorded, and those of them whose last outcome was unknown.
	ChargeCounts(ctx context.Context) (charging, unknown int, err error)
}

// ScrapeTimeout bounds the store's queries of one scrape.
const ScrapeTimeout = 5 * time.Second

// Buckets of the latency histograms, in seconds.
var (
	fastBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	slowBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
)

// Metrics holds the metrics and the registry they are gathered from. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	mos            *prometheus.CounterVec
	moDuration     *prometheus.HistogramVec
	mts            *prometheus.CounterVec
	mtRetries      prometheus.Counter
	mtDelay        prometheus.Histogram
	deliveries     *prometheus.CounterVec
	transitions    *prometheus.CounterVec
	finished       *prometheus.CounterVec
	completedCents *prometheus.CounterVec
	funnel         *prometheus.CounterVec
	chargeDuration *prometheus.HistogramVec
	capRefusals    *prometheus.CounterVec
	optOuts        *prometheus.CounterVec
	optIns         prometheus.Counter
	mergeDelay     prometheus.Histogram
	logSize        prometheus.Gauge
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
}

// Funnel steps: a donation's way from the keyword to the charge.
const (
	StepKeyword = "keyword" // a program keyword opened a request
	StepAmount  = "amount"  // an allowed amount was reserved
	StepYes     = "yes"     // the donor confirmed and certified
	StepPIN     = "pin"     // the right PIN posted the charge
	StepCharged = "charged" // the carrier billed the donor
)

// Opt-out sources.
const (
	OptOutKeyword  = "keyword"  // STOP or another opt-out word
	OptOutInferred = "inferred" // a text that looked like one ("stop texting me")
	OptOutGateway  = "gateway"  // the gateway said the number unsubscribed
)

// New returns the metrics, registered in a registry of their own with the
// Go runtime and process collectors and a collector that reads store at
// each scrape; clock tells the outbox's age (the system clock when nil).
// Scrape failures are logged to log (nil discards).
func New(store Store, clock donation.Clock, log *slog.Logger) *Metrics {
	if clock == nil {
		clock = donation.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "shortcode", Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "shortcode", Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		mos: counter("mos_total",
			"Inbound messages (MOs) handled, by the program of the conversation and how handling ended.", "program", "outcome"),
		moDuration: histogram("mo_duration_seconds",
			"Time to handle one MO, from its arrival to the commit of everything it caused, by how handling ended.", fastBuckets, "outcome"),
		mts: counter("mts_total",
			"Outbound messages (MTs) reaching a status: queued in the outbox, sent (taken by the gateway), failed (refused for good).", "status"),
		mtRetries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "shortcode", Name: "mt_retries_total",
			Help: "Attempts to send an MT that the gateway did not take, or may not have; the MT is tried again later."}),
		mtDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "shortcode", Name: "mt_delay_seconds",
			Help:    "Time from an MT being queued (committed with the MO or event that caused it) to the gateway taking it.",
			Buckets: slowBuckets}),
		deliveries: counter("mt_deliveries_total",
			"Delivery status callbacks stored, by status.", "status"),
		transitions: counter("state_transitions_total",
			"Changes of a subscriber's conversation state, by the state before and after.", "from", "to"),
		finished: counter("donations_finished_total",
			"Donations reaching a final status, by program and status.", "program", "status"),
		completedCents: counter("donations_completed_cents_total",
			"Amounts of completed donations, in cents, by program.", "program"),
		funnel: counter("donation_funnel_total",
			"Donations reaching each step from keyword to charge: keyword, amount, yes, pin, charged; by program.", "program", "step"),
		chargeDuration: histogram("charge_duration_seconds",
			"Time of the carrier's calls of one attempt at a charge, by carrier and what the attempt learned (charged, declined, unknown).", slowBuckets, "carrier", "outcome"),
		capRefusals: counter("cap_refusals_total",
			"Amounts refused because they would pass a contribution cap, by the cap that binds.", "cap"),
		optOuts: counter("opt_outs_total",
			"Opt-outs recorded, by source: keyword (STOP...), inferred (a text that looked like one), gateway (the gateway said the number unsubscribed).", "source"),
		optIns: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "shortcode", Name: "opt_ins_total",
			Help: "Opt-ins of numbers that had opted out."}),
		mergeDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "shortcode", Name: "certlog_merge_delay_seconds",
			Help:    "Time from a certification being queued to its record being in a signed checkpoint of the certification log.",
			Buckets: slowBuckets}),
		logSize: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "shortcode", Name: "certlog_records",
			Help: "Records in the certification log, as of this server's sequencer's last pass."}),
		httpRequests: counter("http_requests_total",
			"HTTP requests answered, by route template (unmatched when none matched), method and status code.", "route", "method", "code"),
		httpDuration: histogram("http_request_duration_seconds",
			"Time to answer an HTTP request, by route template and method.", fastBuckets, "route", "method"),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{store: store, clock: clock, log: log},
		m.mos, m.moDuration, m.mts, m.mtRetries, m.mtDelay, m.deliveries, m.transitions, m.finished,
		m.completedCents, m.funnel, m.chargeDuration, m.capRefusals, m.optOuts, m.optIns,
		m.mergeDelay, m.logSize, m.httpRequests, m.httpDuration,
	)
	// The series of fixed label values exist from the start, at zero.
	for _, o := range []donation.MOOutcome{donation.MOApplied, donation.MODuplicate, donation.MORateLimited, donation.MORejected, donation.MOFailed} {
		m.moDuration.WithLabelValues(string(o))
	}
	for _, s := range []string{"queued", "sent", "failed"} {
		m.mts.WithLabelValues(s)
	}
	for _, c := range []compliance.Cap{compliance.CapMessage, compliance.CapMonth, compliance.CapRolling, compliance.CapCycle, compliance.CapYear} {
		m.capRefusals.WithLabelValues(string(c))
	}
	for _, s := range []string{OptOutKeyword, OptOutInferred, OptOutGateway} {
		m.optOuts.WithLabelValues(s)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
	return m
}

// Gatherer returns the registry the metrics are gathered from.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Register adds GET Path to s. It needs no token: serve it on loopback, or
// keep it from the public internet at the proxy.
func (m *Metrics) Register(s *httpserver.Server) {
	s.Route(http.MethodGet, Path, nil, func(w http.ResponseWriter, r *http.Request) error {
		m.handler.ServeHTTP(w, r)
		return nil
	})
}

// MOHandled implements donation.Observer.
func (m *Metrics) MOHandled(program string, outcome donation.MOOutcome, took time.Duration) {
	m.mos.WithLabelValues(programLabel(program), string(outcome)).Inc()
	m.moDuration.WithLabelValues(string(outcome)).Observe(took.Seconds())
}

// Stepped implements donation.Observer: the transitions, the funnel, the
// final statuses and amounts, cap refusals, opt-outs and opt-ins, and the
// MTs queued.
func (m *Metrics) Stepped(from donation.State, res donation.Result) {
	if to := res.Subscriber.State; to != "" && to != from {
		m.transitions.WithLabelValues(string(from), string(to)).Inc()
	}
	if len(res.MTs) > 0 {
		m.mts.WithLabelValues("queued").Add(float64(len(res.MTs)))
	}
	program := func(donationID string) string {
		for _, d := range res.Donations {
			if d.ID == donationID {
				return programLabel(d.ProgramID)
			}
		}
		return programLabel(res.Subscriber.ProgramID)
	}
	for _, e := range res.Effects {
		switch e.Kind {
		case donation.Keyword:
			m.funnel.WithLabelValues(program(e.DonationID), StepKeyword).Inc()
		case donation.Reserve:
			m.funnel.WithLabelValues(program(e.DonationID), StepAmount).Inc()
		case donation.Certify:
			m.funnel.WithLabelValues(program(e.DonationID), StepYes).Inc()
		case donation.Charge:
			m.funnel.WithLabelValues(program(e.DonationID), StepPIN).Inc()
		case donation.OverCap:
			m.capRefusals.WithLabelValues(string(e.Cap)).Inc()
		case donation.OptOut:
			source := OptOutKeyword
			switch c := res.Consent; {
			case c != nil && c.Inferred:
				source = OptOutInferred
			case c != nil && c.MessageID == "":
				source = OptOutGateway
			}
			m.optOuts.WithLabelValues(source).Inc()
		case donation.OptIn:
			m.optIns.Inc()
		}
	}
	for _, d := range res.Donations {
		// A result holds only the donations it changed: a final status
		// here was reached by this step.
		switch d.Status {
		case donation.Completed:
			m.funnel.WithLabelValues(programLabel(d.ProgramID), StepCharged).Inc()
			m.completedCents.WithLabelValues(programLabel(d.ProgramID)).Add(float64(d.Amount))
			fallthrough
		case donation.Declined, donation.Expired, donation.Cancelled:
			m.finished.WithLabelValues(programLabel(d.ProgramID), string(d.Status)).Inc()
		}
	}
}

// ChargeCalled implements donation.Observer.
func (m *Metrics) ChargeCalled(carrier string, outcome donation.Outcome, took time.Duration) {
	m.chargeDuration.WithLabelValues(carrier, string(outcome)).Observe(took.Seconds())
}

// MTAttempted implements donation.Observer.
func (m *Metrics) MTAttempted(outcome donation.MTOutcome, waited time.Duration) {
	switch outcome {
	case donation.MTSent:
		m.mts.WithLabelValues("sent").Inc()
		m.mtDelay.Observe(waited.Seconds())
	case donation.MTFailed:
		m.mts.WithLabelValues("failed").Inc()
	default:
		m.mtRetries.Inc()
	}
}

// Integrated implements auditlog.Observer.
func (m *Metrics) Integrated(size int64, waited []time.Duration) {
	m.logSize.Set(float64(size))
	for _, w := range waited {
		m.mergeDelay.Observe(w.Seconds())
	}
}

// Request implements httpserver.RequestObserver.
func (m *Metrics) Request(route, method string, code int, took time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(took.Seconds())
}

// StatusRecorder stores delivery status callbacks: storage.DB is one, the
// gateway's webhook takes one.
type StatusRecorder interface {
	RecordStatus(ctx context.Context, sid string, status donation.DeliveryStatus, errorCode string, now time.Time) error
}

// Deliveries returns next, counting the status callbacks it stores.
func (m *Metrics) Deliveries(next StatusRecorder) StatusRecorder {
	return &deliveries{m: m, next: next}
}

type deliveries struct {
	m    *Metrics
	next StatusRecorder
}

func (d *deliveries) RecordStatus(ctx context.Context, sid string, status donation.DeliveryStatus, errorCode string, now time.Time) error {
	if err := d.next.RecordStatus(ctx, sid, status, errorCode, now); err != nil {
		return err
	}
	switch status {
	case donation.DeliveryQueued, donation.DeliverySent, donation.DeliveryDelivered, donation.DeliveryUndelivered, donation.DeliveryFailed:
	default:
		status = donation.DeliveryUnknown
	}
	d.m.deliveries.WithLabelValues(string(status)).Inc()
	return nil
}

func programLabel(id string) string {
	if id == "" {
		return NoProgram
	}
	return id
}

// storeCollector reads the outbox and the charges under way at each scrape.
type storeCollector struct {
	store Store
	clock donation.Clock
	log   *slog.Logger
}

var (
	outboxDepthDesc = prometheus.NewDesc("shortcode_outbox_depth",
		"MTs in the outbox due to be sent now (not those backing off after a failed attempt).", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("shortcode_outbox_oldest_age_seconds",
		"Age of the oldest MT waiting to be sent, due or backing off; 0 when none is.", nil, nil)
	chargingDesc = prometheus.NewDesc("shortcode_charges_pending",
		"Donations whose charge was posted and whose outcome is not recorded yet.", nil, nil)
	unknownDesc = prometheus.NewDesc("shortcode_charges_unknown",
		"Charges whose last attempt's outcome is unknown (a timeout, a 5xx), waiting to ask the carrier again.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
	ch <- chargingDesc
	ch <- unknownDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	now := c.clock.Now()
	fail := func(err error, descs ...*prometheus.Desc) {
		c.log.Error("metrics: read the store", "err", err)
		for _, d := range descs {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
	}
	if n, err := c.store.PendingCount(ctx, now); err != nil {
		fail(err, outboxDepthDesc)
	} else {
		ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(n))
	}
	if at, err := c.store.OldestPendingMT(ctx); err != nil {
		fail(err, outboxAgeDesc)
	} else {
		age := 0.0
		if !at.IsZero() {
			age = max(0, now.Sub(at).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
	}
	if charging, unknown, err := c.store.ChargeCounts(ctx); err != nil {
		fail(fmt.Errorf("charges: %w", err), chargingDesc, unknownDesc)
	} else {
		ch <- prometheus.MustNewConstMetric(chargingDesc, prometheus.GaugeValue, float64(charging))
		ch <- prometheus.MustNewConstMetric(unknownDesc, prometheus.GaugeValue, float64(unknown))
	}
}

var (
	_ donation.Observer          = (*Metrics)(nil)
	_ auditlog.Observer          = (*Metrics)(nil)
	_ httpserver.RequestObserver = (*Metrics)(nil)
	_ httpserver.Group           = (*Metrics)(nil)
)
