package cli

import (
	"bytes"
	"strings"
	"testing"
)

// A bad --analytics-retention is a usage error (exit 2) that says what to
// give; the flag is on both commands that run a manager.
func TestAnalyticsRetentionFlag(t *testing.T) {
	for _, cmd := range []string{"manager", "up"} {
		for _, v := range []string{"-1h", "30d", "soon"} {
			var out, errOut bytes.Buffer
			code := Main([]string{cmd, "--analytics-retention", v}, &out, &errOut)
			if code != exitUsage || !strings.Contains(errOut.String(), "--analytics-retention") || !strings.Contains(errOut.String(), "720h") {
				t.Errorf("%s --analytics-retention %s: exit %d, %q", cmd, v, code, errOut.String())
			}
		}
		var out, errOut bytes.Buffer
		if code := Main([]string{cmd, "--help"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "--analytics-retention duration") ||
			!strings.Contains(out.String(), "(default 720h0m0s)") {
			t.Errorf("%s --help: exit %d, %s", cmd, code, out.String())
		}
	}
	var r retention
	for in, want := range map[string]string{"0": "0s", "90m": "1h30m0s", "720h": "720h0m0s"} {
		if err := r.Set(in); err != nil || r.String() != want {
			t.Errorf("Set(%q) = %v, %s; want %s", in, err, r.String(), want)
		}
	}
}
