package pki_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/cli"
	"github.com/portico-api/portico/internal/pki"
)

func TestCertsInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var out, errOut bytes.Buffer
	code := cli.Main([]string{"certs", "init", dir, "--gateway-host", "gw.internal", "--gateway-host", "10.0.0.7", "--manager-name", "mgr-1"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	modes := map[string]os.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600,
		"gateway.pem": 0o644, "gateway-key.pem": 0o600,
		"manager.pem": 0o644, "manager-key.pem": 0o600,
	}
	read := map[string][]byte{}
	for name, want := range modes {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %04o, want %04o", name, got, want)
		}
		if !strings.Contains(out.String(), path) {
			t.Errorf("output does not name %s:\n%s", path, out.String())
		}
		read[name], _ = os.ReadFile(path)
	}
	for _, want := range []string{
		"--management-listen :9443 --data-dir gateway-data --management-cert " + filepath.Join(dir, "gateway.pem"),
		"--management-client-ca " + filepath.Join(dir, "ca.pem"),
		filepath.Join(dir, "manager-key.pem"),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The files work together.
	if _, err := pki.LoadCA(read["ca.pem"], read["ca-key.pem"]); err != nil {
		t.Error(err)
	}
	if _, err := pki.ServerTLS(read["gateway.pem"], read["gateway-key.pem"], read["ca.pem"]); err != nil {
		t.Error(err)
	}
	if _, err := pki.ClientTLS(read["manager.pem"], read["manager-key.pem"], read["ca.pem"]); err != nil {
		t.Error(err)
	}

	// A second run refuses and leaves the files alone.
	out.Reset()
	errOut.Reset()
	if code := cli.Main([]string{"certs", "init", dir}, &out, &errOut); code != 1 {
		t.Fatalf("second run exit %d, want 1; stderr %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "remove them or use another DIR") {
		t.Errorf("stderr: %s", errOut.String())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem")); !bytes.Equal(again, read["ca-key.pem"]) {
		t.Error("ca-key.pem was overwritten")
	}
}

func TestCertsInitOneFileExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manager.pem"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := cli.Main([]string{"certs", "init", dir}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); !os.IsNotExist(err) {
		t.Errorf("ca.pem written although manager.pem existed: %v", err)
	}
}

func TestCertsInitDefaultsAndUsage(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := cli.Main([]string{"certs", "init", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "localhost, 127.0.0.1, ::1") {
		t.Errorf("default hosts not reported:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"certs", "init"},
		{"certs", "init", t.TempDir(), "--gateway-host", ""},
		{"certs", "init", t.TempDir(), "--manager-name", ""},
		{"certs", "init", t.TempDir(), "--bogus"},
	} {
		errOut.Reset()
		if code := cli.Main(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}
