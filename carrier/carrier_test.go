package carrier_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/donation"
)

func TestLoadConfig(t *testing.T) {
	good := `{"lookup":{"name":"lookup","base_url":"https://lookup.example"},
	  "carriers":[{"name":"Verizon","base_url":"https://vzw.example/oneapi","username":"u","password":"p",
	  "carrier_fee_bps":3000,"aggregator_fee_bps":500,"aggregator_fee_fixed":10},
	  {"name":"T-Mobile","base_url":"http://tmo.example","token":"t"}]}`
	cases := []struct{ name, json, want string }{
		{"good", good, ""},
		{"not JSON", `{"carriers":`, "unexpected EOF"},
		{"unknown field", `{"carriers":[{"name":"A","base_url":"http://a.example","fee":1}],"lookup":{"base_url":"http://a.example"}}`, "unknown field"},
		{"no carriers", `{"lookup":{"base_url":"http://a.example"},"carriers":[]}`, "no carriers"},
		{"duplicate", `{"lookup":{"base_url":"http://a.example"},"carriers":[{"name":"A","base_url":"http://a.example"},{"name":"A","base_url":"http://a.example"}]}`, "configured twice"},
		{"bad URL", `{"lookup":{"base_url":"http://a.example"},"carriers":[{"name":"A","base_url":"ftp://a.example"}]}`, "want an http(s) URL"},
		{"no lookup", `{"carriers":[{"name":"A","base_url":"http://a.example"}]}`, "lookup"},
		{"fees", `{"lookup":{"base_url":"http://a.example"},"carriers":[{"name":"A","base_url":"http://a.example","carrier_fee_bps":12000}]}`, "fees"},
		{"token and user", `{"lookup":{"base_url":"http://a.example"},"carriers":[{"name":"A","base_url":"http://a.example","token":"t","username":"u"}]}`, "not both"},
		{"no name", `{"lookup":{"base_url":"http://a.example"},"carriers":[{"base_url":"http://a.example"}]}`, "no name"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "carriers.json")
		os.WriteFile(path, []byte(c.json), 0o600)
		cfg, err := carrier.LoadConfig(path)
		if c.want == "" {
			if err != nil || len(cfg.Carriers) != 2 || cfg.Carriers[0].Fees.CarrierBPS != 3000 || cfg.Carriers[0].AggregatorFixed != 10 {
				t.Errorf("%s: %+v, %v", c.name, cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := carrier.LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: want an error")
	}
}

func TestRouter(t *testing.T) {
	r, err := carrier.NewRouter(carrier.SimConfig("http://127.0.0.1:8081"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SimMobile", "SimWireless"} {
		if _, err := r.Biller(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if fees, _ := r.Fees("SimWireless"); fees.CarrierBPS != 3500 {
		t.Errorf("SimWireless fees %+v", fees)
	}
	if _, err := r.Biller("NoSuchTel"); !errors.Is(err, donation.ErrUnknownCarrier) {
		t.Errorf("unknown carrier: %v", err)
	}
	if _, err := r.Fees(""); !errors.Is(err, donation.ErrUnknownCarrier) {
		t.Errorf("empty carrier: %v", err)
	}
	if _, err := carrier.NewRouter(carrier.Config{}, nil); err == nil {
		t.Error("empty config: want an error")
	}
}

func TestFeesApply(t *testing.T) {
	f := donation.Fees{CarrierBPS: 3500, AggregatorBPS: 500, AggregatorFixed: 10}
	for _, c := range []struct{ gross, carrier, aggregator int64 }{
		{1000, 350, 60}, {500, 175, 35}, {1, 0, 10}, {3, 1, 10}, {2000, 700, 110},
	} {
		if gc, ga := f.Apply(c.gross); gc != c.carrier || ga != c.aggregator {
			t.Errorf("Apply(%d) = %d, %d; want %d, %d", c.gross, gc, ga, c.carrier, c.aggregator)
		}
	}
}
