package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProbeAndGraphiteFlagErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "probe.yaml")
	os.WriteFile(bad, []byte("checks:\n  - {name: a, url: 'ftp://x/'}\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"probe"}, exitUsage, "--config FILE is required"},
		{[]string{"probe", "--config", bad, "--once", "--listen", ":0"}, exitUsage, "--listen and --once are exclusive"},
		{[]string{"probe", "--config", bad, "--graphite", "graphite"}, exitUsage, `--graphite "graphite": write host:port`},
		{[]string{"probe", "--config", bad, "--graphite", "g:2003", "--graphite-prefix", "a..b"}, exitUsage, "--graphite-prefix"},
		{[]string{"probe", "--config", bad}, exitFail, bad + `:2:20: checks[0].url: url "ftp://x/" is not an http or https URL`},
		{[]string{"probe", "--config", filepath.Join(t.TempDir(), "none.yaml")}, exitFail, "no such file"},
		{[]string{"gateway", "--bundle", t.TempDir(), "--admin-listen", "", "--listen", "127.0.0.1:0", "--graphite", "g:99999"}, exitUsage, "write host:port"},
		{[]string{"gateway", "--bundle", t.TempDir(), "--admin-listen", "", "--listen", "127.0.0.1:0", "--graphite", "g:2003",
			"--graphite-interval", "0s"}, exitUsage, "--graphite-interval 0s"},
	} {
		var out, errb bytes.Buffer
		code := Main(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("portico %s: exit %d, stderr:\n%s\nwant exit %d and %q", strings.Join(tc.args, " "), code, errb.String(), tc.code, tc.want)
		}
	}
}
