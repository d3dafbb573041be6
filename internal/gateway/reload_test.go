package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/policy"
)

const greetAPI = `swagger: '2.0'
info: {title: Greet, x-ibm-name: greet, version: 1.0.0}
basePath: /greet
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - set: message.body
              value: GREETING
              type: string
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`

type loadEvent struct {
	version int64
	errs    apidef.Problems
}

// syncBuffer is a log destination safe for the watcher's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestReloadOnChangeKeepsLastGoodOnError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "greet.yaml")
	write := func(greeting string) {
		if err := os.WriteFile(file, []byte(strings.Replace(greetAPI, "GREETING", greeting, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello")
	logs := &syncBuffer{}
	g := gateway.New(gateway.Options{})
	events := make(chan loadEvent, 8)
	src := &gateway.DirSource{Dir: dir, Gateway: g, Registry: policy.Builtins(), Env: &assembly.Env{},
		Log: slog.New(slog.NewTextHandler(logs, nil)), Debounce: 20 * time.Millisecond,
		OnLoad: func(v int64, errs apidef.Problems) { events <- loadEvent{v, errs} }}
	if errs := src.Load(); len(errs) > 0 {
		t.Fatal(errs)
	}
	<-events
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan error, 1)
	go func() { watching <- src.Watch(ctx) }()

	get := func() string { return call(t, "GET", srv.URL+"/local/sandbox/greet/", "", nil).Body }
	if got := get(); got != "hello" {
		t.Fatalf("before: %q", got)
	}

	// An edit is picked up without a restart. The watcher may see the
	// write as more than one event, so wait for the load that installs it.
	write("bonjour")
	waitFor(t, events, func(e loadEvent) bool { return len(e.errs) == 0 && e.version >= 2 })
	if got := get(); got != "bonjour" {
		t.Fatalf("after an edit: %q", got)
	}

	// A broken edit is rejected with file:line, and the last good one serves.
	os.WriteFile(file, []byte("swagger: '2.0'\ninfo: [broken\n"), 0o644)
	ev := waitFor(t, events, func(e loadEvent) bool { return len(e.errs) > 0 })
	if ev.errs[0].File != file || ev.errs[0].Line == 0 {
		t.Errorf("problem not located: %v", ev.errs[0])
	}
	if got := get(); got != "bonjour" {
		t.Fatalf("after a broken edit: %q, want the last good configuration", got)
	}
	if !strings.Contains(logs.String(), file+":") || !strings.Contains(logs.String(), "still serving the previous one") {
		t.Errorf("log does not name file:line and say the old one serves:\n%s", logs.String())
	}

	// An unknown policy is a load error too, named with its line.
	os.WriteFile(file, []byte(strings.Replace(greetAPI, "set-variable:", "no-such-policy:", 1)), 0o644)
	ev = waitFor(t, events, func(e loadEvent) bool {
		return len(e.errs) > 0 && strings.Contains(e.errs[0].Msg, `"no-such-policy"`)
	})
	if ev.errs[0].Line != 8 {
		t.Errorf("unknown policy at line %d, want 8", ev.errs[0].Line)
	}
	cancel()
	if err := <-watching; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, events <-chan loadEvent, ok func(loadEvent) bool) loadEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatal("no matching reload within 10s")
		}
	}
}

func TestInFlightRequestFinishesOnOldConfig(t *testing.T) {
	be := newBackend(t)
	release := make(chan struct{})
	arrived := make(chan struct{})
	slow := httptest.NewServer(httpHandlerFunc(func() {
		close(arrived)
		<-release
	}))
	defer slow.Close()
	dir := t.TempDir()
	api := func(target string) string {
		step := "- set-variable:\n          version: 2.0.0\n          actions:\n            - set: message.body\n              value: GREETING\n              type: string"
		return strings.Replace(greetAPI, step, "- invoke: {version: 2.0.0, target-url: '"+target+"'}", 1)
	}
	os.WriteFile(filepath.Join(dir, "greet.yaml"), []byte(api(slow.URL)), 0o644)
	g := gateway.New(gateway.Options{})
	src := &gateway.DirSource{Dir: dir, Gateway: g, Registry: policy.Builtins(), Env: &assembly.Env{}, Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	if errs := src.Load(); len(errs) > 0 {
		t.Fatal(errs)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	done := make(chan result, 1)
	go func() { done <- call(t, "GET", srv.URL+"/local/sandbox/greet/", "", nil) }()
	<-arrived
	os.WriteFile(filepath.Join(dir, "greet.yaml"), []byte(api(be.URL+"/echo")), 0o644)
	if errs := src.Load(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if r := call(t, "GET", srv.URL+"/local/sandbox/greet/", "", nil); !strings.Contains(r.Body, `"method":"GET"`) {
		t.Fatalf("new requests use the new configuration: %d %s", r.Status, r.Body)
	}
	close(release)
	if r := <-done; r.Status != 200 || r.Body != "slow" {
		t.Fatalf("the in-flight request must finish on the old configuration: %d %q", r.Status, r.Body)
	}
}

// httpHandlerFunc answers "slow" after wait returns.
func httpHandlerFunc(wait func()) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wait()
		w.Write([]byte("slow"))
	}
}
