package manager

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/portico-api/portico/internal/store"
)

// apiVersion is the api_version of every object, as API Connect's.
const apiVersion = "2.0.0"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers in API Connect's error shape:
// {"status": 404, "message": ["…"], "errors": ["…"]}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": status, "message": []string{msg}, "errors": []string{msg}})
}

// internal logs an unexpected error and answers 500 without its details.
func (m *Manager) internal(w http.ResponseWriter, err error) {
	m.log.Error("request failed", "error", err)
	writeError(w, http.StatusInternalServerError, "the manager could not complete the request; see its log")
}

// storeError maps a store error to its answer.
func (m *Manager) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		m.internal(w, err)
	}
}

// listOptions reads ?limit=&offset=.
func listOptions(r *http.Request) (store.ListOptions, error) {
	var o store.ListOptions
	for name, dst := range map[string]*int{"limit": &o.Limit, "offset": &o.Offset} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return o, errors.New(name + " must be a whole number, 0 or more")
			}
			*dst = n
		}
	}
	return o, nil
}

// collection is API Connect's list answer.
func collection[T any](items []T, total int) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"total_results": total, "results": items}
}

// commit runs fn in one transaction and, when it fails, answers the store
// error. It reports whether the transaction committed.
func (m *Manager) commit(w http.ResponseWriter, r *http.Request, fn func(tx store.Tx) error) bool {
	if err := m.st.Tx(r.Context(), fn); err != nil {
		m.storeError(w, err)
		return false
	}
	return true
}
