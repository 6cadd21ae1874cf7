package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The FEC's JSON schemas (../shared/fec/schema, from fecfile-validate)
// check every record this package writes. Each .fec field is named by its
// schema's own fec_spec.COL_SEQ; an empty field is absent; dates YYYYMMDD
// become the schemas' YYYY-MM-DD, amounts numbers, memo codes "X" true.
// SA11AI rows are checked against their transaction type's schema,
// INDIVIDUAL_RECEIPT, and against SchA's properties (its required list is
// the union over entity types: an individual has no organization name, as
// the FEC's own sample shows).

// fecDir finds ../shared/fec: $SHORTCODE_FEC_DIR, else a shared/fec
// beside the repository or any folder above it (a worktree's too). The
// tests fail, never skip, without it.
func fecDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SHORTCODE_FEC_DIR"); d != "" {
		return d
	}
	var starts []string
	for _, args := range [][]string{{"rev-parse", "--show-toplevel"}, {"rev-parse", "--path-format=absolute", "--git-common-dir"}} {
		if out, err := exec.Command("git", args...).Output(); err == nil {
			starts = append(starts, strings.TrimSpace(string(out)))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if fi, err := os.Stat(filepath.Join(d, "shared", "fec", "schema")); err == nil && fi.IsDir() {
				return filepath.Join(d, "shared", "fec")
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	t.Fatalf("the FEC schemas are missing: no shared/fec/schema above %q; set SHORTCODE_FEC_DIR", starts)
	return ""
}

// schema is one compiled FEC schema and its columns.
type schema struct {
	name    string
	s       *jsonschema.Schema
	columns map[int]string        // COL_SEQ -> property
	props   map[string]schemaProp // property -> how to read its field
}

type schemaProp struct {
	number, boolean, date bool
}

// schemas compiles the FEC schemas by file name (HDR, F3X, ...).
func schemas(t *testing.T) map[string]*schema {
	t.Helper()
	dir := filepath.Join(fecDir(t), "schema")
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(longRepeats)
	out := map[string]*schema{}
	for _, name := range []string{"HDR", "F3X", "F3", "SchA", "INDIVIDUAL_RECEIPT", "Text"} {
		raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatalf("the FEC schema %s: %v", name, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "SchA" {
			req, _ := doc["required"].([]any)
			doc["required"] = slices.DeleteFunc(req, func(v any) bool { return v == "contributor_organization_name" })
		}
		sc := &schema{name: name, columns: map[int]string{}, props: map[string]schemaProp{}}
		props, _ := doc["properties"].(map[string]any)
		for prop, v := range props {
			p, _ := v.(map[string]any)
			if spec, ok := p["fec_spec"].(map[string]any); ok {
				if col, ok := spec["COL_SEQ"].(float64); ok {
					sc.columns[int(col)] = prop
				}
			}
			types := fmt.Sprint(p["type"])
			sc.props[prop] = schemaProp{number: strings.Contains(types, "number"), boolean: strings.Contains(types, "boolean"),
				date: p["pattern"] == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
		}
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(doc)
		parsed, err := jsonschema.UnmarshalJSON(&buf)
		if err != nil {
			t.Fatal(err)
		}
		url := "file:///fec/" + name + ".json"
		if err := c.AddResource(url, parsed); err != nil {
			t.Fatal(err)
		}
		if sc.s, err = c.Compile(url); err != nil {
			t.Fatalf("compile %s: %v", name, err)
		}
		out[name] = sc
	}
	if len(out["F3X"].columns) != 123 || len(out["F3"].columns) != 93 || len(out["SchA"].columns) != 45 || len(out["HDR"].columns) != 8 || len(out["Text"].columns) != 6 {
		t.Fatalf("schemas without their columns: F3X %d, F3 %d, SchA %d, HDR %d, Text %d", len(out["F3X"].columns),
			len(out["F3"].columns), len(out["SchA"].columns), len(out["HDR"].columns), len(out["Text"].columns))
	}
	return out
}

// bigRepeat is a counted repeat past the 1000 Go's regexp allows.
var bigRepeat = regexp.MustCompile(`\{([0-9]+),([0-9]{4,})\}`)

// longRepeats compiles the schemas' patterns with Go's regexp, a repeat
// such as {0,4000} (Text's text4000) read as {0,}: the property's
// maxLength bounds the length all the same.
func longRepeats(s string) (jsonschema.Regexp, error) {
	return regexp.Compile(bigRepeat.ReplaceAllString(s, "{$1,}"))
}

// object is a record's fields as sc names them, read as JSON values.
func (sc *schema) object(t reporter, fields []string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	for i, v := range fields {
		prop, ok := sc.columns[i+1]
		if !ok {
			t.Errorf("%s record %s: field %d (%q) has no column in the schema", sc.name, fields[0], i+1, v)
			continue
		}
		if v == "" {
			continue
		}
		p := sc.props[prop]
		switch {
		case p.number:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Errorf("%s %s: %q is not a number", fields[0], prop, v)
			}
			obj[prop] = n
		case p.boolean:
			obj[prop] = v == "X"
		case p.date && len(v) == 8:
			obj[prop] = v[:4] + "-" + v[4:6] + "-" + v[6:]
		default:
			obj[prop] = v
		}
	}
	return obj
}

// records splits a .fec file into records of fields. Records end in CRLF;
// the FEC's sample also has records ending in a bare LF, read the same.
func records(b []byte) [][]string {
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		out = append(out, strings.Split(line, "\x1c"))
	}
	return out
}

// validate checks every record of a .fec file against its schemas, and
// returns the records.
func validate(t reporter, scs map[string]*schema, file []byte) [][]string {
	t.Helper()
	recs := records(file)
	for i, rec := range recs {
		var names []string
		switch typ := rec[0]; {
		case typ == "HDR":
			names = []string{"HDR"}
		case strings.HasPrefix(typ, "F3X"):
			names = []string{"F3X"}
		case strings.HasPrefix(typ, "F3"):
			names = []string{"F3"}
		case typ == "SA11AI" || typ == "SA11AII":
			names = []string{"SchA", "INDIVIDUAL_RECEIPT"}
		case typ == "TEXT":
			names = []string{"Text"}
		default:
			t.Errorf("record %d: type %q has no schema here", i+1, typ)
			continue
		}
		columns := scs[names[0]]
		obj := columns.object(t, rec)
		if names[0] == "SchA" {
			obj["transaction_type_identifier"] = "INDIVIDUAL_RECEIPT"
			obj["aggregation_group"] = "GENERAL"
		}
		for _, name := range names {
			if err := scs[name].s.Validate(obj); err != nil {
				t.Errorf("record %d (%s) against %s: %v", i+1, rec[0], name, err)
			}
		}
	}
	return recs
}

// rules checks what the schemas do not: on the cover, 11(a)(i) is the sum
// of the non-memo SA11AI rows and (iii) = (i) + (ii), for the period and
// to date; transaction ids are unique and upper case; each contributor's
// aggregates run: each row's is the one before plus its amount.
func rules(t *testing.T, recs [][]string) {
	t.Helper()
	var cover []string
	var itemized int64
	ids := map[string]bool{}
	last := map[string]int64{}
	for _, r := range recs {
		switch {
		case strings.HasPrefix(r[0], "F3"):
			cover = r
		case strings.HasPrefix(r[0], "SA"):
			id := r[2]
			if ids[id] || id != strings.ToUpper(id) {
				t.Errorf("transaction id %q: repeated or not upper case", id)
			}
			ids[id] = true
			amount, agg := cents(t, r[20]), cents(t, r[21])
			who := strings.Join(r[7:17], "|")
			if prev, ok := last[who]; ok && agg != prev+amount || !ok && agg < amount {
				t.Errorf("%s: aggregate %s after %s with %s", id, r[21], fmt.Sprint(prev), r[20])
			}
			last[who] = agg
			if r[42] != "X" {
				itemized += amount
			}
		case r[0] == "TEXT":
			if r[3] != "" && !ids[r[3]] {
				t.Errorf("TEXT %s refers to %s, no SA row before it", r[2], r[3])
			}
		}
	}
	if cover == nil {
		t.Fatal("no cover record")
	}
	period, toDate := [3]int{30, 31, 32}, [3]int{80, 81, 82}
	if strings.HasPrefix(cover[0], "F3N") || cover[0] == "F3A" || cover[0] == "F3T" {
		period, toDate = [3]int{33, 34, 35}, [3]int{69, 70, 71}
	}
	if got := cents(t, cover[period[0]-1]); got != itemized {
		t.Errorf("11(a)(i) is %d cents, the SA rows %d", got, itemized)
	}
	for _, cols := range [][3]int{period, toDate} {
		i, ii, iii := cents(t, cover[cols[0]-1]), cents(t, cover[cols[1]-1]), cents(t, cover[cols[2]-1])
		if iii != i+ii {
			t.Errorf("columns %v: (iii) %d != (i) %d + (ii) %d", cols, iii, i, ii)
		}
	}
}

func cents(t *testing.T, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	whole, frac, ok := strings.Cut(s, ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if !ok || len(frac) != 2 || err1 != nil || err2 != nil {
		t.Errorf("amount %q: want 10.00", s)
	}
	return w*100 + f
}

// TestFECSample: the harness accepts the file the FEC's own web filer
// wrote, and its rules hold there. The sample is an unsigned draft: its
// cover has no treasurer name and no date signed, which F3X requires of a
// filed report. The harness must say exactly that, and accept the same
// cover once signed.
func TestFECSample(t *testing.T) {
	scs := schemas(t)
	b, err := os.ReadFile(filepath.Join(fecDir(t), "samples", "fecfileplus-F3XN-v8.4.fec"))
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	recs := validate(r, scs, b)
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "(F3XN) against F3X") ||
		!strings.Contains(r.msgs[0], "missing properties 'treasurer_last_name', 'treasurer_first_name', 'date_signed'") {
		t.Errorf("the FEC's sample: %q, want only its unsigned cover refused", r.msgs)
	}
	signed := slices.Clone(recs[1])
	signed[16], signed[17], signed[21] = "Treasurer", "Pat", "20250415"
	if err := scs["F3X"].s.Validate(scs["F3X"].object(t, signed)); err != nil {
		t.Errorf("the sample's cover, signed: %v", err)
	}
	if len(recs) != 7 {
		t.Errorf("%d records, want 7", len(recs))
	}
	rules(t, recs)
}

// TestFECSchemaRejects: the harness is not a rubber stamp: a record
// broken in each of a few ways fails.
func TestFECSchemaRejects(t *testing.T) {
	scs := schemas(t)
	const hdr = "HDR\x1cFEC\x1c8.5\x1cshortcode\x1cv1\x1c\x1c\x1c\r\n"
	sa := func(aggregate, employer string) string {
		f := make([]string, 45)
		copy(f, []string{"SA11AI", "C99999999", "T1", "", "", "IND", "", "Doe", "Jane", "", "", "", "1 Main St", "", "Town", "NY", "10001",
			"", "", "20270301", "250.00", aggregate, "", employer, "Teacher"})
		return strings.Join(f, "\x1c") + "\r\n"
	}
	if r := (&recorder{}); validate(r, scs, []byte(hdr+sa("250.00", "School"))) != nil && r.failed {
		t.Fatalf("the harness refuses a good file: %v", r.msgs)
	}
	for name, bad := range map[string]string{
		"version":     "HDR\x1cFEC\x1cX8.5\x1cshortcode\x1cv1\x1c\x1c\x1c\r\n",
		"no id":       "TEXT\x1cC99999999\x1c\x1c\x1cF3XN\x1cmemo\r\n",
		"no employer": sa("250.00", ""),
		"not ASCII":   strings.Replace(sa("250.00", "School"), "Jane", "Jan\u00e9", 1),
		"bad date":    strings.Replace(sa("250.00", "School"), "20270301", "2027031", 1),
	} {
		r := &recorder{}
		validate(r, scs, []byte(hdr+bad))
		if !r.failed {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

// reporter is what the harness reports failures to: a *testing.T, or a
// recorder for the tests of the harness itself.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type recorder struct {
	failed bool
	msgs   []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
