package assembly

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/router"
)

// APIInfo is what the context tells about the API being run. It is built
// once per load and shared by all requests.
type APIInfo struct {
	Name, Version, Title string
	BasePath             string
	Org, Catalog         string
	OrgID                string // the provider org's ID
	// Properties are the API's properties with the catalog's overrides
	// applied, then the catalog-wide properties; values may reference
	// other variables and are rendered on use.
	Properties map[string]*Template
}

// OperationInfo identifies the matched operation.
type OperationInfo struct {
	ID     string
	Path   string // the path template, e.g. /items/{id}
	Method string
}

// Param is a path parameter captured by routing.
type Param = router.Param

// BackendCall records one call to a back end.
type BackendCall struct {
	URL      string
	Method   string
	Status   int
	Duration time.Duration
}

// Request is the read-only view of the request as the client sent it.
type Request struct {
	Method  string
	URL     *url.URL // path and query as received
	Host    string
	Scheme  string
	Headers http.Header
	Params  []Param // path parameters
	Body    *Body   // shared with the initial message until a policy replaces that
	// ContentLength is the declared length of Body, -1 when unknown.
	ContentLength int64
	RemoteAddr    string
	query         url.Values // parsed on first use
}

// Query returns the parsed query string, parsing it once.
func (r *Request) Query() url.Values {
	if r.query == nil {
		r.query = r.URL.Query()
	}
	return r.query
}

// Context is the state of one request's assembly run: the read-only
// request, the working message, the API and operation, and user variables.
// It implements expr.Env. A Context belongs to one goroutine.
type Context struct {
	Ctx           context.Context
	Request       *Request
	Message       *Message
	API           *APIInfo
	Operation     *OperationInfo
	TransactionID string
	Start         time.Time
	Log           *slog.Logger
	// Backend describes the last back-end call, for analytics.
	Backend BackendCall
	// Limits are the identified plan's limits, for the ratelimit policy;
	// nil when the call was not identified.
	Limits Limits
	// Clients are the catalog's apps, for the client-security policy.
	Clients Clients
	// Identity is the identified caller; nil when the call needed none.
	Identity *Identity

	vars map[string]any
	// Policy is the name of the policy running now, for error reports.
	Policy string

	cleanup   []func()
	initial   *Message
	propDepth int
}

// MessageIsRequest reports whether message is still the one the run started
// with (a copy of the request), not a back end's response.
func (c *Context) MessageIsRequest() bool { return c.Message == c.initial }

// Defer registers fn to run when the request is finished (Done), such as
// closing a back-end response that was stored in a variable and never read.
func (c *Context) Defer(fn func()) { c.cleanup = append(c.cleanup, fn) }

// Done runs the deferred functions, last first. The gateway calls it after
// the response is written.
func (c *Context) Done() {
	for i := len(c.cleanup) - 1; i >= 0; i-- {
		c.cleanup[i]()
	}
	c.cleanup = nil
}

// NewContext starts a run: the message is the request (headers copied, body
// shared until replaced).
func NewContext(ctx context.Context, req *Request, api *APIInfo, op *OperationInfo) *Context {
	m := &Message{Headers: req.Headers.Clone(), Body: req.Body}
	return &Context{
		Ctx:       ctx,
		Request:   req,
		API:       api,
		Operation: op,
		Start:     time.Now(),
		Message:   m,
		initial:   m,
	}
}

// Lookup returns the value of a variable; ok is false when it is not set.
func (c *Context) Lookup(r Ref) (any, bool) {
	if len(r.segs) == 0 {
		return nil, false
	}
	rest := r.segs[1:]
	switch r.segs[0] {
	case "request":
		return c.requestVar(r, rest)
	case "message":
		return messageVar(c.Message, r, rest)
	case "api":
		return c.apiVar(rest)
	case "system":
		return systemVar(c.Start, rest)
	}
	if v, ok := c.vars[r.segs[0]]; ok {
		return walk(v, r, rest)
	}
	if v, ok := c.identityVar(r.segs[0], rest); ok {
		return v, true
	}
	if len(r.segs) == 1 {
		// $(name) resolves an API or catalog property directly.
		return c.property(r.segs[0])
	}
	return nil, false
}

// Var implements expr.Env: Lookup by name, with message values turned into
// documents, since expressions see only JSON-like values.
func (c *Context) Var(name string) (any, bool) {
	r, err := ParseRef(name)
	if err != nil {
		return nil, false
	}
	v, ok := c.Lookup(r)
	if m, isMsg := v.(*Message); isMsg {
		return m.document(), ok
	}
	return plain(v), ok
}

// Get returns a variable rendered as text ("" when unset).
func (c *Context) Get(r Ref) string {
	v, _ := c.Lookup(r)
	return stringify(v)
}

// SetVar sets a user variable by plain name (no dots): used by policies
// such as invoke's output.
func (c *Context) SetVar(name string, v any) {
	if c.vars == nil {
		c.vars = make(map[string]any, 4)
	}
	c.vars[name] = v
}

func (c *Context) property(name string) (any, bool) {
	if c.API == nil {
		return nil, false
	}
	t, ok := c.API.Properties[name]
	if !ok {
		return nil, false
	}
	// A property may refer to another; depth stops one that refers to
	// itself, directly or not.
	if c.propDepth >= maxPropertyDepth {
		return "", true
	}
	c.propDepth++
	v := t.Render(c)
	c.propDepth--
	return v, true
}

func (c *Context) requestVar(r Ref, rest []string) (any, bool) {
	req := c.Request
	if len(rest) == 0 {
		return c.requestDoc(), true
	}
	switch rest[0] {
	case "verb", "method":
		return req.Method, true
	case "uri":
		return req.Scheme + "://" + req.Host + req.URL.RequestURI(), true
	case "path":
		return req.URL.Path, true
	case "search":
		if req.URL.RawQuery == "" {
			return "", true
		}
		return "?" + req.URL.RawQuery, true
	case "querystring":
		return req.URL.RawQuery, true
	case "headers":
		return headerVar(req.Headers, r, rest[1:])
	case "parameters":
		if len(rest) == 1 {
			return c.paramsDoc(), true
		}
		return c.param(rest[1])
	case "body":
		v, err := req.Body.Value()
		if err != nil {
			return nil, false
		}
		return walk(v, r, rest[1:])
	case "content-type":
		return req.Headers.Get("Content-Type"), true
	case "authorization":
		return req.Headers.Get("Authorization"), true
	case "date":
		return c.Start.UTC().Format(http.TimeFormat), true
	}
	return nil, false
}

// param finds a request parameter by name: path, then query, then header.
func (c *Context) param(name string) (any, bool) {
	for _, p := range c.Request.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	if vs, ok := c.Request.Query()[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if v := c.Request.Headers.Values(name); len(v) > 0 {
		return v[0], true
	}
	return nil, false
}

func (c *Context) paramsDoc() map[string]any {
	out := map[string]any{}
	for k, v := range c.Request.Query() {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	for _, p := range c.Request.Params {
		out[p.Name] = p.Value
	}
	return out
}

func (c *Context) requestDoc() map[string]any {
	body, _ := c.Request.Body.Value()
	body = plain(body)
	u := c.Request.URL
	search := ""
	if u.RawQuery != "" {
		search = "?" + u.RawQuery
	}
	return map[string]any{
		"verb":         c.Request.Method,
		"uri":          c.Request.Scheme + "://" + c.Request.Host + u.RequestURI(),
		"path":         u.Path,
		"search":       search,
		"querystring":  u.RawQuery,
		"headers":      headerDoc(c.Request.Headers),
		"parameters":   c.paramsDoc(),
		"body":         body,
		"content-type": c.Request.Headers.Get("Content-Type"),
	}
}

func headerVar(h http.Header, r Ref, rest []string) (any, bool) {
	if len(rest) == 0 {
		return headerDoc(h), true
	}
	name := r.header
	if name == "" {
		name = strings.Join(rest, ".")
	}
	vs := h[name]
	if len(vs) == 0 {
		vs = h.Values(name)
	}
	if len(vs) == 0 {
		return nil, false
	}
	return vs[0], true
}

func messageVar(m *Message, r Ref, rest []string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if len(rest) == 0 {
		return m, true
	}
	switch rest[0] {
	case "headers":
		return headerVar(m.Headers, r, rest[1:])
	case "body":
		v, err := m.Body.Value()
		if err != nil {
			return nil, false
		}
		return walk(v, r, rest[1:])
	case "status":
		if len(rest) == 1 {
			return map[string]any{"code": m.StatusCode(), "reason": m.StatusReason()}, true
		}
		switch rest[1] {
		case "code":
			return m.StatusCode(), true
		case "reason":
			return m.StatusReason(), true
		}
	}
	return nil, false
}

func (c *Context) apiVar(rest []string) (any, bool) {
	a := c.API
	if a == nil {
		return nil, false
	}
	if len(rest) == 0 {
		return c.apiDoc(), true
	}
	switch rest[0] {
	case "name":
		return a.Name, true
	case "version":
		return a.Version, true
	case "title":
		return a.Title, true
	case "id":
		return a.Name + ":" + a.Version, true
	case "type":
		return "rest", true
	case "basepath", "root":
		return a.BasePath, true
	case "properties":
		if len(rest) == 1 {
			return c.apiDoc()["properties"], true
		}
		return c.property(strings.Join(rest[1:], "."))
	case "operation":
		if c.Operation == nil {
			return nil, false
		}
		if len(rest) == 1 {
			return map[string]any{"id": c.Operation.ID, "path": c.Operation.Path}, true
		}
		switch rest[1] {
		case "id":
			return c.Operation.ID, true
		case "path":
			return c.Operation.Path, true
		}
	case "org":
		return idName(a.Org, a.OrgID, rest[1:])
	case "catalog":
		return idName(a.Catalog, a.Catalog, rest[1:])
	case "endpoint":
		address := c.Request.Scheme + "://" + c.Request.Host
		host := c.Request.Host
		if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
			host = host[:i]
		}
		if len(rest) == 1 {
			return map[string]any{"address": address, "hostname": host}, true
		}
		switch rest[1] {
		case "address":
			return address, true
		case "hostname":
			return host, true
		}
	}
	return nil, false
}

// idName answers api.org and api.catalog: the object, its name or its id.
func idName(name, id string, rest []string) (any, bool) {
	if len(rest) == 0 {
		return map[string]any{"name": name, "id": id}, true
	}
	switch rest[0] {
	case "name":
		return name, true
	case "id":
		return id, true
	}
	return nil, false
}

func systemVar(now time.Time, rest []string) (any, bool) {
	if len(rest) == 0 {
		return nil, false
	}
	switch strings.Join(rest, ".") {
	case "datetime":
		return now.UTC().Format("2006-01-02T15:04:05.000Z07:00"), true
	case "time.hour":
		return now.Hour(), true
	case "time.minute":
		return now.Minute(), true
	case "time.seconds":
		return now.Second(), true
	case "date.day-of-week":
		return int(now.Weekday()), true
	case "date.day-of-month":
		return now.Day(), true
	case "date.month":
		return int(now.Month()), true
	case "date.year":
		return now.Year(), true
	case "timezone":
		name, _ := now.Zone()
		return name, true
	}
	return nil, false
}

// walk navigates a JSON-like value (or a Message) by the remaining segments.
func walk(v any, r Ref, rest []string) (any, bool) {
	for i, s := range rest {
		switch t := v.(type) {
		case *Message:
			return messageVar(t, r, rest[i:])
		case map[string]any:
			next, ok := t[s]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(t) {
				return nil, false
			}
			v = t[n]
		default:
			return nil, false
		}
	}
	return v, true
}

// Root implements expr.Env: the whole context as a document.
func (c *Context) Root() map[string]any {
	doc := make(map[string]any, len(c.vars)+4)
	for k, v := range c.vars {
		if m, ok := v.(*Message); ok {
			v = m.document()
		}
		doc[k] = v
	}
	doc["request"] = c.requestDoc()
	doc["message"] = c.Message.document()
	doc["api"] = c.apiDoc()
	for _, root := range []string{"client", "plan", "product"} {
		if _, set := doc[root]; !set {
			if v, ok := c.identityVar(root, nil); ok {
				doc[root] = v
			}
		}
	}
	return doc
}

func (c *Context) apiDoc() map[string]any {
	if c.API == nil {
		return map[string]any{}
	}
	props := make(map[string]any, len(c.API.Properties))
	for k := range c.API.Properties {
		props[k], _ = c.property(k)
	}
	api := map[string]any{"name": c.API.Name, "version": c.API.Version, "id": c.API.Name + ":" + c.API.Version,
		"basepath": c.API.BasePath, "properties": props,
		"org": map[string]any{"name": c.API.Org, "id": c.API.OrgID}, "catalog": map[string]any{"name": c.API.Catalog}}
	if c.Operation != nil {
		api["operation"] = map[string]any{"id": c.Operation.ID, "path": c.Operation.Path}
	}
	return api
}
