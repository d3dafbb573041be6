package gateway

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
)

// DirSource loads a Gateway's configuration from a bundle directory and
// reloads it on change. A load with any problem is rejected as a whole: the
// gateway keeps serving the last good configuration.
type DirSource struct {
	Dir      string
	Gateway  *Gateway
	Registry *assembly.Registry
	Env      *assembly.Env
	Log      *slog.Logger
	// Debounce is how long the watcher waits for a burst of file events to
	// end before it reloads (editors write files in several steps).
	Debounce time.Duration
	// OnLoad, when set, is called after every load attempt with the
	// version in use and the errors of the attempt (none when it was
	// installed). Tests and status reporting use it.
	OnLoad func(version int64, errs apidef.Problems)

	mu      sync.Mutex
	version int64
}

// Load reads, compiles and, when there is no error, installs the bundle.
// Warnings are logged and do not stop it. It returns the errors.
func (s *DirSource) Load() apidef.Problems {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := s.load()
	if s.OnLoad != nil {
		s.OnLoad(s.version, errs)
	}
	return errs
}

func (s *DirSource) load() apidef.Problems {
	b, ps := bundle.Load(s.Dir)
	if errs := ps.Errors(); len(errs) > 0 {
		s.reject(errs)
		return errs
	}
	cfg, cps := Compile(b, s.Registry, s.Env)
	ps = append(ps, cps...)
	if errs := ps.Errors(); len(errs) > 0 {
		s.reject(errs)
		return errs
	}
	for _, w := range ps.Warnings() {
		s.Log.Warn("configuration warning", "problem", w.Error(), "file", w.File, "line", w.Line)
	}
	s.version++
	cfg.Version = s.version
	s.Gateway.Store(cfg)
	routes := 0
	for _, a := range cfg.APIs {
		if a.Def.Enforced {
			routes += len(a.Def.Operations)
		}
	}
	s.Log.Info("configuration loaded", "dir", s.Dir, "version", cfg.Version, "org", cfg.Org, "catalog", cfg.Catalog,
		"apis", len(cfg.APIs), "operations", routes)
	return nil
}

func (s *DirSource) reject(ps apidef.Problems) {
	for _, p := range ps {
		s.Log.Error("configuration problem", "problem", p.Error(), "file", p.File, "line", p.Line)
	}
	if s.Gateway.Config() != nil {
		s.Log.Error("configuration rejected; still serving the previous one", "dir", s.Dir, "problems", len(ps))
	} else {
		s.Log.Error("configuration rejected", "dir", s.Dir, "problems", len(ps))
	}
}

// Watch reloads whenever a file below Dir changes, until ctx ends.
func (s *DirSource) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := addTree(w, s.Dir); err != nil {
		return err
	}
	debounce := s.Debounce
	if debounce <= 0 {
		debounce = 150 * time.Millisecond
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					addTree(w, ev.Name)
				}
			}
			if relevant(ev.Name) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.Log.Warn("watching the bundle folder", "error", err)
		case <-timer.C:
			s.Load()
		}
	}
}

func relevant(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") {
		return false
	}
	return apidef.IsDocumentFile(name) || filepath.Ext(name) == ".pem" || filepath.Ext(name) == ""
}

func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return w.Add(path)
		}
		return nil
	})
}
