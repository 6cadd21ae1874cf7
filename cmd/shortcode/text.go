package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// textCommand is `shortcode text`.
type textCommand struct {
	From string        `required:"" placeholder:"E164" help:"The donor's phone number, E.164."`
	To   string        `default:"62262" placeholder:"SHORT-CODE" help:"The short code."`
	Sim  string        `default:"http://127.0.0.1:8081" placeholder:"URL" help:"The simulator's URL."`
	Idle time.Duration `default:"2s" help:"At end of input, exit once no text has arrived for this long."`
}

// Validate checks the values kong cannot.
func (c *textCommand) Validate() error {
	if c.Idle <= 0 {
		return fmt.Errorf("--idle %v: want a positive duration", c.Idle)
	}
	return nil
}

func (c *textCommand) Run(ctx context.Context, s *stdio) error {
	return runText(ctx, c, s.in, s.out, s.err)
}

// runText is a donor's phone in the terminal: each input line is sent as an
// MO through the simulator, each MT to the number is printed as "< body".
func runText(ctx context.Context, c *textCommand, stdin io.Reader, stdout, stderr io.Writer) error {
	from, to, simURL, quiet := c.From, c.To, c.Sim, c.Idle
	if from == "" {
		return fmt.Errorf("text: --from is required")
	}
	phone, err := compliance.ParsePhone(from)
	if err != nil {
		return fmt.Errorf("text: --from: %w", err)
	}
	if quiet <= 0 {
		return fmt.Errorf("text: --idle %v: want a positive duration", quiet)
	}
	p := &phoneClient{
		sim:   strings.TrimSuffix(simURL, "/"),
		phone: phone,
		http:  &http.Client{Timeout: 30 * time.Second},
		seen:  map[string]bool{},
		out:   stdout,
	}
	// Texts that arrived before this session are not news.
	if _, err := p.poll(ctx, false); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return failure{fmt.Errorf("text: reach the simulator at %s: %w", p.sim, err)}
	}
	p.last = time.Now()

	pollCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
				if _, err := p.poll(pollCtx, true); err != nil && pollCtx.Err() == nil {
					fmt.Fprintf(stderr, "! %v\n", err)
				}
			}
		}
	}()

	// Input is read apart from the loop below, so that a signal ends the
	// session even while stdin is held open with nothing to read.
	lines, readErr, done := make(chan string), make(chan error, 1), make(chan struct{})
	defer close(done)
	go func() {
		s := bufio.NewScanner(stdin)
		for s.Scan() {
			select {
			case lines <- s.Text():
			case <-done:
				return
			}
		}
		readErr <- s.Err()
		close(lines)
	}()

	var sent, failed int
read:
	for {
		select {
		case <-ctx.Done():
			return undelivered(failed, sent)
		case line, ok := <-lines:
			if !ok {
				break read
			}
			sent++
			if err := p.send(ctx, to, line); err != nil {
				if ctx.Err() != nil {
					return undelivered(failed, sent)
				}
				failed++
				fmt.Fprintf(stderr, "! %v\n", err)
			}
		}
	}
	if err := <-readErr; err != nil {
		return failure{fmt.Errorf("text: read input: %w", err)}
	}

	// At end of input, wait for the answer to the last MO (a receipt
	// waits for the charge), then until no text has come for quiet.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	giveUp := time.Now().Add(answerWait)
	for !p.finished(quiet, giveUp) {
		select {
		case <-ctx.Done():
			return undelivered(failed, sent)
		case <-t.C:
		}
	}
	return undelivered(failed, sent)
}

// answerWait bounds the wait for the answer to the last MO at end of
// input: some MOs get none (one over the rate limit, say).
const answerWait = 30 * time.Second

// undelivered is the session's error when some of its MOs were not
// delivered.
func undelivered(failed, sent int) error {
	if failed == 0 {
		return nil
	}
	return failure{fmt.Errorf("text: %d of %d messages not delivered", failed, sent)}
}

type phoneClient struct {
	sim   string
	phone string
	http  *http.Client
	out   io.Writer

	mu    sync.Mutex
	seen  map[string]bool
	last  time.Time // the last MO delivered or text received
	asked time.Time // when the last MO delivered was sent
	heard time.Time // when the last text was received
}

// finished tells whether the session may end: a text came after the last
// MO was sent, or giveUp has passed, and none has come for quiet.
func (p *phoneClient) finished(quiet time.Duration, giveUp time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heard.Before(p.asked) && time.Now().Before(giveUp) {
		return false
	}
	return time.Since(p.last) >= quiet
}

// send delivers one MO through the simulator's phone endpoint, which
// answers once the webhook took the MO or refused it.
func (p *phoneClient) send(ctx context.Context, to, body string) error {
	// The answer may be received before the webhook's 200 gets back here.
	start := time.Now()
	form := url.Values{"To": {to}, "Body": {body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sim+"/phones/"+url.PathEscape(p.phone)+"/messages", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("send %q: not delivered: %w", body, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("send %q: not delivered: simulator answered %s: %s", body, resp.Status, strings.TrimSpace(string(b)))
	}
	p.mu.Lock()
	p.asked, p.last = start, time.Now()
	p.mu.Unlock()
	return nil
}

type inboxMessage struct {
	SID         string `json:"sid"`
	Body        string `json:"body"`
	DateCreated string `json:"date_created"`
}

// poll reads the phone's inbox and, when print is set, prints the texts not
// seen before, oldest first.
func (p *phoneClient) poll(ctx context.Context, print bool) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.sim+"/phones/"+url.PathEscape(p.phone)+"/messages", nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("inbox: simulator answered %s", resp.Status)
	}
	var inbox struct {
		Messages []inboxMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inbox); err != nil {
		return 0, fmt.Errorf("inbox: %w", err)
	}
	// The inbox lists newest first, as Twilio does.
	slices.Reverse(inbox.Messages)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range inbox.Messages {
		if p.seen[m.SID] {
			continue
		}
		p.seen[m.SID] = true
		n++
		if print {
			fmt.Fprintf(p.out, "< %s\n", m.Body)
			p.last, p.heard = time.Now(), time.Now()
		}
	}
	return n, nil
}
