// Package carrier routes billing to the donor's wireless carrier: a
// configuration of carriers, each with its OneAPI billing endpoint,
// credentials and fee schedule, and the lookup service that says which
// carrier a number belongs to. The wire protocols live in its
// sub-packages: oneapi (billing), twilio (messaging) and sim (the
// simulator).
package carrier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/shortcode/shortcode/carrier/oneapi"
	"github.com/shortcode/shortcode/donation"
)

// Endpoint is one carrier's billing API and fee schedule.
type Endpoint struct {
	// Name is the carrier's name as the lookup reports it.
	Name    string `json:"name"`
	BaseURL string `json:"base_url"`
	// Username and Password select HTTP Basic auth; Token a bearer token.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	donation.Fees
}

// Config is the carrier side of a deployment.
type Config struct {
	// Lookup is the number-lookup service (only its URL and credentials
	// are used).
	Lookup   Endpoint   `json:"lookup"`
	Carriers []Endpoint `json:"carriers"`
}

// SimConfig is the configuration for the simulator at simURL: its lookup,
// and its two carriers with the simulator's default fee shares.
func SimConfig(simURL string) Config {
	agg := donation.Fees{AggregatorBPS: 500, AggregatorFixed: 10}
	mobile, wireless := agg, agg
	mobile.CarrierBPS, wireless.CarrierBPS = 3000, 3500
	return Config{
		Lookup: Endpoint{Name: "lookup", BaseURL: simURL},
		Carriers: []Endpoint{
			{Name: "SimMobile", BaseURL: simURL, Fees: mobile},
			{Name: "SimWireless", BaseURL: simURL, Fees: wireless},
		},
	}
}

// LoadConfig reads a JSON configuration file and validates it.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("carriers: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("carriers %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("carriers %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every endpoint and fee schedule.
func (c Config) Validate() error {
	var errs []error
	if err := c.Lookup.validateURL(); err != nil {
		errs = append(errs, fmt.Errorf("lookup: %w", err))
	}
	if len(c.Carriers) == 0 {
		errs = append(errs, errors.New("no carriers configured"))
	}
	seen := map[string]bool{}
	for i, e := range c.Carriers {
		name := e.Name
		if name == "" {
			errs = append(errs, fmt.Errorf("carrier %d: no name", i+1))
			name = fmt.Sprintf("#%d", i+1)
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("carrier %s: configured twice", name))
		}
		seen[e.Name] = true
		if err := e.validateURL(); err != nil {
			errs = append(errs, fmt.Errorf("carrier %s: %w", name, err))
		}
		if e.CarrierBPS < 0 || e.CarrierBPS > 10000 || e.AggregatorBPS < 0 || e.AggregatorBPS > 10000 || e.AggregatorFixed < 0 {
			errs = append(errs, fmt.Errorf("carrier %s: fees must be 0..10000 basis points and a fixed fee >= 0", name))
		}
	}
	return errors.Join(errs...)
}

func (e Endpoint) validateURL() error {
	u, err := url.Parse(e.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url %q: want an http(s) URL", e.BaseURL)
	}
	if e.Token != "" && e.Username != "" {
		return errors.New("set a token or a username, not both")
	}
	return nil
}

// Router implements donation.Carriers and donation.Looker over a Config.
type Router struct {
	lookup   *oneapi.Client
	carriers map[string]route
}

type route struct {
	client *oneapi.Client
	fees   donation.Fees
}

var (
	_ donation.Carriers = (*Router)(nil)
	_ donation.Looker   = (*Router)(nil)
)

// NewRouter builds the OneAPI clients of a validated configuration.
func NewRouter(c Config, hc *http.Client) (*Router, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	client := func(e Endpoint) *oneapi.Client {
		return &oneapi.Client{BaseURL: strings.TrimSuffix(e.BaseURL, "/"), Username: e.Username, Password: e.Password, Token: e.Token, HTTP: hc}
	}
	r := &Router{lookup: client(c.Lookup), carriers: map[string]route{}}
	for _, e := range c.Carriers {
		r.carriers[e.Name] = route{client: client(e), fees: e.Fees}
	}
	return r, nil
}

// Biller returns the billing client of a carrier.
func (r *Router) Biller(name string) (donation.Biller, error) {
	rt, ok := r.carriers[name]
	if !ok {
		return nil, fmt.Errorf("carrier %q: %w", name, donation.ErrUnknownCarrier)
	}
	return rt.client, nil
}

// Fees returns a carrier's fee schedule.
func (r *Router) Fees(name string) (donation.Fees, error) {
	rt, ok := r.carriers[name]
	if !ok {
		return donation.Fees{}, fmt.Errorf("carrier %q: %w", name, donation.ErrUnknownCarrier)
	}
	return rt.fees, nil
}

// Lookup asks the lookup service about a number.
func (r *Router) Lookup(ctx context.Context, phone string) (donation.Line, error) {
	return r.lookup.Lookup(ctx, phone)
}
