package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// helpOptions are how help is printed.
var helpOptions = kong.HelpOptions{Compact: true, ValueFormatter: helpValue}

// errHelpShown ends a parse once help or the version was printed.
var errHelpShown = errors.New("help shown")

// helpFlag is -h and --help: help for the command given so far, then exit 0.
type helpFlag bool

func (helpFlag) IgnoreDefault() {}

// BeforeReset prints the help, before required flags or arguments are
// looked for.
func (helpFlag) BeforeReset(ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(helpOptions, ctx); err != nil {
		return err
	}
	return errHelpShown
}

// versionFlag is --version.
type versionFlag bool

func (versionFlag) BeforeReset(ctx *kong.Context) error {
	fmt.Fprintln(ctx.Stdout, "shortcode", version())
	return errHelpShown
}

type versionCommand struct{}

func (versionCommand) Run(s *stdio) error {
	_, err := fmt.Fprintln(s.out, "shortcode", version())
	return err
}

type helpCommand struct {
	Command []string `arg:"" optional:"" help:"The command, e.g. token create."`
}

func (c *helpCommand) Run(ctx *kong.Context) error {
	_, err := ctx.Kong.Parse(append(c.Command, "--help"))
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

// examples are every command's examples, shown by its help; a command
// without any is a mistake the parser refuses (addExamples).
var examples = map[string][]string{
	"serve": {
		"shortcode serve",
		"shortcode serve --db 'postgres://user:pass@host:5432/shortcode?sslmode=disable' --log-format json",
		"shortcode serve --sim-addr off --twilio-api-url http://127.0.0.1:8081 --carriers testdata/carriers-sim.json --twilio-auth-token s3cret",
	},
	"migrate": {"shortcode migrate --db shortcode.db"},
	"sim": {
		"shortcode sim --twilio-auth-token s3cret --timeout-rate 0.2 --error-rate 0.1",
	},
	"text": {
		"shortcode text --from +12125550100",
		"printf 'GIVE 10\\nYES\\n' | shortcode text --from +12125550100 --idle 5s",
	},
	"token": {
		"shortcode token create --db shortcode.db --role admin --name ops",
		"export SHORTCODE_TOKEN=sc_...",
		"shortcode token create --role treasurer --name 'Pat (treasurer)'",
		"shortcode token list --json",
		"shortcode token revoke tok_...",
	},
	"token create": {
		"shortcode token create --db shortcode.db --role admin --name ops",
		"shortcode token create --role auditor --name 'Audit firm' --json",
	},
	"token list": {
		"shortcode token list --db shortcode.db",
		"shortcode token list --server https://shortcode.example --json",
	},
	"token revoke": {"shortcode token revoke tok_..."},
	"program": {
		"shortcode program list --short-code 62262",
		"shortcode program show demo > demo.json",
		"shortcode program save demo.json",
		"shortcode program activate demo",
	},
	"program list":                   {"shortcode program list", "shortcode program list --short-code 62262 --json"},
	"program show":                   {"shortcode program show demo"},
	"program save":                   {"shortcode program save docs/program.example.json", "shortcode program save - < hope.json"},
	"program activate":               {"shortcode program activate hope"},
	"program deactivate":             {"shortcode program deactivate hope"},
	"program withdraw-good-standing": {"shortcode program withdraw-good-standing hope"},
	"program restore-good-standing":  {"shortcode program restore-good-standing hope"},
	"donations": {
		"shortcode donations list --committee C99999999 --from 2027-03-01 --to 2027-03-31",
		"shortcode donations list --phone +12125550100 --json",
		"shortcode donations show D4KQ2MZ7XW3BN5RTY6PLA",
	},
	"donations list": {
		"shortcode donations list --committee C99999999 --from 2027-03-01 --to 2027-03-31",
		"shortcode donations list --phone '+1******0100' --json",
	},
	"donations show": {"shortcode donations show D4KQ2MZ7XW3BN5RTY6PLA --json"},
	"refund": {
		"shortcode refund DONATION --reason prohibited --discovered 2027-04-01",
		"shortcode refund list --committee C99999999",
	},
	"refund request": {
		"shortcode refund DONATION --reason donor-request",
		"shortcode refund request DONATION --reason prohibited --discovered 2027-04-01",
	},
	"refund list": {"shortcode refund list --committee C99999999 --json"},
	"settle": {
		"shortcode settle import simmobile-2027-03.csv --carrier SimMobile",
		"shortcode settle list",
	},
	"settle import": {"shortcode settle import simmobile-2027-03.csv --carrier SimMobile --json"},
	"settle list":   {"shortcode settle list --json"},
	"forward": {
		"shortcode forward due --within 10d",
		"shortcode forward record --committee C99999999 --reference WIRE-1 --through 2027-03-15 --amount 150000.00",
		"shortcode forward list --committee C99999999",
	},
	"forward due":    {"shortcode forward due --committee C99999999 --within 1d12h"},
	"forward record": {"shortcode forward record --committee C99999999 --reference WIRE-1 --amount 125.00"},
	"forward list":   {"shortcode forward list --json"},
	"blocklist": {
		"shortcode blocklist add +12125550100 --committee C99999999 --reason 'foreign national'",
		"shortcode blocklist list",
		"shortcode blocklist remove +12125550100 --committee C99999999",
	},
	"blocklist list":   {"shortcode blocklist list --committee C99999999 --json"},
	"blocklist add":    {"shortcode blocklist add +12125550100 --reason 'asked to be blocked'"},
	"blocklist remove": {"shortcode blocklist remove +12125550100"},
	"actions":          {"shortcode actions", "shortcode actions --json"},
	"audit": {
		"shortcode audit checkpoint --key log.pub",
		"shortcode audit export --out log.jsonl",
		"shortcode audit verify --log log.jsonl --checkpoint log.checkpoint --key log.pub",
		"shortcode audit show D4KQ2MZ7XW3BN5RTY6PLA",
		"shortcode audit proof D4KQ2MZ7XW3BN5RTY6PLA --out D4KQ2MZ7XW3BN5RTY6PLA.tlog-proof",
		"shortcode audit verify-proof D4KQ2MZ7XW3BN5RTY6PLA.tlog-proof --key log.pub",
	},
	"audit checkpoint": {"shortcode audit checkpoint --server https://donate.example.org --key log.pub > latest.checkpoint"},
	"audit export": {
		"shortcode audit export --out log.jsonl",
		"shortcode audit export --from 1000 --to 1100 --out - --checkpoint slice.checkpoint",
	},
	"audit show":         {"shortcode audit show D4KQ2MZ7XW3BN5RTY6PLA --key log.pub", "shortcode audit show D4KQ2MZ7XW3BN5RTY6PLA --json"},
	"audit proof":        {"shortcode audit proof D4KQ2MZ7XW3BN5RTY6PLA --out D4KQ2MZ7XW3BN5RTY6PLA.tlog-proof"},
	"audit verify":       {"shortcode audit verify --log log.jsonl --checkpoint log.checkpoint --key log.pub", "shortcode audit verify --log log.jsonl --checkpoint log.checkpoint --key 'donate.example.org/shortcode/log+1f2e3d4c+AR...'"},
	"audit verify-proof": {"shortcode audit verify-proof D4KQ2MZ7XW3BN5RTY6PLA.tlog-proof --key log.pub"},
	"keys":               {"shortcode keys generate --origin donate.example.org/shortcode/log"},
	"keys generate":      {"shortcode keys generate --origin donate.example.org/shortcode/log --out /etc/shortcode/log"},
	"version":            {"shortcode version", "shortcode --version"},
	"help":               {"shortcode help token create", "shortcode token create --help"},
}

// addExamples appends every command's examples to its help, and refuses
// a command without any.
func addExamples(k *kong.Kong) error {
	var missing []string
	var visit func(n *kong.Node)
	visit = func(n *kong.Node) {
		for _, c := range n.Children {
			if c.Type != kong.CommandNode {
				continue
			}
			path := strings.TrimPrefix(c.FullPath(), "shortcode ")
			ex, ok := examples[path]
			if !ok {
				missing = append(missing, path)
			}
			var b strings.Builder
			if c.Detail != "" {
				b.WriteString(c.Detail + "\n\n")
			}
			b.WriteString("Examples:\n\n")
			for _, e := range ex {
				b.WriteString("    " + e + "\n")
			}
			c.Detail = b.String()
			visit(c)
		}
	}
	visit(k.Model.Node)
	if len(missing) > 0 {
		return fmt.Errorf("commands without examples: %s", strings.Join(missing, ", "))
	}
	return nil
}

// typePlaceholders names every flag's value by its type in the help
// (--within=DURATION, --rate-limit=INT), unless its tag names it.
func typePlaceholders(k *kong.Kong) error {
	for _, f := range k.Model.Flags {
		if f.Name == "help" {
			k.Model.HelpFlag = f // for the "Run ... --help" lines of the help
		}
	}
	var visit func(n *kong.Node)
	visit = func(n *kong.Node) {
		for _, f := range n.Flags {
			if f.PlaceHolder != "" || f.IsBool() {
				continue
			}
			f.PlaceHolder = typeName(f.Value)
		}
		for _, c := range n.Children {
			visit(c)
		}
	}
	visit(k.Model.Node)
	return nil
}

func typeName(v *kong.Value) string {
	if v.Enum != "" {
		return strings.ReplaceAll(v.Enum, ",", "|")
	}
	switch t := v.Target.Type(); {
	case t == reflect.TypeFor[time.Duration]():
		return "DURATION"
	case t == reflect.TypeFor[date]():
		return "YYYY-MM-DD"
	case t == reflect.TypeFor[dollars]():
		return "DOLLARS"
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		return "INT"
	case t.Kind() == reflect.Uint64:
		return "UINT"
	case t.Kind() == reflect.Float64:
		return "FLOAT"
	default:
		return "STRING"
	}
}

// helpValue is a flag's help with its default and its variable:
// "HTTP listen address (default 127.0.0.1:8080; $SHORTCODE_ADDR)".
func helpValue(v *kong.Value) string {
	var notes []string
	if v.HasDefault && v.Default != "" && v.Flag != nil && !v.Flag.IsBool() {
		notes = append(notes, "default "+v.Default)
	}
	for _, e := range v.Tag.Envs {
		notes = append(notes, "$"+e)
	}
	if len(notes) == 0 {
		return v.Help
	}
	return v.Help + " (" + strings.Join(notes, "; ") + ")"
}
