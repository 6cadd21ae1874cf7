package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/storage"
)

// runProgram: shortcode program save FILE | shortcode program list.
func runProgram(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("program", stderr)
	var dsn, shortCode, actor string
	stringFlag(fs, &dsn, "db", "shortcode.db", "database: a SQLite file path, or a postgres:// URL")
	stringFlag(fs, &shortCode, "short-code", "62262", "with list: the short code")
	stringFlag(fs, &actor, "actor", os.Getenv("USER"), "who is acting, for the action log")
	pos, err := interspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || (pos[0] == "save" && len(pos) != 2) || (pos[0] == "list" && len(pos) != 1) || (pos[0] != "save" && pos[0] != "list") {
		return errors.New("program: usage: shortcode program save FILE.json, or shortcode program list [--short-code 62262]")
	}
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if pos[0] == "list" {
		ps, err := db.Programs(ctx, shortCode)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "PROGRAM\tSHORT CODE\tKEYWORDS\tCOMMITTEE\tTYPE\tMODE\tACTIVE")
		for _, p := range ps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", p.ID, p.ShortCode, strings.Join(p.Keywords, ","), p.Committee.ID, p.Committee.Type, p.Mode, p.Active)
		}
		return w.Flush()
	}
	b, err := os.ReadFile(pos[1])
	if err != nil {
		return fmt.Errorf("program: %w", err)
	}
	var p compliance.Program
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("program %s: %w", pos[1], err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("program %s: %w", pos[1], err)
	}
	others, err := db.Programs(ctx, p.ShortCode)
	if err != nil {
		return err
	}
	// The program being saved replaces its own earlier version.
	others = slices.DeleteFunc(others, func(o compliance.Program) bool { return o.ID == p.ID || !o.Active })
	if err := compliance.CheckShortCodes(append(others, p)); err != nil && p.Active {
		return fmt.Errorf("program %s: %w", pos[1], err)
	}
	if err := db.SaveProgram(ctx, p); err != nil {
		return err
	}
	if actor == "" {
		actor = "cli"
	}
	if err := db.LogAction(ctx, time.Now().UTC(), actor, "program save", fmt.Sprintf("program=%s short_code=%s committee=%s", p.ID, p.ShortCode, p.Committee.ID)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved program %s on %s (keywords %s)\n", p.ID, p.ShortCode, strings.Join(p.Keywords, ", "))
	return nil
}
