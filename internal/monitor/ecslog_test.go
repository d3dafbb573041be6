package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

// lines parses every line of buf as a JSON object.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON object: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func TestECSHandlerFields(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewECSHandler(&buf, ECSOptions{Dataset: DatasetGateway}))
	log.Info("configuration loaded", "version", 3, "ok", true, "took", 1500*time.Microsecond,
		slog.Group("http", slog.Group("request", "method", "GET")))
	log.Error("catalog not saved", "error", errors.New("disk full"), "message", "from an attribute")

	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(got), buf.String())
	}
	first := got[0]
	ts, err := time.Parse(time.RFC3339Nano, first["@timestamp"].(string))
	if err != nil || ts.Location() != time.UTC || time.Since(ts) > time.Minute {
		t.Errorf("@timestamp %v: %v", first["@timestamp"], err)
	}
	want := map[string]any{
		"log.level": "info", "message": "configuration loaded", "ecs.version": ECSVersion,
		"service.name": "portico", "event.dataset": DatasetGateway, "log.logger": DatasetGateway,
		"version": 3.0, "ok": true, "took": 1.5e6, "http.request.method": "GET",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v", k, first[k], v)
		}
	}
	second := got[1]
	if second["log.level"] != "error" || second["error.message"] != "disk full" ||
		second["message"] != "catalog not saved" || second["portico.message"] != "from an attribute" {
		t.Errorf("second line: %v", second)
	}
	// The four fields the ecs-logging spec requires come first.
	if !strings.HasPrefix(buf.String(), `{"@timestamp":"`) || !strings.Contains(buf.String(), `"log.level":"info","message":"configuration loaded","ecs.version":"`) {
		t.Errorf("field order: %s", buf.String())
	}
}

func TestECSHandlerDatasetAndGroups(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(NewECSHandler(&buf, ECSOptions{}))
	base.With(Dataset(DatasetManager)).WithGroup("store").With("engine", "sqlite").Info("opened", "tables", 12)
	base.Info("plain")

	got := lines(t, &buf)
	if got[0]["event.dataset"] != DatasetManager || got[0]["log.logger"] != DatasetManager ||
		got[0]["store.engine"] != "sqlite" || got[0]["store.tables"] != 12.0 {
		t.Errorf("derived logger: %v", got[0])
	}
	if got[1]["event.dataset"] != DatasetPortico || got[1]["store.engine"] != nil {
		t.Errorf("the base logger changed: %v", got[1])
	}
	if strings.Count(buf.String(), `"event.dataset"`) != 2 {
		t.Errorf("event.dataset repeated:\n%s", buf.String())
	}
}

func TestECSHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewECSHandler(&buf, ECSOptions{Level: slog.LevelWarn}))
	log.Info("hidden")
	log.Warn("shown")
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["log.level"] != "warn" {
		t.Fatalf("got %v", got)
	}
}

func TestECSHandlerEscapes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewECSHandler(&buf, ECSOptions{}))
	odd := "quote\" backslash\\ newline\n tab\t nul\x00 bad\xff utf8 é 日本"
	log.Info(odd, odd, odd, "nan", 0.0/zero(), "any", map[string]int{"a": 1}, "unjsonable", func() {})
	got := lines(t, &buf)
	if got[0]["message"] != strings.ToValidUTF8(odd, "\uFFFD") {
		t.Errorf("message = %q", got[0]["message"])
	}
	if got[0]["nan"] != "NaN" || got[0]["any"].(map[string]any)["a"] != 1.0 {
		t.Errorf("values: %v", got[0])
	}
	if _, ok := got[0]["unjsonable"].(string); !ok {
		t.Errorf("a func is written as text: %v", got[0]["unjsonable"])
	}
}

func zero() float64 { return 0 }

// TestECSHandlerRedacts checks the guard: values under secret-looking
// keys never reach the line, however they are nested.
func TestECSHandlerRedacts(t *testing.T) {
	const secret = "s3cr3t-value"
	var buf bytes.Buffer
	log := slog.New(NewECSHandler(&buf, ECSOptions{}))
	log.Info("call", "client_secret", secret, "X-IBM-Client-Secret", secret, "api_key", secret,
		"Authorization", "Bearer "+secret, "access_token", secret, "password", secret,
		slog.Group("headers", "Cookie", secret, "Accept", "text/plain"),
		slog.Group("credentials", "id", "app", "value", secret))
	log.With("refresh_token", secret).WithGroup("token").Info("nested", "value", secret)
	log.WithGroup("req").Info("grouped", "apikey", secret, "admin_api_key_file", "/home/admin.apikey")
	log.Info("error", "error", secret) // not a secret name: kept

	out := buf.String()
	if n := strings.Count(out, secret); n != 1 {
		t.Fatalf("the secret appears %d times, want once (the error):\n%s", n, out)
	}
	got := lines(t, &buf)
	for _, k := range []string{"client_secret", "X-IBM-Client-Secret", "api_key", "Authorization", "access_token", "password", "headers.Cookie", "credentials"} {
		if got[0][k] != Redacted {
			t.Errorf("%s = %v, want %s", k, got[0][k], Redacted)
		}
	}
	if got[0]["headers.Accept"] != "text/plain" {
		t.Errorf("an ordinary header was redacted: %v", got[0])
	}
	if got[1]["refresh_token"] != Redacted || got[1]["token.value"] != Redacted {
		t.Errorf("nested: %v", got[1])
	}
	if got[2]["req.apikey"] != Redacted || got[2]["req.admin_api_key_file"] != "/home/admin.apikey" {
		t.Errorf("grouped: %v", got[2])
	}
}

func TestLooksSecret(t *testing.T) {
	for _, k := range []string{"api_key", "APIKey", "secret", "client_secret", "X-IBM-Client-Secret", "password", "token",
		"access_token", "refresh_token", "Authorization", "Proxy-Authorization", "cookie", "Set-Cookie", "x-api-key", "db_password"} {
		if !LooksSecret(k) {
			t.Errorf("%s is not taken for a secret", k)
		}
	}
	for _, k := range []string{"api", "catalog", "transaction_id", "client_id", "tokens", "admin_api_key_file", "secret_hash_algorithm", "error"} {
		if LooksSecret(k) {
			t.Errorf("%s is taken for a secret", k)
		}
	}
}

func TestRedactAttrForText(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: RedactAttr}))
	log.With(Dataset(DatasetManager)).Info("login", "user", "ada", "password", "hunter2",
		slog.Group("authorization", "scheme", "Bearer", "token", "abc"))
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "abc") || strings.Contains(out, "event.dataset") {
		t.Fatalf("text line: %s", out)
	}
	if !strings.Contains(out, "user=ada") || !strings.Contains(out, "password="+Redacted) {
		t.Fatalf("text line: %s", out)
	}
}

func TestRedactQuery(t *testing.T) {
	for raw, want := range map[string]string{
		"":         "",
		"name=Ada": "name=Ada",
		"client_id=abc&client_secret=xyz&name=Ada": "client_id=" + Redacted + "&client_secret=" + Redacted + "&name=Ada",
		"apikey=k1&X-IBM-Client-Id=id":             "apikey=" + Redacted + "&X-IBM-Client-Id=" + Redacted,
		"flag&access_token=t":                      "flag&access_token=" + Redacted,
	} {
		if got := redactQuery(raw); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestECSHandlerSlogtest runs the standard library's handler conformance
// tests, reading the dotted keys back into the nested form they expect.
func TestECSHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := NewECSHandler(&buf, ECSOptions{Level: slog.LevelDebug})
	results := func() []map[string]any {
		var out []map[string]any
		for _, line := range lines(t, &buf) {
			m := map[string]any{}
			for k, v := range line {
				switch k {
				case "@timestamp":
					m[slog.TimeKey] = v
				case "log.level":
					m[slog.LevelKey] = v
				case "message":
					m[slog.MessageKey] = v
				case "ecs.version", "service.name", "event.dataset", "log.logger":
				default:
					nest(m, strings.Split(k, "."), v)
				}
			}
			out = append(out, m)
		}
		return out
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Error(err)
	}
}

func nest(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}
