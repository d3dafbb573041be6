package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/bundle"
)

const ddAPI = "swagger: '2.0'\ninfo: {title: Hello, x-ibm-name: hello, version: 1.0.0}\nbasePath: /hello\npaths: {}\n"

func ddWire(org, catalog string, version int64) *bundle.Wire {
	return &bundle.Wire{Version: version, Org: org, Catalog: catalog,
		APIs: []bundle.WireDoc{{Name: "hello", Version: "1.0.0", Document: []byte(ddAPI)}},
		Consumers: []bundle.WireConsumerOrg{{ID: "c", Name: "c", Apps: []bundle.WireApp{{ID: "a", Name: "a",
			Credentials: []bundle.WireCredential{{ClientID: "id", SecretHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"}}}}}}}
}

func TestDataDirRoundTrip(t *testing.T) {
	d := &DataDir{Dir: filepath.Join(t.TempDir(), "data")}
	if ws, err := d.Load(); err != nil || len(ws) != 0 {
		t.Fatalf("empty dir: %v %v", ws, err)
	}
	for _, w := range []*bundle.Wire{ddWire("beta", "prod", 2), ddWire("alpha", "sandbox", 5), ddWire("alpha", "prod", 1)} {
		if err := d.Save(w); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Org+"/"+w.Catalog)
	}
	if strings.Join(got, " ") != "alpha/prod alpha/sandbox beta/prod" {
		t.Fatalf("loaded %v", got)
	}
	if ws[1].Version != 5 || string(ws[1].APIs[0].Document) != ddAPI || ws[1].Consumers[0].Apps[0].Credentials[0].SecretHash == "" {
		t.Errorf("content not kept: %+v", ws[1])
	}
	if runtime.GOOS != "windows" {
		for _, p := range []string{d.Path("alpha", "prod"), d.Path("alpha", "sandbox"), d.Path("beta", "prod")} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
			}
		}
	}
	// A leftover temp file from a crash is not loaded.
	if err := os.WriteFile(filepath.Join(d.Dir, "alpha", ".prod.json.tmp-123"), []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ws, err := d.Load(); err != nil || len(ws) != 3 {
		t.Errorf("with a leftover temp file: %d, %v", len(ws), err)
	}
}

func TestDataDirRefusesOlder(t *testing.T) {
	d := &DataDir{Dir: t.TempDir()}
	if err := d.Save(ddWire("o", "c", 10)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(d.Path("o", "c"))
	err := d.Save(ddWire("o", "c", 9))
	if !errors.Is(err, ErrOlderVersion) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("saving an older version: %v", err)
	}
	after, _ := os.ReadFile(d.Path("o", "c"))
	if string(before) != string(after) {
		t.Error("the newer file was changed")
	}
	// The same version and newer ones are saved.
	if err := d.Save(ddWire("o", "c", 10)); err != nil {
		t.Errorf("same version: %v", err)
	}
	if err := d.Save(ddWire("o", "c", 11)); err != nil {
		t.Errorf("newer version: %v", err)
	}
	ws, err := d.Load()
	if err != nil || len(ws) != 1 || ws[0].Version != 11 {
		t.Errorf("load: %v %v", ws, err)
	}
}

func TestDataDirFailedWriteKeepsOld(t *testing.T) {
	d := &DataDir{Dir: t.TempDir()}
	if err := d.Save(ddWire("o", "c", 1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(d.Path("o", "c"))

	d.write = func(f *os.File, data []byte) error {
		if _, err := f.Write(data[:len(data)/2]); err != nil {
			return err
		}
		return errors.New("disk full")
	}
	if err := d.Save(ddWire("o", "c", 2)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed write: %v", err)
	}
	after, _ := os.ReadFile(d.Path("o", "c"))
	if string(before) != string(after) {
		t.Error("a failed write changed the stored file")
	}
	entries, _ := os.ReadDir(filepath.Join(d.Dir, "o"))
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %v", entries)
	}
	ws, err := d.Load()
	if err != nil || len(ws) != 1 || ws[0].Version != 1 {
		t.Errorf("load after failed write: %v %v", ws, err)
	}
}

func TestDataDirRejects(t *testing.T) {
	d := &DataDir{Dir: t.TempDir()}
	if err := d.Save(ddWire("..", "c", 1)); err == nil {
		t.Error("saved an org that escapes the data dir")
	}
	// A file whose content is another catalog than its path names.
	if err := os.MkdirAll(filepath.Join(d.Dir, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	data, _ := bundle.Encode(ddWire("y", "c", 1))
	if err := os.WriteFile(filepath.Join(d.Dir, "x", "c.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Load(); err == nil || !strings.Contains(err.Error(), "c.json") {
		t.Errorf("misplaced file: %v", err)
	}
}
