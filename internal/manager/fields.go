package manager

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// selectFields applies API Connect's ?fields=name,title to an answer: only
// those fields of the object, or of each result of a collection, are kept.
// ?fields=add(a,b) asks for more than the default; the objects already
// carry every field they have (a draft's document included), so it keeps
// them all.
func selectFields(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		spec := r.URL.Query().Get("fields")
		if spec == "" || strings.HasPrefix(spec, "add(") {
			h(w, r)
			return
		}
		keep := map[string]bool{}
		for _, f := range strings.Split(spec, ",") {
			if f = strings.TrimSpace(f); f != "" {
				keep[f] = true
			}
		}
		buf := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		h(buf, r)
		body := buf.body.Bytes()
		var v any
		if buf.status < 300 && json.Unmarshal(body, &v) == nil {
			if filtered, err := json.MarshalIndent(filterFields(v, keep), "", "  "); err == nil {
				body = append(filtered, '\n')
			}
		}
		for k, vs := range buf.header {
			w.Header()[k] = vs
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(buf.status)
		w.Write(body)
	}
}

func filterFields(v any, keep map[string]bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if results, isList := m["results"].([]any); isList {
		for i, item := range results {
			results[i] = filterFields(item, keep)
		}
		return m
	}
	out := make(map[string]any, len(keep))
	for k := range keep {
		if val, ok := m[k]; ok {
			out[k] = val
		}
	}
	return out
}

// bufferedWriter holds an answer so it can be rewritten.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
