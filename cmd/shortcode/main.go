// Command shortcode is an FEC-compliant SMS donation processor: donors text
// a keyword to a short code and give, billed to their phone.
//
//	shortcode serve     run the service (and, by default, the simulator)
//	shortcode migrate   bring a database's schema up to date
//	shortcode text      a donor's phone in the terminal, through the simulator
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `usage: shortcode <command> [flags]

commands:
  serve     run the donation service; by default with the simulator in-process
  sim       run the simulator (gateway, phones, carriers) on its own
  migrate   apply the database migrations (--db URL)
  text      a donor's phone in the terminal: lines typed are sent, texts received are printed
  program   save a program from a JSON file, or list programs
  refund    refund a contribution through its carrier, or list refunds
  settle    import a carrier settlement file (settle import FILE --carrier NAME)
  forward   record money forwarded to a committee, or list forwarding deadlines

Run "shortcode <command> -h" for a command's flags. Every flag can also be set
by an environment variable: --twilio-auth-token is SHORTCODE_TWILIO_AUTH_TOKEN.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "shortcode:", err)
		}
		os.Exit(exitCode(err))
	}
}

// failure marks an error of work that was tried and did not succeed, as
// opposed to a command used wrongly.
type failure struct{ error }

func (f failure) Unwrap() error { return f.error }

// exitCode is 1 for a failure and 2 for any other error.
func exitCode(err error) int {
	if errors.As(err, new(failure)) {
		return 1
	}
	return 2
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		m := NewMain()
		if err := m.ParseFlags(args, stderr); err != nil {
			return err
		}
		return m.Serve(ctx)
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "text":
		return runText(ctx, args, stdin, stdout, stderr)
	case "sim":
		return runSim(ctx, args, stdout, stderr)
	case "program":
		return runProgram(ctx, args, stdout, stderr)
	case "refund":
		return runRefund(ctx, args, stdout, stderr)
	case "settle":
		return runSettle(ctx, args, stdout, stderr)
	case "forward":
		return runForward(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newFlags makes a flag set whose defaults come from SHORTCODE_* variables.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// env returns the SHORTCODE_* variable for a flag name, or def.
func env(flagName, def string) string {
	key := "SHORTCODE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// stringFlag defines a string flag with its SHORTCODE_* default.
func stringFlag(fs *flag.FlagSet, p *string, name, def, help string) {
	key := "SHORTCODE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	fs.StringVar(p, name, env(name, def), help+" ($"+key+")")
}

// version is the module version this binary was built from, with the VCS
// revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
