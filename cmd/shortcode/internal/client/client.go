// Package client is the shortcode command's client of the operator API
// (docs/operators.md): JSON requests with a bearer token, and error answers
// (RFC 9457 problems) turned into errors that say what the server said.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultServer is where a shortcode server listens by default.
const DefaultServer = "http://127.0.0.1:8080"

// maxAnswer bounds the answers read: a list of a few thousand rows.
const maxAnswer = 64 << 20

// Client calls one shortcode server's operator API.
type Client struct {
	server *url.URL
	token  string
	http   *http.Client
}

// New returns a client of the server at base (an http or https URL) that
// authenticates with token. A nil hc means a client with a 60 s timeout.
func New(base, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want an http:// or https:// URL", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{server: u, token: token, http: hc}, nil
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.server.String() }

// Get sends GET path?query and decodes the JSON answer into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.Do(ctx, http.MethodGet, path, query, nil, out)
}

// Post sends in as JSON to path and decodes the JSON answer into out;
// in and out may be nil.
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPost, path, nil, in, out)
}

// Put is Post with PUT.
func (c *Client) Put(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPut, path, nil, in, out)
}

// Delete sends DELETE path and decodes the JSON answer, if any, into out.
func (c *Client) Delete(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodDelete, path, nil, nil, out)
}

// Do sends one request: in, when not nil, as its JSON body; a 2xx answer's
// JSON body is decoded into out, when not nil. Any other answer is an error:
// a *Problem when the server sent one.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	return c.Send(ctx, method, path, query, contentType, body, out)
}

// Send is Do with a body of any content type, such as a file's bytes.
func (c *Client) Send(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader, out any) error {
	resp, err := c.request(ctx, method, path, query, contentType, body, "application/json, application/problem+json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, resp.Request.URL.Path, err)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the server's answer is not the JSON expected: %w", method, resp.Request.URL.Path, err)
	}
	return nil
}

// Download sends GET path?query and copies the body of a 2xx answer, of
// any type and length, to w: a signed checkpoint, a proof file, an export
// of the log. Any other answer is an error, as for Do. It returns the
// number of bytes copied.
func (c *Client) Download(ctx context.Context, path string, query url.Values, w io.Writer) (int64, error) {
	resp, err := c.request(ctx, http.MethodGet, path, query, "", nil, "*/*")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, fmt.Errorf("GET %s: the answer broke off after %d bytes: %w", resp.Request.URL.Path, n, err)
	}
	return n, nil
}

// request sends one request and returns a 2xx answer, whose body the
// caller closes; any other answer is an error.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader, accept string) (*http.Response, error) {
	u := *c.server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &UnreachableError{Server: c.server.String(), Err: err}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if err != nil {
			return nil, fmt.Errorf("%s %s: read the answer: %w", method, u.Path, err)
		}
		return nil, answerError(resp, b)
	}
	return resp, nil
}

// Problem is an error answer of the API (RFC 9457, docs/operators.md).
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Kind      string `json:"kind"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
}

// Error returns the problem's detail (or title), its status and the
// request id, the one the server's log lines carry.
func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	if p.RequestID != "" {
		return fmt.Sprintf("%s (%d, request %s)", msg, p.Status, p.RequestID)
	}
	return fmt.Sprintf("%s (%d)", msg, p.Status)
}

// answerError is the error for a non-2xx answer: its problem, or what a
// server that is not shortcode (a proxy, say) answered.
func answerError(resp *http.Response, body []byte) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p Problem
		if err := json.Unmarshal(body, &p); err == nil && p.Status != 0 {
			return &p
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		return &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	}
	return &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: resp.Status + ": " + text}
}

// UnreachableError is a server that did not answer.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no answer from a shortcode server at %s (is shortcode serve running there? set --server or SHORTCODE_SERVER): %v", e.Server, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of an error answer, or 0.
func StatusOf(err error) int {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}
