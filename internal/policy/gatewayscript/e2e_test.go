package gatewayscript_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
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
	dir := gatewaytest.WriteFiles(t, map[string]string{"scripts_1.0.0.yaml": e2eAPI})
	runtime.GC()
	env := &assembly.Env{}
	gatewayscript.Install(env, gatewayscript.Options{Timeout: time.Second, HeapLimit: heapNow() + 128<<20})
	cfg, ps := gatewaytest.Compile(t, dir, policy.Builtins(), env)
	if len(ps) > 0 {
		t.Fatalf("compile problems:\n%v", ps)
	}
	return gatewaytest.ServeConfig(t, cfg, gateway.Options{}).URL + "/local/sandbox/scripts"
}

const order = `{"id":"o-7","items":[{"price":2.5,"qty":2},{"price":10,"qty":1}]}`

func checkTransform(t *testing.T, r gatewaytest.Response) {
	t.Helper()
	if r.Status != 201 || r.Body != `{"currency":"EUR","id":"o-7","total":15}` {
		t.Fatalf("transform: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-Order-Id") != "o-7" || r.Header.Get("X-Total") != "15" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("transform headers: %v", r.Header)
	}
}

func TestEndToEnd(t *testing.T) {
	base := serveScripts(t)

	t.Run("transform: read JSON, variable, header, status, write JSON", func(t *testing.T) {
		checkTransform(t, gatewaytest.Call(t, "POST", base+"/transform", order, "Content-Type", "application/json"))
	})
	t.Run("reject with the status the script set", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", base+"/transform", "not json")
		if r.Status != 400 || !strings.Contains(r.Body, "the body is not JSON") {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("apim.error caught by catch", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", base+"/denied", "", "X-User", "eve")
		if r.Status != 403 || r.Body != `{"detail":"user eve may not","error":"NotEntitled"}` {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("runtime error is a JavaScriptError with the line", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", base+"/broken", "")
		var e struct{ HTTPCode, MoreInformation string }
		_ = json.Unmarshal([]byte(r.Body), &e)
		if r.Status != 500 || !strings.Contains(e.MoreInformation, "TypeError") || !strings.Contains(e.MoreInformation, "line 2 of the script, scripts_1.0.0.yaml:") {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("huge allocation is stopped and the gateway goes on", func(t *testing.T) {
		start := time.Now()
		r := gatewaytest.Call(t, "GET", base+"/alloc", "")
		if r.Status != 500 || !strings.Contains(r.Body, "String.prototype.repeat") || time.Since(start) > 2*time.Second {
			t.Errorf("got %d %s after %v", r.Status, r.Body, time.Since(start))
		}
		checkTransform(t, gatewaytest.Call(t, "POST", base+"/transform", order))
	})
	t.Run("growing memory is stopped by the watchdog or the time limit", func(t *testing.T) {
		r := gatewaytest.Call(t, "GET", base+"/grow", "")
		if r.Status != 500 || !strings.Contains(r.Body, "stopped") {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
		runtime.GC()
		checkTransform(t, gatewaytest.Call(t, "POST", base+"/transform", order))
	})
	t.Run("endless loop is stopped while other requests are served", func(t *testing.T) {
		var wg sync.WaitGroup
		loop := make(chan gatewaytest.Response, 1)
		start := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop <- gatewaytest.Call(t, "GET", base+"/loop", "")
		}()
		// While the loop runs, ordinary requests are answered promptly.
		time.Sleep(100 * time.Millisecond)
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			checkTransform(t, gatewaytest.Call(t, "POST", base+"/transform", order))
			if d := time.Since(t0); d > 500*time.Millisecond {
				t.Errorf("a request beside the loop took %v", d)
			}
		}
		wg.Wait()
		r := <-loop
		if r.Status != 500 || !strings.Contains(r.Body, "time limit") {
			t.Errorf("loop: %d %s", r.Status, r.Body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the loop was answered after %v with a 1s limit", d)
		}
	})
}
