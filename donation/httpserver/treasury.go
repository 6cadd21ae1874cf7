package httpserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/treasury"
)

// MaxSettlementBody bounds a settlement import's request: a month of a
// busy carrier's lines, JSON-escaped.
const MaxSettlementBody = 64 << 20

// Treasurer changes the money after the charge; treasury.Service
// implements it.
type Treasurer interface {
	Refund(ctx context.Context, donationID string, reason treasury.Reason, discovered time.Time, actor string) (treasury.Refund, error)
	ImportSettlement(ctx context.Context, f treasury.SettlementFile, actor string) (treasury.Report, error)
	RecordForward(ctx context.Context, committeeID string, through time.Time, amount *int64, reference, actor string) (treasury.Forward, error)
	Due(ctx context.Context, committeeID string, within time.Duration) ([]treasury.Due, error)
	Block(ctx context.Context, committeeID, phone, reason, actor string) (treasury.Block, bool, error)
	Unblock(ctx context.Context, committeeID, phone, actor string) (treasury.Block, error)
}

// TreasuryRecords are what the treasury routes read; storage.DB
// implements them.
type TreasuryRecords interface {
	Evidence(ctx context.Context, id string) (treasury.Evidence, error)
	FindDonations(ctx context.Context, q treasury.Query) ([]treasury.Evidence, error)
	Committee(ctx context.Context, id string) (compliance.Committee, error)
	Refunds(ctx context.Context, committeeID string) ([]treasury.Refund, error)
	Settlements(ctx context.Context) ([]treasury.Settlement, error)
	Forwards(ctx context.Context, committeeID string) ([]treasury.Forward, error)
	Blocklist(ctx context.Context, committeeID string) ([]treasury.Block, error)
}

// TreasuryRoutes are the treasurer's routes; an auditor may read them,
// with phone numbers masked:
//
//	GET    /api/v1/donations/{id}            one donation and its evidence
//	GET    /api/v1/donations                 ?phone= (full: treasurer; masked +1******4321)&committee=&from=&to=&limit=
//	POST   /api/v1/refunds                   {"donation_id","reason","discovered"} (treasurer)
//	GET    /api/v1/refunds                   ?committee=
//	POST   /api/v1/settlements               {"carrier","name","file"} (treasurer)
//	GET    /api/v1/settlements               the imports
//	GET    /api/v1/forwards/due              ?committee=&within=
//	POST   /api/v1/forwards                  {"committee","reference","through","amount"} (treasurer)
//	GET    /api/v1/forwards                  ?committee=
//	GET    /api/v1/blocklist                 ?committee=
//	POST   /api/v1/blocklist                 {"phone","committee","reason"} (treasurer)
//	DELETE /api/v1/blocklist/{phone}         ?committee= (treasurer)
func (s *Server) TreasuryRoutes(svc Treasurer, records TreasuryRecords, now func() time.Time) {
	t := &treasuryRoutes{svc: svc, records: records, now: now}
	read := []auth.Role{auth.Treasurer, auth.Auditor}
	write := []auth.Role{auth.Treasurer}
	s.Route(http.MethodGet, "/api/v1/donations/{id}", read, t.donation)
	s.Route(http.MethodGet, "/api/v1/donations", read, t.donations)
	s.Route(http.MethodPost, "/api/v1/refunds", write, t.refund)
	s.Route(http.MethodGet, "/api/v1/refunds", read, t.refunds)
	s.RouteMax(http.MethodPost, "/api/v1/settlements", write, MaxSettlementBody, t.settle)
	s.Route(http.MethodGet, "/api/v1/settlements", read, t.settlements)
	s.Route(http.MethodGet, "/api/v1/forwards/due", read, t.due)
	s.Route(http.MethodPost, "/api/v1/forwards", write, t.forward)
	s.Route(http.MethodGet, "/api/v1/forwards", read, t.forwards)
	s.Route(http.MethodGet, "/api/v1/blocklist", read, t.blocklist)
	s.Route(http.MethodPost, "/api/v1/blocklist", write, t.block)
	s.Route(http.MethodDelete, "/api/v1/blocklist/{phone}", write, t.unblock)
}

type treasuryRoutes struct {
	svc     Treasurer
	records TreasuryRecords
	now     func() time.Time
}

// seesPhones tells whether the caller may see phone numbers in full: a
// treasurer refunds and blocks them; an auditor checks the evidence
// without them.
func seesPhones(ctx context.Context) bool {
	t, ok := Caller(ctx)
	return ok && t.Role == auth.Treasurer
}

func phoneFor(ctx context.Context, phone string) string {
	if seesPhones(ctx) {
		return phone
	}
	return compliance.MaskPhone(phone)
}

// committee checks that a committee named in a request exists ("" passes).
func (t *treasuryRoutes) committee(ctx context.Context, id string) (compliance.Committee, error) {
	if id == "" {
		return compliance.Committee{}, nil
	}
	return t.records.Committee(ctx, id)
}

func (t *treasuryRoutes) donation(w http.ResponseWriter, r *http.Request) error {
	if _, err := Query(r); err != nil {
		return err
	}
	e, err := t.records.Evidence(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	return WriteJSON(w, EvidenceView(r.Context(), e))
}

func (t *treasuryRoutes) donations(w http.ResponseWriter, r *http.Request) error {
	p, err := Query(r, "phone", "committee", "from", "to", "limit")
	if err != nil {
		return err
	}
	var q treasury.Query
	if s := p.Get("phone"); s != "" {
		if q.Phone, q.Masked, err = treasury.ParsePhoneQuery(s); err != nil {
			return err
		}
		if !q.Masked && !seesPhones(r.Context()) {
			return fmt.Errorf("search by a full phone number: %w: an auditor searches by a masked one, +1******4321", donation.ErrForbidden)
		}
	}
	c, err := t.committee(r.Context(), p.Get("committee"))
	if err != nil {
		return err
	}
	q.CommitteeID = c.ID
	// Dates are the committee's (SPEC §9), UTC for all committees; "to"
	// is the last day included.
	if q.From, err = ParseDate("from", p.Get("from"), c.Location()); err != nil {
		return err
	}
	if q.To, err = ParseDate("to", p.Get("to"), c.Location()); err != nil {
		return err
	}
	if !q.To.IsZero() {
		q.To = q.To.AddDate(0, 0, 1)
		if q.To.Before(q.From) || q.To.Equal(q.From) {
			return fmt.Errorf("from %s is after to %s: %w", p.Get("from"), p.Get("to"), donation.ErrInvalid)
		}
	}
	if s := p.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > treasury.MaxLimit {
			return fmt.Errorf("limit %.20q: want 1 to %d: %w", s, treasury.MaxLimit, donation.ErrInvalid)
		}
	}
	es, err := t.records.FindDonations(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]EvidenceJSON, 0, len(es))
	for _, e := range es {
		out = append(out, EvidenceView(r.Context(), e))
	}
	return WriteJSON(w, out)
}

func (t *treasuryRoutes) refund(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DonationID string `json:"donation_id"`
		Reason     string `json:"reason"`
		Discovered string `json:"discovered"` // YYYY-MM-DD; today when empty
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.DonationID == "" {
		return fmt.Errorf("donation_id is required: %w", donation.ErrInvalid)
	}
	reason, err := treasury.ParseReason(in.Reason)
	if err != nil {
		return err
	}
	discovered, err := ParseDate("discovered", in.Discovered, time.UTC)
	if err != nil {
		return err
	}
	ref, err := t.svc.Refund(r.Context(), in.DonationID, reason, discovered, Actor(r.Context()))
	if err != nil {
		return err
	}
	return WriteCreated(w, RefundView(r.Context(), ref, t.now()))
}

func (t *treasuryRoutes) refunds(w http.ResponseWriter, r *http.Request) error {
	now := t.now()
	return listOfCommittee(t, w, r, t.records.Refunds, func(ref treasury.Refund) RefundJSON {
		return RefundView(r.Context(), ref, now)
	})
}

func (t *treasuryRoutes) settle(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Carrier string `json:"carrier"`
		Name    string `json:"name"` // for people; the file is known by its SHA-256
		File    string `json:"file"` // the CSV text, as the carrier sent it
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		in.Name = "settlement.csv"
	}
	if len(in.Name) > 200 {
		return fmt.Errorf("name: longer than 200 bytes: %w", donation.ErrInvalid)
	}
	f, err := treasury.ParseSettlement(in.Carrier, in.Name, strings.NewReader(in.File))
	if err != nil {
		return err
	}
	rep, err := t.svc.ImportSettlement(r.Context(), f, Actor(r.Context()))
	if err != nil {
		return err
	}
	if rep.AlreadyImported {
		return WriteJSON(w, ReportView(rep))
	}
	return WriteCreated(w, ReportView(rep))
}

func (t *treasuryRoutes) settlements(w http.ResponseWriter, r *http.Request) error {
	if _, err := Query(r); err != nil {
		return err
	}
	ss, err := t.records.Settlements(r.Context())
	if err != nil {
		return err
	}
	out := make([]SettlementJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, SettlementJSON{SHA256: s.SHA256, Carrier: s.Carrier, Name: s.Name, Lines: s.Lines,
			ImportedAt: s.ImportedAt.UTC(), Matched: s.Matched, Problems: s.Problems, Remitted: treasury.Decimal(s.Remitted)})
	}
	return WriteJSON(w, out)
}

func (t *treasuryRoutes) due(w http.ResponseWriter, r *http.Request) error {
	p, err := Query(r, "committee", "within")
	if err != nil {
		return err
	}
	c, err := t.committee(r.Context(), p.Get("committee"))
	if err != nil {
		return err
	}
	within := 72 * time.Hour
	if s := p.Get("within"); s != "" {
		if within, err = ParseDuration("within", s); err != nil {
			return err
		}
	}
	ds, err := t.svc.Due(r.Context(), c.ID, within)
	if err != nil {
		return err
	}
	out := make([]DueJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, DueJSON{DonationID: d.Donation.ID, CommitteeID: d.Donation.CommitteeID, Amount: treasury.Decimal(d.Donation.Amount),
			ReceivedAt: d.Donation.ReceivedAt.UTC(), Deadline: d.Deadline.UTC(), Missed: d.Missed})
	}
	return WriteJSON(w, out)
}

func (t *treasuryRoutes) forward(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Committee string  `json:"committee"`
		Reference string  `json:"reference"`
		Through   string  `json:"through"` // YYYY-MM-DD; today when empty
		Amount    *string `json:"amount"`  // dollars, "150000.00"; checked when given
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Committee == "" {
		return fmt.Errorf("committee is required: %w", donation.ErrInvalid)
	}
	through, err := ParseDate("through", in.Through, time.UTC)
	if err != nil {
		return err
	}
	var amount *int64
	if in.Amount != nil {
		cents, err := treasury.ParseDollars(*in.Amount)
		if err != nil {
			return err
		}
		amount = &cents
	}
	f, err := t.svc.RecordForward(r.Context(), in.Committee, through, amount, in.Reference, Actor(r.Context()))
	if err != nil {
		return err
	}
	return WriteCreated(w, ForwardView(f))
}

func (t *treasuryRoutes) forwards(w http.ResponseWriter, r *http.Request) error {
	return listOfCommittee(t, w, r, t.records.Forwards, ForwardView)
}

func (t *treasuryRoutes) blocklist(w http.ResponseWriter, r *http.Request) error {
	return listOfCommittee(t, w, r, t.records.Blocklist, func(b treasury.Block) BlockJSON {
		return BlockView(r.Context(), b)
	})
}

// listOfCommittee answers a list of the records of the committee the query
// names (?committee=), each shown by view.
func listOfCommittee[T, V any](t *treasuryRoutes, w http.ResponseWriter, r *http.Request,
	list func(ctx context.Context, committeeID string) ([]T, error), view func(T) V) error {
	p, err := Query(r, "committee")
	if err != nil {
		return err
	}
	c, err := t.committee(r.Context(), p.Get("committee"))
	if err != nil {
		return err
	}
	records, err := list(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := make([]V, 0, len(records))
	for _, rec := range records {
		out = append(out, view(rec))
	}
	return WriteJSON(w, out)
}

func (t *treasuryRoutes) block(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Phone     string `json:"phone"`
		Committee string `json:"committee"` // "" for the global blocklist
		Reason    string `json:"reason"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	b, added, err := t.svc.Block(r.Context(), in.Committee, in.Phone, in.Reason, Actor(r.Context()))
	if err != nil {
		return err
	}
	if !added {
		return WriteJSON(w, BlockView(r.Context(), b))
	}
	return WriteCreated(w, BlockView(r.Context(), b))
}

func (t *treasuryRoutes) unblock(w http.ResponseWriter, r *http.Request) error {
	p, err := Query(r, "committee")
	if err != nil {
		return err
	}
	b, err := t.svc.Unblock(r.Context(), p.Get("committee"), mux.Vars(r)["phone"], Actor(r.Context()))
	if err != nil {
		return err
	}
	return WriteJSON(w, BlockView(r.Context(), b))
}

// Views: snake_case fields, amounts as decimal strings of dollars, times
// RFC 3339 in UTC, null when not yet.

// at is t in UTC, or nil for the zero time.
func at(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// EvidenceJSON is a donation and its evidence as the API shows it.
type EvidenceJSON struct {
	ID          string     `json:"id"`
	ProgramID   string     `json:"program_id"`
	CommitteeID string     `json:"committee_id"`
	Phone       string     `json:"phone"` // masked for an auditor
	ShortCode   string     `json:"short_code"`
	Amount      string     `json:"amount"`
	State       string     `json:"state"` // open, charging, completed, refunded, declined, expired, cancelled
	Carrier     string     `json:"carrier"`
	CreatedAt   *time.Time `json:"created_at"`
	ReceivedAt  *time.Time `json:"received_at"` // the date of receipt: the donor's certifying YES
	FinishedAt  *time.Time `json:"finished_at"`
	Evidence    struct {
		CertifiedAt      *time.Time   `json:"certified_at"`
		CertificationSeq int64        `json:"certification_seq"` // 0 when not certified
		Channel          string       `json:"channel"`
		TextVersion      string       `json:"text_version"`
		TextSHA256       string       `json:"text_sha256"`
		TermsVersion     string       `json:"terms_version"`
		TermsSHA256      string       `json:"terms_sha256"`
		PINVerified      bool         `json:"pin_verified"`
		ChargeReference  string       `json:"charge_reference"`
		DeclineCode      string       `json:"decline_code"`
		DeclineReason    string       `json:"decline_reason"`
		Refunds          []RefundJSON `json:"refunds"`
	} `json:"evidence"`
	CarrierFee    string     `json:"carrier_fee"`
	AggregatorFee string     `json:"aggregator_fee"`
	RefundedAt    *time.Time `json:"refunded_at"`
	RemittedAt    *time.Time `json:"remitted_at"`
	RemittedNet   string     `json:"remitted_net"`
	ForwardID     string     `json:"forward_id"` // "" until forwarded
}

// EvidenceView shows e to the caller of ctx.
func EvidenceView(ctx context.Context, e treasury.Evidence) EvidenceJSON {
	d := e.Donation
	j := EvidenceJSON{ID: d.ID, ProgramID: d.ProgramID, CommitteeID: d.CommitteeID, Phone: phoneFor(ctx, d.Phone),
		ShortCode: d.ShortCode, Amount: treasury.Decimal(d.Amount), State: e.State(), Carrier: d.Carrier,
		CreatedAt: at(d.CreatedAt), ReceivedAt: at(d.ReceivedAt), FinishedAt: at(d.FinishedAt),
		CarrierFee: treasury.Decimal(d.CarrierFee), AggregatorFee: treasury.Decimal(d.AggregatorFee),
		RefundedAt: at(d.RefundedAt), RemittedAt: at(e.RemittedAt), RemittedNet: treasury.Decimal(e.RemittedNet), ForwardID: e.ForwardID}
	ev := &j.Evidence
	if c := e.Certification; c != nil {
		ev.CertifiedAt, ev.CertificationSeq, ev.Channel = at(c.At), e.CertificationSeq, c.Channel
		ev.TextVersion, ev.TextSHA256, ev.TermsVersion, ev.TermsSHA256 = c.TextVersion, c.TextSHA256, c.TermsVersion, c.TermsSHA256
	}
	ev.PINVerified, ev.ChargeReference, ev.DeclineCode, ev.DeclineReason = e.PINVerified(), d.ServerRef, d.DeclineCode, d.DeclineReason
	ev.Refunds = make([]RefundJSON, 0, len(e.Refunds))
	for _, r := range e.Refunds {
		ev.Refunds = append(ev.Refunds, RefundView(ctx, r, time.Time{}))
	}
	return j
}

// RefundJSON is a refund as the API shows it.
type RefundJSON struct {
	ID            string     `json:"id"`
	DonationID    string     `json:"donation_id"`
	Phone         string     `json:"phone"` // masked for an auditor
	CommitteeID   string     `json:"committee_id"`
	Carrier       string     `json:"carrier"`
	Amount        string     `json:"amount"`
	Reason        string     `json:"reason"` // prohibited, excessive, donor-request
	Status        string     `json:"status"` // posted, refunded, refused
	RequestedAt   *time.Time `json:"requested_at"`
	DiscoveredAt  *time.Time `json:"discovered_at"`
	Deadline      *time.Time `json:"deadline"` // null when the law sets none
	Late          *bool      `json:"late,omitempty"`
	Attempts      int        `json:"attempts"`
	ServerRef     string     `json:"server_reference"`
	DeclineCode   string     `json:"decline_code"`
	DeclineReason string     `json:"decline_reason"`
	FinishedAt    *time.Time `json:"finished_at"`
	Actor         string     `json:"actor"`
}

// RefundView shows r to the caller of ctx; late is said as of now, unless
// now is zero.
func RefundView(ctx context.Context, r treasury.Refund, now time.Time) RefundJSON {
	j := RefundJSON{ID: r.ID, DonationID: r.DonationID, Phone: phoneFor(ctx, r.Phone), CommitteeID: r.CommitteeID,
		Carrier: r.Carrier, Amount: treasury.Decimal(r.Amount), Reason: string(r.Reason), Status: string(r.Status),
		RequestedAt: at(r.RequestedAt), DiscoveredAt: at(r.DiscoveredAt), Deadline: at(r.Deadline), Attempts: r.Attempts,
		ServerRef: r.ServerRef, DeclineCode: r.DeclineCode, DeclineReason: r.DeclineReason, FinishedAt: at(r.FinishedAt), Actor: r.Actor}
	if !now.IsZero() {
		late := r.Late(now)
		j.Late = &late
	}
	return j
}

// ReportJSON is a settlement import's report.
type ReportJSON struct {
	File            string     `json:"file"`
	Carrier         string     `json:"carrier"`
	SHA256          string     `json:"sha256"`
	AlreadyImported bool       `json:"already_imported"` // then nothing changed
	Matched         int        `json:"matched"`
	Problems        int        `json:"problems"`
	Remitted        string     `json:"remitted"`
	Lines           []LineJSON `json:"lines"`
}

// LineJSON is one line of a settlement file as imported.
type LineJSON struct {
	No         int       `json:"line"`
	ServerRef  string    `json:"server_reference"`
	Reference  string    `json:"reference"`
	ChargedAt  time.Time `json:"charged_at"`
	Gross      string    `json:"gross"`
	CarrierFee string    `json:"carrier_fee"`
	Net        string    `json:"net"`
	Status     string    `json:"status"`
	DonationID string    `json:"donation_id"`
	RefundID   string    `json:"refund_id"`
	Problem    string    `json:"problem"` // "" when matched cleanly
}

// ReportView shows a settlement import's report.
func ReportView(rep treasury.Report) ReportJSON {
	j := ReportJSON{File: rep.File, Carrier: rep.Carrier, SHA256: rep.SHA256, AlreadyImported: rep.AlreadyImported,
		Matched: rep.Matched, Problems: rep.Problems, Remitted: treasury.Decimal(rep.Remitted), Lines: make([]LineJSON, 0, len(rep.Lines))}
	for _, l := range rep.Lines {
		j.Lines = append(j.Lines, LineJSON{No: l.No, ServerRef: l.ServerRef, Reference: l.Reference, ChargedAt: l.ChargedAt.UTC(),
			Gross: treasury.Decimal(l.Gross), CarrierFee: treasury.Decimal(l.CarrierFee), Net: treasury.Decimal(l.Net),
			Status: l.Status, DonationID: l.DonationID, RefundID: l.RefundID, Problem: l.Problem})
	}
	return j
}

// SettlementJSON is an imported settlement file, as listed.
type SettlementJSON struct {
	SHA256     string    `json:"sha256"`
	Carrier    string    `json:"carrier"`
	Name       string    `json:"name"`
	Lines      int       `json:"lines"`
	ImportedAt time.Time `json:"imported_at"`
	Matched    int       `json:"matched"`
	Problems   int       `json:"problems"`
	Remitted   string    `json:"remitted"`
}

// DueJSON is a contribution whose forwarding deadline is near or missed.
type DueJSON struct {
	DonationID  string    `json:"donation_id"`
	CommitteeID string    `json:"committee_id"`
	Amount      string    `json:"amount"`
	ReceivedAt  time.Time `json:"received_at"`
	Deadline    time.Time `json:"deadline"`
	Missed      bool      `json:"missed"`
}

// ForwardJSON is money forwarded to a committee.
type ForwardJSON struct {
	ID             string    `json:"id"`
	CommitteeID    string    `json:"committee_id"`
	Amount         string    `json:"amount"`
	Count          int       `json:"count"`
	ReceivedBefore time.Time `json:"received_before"` // it covers the contributions received before this instant
	At             time.Time `json:"at"`
	Reference      string    `json:"reference"`
	Actor          string    `json:"actor"`
}

// ForwardView shows f.
func ForwardView(f treasury.Forward) ForwardJSON {
	return ForwardJSON{ID: f.ID, CommitteeID: f.CommitteeID, Amount: treasury.Decimal(f.Amount), Count: f.Count,
		ReceivedBefore: f.Through.UTC(), At: f.At.UTC(), Reference: f.Reference, Actor: f.Actor}
}

// BlockJSON is an entry of a blocklist.
type BlockJSON struct {
	CommitteeID string    `json:"committee_id"` // "" for the global blocklist
	Phone       string    `json:"phone"`        // masked for an auditor
	Reason      string    `json:"reason"`
	Source      string    `json:"source"`
	At          time.Time `json:"at"`
}

// BlockView shows b to the caller of ctx.
func BlockView(ctx context.Context, b treasury.Block) BlockJSON {
	return BlockJSON{CommitteeID: b.CommitteeID, Phone: phoneFor(ctx, b.Phone), Reason: b.Reason, Source: b.Source, At: b.At.UTC()}
}
