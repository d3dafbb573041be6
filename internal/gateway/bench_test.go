package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/policy"
)

const passThroughAPI = `swagger: '2.0'
info: {title: Pass, x-ibm-name: pass, version: 1.0.0}
basePath: /pass
x-ibm-configuration:
  gateway: datapower-api-gateway
  properties: {target: {value: BACKEND}}
  assembly:
    execute:
      - invoke:
          version: 2.0.0
          target-url: $(target)$(request.path)
paths:
  /items/{id}:
    get:
      responses: {'200': {description: ok}}
`

const pipelineAPI = `swagger: '2.0'
info: {title: Pipe, x-ibm-name: pipe, version: 1.0.0}
basePath: /pipe
x-ibm-configuration:
  gateway: datapower-api-gateway
  properties: {target: {value: BACKEND}}
  assembly:
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - set: message.headers.x-caller
              value: $(request.headers.x-caller)-checked
      - switch:
          version: 2.0.0
          case:
            - condition: $httpVerb() = 'GET' and $operationPath() = '/items/{id}'
              execute:
                - invoke:
                    version: 2.0.0
                    target-url: $(target)/items/$(request.parameters.id)
                - parse:
                    version: 2.0.0
                - set-variable:
                    version: 2.0.0
                    actions:
                      - set: message.headers.x-name
                        value: $(message.body.name)
          otherwise:
            - throw: {version: 2.1.0, name: NoRoute}
paths:
  /items/{id}:
    get:
      responses: {'200': {description: ok}}
`

// benchGateway serves one API against a loopback back end answering a small
// JSON document, and returns the gateway handler to call in-process.
func benchGateway(b *testing.B, api string) http.Handler {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"42","name":"tea","price":3.5,"tags":["green","loose"]}`)
	}))
	b.Cleanup(be.Close)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(strings.Replace(api, "BACKEND", be.URL, 1)), 0o644)
	bd, ps := bundle.Load(dir)
	if len(ps) > 0 {
		b.Fatal(ps)
	}
	cfg, ps := gateway.Compile(bd, policy.Builtins(), &assembly.Env{})
	if len(ps) > 0 {
		b.Fatal(ps)
	}
	g := gateway.New(gateway.Options{})
	g.Store(cfg)
	return g
}

func runBench(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Caller", "bench")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkPassThroughInvoke: route, one invoke, response streamed back.
func BenchmarkPassThroughInvoke(b *testing.B) {
	runBench(b, benchGateway(b, passThroughAPI), "/local/sandbox/pass/items/42")
}

// BenchmarkSetVariableSwitchInvokeParse: the common shape of a real
// assembly.
func BenchmarkSetVariableSwitchInvokeParse(b *testing.B) {
	runBench(b, benchGateway(b, pipelineAPI), "/local/sandbox/pipe/items/42")
}

// BenchmarkRouteNotFound is the cost of the gateway itself without a back
// end: route miss and the error answer.
func BenchmarkRouteNotFound(b *testing.B) {
	h := benchGateway(b, passThroughAPI)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/local/sandbox/none", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}
