package assembly

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// DefaultMaxBody caps how much of a body the gateway buffers when a policy
// needs to read it. Streams that no policy reads are never buffered.
const DefaultMaxBody = 32 << 20

// ErrBodyTooLarge is returned when a buffered body exceeds its cap.
var ErrBodyTooLarge = errors.New("body exceeds the size limit")

// Body is a message body in one of three forms: an unread stream, raw bytes,
// or a parsed value (JSON-like: map[string]any, []any, string, float64, bool,
// nil). A stream is read at most once; afterwards the bytes are kept, so the
// same Body may be read by several policies. A Body is not safe for
// concurrent use, like the request it belongs to.
type Body struct {
	stream io.ReadCloser
	raw    []byte
	hasRaw bool
	value  any
	parsed bool
	max    int64
}

// StreamBody wraps an unread stream, to be buffered at most max bytes when read.
func StreamBody(r io.ReadCloser, max int64) *Body {
	if max <= 0 {
		max = DefaultMaxBody
	}
	return &Body{stream: r, max: max}
}

// BytesBody is a body of raw bytes.
func BytesBody(b []byte) *Body { return &Body{raw: b, hasRaw: true} }

// ValueBody is a body holding a parsed value.
func ValueBody(v any) *Body { return &Body{value: v, parsed: true} }

// IsStream reports whether the body is still an unread stream, so it can be
// passed on without being buffered.
func (b *Body) IsStream() bool { return b != nil && b.stream != nil }

// IsParsed reports whether the body holds a parsed value.
func (b *Body) IsParsed() bool { return b != nil && b.parsed }

// TakeStream hands over the unread stream (nil if the body was read). The
// body is then empty: use it only when the stream goes straight on to the
// next hop.
func (b *Body) TakeStream() io.ReadCloser {
	if b == nil || b.stream == nil {
		return nil
	}
	s := b.stream
	b.stream = nil
	b.hasRaw = true
	return s
}

// Bytes returns the serialised body, reading and buffering the stream the
// first time.
func (b *Body) Bytes() ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	if b.stream != nil {
		data, err := io.ReadAll(io.LimitReader(b.stream, b.max+1))
		b.stream.Close()
		b.stream = nil
		if err != nil {
			return nil, &Error{Name: RuntimeError, Message: "reading the body failed: " + err.Error(), Cause: err}
		}
		if int64(len(data)) > b.max {
			return nil, &Error{Name: RuntimeError, Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("body larger than %d bytes", b.max), Cause: ErrBodyTooLarge}
		}
		b.raw, b.hasRaw = data, true
		return data, nil
	}
	if b.hasRaw {
		return b.raw, nil
	}
	if b.parsed {
		data, err := marshalValue(b.value)
		if err != nil {
			return nil, err
		}
		b.raw, b.hasRaw = data, true
		return data, nil
	}
	return nil, nil
}

// Value returns the parsed value when the body was parsed, else its text.
// This is what `$(message.body)` and `type: any` see.
func (b *Body) Value() (any, error) {
	if b == nil {
		return nil, nil
	}
	if b.parsed {
		return b.value, nil
	}
	data, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return string(data), nil
}

// Parsed returns the parsed value and whether there is one.
func (b *Body) Parsed() (any, bool) {
	if b == nil || !b.parsed {
		return nil, false
	}
	return b.value, true
}

// Close releases an unread stream.
func (b *Body) Close() {
	if b != nil && b.stream != nil {
		b.stream.Close()
		b.stream = nil
	}
}

// Serialized is a parsed value that keeps its own serialized form, such as
// a parsed XML document: it is written as those bytes, not as JSON.
type Serialized interface {
	Bytes() []byte
}

// Typed is a parsed value that knows its media type; a response whose
// body holds one and has no Content-Type gets it.
type Typed interface {
	ContentType() string
}

func marshalValue(v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(t), nil
	case []byte:
		return t, nil
	case Serialized:
		return t.Bytes(), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &Error{Name: RuntimeError, Message: "serialising the body: " + err.Error(), Cause: err}
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Message is API Connect's message object: headers, body and status. The
// assembly's `message` is one; invoke's `output` variables are others.
type Message struct {
	Headers http.Header
	Body    *Body
	Status  int    // 0 until set: the response then uses 200
	Reason  string // empty means the standard text for Status
}

// StatusCode is the status the message answers with.
func (m *Message) StatusCode() int {
	if m.Status == 0 {
		return http.StatusOK
	}
	return m.Status
}

// StatusReason is the reason phrase the message answers with.
func (m *Message) StatusReason() string {
	if m.Reason != "" {
		return m.Reason
	}
	return http.StatusText(m.StatusCode())
}

// plain turns values that expressions cannot navigate (a parsed XML
// document) into their text.
func plain(v any) any {
	if s, ok := v.(Serialized); ok {
		return string(s.Bytes())
	}
	return v
}

// document renders the message as a JSON-like value for expressions.
func (m *Message) document() map[string]any {
	body, _ := m.Body.Value()
	body = plain(body)
	return map[string]any{
		"headers": headerDoc(m.Headers),
		"body":    body,
		"status":  map[string]any{"code": m.StatusCode(), "reason": m.StatusReason()},
	}
}

func headerDoc(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[lower(k)] = v[0]
		}
	}
	return out
}

// stringify renders a variable's value as text for templates and headers.
func stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case []byte:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case *Message:
		data, _ := t.Body.Bytes()
		return string(data)
	case Serialized:
		return string(t.Bytes())
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// Stringify is stringify for policies.
func Stringify(v any) string { return stringify(v) }
