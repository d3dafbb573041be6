package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/portico-api/portico/internal/bundle"
)

// ErrOlderVersion is returned (wrapped) by DataDir.Save when the stored
// bundle of the catalog is newer than the one offered.
var ErrOlderVersion = errors.New("a newer version of the catalog is already stored")

// DataDir is where a remote gateway keeps the catalog bundles the manager
// pushed, so that it can serve them after a restart without the manager:
// one file per catalog, <Dir>/<org>/<catalog>.json, mode 0600 since it
// holds secret hashes.
type DataDir struct {
	Dir string

	// mu makes Save's compare-then-replace atomic within the process;
	// share one DataDir per folder.
	mu sync.Mutex
	// write writes data to the temporary file; nil means f.Write. Tests
	// set it to fail a write half way.
	write func(f *os.File, data []byte) error
}

// Path is the file that holds the catalog's bundle.
func (d *DataDir) Path(org, catalog string) string {
	return filepath.Join(d.Dir, org, catalog+".json")
}

// Save stores w atomically: a complete temporary file is renamed over the
// catalog's file, so a crash leaves either the old bundle or the new one.
// It refuses, with an error wrapping ErrOlderVersion, when the stored
// bundle of that catalog has a newer version than w; an equal version is
// replaced. A stored file that cannot be read is replaced.
func (d *DataDir) Save(w *bundle.Wire) error {
	data, err := bundle.Encode(w)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	target := d.Path(w.Org, w.Catalog)
	if old, err := os.ReadFile(target); err == nil {
		if stored, err := bundle.Decode(old); err == nil && stored.Version > w.Version {
			return fmt.Errorf("catalog %s/%s: version %d not saved, %s has version %d: %w",
				w.Org, w.Catalog, w.Version, target, stored.Version, ErrOlderVersion)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("catalog %s/%s: %w", w.Org, w.Catalog, err)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return d.writeAtomic(dir, target, data)
}

func (d *DataDir) writeAtomic(dir, target string, data []byte) (err error) {
	// CreateTemp makes the file 0600. A leading dot keeps Load from
	// reading a leftover after a crash.
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	write := d.write
	if write == nil {
		write = func(f *os.File, data []byte) error { _, err := f.Write(data); return err }
	}
	if err = write(f, data); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, target); err != nil {
		return err
	}
	// Make the rename durable; not every system can sync a directory.
	if df, derr := os.Open(dir); derr == nil {
		_ = df.Sync()
		df.Close()
	}
	return nil
}

// Load reads every saved catalog bundle, in org then catalog order. A
// missing Dir holds none. A file that does not decode, or whose org and
// catalog are not those of its path, is an error naming it.
func (d *DataDir) Load() ([]*bundle.Wire, error) {
	orgs, err := os.ReadDir(d.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*bundle.Wire
	for _, o := range orgs {
		if !o.IsDir() || strings.HasPrefix(o.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(d.Dir, o.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue
			}
			path := filepath.Join(d.Dir, o.Name(), name)
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			w, err := bundle.Decode(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if w.Org != o.Name() || w.Catalog+".json" != name {
				return nil, fmt.Errorf("%s: holds catalog %s/%s, not the one its path names", path, w.Org, w.Catalog)
			}
			out = append(out, w)
		}
	}
	return out, nil
}
