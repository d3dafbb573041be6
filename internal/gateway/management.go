package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
)

// MaxWireBytes bounds the body of a catalog push.
const MaxWireBytes = 64 << 20

// ManagedSource is the configuration of a managed (remote) gateway: the
// catalog bundles a manager pushes to its management endpoint. Every push
// is compiled together with the other catalogs; a push with problems is
// refused as a whole and the gateway keeps serving what it served. Accepted
// bundles are kept in Data so that a restart serves them without the
// manager.
type ManagedSource struct {
	Data     *DataDir
	Gateway  *Gateway
	Registry *assembly.Registry
	Env      *assembly.Env
	Log      *slog.Logger
	// Analytics, when set, holds the gateway's events until the manager
	// collects them through GET /v1/analytics.
	Analytics *analytics.Buffer
	// OnLoad, when set, is called after every attempt to install a
	// configuration with the version in use and the errors of the attempt.
	OnLoad func(version int64, errs apidef.Problems)

	mu      sync.Mutex
	wires   map[string]*bundle.Wire // by org/catalog
	version int64                   // of the last installed Config
}

func wireKey(org, catalog string) string { return org + "/" + catalog }

// Start loads every catalog saved in Data and serves them. A saved catalog
// with problems is an error: nothing is served.
func (s *ManagedSource) Start(ctx context.Context) error {
	wires, err := s.Data.Load()
	if err != nil {
		return fmt.Errorf("data dir %s: %w", s.Data.Dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wires = make(map[string]*bundle.Wire, len(wires))
	for _, w := range wires {
		s.wires[wireKey(w.Org, w.Catalog)] = w
	}
	if len(wires) > 0 {
		cfg, errs := s.compile(s.wires)
		if len(errs) > 0 {
			s.reject(errs)
			return fmt.Errorf("data dir %s: the saved catalogs have %d problem(s):\n%w", s.Data.Dir, len(errs), errs)
		}
		s.install(cfg)
	}
	s.Log.Info(fmt.Sprintf("serving %d catalogs from the data dir", len(wires)), "catalogs", len(wires), "dir", s.Data.Dir)
	return nil
}

// compile builds the bundles of wires, in org/catalog order, and compiles
// them. It returns the errors; warnings are logged.
func (s *ManagedSource) compile(wires map[string]*bundle.Wire) (*Config, apidef.Problems) {
	keys := make([]string, 0, len(wires))
	for k := range wires {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ps apidef.Problems
	bundles := make([]*bundle.Bundle, 0, len(keys))
	for _, k := range keys {
		b, bps := wires[k].Bundle()
		ps = append(ps, bps...)
		if b != nil {
			bundles = append(bundles, b)
		}
	}
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, errs
	}
	cfg, cps := CompileAll(bundles, s.Registry, s.Env)
	ps = append(ps, cps...)
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, errs
	}
	for _, w := range ps.Warnings() {
		s.Log.Warn("configuration warning", "problem", w.Error(), "file", w.File, "line", w.Line)
	}
	return cfg, nil
}

// install serves cfg; s.mu is held.
func (s *ManagedSource) install(cfg *Config) {
	s.version++
	cfg.Version = s.version
	s.Gateway.Store(cfg)
	if s.OnLoad != nil {
		s.OnLoad(s.version, nil)
	}
}

// reject logs errs; s.mu is held.
func (s *ManagedSource) reject(errs apidef.Problems) {
	for _, p := range errs {
		s.Log.Error("configuration problem", "problem", p.Error(), "file", p.File, "line", p.Line)
	}
	if s.Gateway.Config() != nil {
		s.Log.Error("configuration rejected; still serving the previous one", "problems", len(errs))
	} else {
		s.Log.Error("configuration rejected", "problems", len(errs))
	}
	if s.OnLoad != nil {
		s.OnLoad(s.version, errs)
	}
}

// CatalogStatus is one catalog served.
type CatalogStatus struct {
	Org     string `json:"org"`
	Catalog string `json:"catalog"`
	Version int64  `json:"version"`
}

// Status is what GET /v1/status answers.
type Status struct {
	Catalogs      []CatalogStatus `json:"catalogs"`
	ConfigVersion int64           `json:"config_version"`
}

// Status reports the catalogs served, in org/catalog order.
func (s *ManagedSource) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Catalogs: []CatalogStatus{}, ConfigVersion: s.version}
	for _, w := range s.wires {
		st.Catalogs = append(st.Catalogs, CatalogStatus{Org: w.Org, Catalog: w.Catalog, Version: w.Version})
	}
	sort.Slice(st.Catalogs, func(i, j int) bool {
		a, b := st.Catalogs[i], st.Catalogs[j]
		if a.Org != b.Org {
			return a.Org < b.Org
		}
		return a.Catalog < b.Catalog
	})
	return st
}

// Handler serves the management API:
//
//	PUT    /v1/catalogs/{org}/{catalog}  install a catalog bundle (JSON bundle.Wire)
//	DELETE /v1/catalogs/{org}/{catalog}  stop serving a catalog
//	GET    /v1/status                    the catalogs served and their versions
//	GET    /v1/analytics?boot=B&after=N&limit=L
//	                                     events after N (those up to N are forgotten)
//
// It does not authenticate: serve it behind mutual TLS.
func (s *ManagedSource) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/catalogs/{org}/{catalog}", s.put)
	mux.HandleFunc("DELETE /v1/catalogs/{org}/{catalog}", s.delete)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("GET /v1/analytics", s.analytics)
	return mux
}

type mgmtError struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *ManagedSource) put(w http.ResponseWriter, r *http.Request) {
	org, name := r.PathValue("org"), r.PathValue("catalog")
	body := http.MaxBytesReader(w, r.Body, MaxWireBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, mgmtError{Error: fmt.Sprintf("the catalog bundle is larger than %d bytes", MaxWireBytes)})
			return
		}
		writeJSON(w, http.StatusBadRequest, mgmtError{Error: err.Error()})
		return
	}
	wire, err := bundle.Decode(data)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, mgmtError{Error: err.Error()})
		return
	}
	if wire.Org != org || wire.Catalog != name {
		writeJSON(w, http.StatusBadRequest, mgmtError{Error: fmt.Sprintf("the bundle is catalog %s/%s, the path names %s/%s",
			wire.Org, wire.Catalog, org, name)})
		return
	}
	key := wireKey(org, name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.wires[key]; ok && old.Version > wire.Version {
		s.Log.Warn("catalog push refused: older than the one served", "org", org, "catalog", name,
			"version", wire.Version, "served", old.Version)
		writeJSON(w, http.StatusConflict, mgmtError{Error: fmt.Sprintf("catalog %s/%s: version %d is older than version %d, which is served; not replaced",
			org, name, wire.Version, old.Version)})
		return
	}
	next := make(map[string]*bundle.Wire, len(s.wires)+1)
	for k, v := range s.wires {
		next[k] = v
	}
	next[key] = wire
	cfg, errs := s.compile(next)
	if len(errs) > 0 {
		s.reject(errs)
		msgs := make([]string, len(errs))
		for i, p := range errs {
			msgs[i] = p.Error()
		}
		writeJSON(w, http.StatusUnprocessableEntity, mgmtError{
			Error:    fmt.Sprintf("catalog %s/%s version %d has %d problem(s); still serving the previous configuration", org, name, wire.Version, len(errs)),
			Problems: msgs})
		return
	}
	if err := s.Data.Save(wire); err != nil {
		if errors.Is(err, ErrOlderVersion) {
			writeJSON(w, http.StatusConflict, mgmtError{Error: err.Error()})
			return
		}
		s.Log.Error("catalog not saved", "org", org, "catalog", name, "error", err)
		writeJSON(w, http.StatusInternalServerError, mgmtError{Error: "saving the catalog: " + err.Error()})
		return
	}
	s.wires = next
	s.install(cfg)
	s.Log.Info("catalog installed", "org", org, "catalog", name, "version", wire.Version,
		"config_version", cfg.Version, "apis", len(wire.APIs))
	writeJSON(w, http.StatusOK, map[string]int64{"version": wire.Version, "config_version": cfg.Version})
}

func (s *ManagedSource) delete(w http.ResponseWriter, r *http.Request) {
	org, name := r.PathValue("org"), r.PathValue("catalog")
	key := wireKey(org, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.wires[key]; !ok {
		writeJSON(w, http.StatusNotFound, mgmtError{Error: fmt.Sprintf("catalog %s/%s is not served", org, name)})
		return
	}
	next := make(map[string]*bundle.Wire, len(s.wires))
	for k, v := range s.wires {
		if k != key {
			next[k] = v
		}
	}
	cfg, errs := s.compile(next)
	if len(errs) > 0 { // cannot happen: the others compiled together before
		s.reject(errs)
		writeJSON(w, http.StatusUnprocessableEntity, mgmtError{Error: errs.Error()})
		return
	}
	if err := os.Remove(s.Data.Path(org, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		writeJSON(w, http.StatusInternalServerError, mgmtError{Error: "removing the catalog: " + err.Error()})
		return
	}
	s.wires = next
	s.install(cfg)
	s.Log.Info("catalog removed", "org", org, "catalog", name, "config_version", cfg.Version)
	writeJSON(w, http.StatusOK, map[string]int64{"config_version": cfg.Version})
}

// maxAnalyticsBatch bounds one GET /v1/analytics answer.
const maxAnalyticsBatch = 5000

func (s *ManagedSource) analytics(w http.ResponseWriter, r *http.Request) {
	if s.Analytics == nil {
		writeJSON(w, http.StatusNotFound, mgmtError{Error: "this gateway keeps no analytics for its manager"})
		return
	}
	q := r.URL.Query()
	after, err := strconv.ParseUint(cmp.Or(q.Get("after"), "0"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, mgmtError{Error: "after must be a sequence number (a whole number)"})
		return
	}
	limit, err := strconv.Atoi(cmp.Or(q.Get("limit"), strconv.Itoa(maxAnalyticsBatch)))
	if err != nil || limit < 0 {
		writeJSON(w, http.StatusBadRequest, mgmtError{Error: "limit must be a whole number"})
		return
	}
	writeJSON(w, http.StatusOK, s.Analytics.Since(q.Get("boot"), after, min(limit, maxAnalyticsBatch)))
}
