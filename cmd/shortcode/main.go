// Command shortcode is an FEC-compliant SMS donation processor: donors text
// a keyword to a short code and give, billed to their phone.
//
// Local commands work on this machine:
//
//	shortcode serve                         run the service (and, by default, the simulator)
//	shortcode migrate                       create a database or bring its schema up to date
//	shortcode sim                           run the simulator on its own
//	shortcode text                          a donor's phone in the terminal, through the simulator
//	shortcode token create|list|revoke --db on the database itself: the first admin token
//	shortcode keys generate --origin NAME   the certification log's signer and verifier keys
//	shortcode audit verify                  verify an export of the log, offline (docs/audit.md)
//	shortcode audit verify-proof FILE       verify a record's proof file, offline
//	shortcode loadtest --donors N | --rate MOS   load a running serve as its gateway; check SPEC §10 (1)-(3) (an auditor --token)
//	shortcode version                       print the version (also --version)
//	shortcode help [COMMAND]                help for a command (also -h, --help)
//
// Client commands talk to a running server's operator API (--server, default
// http://127.0.0.1:8080, and --token; docs/operators.md), with the role the
// API asks for:
//
//	shortcode token create|list|revoke                   admin
//	shortcode program list|show                          admin, treasurer, auditor
//	shortcode program save|activate|deactivate           admin
//	shortcode program withdraw-good-standing|restore-good-standing  admin
//	shortcode donations list|show                        treasurer, auditor (numbers masked)
//	shortcode refund [request] DONATION --reason R       treasurer
//	shortcode refund list                                treasurer, auditor
//	shortcode settle import FILE --carrier NAME          treasurer
//	shortcode settle list                                treasurer, auditor
//	shortcode forward record                             treasurer
//	shortcode forward due|list                           treasurer, auditor
//	shortcode blocklist add|remove                       treasurer
//	shortcode blocklist list                             treasurer, auditor
//	shortcode actions                                    every role
//	shortcode audit checkpoint                           none (the log's checkpoint is public)
//	shortcode audit export|show|proof                    auditor, admin
//
// Only serve and migrate create or migrate a database: the other commands
// given a --db that does not exist, or is not migrated, say so and exit 1.
// Lists print a table, or with --json the API's JSON (snake_case fields,
// amounts as decimal strings of dollars).
//
// The exit status is 0 on success and for help, 1 when the command failed
// (the error, once, on stderr), 2 for a command line that cannot be run
// (the error and a hint). The flags of serve, migrate, sim and text, and
// --db, --server and --token, can also be set by their SHORTCODE_*
// variables (--db is SHORTCODE_DB); a flag given wins. The command line is
// parsed by github.com/alecthomas/kong (cli.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit statuses.
const (
	exitFailure = 1 // the command failed
	exitUsage   = 2 // the command line cannot be run
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report writes err, once, and returns the exit status for it.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "shortcode:", err)
	var u *usageError
	if errors.As(err, &u) {
		if u.hint != "" {
			fmt.Fprintln(stderr, u.hint)
		}
		return exitUsage
	}
	return exitFailure
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

// failure marks an error of work that was tried and did not succeed, as
// opposed to a command used wrongly (exit 1 either way but for usage).
type failure struct{ error }

func (f failure) Unwrap() error { return f.error }
