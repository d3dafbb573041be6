package gatewayscript_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/policy/gatewayscript"
)

// e2eAPI is served by a real gateway behind a real HTTP server.
const e2eAPI = `swagger: "2.0"
info:
  title: Scripts
  x-ibm-name: scripts
  version: 1.0.0
basePath: /scripts
paths:
  /transform:
    post:
      operationId: transform
      responses: {"200": {description: ok}}
  /loop:
    get:
      operationId: loop
      responses: {"200": {description: ok}}
  /alloc:
    get:
      operationId: alloc
      responses: {"200": {description: ok}}
  /grow:
    get:
      operationId: grow
      responses: {"200": {description: ok}}
  /denied:
    get:
      operationId: denied
      responses: {"200": {description: ok}}
  /broken:
    get:
      operationId: broken
      responses: {"200": {description: ok}}
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
    - operation-switch:
        version: 2.0.0
        case:
        - operations: [transform]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                context.message.body.readAsJSON(function (error, order) {
                  if (error) {
                    context.reject('BadRequestError', 'the body is not JSON');
                    context.message.statusCode = 400;
                    return;
                  }
                  context.set('order.total', order.items.reduce(function (s, i) { return s + i.price * i.qty; }, 0));
                  context.message.header.set('X-Order-Id', order.id);
                  context.message.statusCode = 201;
                  context.message.body.write({id: order.id, total: context.get('order.total'), currency: 'EUR'});
                });
          - set-variable:
              version: 2.0.0
              actions:
              - set: message.headers.x-total
                value: $(order.total)
        - operations: [loop]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                var n = 0;
                while (true) { n++; }
        - operations: [alloc]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                var s = 'x'.repeat(2e9);
                context.message.body.write(s.length);
        - operations: [grow]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                var s = 'abcd';
                while (true) { s += s; }
        - operations: [denied]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                apim.error('NotEntitled', 403, 'Forbidden', 'user ' + context.get('request.headers.x-user') + ' may not');
        - operations: [broken]
          execute:
          - gatewayscript:
              version: 2.0.0
              source: |
                var order = context.get('no.such.var');
                context.set('id', order.id);
    catch:
    - errors: [NotEntitled]
      execute:
      - gatewayscript:
          version: 2.0.0
          source: |
            context.message.statusCode = context.get('error.status.code');
            context.message.header.set('Content-Type', 'application/json');
            context.message.body.write({error: context.get('error.name'), detail: context.get('error.message')});
`

// serveScripts loads e2eAPI into a gateway, with an engine configured
// through the Env as a gateway would.
func serveScripts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scripts_1.0.0.yaml"), []byte(e2eAPI), 0o644); err != nil {
		t.Fatal(err)
	}
	b, ps := bundle.Load(dir)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("bundle problems:\n%v", errs)
	}
	runtime.GC()
	env := &assembly.Env{}
	gatewayscript.Install(env, gatewayscript.Options{Timeout: time.Second, HeapLimit: heapNow() + 128<<20})
	cfg, ps := gateway.Compile(b, policy.Builtins(), env)
	if len(ps) > 0 {
		t.Fatalf("compile problems:\n%v", ps)
	}
	g := gateway.New(gateway.Options{})
	g.Store(cfg)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL + "/local/sandbox/scripts"
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(data)}
}

const order = `{"id":"o-7","items":[{"price":2.5,"qty":2},{"price":10,"qty":1}]}`

func checkTransform(t *testing.T, r reply) {
	t.Helper()
	if r.status != 201 || r.body != `{"currency":"EUR","id":"o-7","total":15}` {
		t.Fatalf("transform: %d %s", r.status, r.body)
	}
	if r.header.Get("X-Order-Id") != "o-7" || r.header.Get("X-Total") != "15" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("transform headers: %v", r.header)
	}
}

func TestEndToEnd(t *testing.T) {
	base := serveScripts(t)

	t.Run("transform: read JSON, variable, header, status, write JSON", func(t *testing.T) {
		checkTransform(t, do(t, "POST", base+"/transform", order, "Content-Type", "application/json"))
	})
	t.Run("reject with the status the script set", func(t *testing.T) {
		r := do(t, "POST", base+"/transform", "not json")
		if r.status != 400 || !strings.Contains(r.body, "the body is not JSON") {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("apim.error caught by catch", func(t *testing.T) {
		r := do(t, "GET", base+"/denied", "", "X-User", "eve")
		if r.status != 403 || r.body != `{"detail":"user eve may not","error":"NotEntitled"}` {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("runtime error is a JavaScriptError with the line", func(t *testing.T) {
		r := do(t, "GET", base+"/broken", "")
		var e struct{ HTTPCode, MoreInformation string }
		_ = json.Unmarshal([]byte(r.body), &e)
		if r.status != 500 || !strings.Contains(e.MoreInformation, "TypeError") || !strings.Contains(e.MoreInformation, "line 2 of the script, scripts_1.0.0.yaml:") {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("huge allocation is stopped and the gateway goes on", func(t *testing.T) {
		start := time.Now()
		r := do(t, "GET", base+"/alloc", "")
		if r.status != 500 || !strings.Contains(r.body, "String.prototype.repeat") || time.Since(start) > 2*time.Second {
			t.Errorf("got %d %s after %v", r.status, r.body, time.Since(start))
		}
		checkTransform(t, do(t, "POST", base+"/transform", order))
	})
	t.Run("growing memory is stopped by the watchdog or the time limit", func(t *testing.T) {
		r := do(t, "GET", base+"/grow", "")
		if r.status != 500 || !strings.Contains(r.body, "stopped") {
			t.Errorf("got %d %s", r.status, r.body)
		}
		runtime.GC()
		checkTransform(t, do(t, "POST", base+"/transform", order))
	})
	t.Run("endless loop is stopped while other requests are served", func(t *testing.T) {
		var wg sync.WaitGroup
		loop := make(chan reply, 1)
		start := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop <- do(t, "GET", base+"/loop", "")
		}()
		// While the loop runs, ordinary requests are answered promptly.
		time.Sleep(100 * time.Millisecond)
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			checkTransform(t, do(t, "POST", base+"/transform", order))
			if d := time.Since(t0); d > 500*time.Millisecond {
				t.Errorf("a request beside the loop took %v", d)
			}
		}
		wg.Wait()
		r := <-loop
		if r.status != 500 || !strings.Contains(r.body, "time limit") {
			t.Errorf("loop: %d %s", r.status, r.body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the loop was answered after %v with a 1s limit", d)
		}
	})
}
