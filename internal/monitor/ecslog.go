package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// ECSVersion is the version of the Elastic Common Schema the JSON log
// lines follow, in the x.y.z form the ecs-logging libraries write.
const ECSVersion = "8.11.0"

// Datasets name the part of Portico a line comes from, in event.dataset
// and log.logger.
const (
	DatasetPortico = "portico"
	DatasetManager = "portico.manager"
	DatasetGateway = "portico.gateway"
	DatasetAccess  = "portico.access"
)

// datasetKey is the attribute Dataset makes.
const datasetKey = "event.dataset"

// Dataset is an attribute for slog.Logger.With that sets the event.dataset
// (and log.logger) of the lines logged through the new logger, instead of
// adding a second event.dataset field.
func Dataset(name string) slog.Attr { return slog.String(datasetKey, name) }

// ECSOptions configure NewECSHandler.
type ECSOptions struct {
	Level   slog.Leveler // minimum level; default info
	Service string       // service.name; default "portico"
	Dataset string       // event.dataset and log.logger; default "portico"
}

// ecsReserved are the fields the handler writes itself. An attribute
// with one of these names is written as portico.<name> instead, so that
// no line holds a key twice (the gateway logs a "message" attribute, for
// one).
var ecsReserved = map[string]bool{
	"@timestamp": true, "log.level": true, "message": true, "ecs.version": true,
	"service.name": true, datasetKey: true, "log.logger": true,
}

// ECSHandler writes each record as one JSON object on a line, with the
// fields the ecs-logging spec requires (@timestamp, log.level, message,
// ecs.version) first, then service.name, event.dataset and log.logger,
// then the attributes. A record without a time (made by hand: a Logger
// always sets one) has no @timestamp, as slog's handler rules ask. Keys are flat and dotted: a slog group "http" with
// an attribute "method" becomes "http.method". An attribute named
// "error" becomes "error.message". Values of attributes whose names look
// secret (see LooksSecret) are written as "[REDACTED]".
type ECSHandler struct {
	mu      *sync.Mutex // shared by the handlers derived with With*
	w       io.Writer
	level   slog.Leveler
	head    []byte // `,"ecs.version":…,"log.logger":…` for this dataset
	attrs   []byte // attributes from WithAttrs, each as `,"key":value`
	prefix  string // open groups, "a.b."
	redact  bool   // inside a group whose name looks secret
	service string
	secret  *keyCache
}

// NewECSHandler returns a handler that writes ECS JSON lines to w. Each
// line is written with one Write call.
func NewECSHandler(w io.Writer, o ECSOptions) *ECSHandler {
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.Service == "" {
		o.Service = DatasetPortico
	}
	if o.Dataset == "" {
		o.Dataset = DatasetPortico
	}
	h := &ECSHandler{mu: new(sync.Mutex), w: w, level: o.Level, service: o.Service, secret: new(keyCache)}
	h.head = h.makeHead(o.Dataset)
	return h
}

func (h *ECSHandler) makeHead(dataset string) []byte {
	var b []byte
	b = append(b, `,"ecs.version":"`+ECSVersion+`","service.name":`...)
	b = appendJSONString(b, h.service)
	b = append(b, `,"event.dataset":`...)
	b = appendJSONString(b, dataset)
	b = append(b, `,"log.logger":`...)
	return appendJSONString(b, dataset)
}

// Enabled implements slog.Handler.
func (h *ECSHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle implements slog.Handler.
func (h *ECSHandler) Handle(_ context.Context, r slog.Record) error {
	return h.write(r.Time, r.Level, r.Message, func(b []byte) []byte {
		r.Attrs(func(a slog.Attr) bool {
			b = h.appendAttr(b, h.prefix, h.redact, a)
			return true
		})
		return b
	})
}

// write writes one line: the ECS fields, the handler's own attributes,
// then what body appends (each field as `,"key":value`).
func (h *ECSHandler) write(t time.Time, level slog.Level, msg string, body func([]byte) []byte) error {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, '{')
	if !t.IsZero() { // slog's rule; a Logger always sets it
		b = append(b, `"@timestamp":"`...)
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"log.level":`...)
	b = appendJSONString(b, strings.ToLower(level.String()))
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, h.head...)
	b = append(b, h.attrs...)
	b = body(b)
	b = append(b, "}\n"...)
	h.mu.Lock()
	_, err := h.w.Write(b)
	h.mu.Unlock()
	if cap(b) <= 64<<10 { // keep the pool from holding on to huge lines
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// WithAttrs implements slog.Handler. Dataset, outside any group, sets the
// line's event.dataset instead of adding an attribute.
func (h *ECSHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		if h.prefix == "" && a.Key == datasetKey && a.Value.Kind() == slog.KindString {
			h2.head = h2.makeHead(a.Value.String())
			continue
		}
		h2.attrs = h2.appendAttr(h2.attrs, h.prefix, h.redact, a)
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *ECSHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	h2.redact = h.redact || LooksSecret(name)
	return &h2
}

// appendAttr writes `,"prefix+key":value` (or a group's attributes).
func (h *ECSHandler) appendAttr(b []byte, prefix string, redact bool, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) || (v.Kind() == slog.KindGroup && len(v.Group()) == 0) {
		return b // slog's rules: no empty attrs, no empty groups
	}
	redact = redact || h.secret.looksSecret(a.Key)
	if v.Kind() == slog.KindGroup && !redact {
		p := prefix
		if a.Key != "" { // an unnamed group's attributes are inlined
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			b = h.appendAttr(b, p, false, ga)
		}
		return b
	}
	b = append(b, ',')
	b = appendJSONString(b, fieldName(prefix, a.Key))
	b = append(b, ':')
	if redact {
		return appendJSONString(b, Redacted)
	}
	return appendValue(b, v)
}

// fieldName is the dotted key; "error" is ECS's error.message, and the
// handler's own fields are not repeated.
func fieldName(prefix, key string) string {
	name := prefix + key
	switch {
	case name == "error":
		return "error.message"
	case ecsReserved[name]:
		return "portico." + name
	}
	return name
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) { // not numbers in JSON
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration: // nanoseconds, as ECS's event.duration
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	return appendAny(b, v.Any())
}

// appendAny writes an error as its message, a json.Marshaler or plain
// data as JSON, and anything JSON cannot take as its %+v text.
func appendAny(b []byte, x any) []byte {
	switch x := x.(type) {
	case nil:
		return append(b, "null"...)
	case error:
		return appendJSONString(b, x.Error())
	case fmt.Stringer:
		if _, isJSON := x.(json.Marshaler); !isJSON {
			return appendJSONString(b, x.String())
		}
	}
	data, err := json.Marshal(x)
	if err != nil {
		return appendJSONString(b, fmt.Sprintf("%+v", x))
	}
	return append(b, data...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, so a line is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// keyCache remembers LooksSecret's answers. Attribute keys are nearly
// all constants in the code, so a few hundred entries cover them; past
// keyCacheMax (keys made from data, say) answers are computed each time.
type keyCache struct {
	m sync.Map // string → bool
	n atomic.Int32
}

const keyCacheMax = 1024

func (c *keyCache) looksSecret(key string) bool {
	if v, ok := c.m.Load(key); ok {
		return v.(bool)
	}
	secret := LooksSecret(key)
	if c.n.Load() < keyCacheMax {
		if _, loaded := c.m.LoadOrStore(key, secret); !loaded {
			c.n.Add(1)
		}
	}
	return secret
}

var _ slog.Handler = (*ECSHandler)(nil)
