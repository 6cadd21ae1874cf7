package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/xhit/go-str2duration/v2"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// The command line is parsed by github.com/alecthomas/kong: the grammar is
// the cli struct below, one typed field per flag, the settings also read
// from their SHORTCODE_* variables (envars; a flag given wins), and every
// command's help lists its subcommands and flags with their types.
// Kong was picked over spf13/cobra and peterbourgon/ff/v3 because its
// struct tags give each flag its type, default, enum and environment
// variable in one place, with no registration code and no second library
// for the environment.

// cli is every command of shortcode.
type cli struct {
	Help    helpFlag    `short:"h" help:"Show help for the command."`
	Version versionFlag `help:"Print the version and exit."`

	Serve   serveCommand   `cmd:"" help:"Run the donation service; by default with the simulator in-process."`
	Migrate migrateCommand `cmd:"" help:"Create a database, or bring its schema up to date."`
	Sim     simCommand     `cmd:"" help:"Run the simulator (gateway, phones, carriers) on its own." set:"write_timeout=${sim_write_timeout}"`
	Text    textCommand    `cmd:"" help:"A donor's phone in the terminal: lines typed are sent, texts received are printed."`
	Token   tokenCommand   `cmd:"" help:"Create, list and revoke API tokens, on a database (--db) or through the API."`

	Program   programCommand   `cmd:"" help:"Programs: list, show, save, activate, deactivate (through the API)."`
	Donations donationsCommand `cmd:"" help:"Find donations and show their evidence (through the API)."`
	Refund    refundCommand    `cmd:"" help:"Refund a contribution through its carrier, or list refunds (through the API)."`
	Settle    settleCommand    `cmd:"" help:"Import a carrier settlement file, or list imports (through the API)."`
	Forward   forwardCommand   `cmd:"" help:"Forwarding to committees: what is due, record a transfer, list them (through the API)."`
	Blocklist blocklistCommand `cmd:"" help:"Numbers that may not give: list, add, remove (through the API)."`
	Actions   actionsCommand   `cmd:"" help:"The action log: who changed what, when (through the API)."`
	Report    reportCommand    `cmd:"" help:"Reports for the treasurer: contributions, summary, the .fec file (through the API)."`

	Audit auditCommand `cmd:"" help:"The certification log: checkpoint, export, show, proof (through the API); verify, verify-proof (offline)."`
	Keys  keysCommand  `cmd:"" help:"Make the certification log's signer and verifier keys."`

	Loadtest loadtestCommand `cmd:"" help:"Virtual donors give through a running serve while this plays their gateway; then SPEC §10's invariants 1-3 are checked."`

	VersionCmd versionCommand `cmd:"" name:"version" help:"Print the version."`
	HelpCmd    helpCommand    `cmd:"" name:"help" help:"Show help for a command."`
}

// stdio is what a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// usageError is a command line that cannot be run: exit status 2.
type usageError struct {
	err  error
	hint string // how to get help, e.g. `Run "shortcode token --help".`
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error for the command path, e.g. "token create".
func usagef(path, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), hint: helpHint("shortcode " + path)}
}

func helpHint(path string) string {
	return fmt.Sprintf("Run %q for usage.", path+" --help")
}

// newParser returns the parser of c, writing help to stdout.
func newParser(c *cli, stdout, stderr io.Writer) (*kong.Kong, error) {
	limits := httpserver.DefaultLimits
	return kong.New(c,
		kong.Name("shortcode"),
		kong.Description("An FEC-compliant SMS donation processor: donors text a keyword to a short code and give, billed to their phone.\n\n"+
			"The flags of serve, migrate, sim and text, and --db, --server and --token, can also be set by an environment variable, "+
			"SHORTCODE_ and the flag's name in upper case: --twilio-auth-token is SHORTCODE_TWILIO_AUTH_TOKEN; a flag given on the command line wins. "+
			"The flags that say what a command does (--role, --reason, --amount, --json...) cannot: a variable left set must not change a refund. "+
			"Durations are like 90s, 36h, 10d or 1d12h."),
		kong.Writers(stdout, stderr),
		kong.NoDefaultHelp(),
		kong.ConfigureHelp(helpOptions),
		kong.Vars{
			"read_timeout":      limits.Read.String(),
			"write_timeout":     limits.Write.String(),
			"idle_timeout":      limits.Idle.String(),
			"shutdown_timeout":  limits.Shutdown.String(),
			"max_conns":         fmt.Sprint(limits.MaxConns),
			"sim_timeout":       sim.DefaultTimeout.String(),
			"sim_write_timeout": simWriteTimeout.String(),
			"sim_account_sid":   sim.DefaultAccountSID,
			"server":            client.DefaultServer,
		},
		kong.TypeMapper(reflect.TypeFor[time.Duration](), durationMapper()),
		kong.ValueFormatter(helpValue),
		kong.PostBuild(envars),
		kong.PostBuild(typePlaceholders),
		kong.PostBuild(addExamples),
	)
}

// parse reads args into a cli: the command to run, or an error; help
// (-h, --help) and --version are printed and end it with errHelpShown.
func parse(args []string, stdout, stderr io.Writer) (*cli, *kong.Context, error) {
	c := new(cli)
	p, err := newParser(c, stdout, stderr)
	if err != nil {
		return nil, nil, fmt.Errorf("command line grammar: %w", err)
	}
	if len(args) == 0 {
		// The help, on stderr: what was typed is not a command.
		if p, err := newParser(new(cli), stderr, stderr); err == nil {
			_, _ = p.Parse([]string{"--help"})
		}
		return nil, nil, &usageError{err: errors.New("no command given")}
	}
	ctx, err := p.Parse(args)
	if err != nil {
		if errors.Is(err, errHelpShown) {
			return nil, nil, err
		}
		path := "shortcode"
		var pe *kong.ParseError
		if errors.As(err, &pe) && pe.Context != nil {
			if n := pe.Context.Selected(); n != nil {
				path = n.FullPath()
			}
		}
		return nil, nil, &usageError{err: err, hint: helpHint(path)}
	}
	return c, ctx, nil
}

// envars gives a SHORTCODE_* variable to the flags that say where and how
// shortcode runs: every flag of serve, migrate, sim and text, and --db,
// --server and --token wherever they are. The flags that say what a
// command does (--role, --reason, --amount, --json...) have none, so that
// a variable left set cannot change what a command does to a record.
func envars(k *kong.Kong) error {
	settings := map[string]bool{"serve": true, "migrate": true, "sim": true, "text": true}
	setting := map[string]bool{"db": true, "server": true, "token": true}
	var visit func(n *kong.Node, all bool)
	visit = func(n *kong.Node, all bool) {
		for _, f := range n.Flags {
			if f.Name == "help" || f.Name == "version" || !(all || setting[f.Name]) {
				continue
			}
			env := "SHORTCODE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			f.Envs, f.Value.Tag.Envs = []string{env}, []string{env}
		}
		for _, c := range n.Children {
			visit(c, all || (n == k.Model.Node && settings[c.Name]))
		}
	}
	visit(k.Model.Node, false)
	return nil
}

// run runs the command line args; its errors are the command's, or usage
// errors (*usageError).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	_, kctx, err := parse(args, stdout, stderr)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	if err != nil {
		return err
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(&stdio{in: stdin, out: stdout, err: stderr})
}

// durationMapper reads durations with days and weeks too: 10d, 1d12h, 2w.
func durationMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		var s string
		if err := ctx.Scan.PopValueInto("duration", &s); err != nil {
			return err
		}
		d, err := str2duration.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q: want a duration like 90s, 36h, 10d or 1d12h", s)
		}
		target.SetInt(int64(d))
		return nil
	}
}

// logFlags choose the log lines of serve and sim.
type logFlags struct {
	LogFormat string `enum:"text,json" default:"text" help:"Log line format."`
	LogLevel  string `enum:"debug,info,warn,error" default:"info" help:"The least level logged."`
}

// logger returns the logger the flags describe, writing to w.
func (f *logFlags) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(f.LogLevel)) // the enum allows only valid names
	opts := &slog.HandlerOptions{Level: level}
	if f.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
