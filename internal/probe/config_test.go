package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "probe.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestLoadGoodConfig(t *testing.T) {
	file := writeConfig(t, `
interval: 1m
timeout: 2s
checks:
  - name: home
    url: https://www.example.com/
  - name: api
    scheme: http
    port: 8080
    path: /health?deep=1
    hosts: [a.example.com, 10.0.0.7:9000]
    method: post
    headers: {X-IBM-Client-Id: abc, Host: api.example.com}
    body: '{}'
    expect_status: [2xx, 301, 400-404]
    body_match: '"status": *"ok"'
    body_not_match: error
    timeout: 500ms
    interval: 10
  - name: edge
    dns: edge.example.com
    tls: {insecure_skip_verify: true, server_name: edge.internal}
`)
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 3 {
		t.Fatalf("%d checks", len(cfg.Checks))
	}
	home, api, edge := cfg.Checks[0], cfg.Checks[1], cfg.Checks[2]
	if home.URL.Host != "www.example.com" || home.Interval != time.Minute || home.Timeout != 2*time.Second || home.Method != "GET" ||
		home.Expect.String() != "2xx" {
		t.Errorf("home: %+v", home)
	}
	if api.Method != "POST" || api.Host != "api.example.com" || api.Header.Get("X-IBM-Client-Id") != "abc" || api.Header.Get("Host") != "" ||
		api.Timeout != 500*time.Millisecond || api.Interval != 10*time.Second || api.Expect.String() != "2xx, 301, 400-404" ||
		!api.Expect.Has(404) || api.Expect.Has(302) || api.Match == nil || api.NoMatch == nil {
		t.Errorf("api: %+v", api)
	}
	ts, _, err := api.targets(t.Context(), nil)
	if err != nil || len(ts) != 2 || ts[0].URL != "http://a.example.com:8080/health?deep=1" || ts[1].URL != "http://10.0.0.7:9000/health?deep=1" ||
		ts[1].Host != "10.0.0.7:9000" {
		t.Errorf("api targets: %+v %v", ts, err)
	}
	if edge.Scheme != "https" || edge.DNS != "edge.example.com" || !edge.TLS.InsecureSkipVerify || edge.TLS.Config().ServerName != "edge.internal" {
		t.Errorf("edge: %+v", edge)
	}
}

// Every problem is reported with file:line and the field, and what to do.
func TestLoadReportsEveryProblemWithItsLine(t *testing.T) {
	file := writeConfig(t, `checks:
  - name: ok
    url: http://example.com/
  - name: bad name
    url: ftp://example.com/
  - name: two
    url: http://example.com/
    hosts: [a]
  - name: slow
    url: http://example.com/
    timeout: 1m
    interval: 10s
    expect_status: [2xx, 700]
    body_match: '('
    colour: blue
  - name: ok
    hosts: [a, 'b c']
    dns: x.example.com
  - name: tls-on-http
    url: http://example.com/
    tls: {ca_file: missing.pem, cert_file: c.pem}
  - name: nothing
    timeout: soon
`)
	_, err := Load(file)
	if err == nil {
		t.Fatal("loaded a bad file")
	}
	msg := err.Error()
	for _, want := range []string{
		file + `:4:11: checks[1].name: name "bad name" is missing or not a simple name`,
		file + `:5:10: checks[1].url: url "ftp://example.com/" is not an http or https URL`,
		file + `:8:12: checks[2].hosts: url and hosts are exclusive`,
		file + `:11:14: checks[3].timeout: timeout 1m0s is longer than interval 10s`,
		file + `:13:26: checks[3].expect_status[1]: "700" is not a status`,
		file + `:14:17: checks[3].body_match: not a regular expression`,
		file + `:15:5: checks[3].colour: unknown field "colour"`,
		file + `:18:10: checks[4].dns: hosts and dns are exclusive`,
		file + `:21:20: checks[5].tls.ca_file: open `,
		file + `:21:44: checks[5].tls.cert_file: cert_file and key_file go together`,
		file + `:21:10: checks[5].tls: tls settings on a check that does not use https`,
		file + `:23:14: checks[6].timeout: "soon" is not a positive duration`,
		`checks[6]: the check says nothing to probe`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
}

func TestLoadSyntaxAndEmpty(t *testing.T) {
	file := writeConfig(t, "checks:\n  - name: a\n    url: [unclosed\n")
	_, err := Load(file)
	if err == nil || !strings.HasPrefix(err.Error(), file+":") || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("syntax error: %v", err)
	}
	for text, want := range map[string]string{"": "the file is empty", "checks: []\n": "no checks", "- a\n": "not a mapping"} {
		if _, err := Load(writeConfig(t, text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string][2]int{"200": {200, 200}, "2xx": {200, 299}, "5XX": {500, 599}, "200-204": {200, 204}} {
		lo, hi, ok := ParseStatus(in)
		if !ok || lo != want[0] || hi != want[1] {
			t.Errorf("%q: %d %d %v", in, lo, hi, ok)
		}
	}
	for _, bad := range []string{"", "6xx", "99", "600", "204-200", "2x", "abc"} {
		if _, _, ok := ParseStatus(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
