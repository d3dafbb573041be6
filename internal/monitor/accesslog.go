package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-api/portico/internal/analytics"
)

// AccessLog writes one line per API call, with ECS field names:
// transaction.id (the X-Global-Transaction-ID), http.request.method,
// url.path, url.query (secret-looking parameters and client ids
// redacted), http.response.status_code, event.duration (ns), client.ip,
// user_agent.original, the byte counts, event.outcome, and portico.org,
// portico.catalog, portico.api, portico.operation, portico.app,
// portico.plan for what the call matched. Credentials are never written:
// not the client id, the secret, or the Authorization header, and not
// the back-end URL either (it may carry a key).
//
// It is an analytics.Observer, called on the request's goroutine after
// the response: give it a handler over a LineWriter, so that formatting
// is all a call pays for and a slow log reader never holds a call up.
type AccessLog struct {
	h   slog.Handler
	ecs *ECSHandler // when h is one: lines are written without slog records
}

// NewAccessLog writes through h; its lines are at level info.
func NewAccessLog(h slog.Handler) *AccessLog {
	if h == nil {
		panic("monitor: NewAccessLog needs a handler; pass NewECSHandler over a LineWriter")
	}
	a := &AccessLog{h: h}
	if ecs, ok := h.(*ECSHandler); ok && ecs.prefix == "" {
		a.ecs = ecs
	}
	return a
}

// Observe implements analytics.Observer.
func (a *AccessLog) Observe(e *analytics.Event) {
	if e == nil {
		return
	}
	ctx := context.Background()
	if !a.h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := e.Status
	if status == 0 {
		status, _ = strconv.Atoi(strings.SplitN(e.StatusCode, " ", 2)[0])
	}
	end := time.Now()
	if !e.Datetime.IsZero() {
		end = e.Datetime.Add(duration(e))
	}
	msg := e.RequestMethod + " " + e.URIPath + " " + strconv.Itoa(status)
	var buf [28]accessField
	fields := accessFields(buf[:0], e, status)
	if a.ecs != nil {
		// The keys are fixed and none looks secret: JSON is appended
		// directly, without a record, attributes or the redaction check.
		_ = a.ecs.write(end, slog.LevelInfo, msg, func(b []byte) []byte { return appendFields(b, fields) })
		return
	}
	r := slog.NewRecord(end, slog.LevelInfo, msg, 0)
	var attrs [28]slog.Attr
	r.AddAttrs(asAttrs(attrs[:0], fields)...) // one call: the record grows once
	_ = a.h.Handle(ctx, r)                    // a LineWriter never fails; nothing to do if another writer did
}

// accessField is one field of an access line: a string, a number or true.
type accessField struct {
	key  string
	s    string
	n    int64
	kind byte // 's', 'n' or 'b'
}

func str(key, s string) accessField       { return accessField{key: key, s: s, kind: 's'} }
func num(key string, n int64) accessField { return accessField{key: key, n: n, kind: 'n'} }

// accessFields appends the fields of e's access line to dst, in order.
func accessFields(dst []accessField, e *analytics.Event, status int) []accessField {
	dst = append(dst,
		str("transaction.id", e.GlobalTransactionID),
		str("http.request.method", e.RequestMethod),
		str("url.path", e.URIPath),
		num("http.response.status_code", int64(status)),
		num("event.duration", duration(e).Nanoseconds()),
		str("event.outcome", outcome(status)),
		num("http.request.body.bytes", e.BytesReceived),
		num("http.response.body.bytes", e.BytesSent),
	)
	optional := [...]accessField{
		str("url.query", redactQuery(e.QueryString)),
		str("http.version", strings.TrimPrefix(e.RequestProto, "HTTP/")),
		str("client.ip", e.ClientIP),
		str("user_agent.original", e.UserAgent),
		str("portico.org", e.OrgName),
		str("portico.catalog", e.CatalogName),
		str("portico.api", e.APIRef),
		str("portico.operation", e.OperationPath),
		str("portico.app", e.AppName),
		str("portico.consumer_org", e.DevOrgName),
		str("portico.product", productRef(e)),
		str("portico.plan", e.PlanName),
		str("error.type", e.ErrorName),
		str("error.message", e.ErrorMessage),
	}
	for _, o := range optional {
		if o.s != "" {
			dst = append(dst, o)
		}
	}
	if e.RateLimited {
		dst = append(dst, accessField{key: "portico.rate_limited", kind: 'b'})
	}
	if e.BackendStatusCode != 0 {
		dst = append(dst, num("portico.backend.status_code", int64(e.BackendStatusCode)),
			num("portico.backend.duration", e.BackendDuration.Nanoseconds()))
	}
	return dst
}

// appendFields writes fields as JSON members.
func appendFields(b []byte, fields []accessField) []byte {
	for _, f := range fields {
		b = append(b, `,"`...)
		b = append(b, f.key...)
		b = append(b, `":`...)
		switch f.kind {
		case 's':
			b = appendJSONString(b, f.s)
		case 'n':
			b = strconv.AppendInt(b, f.n, 10)
		default:
			b = append(b, "true"...)
		}
	}
	return b
}

// asAttrs turns fields into slog attributes, for handlers other than ECS.
func asAttrs(dst []slog.Attr, fields []accessField) []slog.Attr {
	for _, f := range fields {
		switch f.kind {
		case 's':
			dst = append(dst, slog.String(f.key, f.s))
		case 'n':
			dst = append(dst, slog.Int64(f.key, f.n))
		default:
			dst = append(dst, slog.Bool(f.key, true))
		}
	}
	return dst
}

func outcome(status int) string {
	switch {
	case status >= 400:
		return "failure"
	case status > 0:
		return "success"
	}
	return "unknown"
}

func productRef(e *analytics.Event) string {
	if e.ProductName == "" {
		return ""
	}
	return e.ProductName + ":" + e.ProductVersion
}

// LineWriter hands each Write to a goroutine of its own (Run) that writes
// it to the underlying writer, so that the caller never waits for a slow
// reader of the log (a full pipe to a log shipper, say). Write copies
// the line and returns at once; when capacity lines are already waiting,
// the line is dropped and counted instead.
type LineWriter struct {
	w       io.Writer
	lines   chan []byte
	dropped atomic.Uint64
}

// NewLineWriter returns a writer that queues up to capacity lines for w.
// Start Run, or nothing is written.
func NewLineWriter(w io.Writer, capacity int) *LineWriter {
	if capacity < 1 {
		capacity = 1
	}
	return &LineWriter{w: w, lines: make(chan []byte, capacity)}
}

// Write queues a copy of p. It never blocks and never fails.
func (lw *LineWriter) Write(p []byte) (int, error) {
	select {
	case lw.lines <- append([]byte(nil), p...):
	default:
		lw.dropped.Add(1)
	}
	return len(p), nil
}

// Run writes the queued lines until ctx ends, then writes those still
// queued and returns. Lines written after that are queued and lost.
// Lines waiting together go out in one Write of up to batchBytes, which
// saves a system call per line when calls come fast.
func (lw *LineWriter) Run(ctx context.Context) {
	batch := make([]byte, 0, batchBytes)
	for {
		select {
		case line := <-lw.lines:
			batch = lw.flush(lw.gather(append(batch[:0], line...)))
		case <-ctx.Done():
			for {
				batch = lw.flush(lw.gather(batch[:0]))
				if len(lw.lines) == 0 {
					return
				}
			}
		}
	}
}

// batchBytes bounds one Write of Run.
const batchBytes = 64 << 10

// gather appends the lines already queued, up to batchBytes.
func (lw *LineWriter) gather(batch []byte) []byte {
	for len(batch) < batchBytes {
		select {
		case line := <-lw.lines:
			batch = append(batch, line...)
		default:
			return batch
		}
	}
	return batch
}

func (lw *LineWriter) flush(batch []byte) []byte {
	if len(batch) > 0 {
		lw.w.Write(batch)
	}
	return batch[:0]
}

// Dropped is how many lines found the queue full.
func (lw *LineWriter) Dropped() uint64 { return lw.dropped.Load() }

// RegisterAccessLogDrops exposes the access log's dropped lines (read at
// scrape time; dropped must not block) as
// portico_gateway_access_log_dropped_total.
func (m *GatewayMetrics) RegisterAccessLogDrops(dropped func() uint64) error {
	if dropped == nil {
		return errors.New("monitor: RegisterAccessLogDrops needs a count func; pass the LineWriter's Dropped")
	}
	return m.register("access log", prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "portico_gateway_access_log_dropped_total",
		Help: "Access log lines dropped because the log writer was behind.",
	}, func() float64 { return float64(dropped()) }))
}

var _ analytics.Observer = (*AccessLog)(nil)
