// Package client is a typed Go client of the manager's REST API (/api):
// tokens, provider orgs and catalogs, drafts, publishing and products,
// consumer orgs, apps, credentials and subscriptions.
//
// A Client is safe for concurrent use. Every answer other than 2xx is
// returned as an *Error carrying the status and the server's messages.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Client calls one manager.
type Client struct {
	base string
	hc   *http.Client

	mu    sync.RWMutex
	token string

	refresh   RefreshFunc // nil: a refused token is an error at once
	refreshMu sync.Mutex  // one refresh at a time
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token sent with every request.
func WithToken(tok string) Option { return func(c *Client) { c.token = tok } }

// WithHTTPClient sets the HTTP client requests go through
// (http.DefaultClient otherwise).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client of the manager at baseURL (such as
// "https://manager.example.com"; a trailing "/" or "/api" is ignored).
func New(baseURL string, opts ...Option) *Client {
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/api")
	c := &Client{base: base, hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	return c
}

// BaseURL is the manager's URL, without /api.
func (c *Client) BaseURL() string { return c.base }

// SetToken replaces the bearer token ("" to send none).
func (c *Client) SetToken(tok string) {
	c.mu.Lock()
	c.token = tok
	c.mu.Unlock()
}

// CurrentToken is the bearer token the client sends, "" when none.
func (c *Client) CurrentToken() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// Error is a non-2xx answer of the manager, in its error shape
// {"status": 404, "message": ["…"], "errors": ["…"]}.
type Error struct {
	Status   int      // the HTTP status code
	Messages []string // the server's messages, one problem each
}

func (e *Error) Error() string {
	text := strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	if len(e.Messages) > 0 {
		text += ": " + strings.Join(e.Messages, "; ")
	}
	return "portico manager: " + text
}

// StatusOf is the HTTP status of an *Error in err's chain, 0 when none.
func StatusOf(err error) int {
	if e, ok := asError(err); ok {
		return e.Status
	}
	return 0
}

// ListOptions pages a list: at most Limit items (0: the server's
// default) after skipping Offset.
type ListOptions struct {
	Limit  int
	Offset int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	return q
}

// collection is the manager's list answer.
type collection[T any] struct {
	Total   int `json:"total_results"`
	Results []T `json:"results"`
}

// path joins escaped segments under /api.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// request is one call: a body (already encoded) with its content type.
type request struct {
	method      string
	path        string // escaped, from path()
	query       url.Values
	body        []byte
	contentType string
	noAuth      bool
}

// jsonBody encodes v as a JSON request body.
func jsonBody(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// do sends the request and decodes a 2xx JSON answer into out (when out
// is not nil). A non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	_, err := c.doHeader(ctx, r, out)
	return err
}

func (c *Client) doHeader(ctx context.Context, r request, out any) (http.Header, error) {
	sent := c.CurrentToken()
	if r.noAuth {
		sent = ""
	}
	hdr, err := c.attempt(ctx, r, sent, out)
	// A 401 with a bearer challenge is the token refused (expired or
	// revoked); with a refresher the call is made once more.
	if c.refresh == nil || sent == "" || StatusOf(err) != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		return hdr, err
	}
	tok, rerr := c.refreshFrom(ctx, sent)
	if rerr != nil {
		return hdr, err
	}
	return c.attempt(ctx, r, tok, out)
}

// attempt sends the request once with the bearer token tok ("" for none).
func (c *Client) attempt(ctx context.Context, r request, tok string, out any) (http.Header, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.Header, fmt.Errorf("%s %s: reading the answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, errorOf(resp.StatusCode, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return resp.Header, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.Header, fmt.Errorf("%s %s: decoding the answer: %w", r.method, r.path, err)
	}
	return resp.Header, nil
}

// errorOf reads the manager's error shape; an answer in another shape
// (from a proxy, say) gives its text as the message.
func errorOf(status int, data []byte) *Error {
	var shape struct {
		Message json.RawMessage `json:"message"`
		Errors  []string        `json:"errors"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(data, &shape) == nil {
		var msgs []string
		var one string
		switch {
		case json.Unmarshal(shape.Message, &msgs) == nil && len(msgs) > 0:
			e.Messages = msgs
		case json.Unmarshal(shape.Message, &one) == nil && one != "":
			e.Messages = []string{one}
		case len(shape.Errors) > 0:
			e.Messages = shape.Errors
		}
	}
	if e.Messages == nil {
		if text := strings.TrimSpace(string(data)); text != "" {
			if len(text) > 1024 {
				text = text[:1024] + "…"
			}
			e.Messages = []string{text}
		}
	}
	return e
}

// get, post, patch and del are the common JSON calls.
func (c *Client) get(ctx context.Context, p string, q url.Values, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: p, query: q}, out)
}

func (c *Client) send(ctx context.Context, method, p string, in, out any) error {
	body, err := jsonBody(in)
	if err != nil {
		return err
	}
	if body == nil && method == http.MethodPost {
		body = []byte("{}")
	}
	return c.do(ctx, request{method: method, path: p, body: body}, out)
}

func (c *Client) del(ctx context.Context, p string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// list gets a collection.
func list[T any](ctx context.Context, c *Client, p string, o ListOptions) ([]T, int, error) {
	var out collection[T]
	if err := c.get(ctx, p, o.query(), &out); err != nil {
		return nil, 0, err
	}
	if out.Results == nil {
		out.Results = []T{}
	}
	return out.Results, out.Total, nil
}
