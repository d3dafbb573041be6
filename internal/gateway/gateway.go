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

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/router"
)

// Gateway serves the APIs of its current Config. It is an http.Handler.
type Gateway struct {
	cfg     atomic.Pointer[Config]
	log     *slog.Logger
	maxBody int64
	txPre   string
	txSeq   atomic.Uint64
	params  sync.Pool
}

// Options configure a Gateway.
type Options struct {
	Logger *slog.Logger
	// MaxBody caps a body that a policy buffers; 0 means assembly.DefaultMaxBody.
	MaxBody int64
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
	g := &Gateway{log: o.Logger, maxBody: o.MaxBody, txPre: hex.EncodeToString(pre[:])}
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
	txid := g.transactionID()
	// Set directly so the name keeps API Connect's spelling.
	w.Header()["X-Global-Transaction-ID"] = []string{txid}
	cfg := g.cfg.Load()
	if cfg == nil {
		writeAPIError(w, http.StatusServiceUnavailable, "", "The gateway has no configuration loaded yet.")
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
	g.run(w, r, m.Value, m.Params, txid)
}

func (g *Gateway) run(w http.ResponseWriter, r *http.Request, rt *route, params []router.Param, txid string) {
	req := &assembly.Request{
		Method: r.Method, URL: r.URL, Host: r.Host, Scheme: "http", Headers: r.Header, Params: params,
		Body: assembly.StreamBody(r.Body, g.maxBody), ContentLength: r.ContentLength, RemoteAddr: r.RemoteAddr,
	}
	if r.TLS != nil {
		req.Scheme = "https"
	}
	c := assembly.NewContext(r.Context(), req, rt.api.Info, rt.op)
	c.TransactionID = txid
	c.Log = g.log
	defer c.Done()
	err := rt.api.Assembly.Run(c)
	if err != nil {
		e := assembly.AsError(err)
		g.logError(c, e)
		if errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		writeAPIError(w, e.StatusCode(), e.StatusReason(), e.Message)
		return
	}
	var echo http.Header
	if c.MessageIsRequest() {
		echo = r.Header
	}
	if err := writeMessage(w, c.Message, echo, r.Method == http.MethodHead); err != nil {
		g.log.Debug("writing the response failed", "transaction_id", txid, "error", err)
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
