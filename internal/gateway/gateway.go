package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/ratelimit"
	"github.com/portico-api/portico/internal/router"
)

// Gateway serves the APIs of its current Config. It is an http.Handler.
type Gateway struct {
	cfg      atomic.Pointer[Config]
	log      *slog.Logger
	maxBody  int64
	limiter  ratelimit.Limiter
	counter  ratelimit.Counter
	observer analytics.Observer
	txPre    string
	txSeq    atomic.Uint64
	params   sync.Pool
}

// Options configure a Gateway.
type Options struct {
	Logger *slog.Logger
	// MaxBody caps a body that a policy buffers; 0 means assembly.DefaultMaxBody.
	MaxBody int64
	// Limiter counts plan rate limits; nil means in memory, for this
	// process alone. Use a Redis limiter to share counts between gateways.
	Limiter ratelimit.Limiter
	// Counter keeps count limits (assembly-count-limits); nil means in
	// memory. Use the same store as Limiter.
	Counter ratelimit.Counter
	// Observer receives an analytics event for every call; nil for none.
	Observer analytics.Observer
}

// New returns a Gateway that answers 404 until a Config is stored.
func New(o Options) *Gateway {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBody <= 0 {
		o.MaxBody = assembly.DefaultMaxBody
	}
	var pre [4]byte
	rand.Read(pre[:])
	if o.Limiter == nil || o.Counter == nil {
		mem := ratelimit.NewMemory()
		if o.Limiter == nil {
			o.Limiter = mem
		}
		if o.Counter == nil {
			o.Counter = mem
		}
	}
	g := &Gateway{log: o.Logger, maxBody: o.MaxBody, txPre: hex.EncodeToString(pre[:]),
		limiter: o.Limiter, counter: o.Counter, observer: o.Observer}
	g.params.New = func() any { ps := make([]router.Param, 0, 8); return &ps }
	return g
}

// Store makes cfg the configuration new requests use.
func (g *Gateway) Store(cfg *Config) { g.cfg.Store(cfg) }

// Config returns the configuration in use (nil before the first Store).
func (g *Gateway) Config() *Config { return g.cfg.Load() }

// transactionID makes a gateway-unique ID: a random per-process prefix and a
// counter, so it costs no system call per request.
func (g *Gateway) transactionID() string {
	n := g.txSeq.Add(1)
	b := make([]byte, 0, 24)
	b = append(b, g.txPre...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 16)
	return string(b)
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := &callInfo{start: time.Now(), txid: g.transactionID()}
	// Set directly so the name keeps API Connect's spelling.
	w.Header()["X-Global-Transaction-ID"] = []string{call.txid}
	cfg := g.cfg.Load()
	if g.observer != nil {
		rec := &recorder{ResponseWriter: w}
		body := &countingReader{ReadCloser: r.Body}
		r.Body = body
		w = rec
		defer func() { g.observer.Observe(call.event(r, rec, body.n, cfg)) }()
	}
	if cfg == nil {
		writeAPIError(w, http.StatusServiceUnavailable, "", "The gateway has no configuration loaded yet.")
		return
	}
	if r.Method == http.MethodOptions && g.preflight(w, r, cfg) {
		return
	}
	psp := g.params.Get().(*[]router.Param)
	defer func() { *psp = (*psp)[:0]; g.params.Put(psp) }()
	m := cfg.routes.Match(r.Method, r.URL.Path, (*psp)[:0])
	switch m.Status {
	case router.NotFound:
		writeAPIError(w, http.StatusNotFound, "", "No resources match requested URI")
		return
	case router.MethodNotAllowed:
		w.Header().Set("Allow", strings.Join(m.Allowed, ", "))
		writeAPIError(w, http.StatusMethodNotAllowed, "", "The method is not allowed for the requested URL")
		return
	}
	*psp = m.Params
	call.route = m.Value
	g.serveRoute(w, r, cfg, call, m.Params)
}

// serveRoute identifies the client, applies the plan, runs the assembly and
// writes its result.
func (g *Gateway) serveRoute(w http.ResponseWriter, r *http.Request, cfg *Config, call *callInfo, params []router.Param) {
	rt := call.route
	corsHeaders(w, r, rt.api.cors)
	if rt.sec != nil {
		cl, creds, status, msg := rt.cat.access.identify(rt.sec, r)
		if cl == nil {
			writeAPIError(w, status, "", msg)
			return
		}
		call.client = cl
		call.plan = choosePlan(cl, rt.plans)
		if call.plan == nil {
			writeAPIError(w, http.StatusUnauthorized, "", msgNotSubscribed)
			return
		}
		if !g.enforce(r.Context(), w, rt.cat, call.plan, cl) {
			call.rateLimited = true
			return
		}
		hideSecret(r, creds)
	}
	req := &assembly.Request{
		Method: r.Method, URL: r.URL, Host: r.Host, Scheme: "http", Headers: r.Header, Params: params,
		Body: assembly.StreamBody(r.Body, g.maxBody), ContentLength: r.ContentLength, RemoteAddr: r.RemoteAddr,
	}
	if r.TLS != nil {
		req.Scheme = "https"
	}
	c := assembly.NewContext(r.Context(), req, rt.api.Info, rt.op)
	c.TransactionID = call.txid
	c.Log = g.log
	c.Clients = rt.cat.access
	defer c.Done()
	if call.client != nil {
		c.Identity = identity(call.client, call.plan)
		c.Limits = &planLimits{g: g, cat: rt.cat, plan: call.plan, cl: call.client}
	}
	err := rt.api.Assembly.Run(c)
	call.backend = c.Backend
	if err != nil {
		e := assembly.AsError(err)
		call.err = e
		g.logError(c, e)
		if errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		for k, vs := range e.Headers {
			w.Header()[k] = vs
		}
		writeAPIError(w, e.StatusCode(), e.StatusReason(), e.Message)
		return
	}
	var echo http.Header
	if c.MessageIsRequest() {
		echo = r.Header
	}
	if err := writeMessage(w, c.Message, echo, r.Method == http.MethodHead); err != nil {
		g.log.Debug("writing the response failed", "transaction_id", call.txid, "error", err)
	}
}

// hideSecret removes a verified client secret from the request, so the
// assembly and the back end never see it. The client id stays.
func hideSecret(r *http.Request, cr *credentials) {
	if cr == nil || !cr.hasSecret {
		return
	}
	s := cr.secretParam
	switch {
	case s.param == "":
		r.Header.Del("Authorization") // HTTP basic
	case s.in == "query":
		q := r.URL.Query()
		q.Del(s.param)
		r.URL.RawQuery = q.Encode()
	default:
		r.Header.Del(s.param)
	}
}

func (g *Gateway) logError(c *assembly.Context, e *assembly.Error) {
	level := slog.LevelInfo
	if e.StatusCode() >= 500 {
		level = slog.LevelWarn
	}
	g.log.Log(c.Ctx, level, "assembly error",
		"transaction_id", c.TransactionID, "api", c.API.Name+":"+c.API.Version,
		"error", e.Name, "policy", e.Policy, "status", e.StatusCode(), "message", e.Message)
}
