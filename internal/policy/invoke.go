package policy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// invoker is a compiled invoke (or proxy): everything about the call that
// can be decided at load time is decided here.
type invoker struct {
	target        *assembly.Template
	verb          string // "" keeps the request's verb
	timeout       time.Duration
	headers       *nameFilter
	params        *nameFilter
	output        *assembly.Ref
	user, pass    *assembly.Template
	injectProxy   bool
	keepPayload   bool
	stopOnError   map[string]bool
	bodyRead      *bool // set when the assembly may read the request body later
	followRedir   bool
	clients       *clientSet
	profiles      map[string]*tls.Config
	tlsProfile    *assembly.Template // set only when the profile name is a template
	defaultClient *http.Client
}

// Invoke compiles the invoke policy (API Gateway 2.0.0–2.3.0; v5 1.0.0):
// it calls target-url with the current message and puts the response in
// message, or in the variable named by output.
func Invoke(b *assembly.Builder, n apidef.Node) assembly.Policy {
	iv := compileInvoker(b, n, true)
	if iv == nil {
		return nil
	}
	return iv.run
}

// Proxy compiles the v5 proxy policy: forward the message as it is (all
// headers and query parameters, the body streamed) and return the response
// as it came, without following redirects.
func Proxy(b *assembly.Builder, n apidef.Node) assembly.Policy {
	iv := compileInvoker(b, n, false)
	if iv == nil {
		return nil
	}
	iv.headers = &nameFilter{block: true}
	iv.params = &nameFilter{block: true}
	return iv.run
}

func compileInvoker(b *assembly.Builder, n apidef.Node, isInvoke bool) *invoker {
	tn := n.Get("target-url")
	if tn.Str() == "" {
		// API Connect saves such an API and fails when it is called; so
		// does Portico, but it says so at load time too.
		b.Report(tn.Warning("target-url is empty: calls will fail with a PropertyError",
			"set target-url to the back end's URL, e.g. https://host/path$(request.search)"))
	}
	iv := &invoker{target: b.Template(tn), followRedir: isInvoke, clients: clientsFor(b.Env)}
	if iv.target.IsConst() && tn.Str() != "" {
		if u, err := url.Parse(iv.target.Source()); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			b.Report(tn.Problem(fmt.Sprintf("target-url %q is not an http or https URL", iv.target.Source()), "write the full URL, e.g. https://backend.example.com/path"))
		}
	}
	switch verb := strings.ToUpper(n.String("verb", "keep")); verb {
	case "KEEP", "":
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
		iv.verb = verb
	default:
		b.Report(n.Get("verb").Problemf("verb %q is not one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or keep", verb))
	}
	secs, p := n.Int("timeout", 60)
	if p != nil {
		b.Report(*p)
	}
	if secs <= 0 {
		secs = 60
	}
	iv.timeout = time.Duration(secs) * time.Second
	iv.headers = compileFilter(b, n.Get("header-control"), true)
	iv.params = compileFilter(b, n.Get("parameter-control"), false)
	if out := n.Get("output"); out.Str() != "" {
		if r, ok := b.Ref(out); ok {
			iv.output = &r
		}
	}
	if u := n.Get("username"); u.Str() != "" {
		iv.user = b.Template(u)
		iv.pass = b.Template(n.Get("password"))
	}
	iv.injectProxy, _ = n.Bool("inject-proxy-headers", false)
	iv.keepPayload, _ = n.Bool("keep-payload", false)
	iv.stopOnError = map[string]bool{}
	for _, e := range n.Strings("stop-on-error") {
		iv.stopOnError[e] = true
	}
	iv.bodyRead = b.RequestBodyRead()
	iv.profiles = b.TLSProfiles
	profile := b.Template(n.Get("tls-profile"))
	if profile.IsConst() {
		iv.defaultClient = iv.clients.client(iv.profiles, profile.Source(), iv.followRedir)
	} else {
		iv.tlsProfile = profile
	}
	return iv
}

// nameFilter is header-control or parameter-control: a block list (forward
// all but these) or an allow list (forward only these). Values are
// case-insensitive regular expressions over the whole name.
type nameFilter struct {
	block bool
	res   []*regexp.Regexp
}

func compileFilter(b *assembly.Builder, n apidef.Node, defaultBlock bool) *nameFilter {
	f := &nameFilter{block: defaultBlock}
	if n.IsNull() {
		return f
	}
	switch t := strings.ToLower(n.String("type", "")); t {
	case "blacklist", "blocklist":
		f.block = true
	case "whitelist", "allowlist":
		f.block = false
	case "":
	default:
		b.Report(n.Get("type").Problemf("type %q is not blocklist or allowlist", t))
	}
	for _, it := range n.Get("values").Items() {
		re, err := regexp.Compile("(?i)^(?:" + it.Str() + ")$")
		if err != nil {
			b.Report(it.Problemf("%q is not a valid regular expression: %v", it.Str(), err))
			continue
		}
		f.res = append(f.res, re)
	}
	return f
}

func (f *nameFilter) allows(name string) bool {
	for _, re := range f.res {
		if re.MatchString(name) {
			return !f.block
		}
	}
	return f.block
}

// hopHeaders are connection-level headers that never travel to the next hop.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Host"}

func (iv *invoker) run(c *assembly.Context) error {
	req, cancel, err := iv.request(c)
	if err != nil {
		return err
	}
	client := iv.client(c)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return iv.callError(req, err)
	}
	c.Defer(func() { resp.Body.Close(); cancel() })
	msg := responseMessage(resp, cancel)
	c.Backend = assembly.BackendCall{URL: req.URL.Redacted(), Method: req.Method, Status: resp.StatusCode, Duration: time.Since(start)}
	if iv.output != nil {
		if err := c.Set(*iv.output, msg); err != nil {
			return err
		}
	} else {
		c.Message = msg
	}
	if resp.StatusCode >= 400 && iv.stopOnError[assembly.OperationError] {
		return &assembly.Error{Name: assembly.OperationError, Status: resp.StatusCode, Reason: msg.StatusReason(),
			Message: fmt.Sprintf("the back end answered %s", resp.Status)}
	}
	return nil
}

func (iv *invoker) client(c *assembly.Context) *http.Client {
	if iv.tlsProfile == nil {
		return iv.defaultClient
	}
	return iv.clients.client(iv.profiles, iv.tlsProfile.Render(c), iv.followRedir)
}

// request builds the outgoing request from the message.
func (iv *invoker) request(c *assembly.Context) (*http.Request, context.CancelFunc, error) {
	target := iv.target.Render(c)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, &assembly.Error{Name: assembly.PropertyError, Message: fmt.Sprintf("invoke target-url %q is not a valid http(s) URL", target)}
	}
	iv.addQuery(c, u)
	method := iv.verb
	if method == "" {
		method = c.Request.Method
	}
	body, length, err := iv.body(c, method)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(c.Ctx, iv.timeout)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		cancel()
		return nil, nil, &assembly.Error{Name: assembly.PropertyError, Message: err.Error(), Cause: err}
	}
	req.ContentLength = length
	iv.copyHeaders(c, req)
	if iv.user != nil {
		req.SetBasicAuth(iv.user.Render(c), iv.pass.Render(c))
	}
	return req, cancel, nil
}

func (iv *invoker) addQuery(c *assembly.Context, u *url.URL) {
	raw := c.Request.URL.RawQuery
	if raw == "" || (!iv.params.block && len(iv.params.res) == 0) {
		return
	}
	var kept []string
	for _, pair := range strings.Split(raw, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if iv.params.allows(name) {
			kept = append(kept, pair)
		}
	}
	if len(kept) == 0 {
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += strings.Join(kept, "&")
}

// body returns what to send: the unread stream when it may be passed on,
// else the buffered bytes. GET, HEAD and DELETE send no body unless
// keep-payload is set.
func (iv *invoker) body(c *assembly.Context, method string) (io.Reader, int64, error) {
	if (method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete) && !iv.keepPayload {
		return http.NoBody, 0, nil
	}
	b := c.Message.Body
	if b == nil {
		return http.NoBody, 0, nil
	}
	// An untouched body streams straight on when the response replaces the
	// message and nothing may read the request body afterwards.
	if b.IsStream() && iv.output == nil && !*iv.bodyRead {
		length := int64(-1)
		if b == c.Request.Body {
			length = c.Request.ContentLength
		}
		return b.TakeStream(), length, nil
	}
	data, err := b.Bytes()
	if err != nil {
		return nil, 0, err
	}
	if len(data) == 0 {
		return http.NoBody, 0, nil
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

func (iv *invoker) copyHeaders(c *assembly.Context, req *http.Request) {
	for name, vs := range c.Message.Headers {
		if iv.headers.allows(name) {
			req.Header[name] = vs
		}
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	if iv.injectProxy {
		if host, _, err := net.SplitHostPort(c.Request.RemoteAddr); err == nil {
			prior := req.Header.Get("X-Forwarded-For")
			if prior != "" {
				host = prior + ", " + host
			}
			req.Header.Set("X-Forwarded-For", host)
		}
		req.Header.Set("X-Forwarded-Host", c.Request.Host)
		req.Header.Set("X-Forwarded-Proto", c.Request.Scheme)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		// An empty value stops net/http adding its own User-Agent.
		req.Header["User-Agent"] = []string{""}
	}
}

// responseMessage turns a back-end response into a message whose body
// streams until a policy reads it. Closing the body releases the call.
func responseMessage(resp *http.Response, cancel context.CancelFunc) *assembly.Message {
	h := resp.Header.Clone()
	for _, name := range hopHeaders {
		h.Del(name)
	}
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode)))
	return &assembly.Message{
		Headers: h,
		Body:    assembly.StreamBody(&cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, 0),
		Status:  resp.StatusCode,
		Reason:  reason,
	}
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (r *cancelOnClose) Close() error {
	err := r.ReadCloser.Close()
	r.cancel()
	return err
}

// callError classifies a failed call as API Connect does: every failure to
// reach the back end or get its answer is a ConnectionError. Timeouts
// answer 504 so clients can tell them apart.
func (iv *invoker) callError(req *http.Request, err error) error {
	e := &assembly.Error{Name: assembly.ConnectionError, Status: http.StatusInternalServerError, Cause: err,
		Message: fmt.Sprintf("could not connect to endpoint %s://%s", req.URL.Scheme, req.URL.Host)}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		e.Status = http.StatusGatewayTimeout
		e.Message = fmt.Sprintf("the back end %s://%s did not answer within %s", req.URL.Scheme, req.URL.Host, iv.timeout)
	case isTLSError(err):
		e.Message = fmt.Sprintf("TLS handshake with %s failed: %v", req.URL.Host, rootCause(err))
	}
	return e
}

func isTLSError(err error) bool {
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	return errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ae)
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
