package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/alecthomas/kong"
)

// programCommand is `shortcode program`, through the API. Programs travel
// in the program file format (docs/program.example.json): what program
// show prints, program save reads.
type programCommand struct {
	List                 programListCommand  `cmd:"" help:"List the programs."`
	Show                 programShowCommand  `cmd:"" help:"Print a program as a program file, the format program save reads."`
	Save                 programSaveCommand  `cmd:"" help:"Save a program from a program file; checked (SPEC §3, §4.4) before it is saved."`
	Activate             programStateCommand `cmd:"" help:"Activate a program: its keywords answer."`
	Deactivate           programStateCommand `cmd:"" help:"Deactivate a program: its keywords no longer answer."`
	WithdrawGoodStanding programStateCommand `cmd:"" name:"withdraw-good-standing" help:"Withdraw the good standing of the program's committee, deactivating its programs."`
	RestoreGoodStanding  programStateCommand `cmd:"" name:"restore-good-standing" help:"Restore the good standing of the program's committee."`
}

// programRow is what the program table shows of a program file.
type programRow struct {
	ID        string   `json:"id"`
	ShortCode string   `json:"short_code"`
	Keywords  []string `json:"keywords"`
	Active    bool     `json:"active"`
	Mode      string   `json:"mode"`
	Committee struct {
		ID           string `json:"id"`
		Type         string `json:"type"`
		DisplayName  string `json:"display_name"`
		GoodStanding bool   `json:"good_standing"`
	} `json:"committee"`
}

type programListCommand struct {
	ShortCode string `placeholder:"DIGITS" help:"Only the programs on this short code."`
	JSON      bool   `name:"json" help:"Print the programs as program files, in a JSON array."`
	apiFlags
}

func (c *programListCommand) Run(ctx context.Context, s *stdio) error {
	api, err := c.client("program list")
	if err != nil {
		return err
	}
	q := url.Values{}
	if c.ShortCode != "" {
		q.Set("short_code", c.ShortCode)
	}
	var raw json.RawMessage
	if err := api.Get(ctx, "/api/v1/programs", q, &raw); err != nil {
		return err
	}
	if c.JSON {
		return writeRaw(s.out, raw)
	}
	var ps []programRow
	if err := json.Unmarshal(raw, &ps); err != nil {
		return fmt.Errorf("programs: %w", err)
	}
	t := newTable("PROGRAM", "SHORT CODE", "KEYWORDS", "COMMITTEE", "TYPE", "NAME", "MODE", "ACTIVE", "GOOD STANDING")
	for _, p := range ps {
		t.add(p.ID, p.ShortCode, strings.Join(p.Keywords, ","), p.Committee.ID, p.Committee.Type, p.Committee.DisplayName, p.Mode, yesNo(p.Active), yesNo(p.Committee.GoodStanding))
	}
	return t.write(s.out)
}

type programShowCommand struct {
	ID string `arg:"" help:"The program's id."`
	apiFlags
}

func (c *programShowCommand) Run(ctx context.Context, s *stdio) error {
	api, err := c.client("program show")
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := api.Get(ctx, "/api/v1/programs/"+url.PathEscape(c.ID), nil, &raw); err != nil {
		return err
	}
	return writeRaw(s.out, raw)
}

type programSaveCommand struct {
	File string `arg:"" placeholder:"FILE" help:"The program file, JSON; - for standard input."`
	JSON bool   `name:"json" help:"Print the program as saved, defaults filled in."`
	apiFlags
}

func (c *programSaveCommand) Run(ctx context.Context, s *stdio) error {
	api, err := c.client("program save")
	if err != nil {
		return err
	}
	var b []byte
	if c.File == "-" {
		b, err = io.ReadAll(s.in)
	} else {
		b, err = os.ReadFile(c.File)
	}
	if err != nil {
		return fmt.Errorf("program file: %w", err)
	}
	var file struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return fmt.Errorf("program file %s: not a JSON object: %w", c.File, err)
	}
	if file.ID == "" {
		return fmt.Errorf("program file %s: no \"id\"", c.File)
	}
	// The file goes as written: the server reads it, strictly.
	var raw json.RawMessage
	if err := api.Send(ctx, "PUT", "/api/v1/programs/"+url.PathEscape(file.ID), nil, "application/json", strings.NewReader(string(b)), &raw); err != nil {
		return err
	}
	if c.JSON {
		return writeRaw(s.out, raw)
	}
	var p programRow
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("program %s: %w", file.ID, err)
	}
	fmt.Fprintf(s.out, "saved program %s on %s (keywords %s), %s\n", p.ID, p.ShortCode, strings.Join(p.Keywords, ", "), activeWord(p.Active))
	return nil
}

// programStateCommand is one of the program changes that take an id.
type programStateCommand struct {
	ID   string `arg:"" help:"The program's id."`
	JSON bool   `name:"json" help:"Print the program as changed."`
	apiFlags
}

func (c *programStateCommand) Run(ctx context.Context, kctx *kong.Context, s *stdio) error {
	verb := kctx.Selected().Name // activate, deactivate, withdraw-good-standing...
	api, err := c.client("program " + verb)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := api.Post(ctx, "/api/v1/programs/"+url.PathEscape(c.ID)+"/"+verb, nil, &raw); err != nil {
		return err
	}
	if c.JSON {
		return writeRaw(s.out, raw)
	}
	var p programRow
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("program %s: %w", c.ID, err)
	}
	standing := "in good standing"
	if !p.Committee.GoodStanding {
		standing = "not in good standing"
	}
	fmt.Fprintf(s.out, "program %s on %s: %s; committee %s %s\n", p.ID, p.ShortCode, activeWord(p.Active), p.Committee.ID, standing)
	return nil
}

func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
