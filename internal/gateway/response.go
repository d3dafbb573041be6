package gateway

import (
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/portico-api/portico/internal/assembly"
)

// writeAPIError answers in API Connect's error shape:
// {"httpCode":"404","httpMessage":"Not Found","moreInformation":"…"}.
func writeAPIError(w http.ResponseWriter, status int, reason, info string) {
	if reason == "" {
		reason = http.StatusText(status)
	}
	body := make([]byte, 0, 96+len(info))
	body = append(body, `{"httpCode":"`...)
	body = strconv.AppendInt(body, int64(status), 10)
	body = append(body, `","httpMessage":`...)
	body = strconv.AppendQuote(body, reason)
	body = append(body, `,"moreInformation":`...)
	body = strconv.AppendQuote(body, info)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// responseHop are headers of the message that are not copied to the client
// response: net/http manages them.
var responseHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeMessage sends the final message as the response. A body that no
// policy read is streamed straight through with its original length.
//
// When no back end answered, the message still carries the request's
// headers; those are not echoed to the client (they may hold credentials),
// only headers a policy set or changed are sent.
func writeMessage(w http.ResponseWriter, m *assembly.Message, reqHeaders http.Header, head bool) error {
	h := w.Header()
	for k, vs := range m.Headers {
		if responseHop[k] || sameValues(reqHeaders[k], vs) {
			continue
		}
		h[k] = vs
	}
	if m.Body.IsStream() {
		w.WriteHeader(m.StatusCode())
		if head {
			return nil
		}
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		_, err := io.CopyBuffer(w, m.Body.TakeStream(), *buf)
		return err
	}
	data, err := m.Body.Bytes()
	if err != nil {
		return err
	}
	if v, ok := m.Body.Parsed(); ok && h.Get("Content-Type") == "" {
		ct := "application/json"
		if t, typed := v.(assembly.Typed); typed {
			ct = t.ContentType()
		}
		h.Set("Content-Type", ct)
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(m.StatusCode())
	if head {
		return nil
	}
	_, err = w.Write(data)
	return err
}

func sameValues(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
