package gatewayscript_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/policy/gatewayscript"
)

// Helpers: an API is compiled through the real loader and the built-in
// registry, with an engine configured for tests, and run on a real context.

const docHead = `swagger: "2.0"
info:
  title: Script Test
  x-ibm-name: script-test
  version: 1.0.0
basePath: /test
paths:
  /items:
    get:
      operationId: listItems
      responses: {"200": {description: ok}}
    post:
      operationId: createItem
      responses: {"200": {description: ok}}
  /items/{id}:
    get:
      operationId: getItem
      responses: {"200": {description: ok}}
x-ibm-configuration:
  gateway: datapower-api-gateway
  properties:
    greeting:
      value: hello
  assembly:
`

// apiDoc returns an API whose assembly is asm, written from column 0.
func apiDoc(asm string) string {
	return gatewaytest.WithAssembly(docHead, asm)
}

// script is an assembly running one gatewayscript with src.
func script(src string) string {
	return "execute:\n- gatewayscript:\n    version: 2.0.0\n    source: |\n" + indent(src, "      ")
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.Trim(s, "\n"), "\n") {
		if line != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// testOptions keep the memory limits small, so tests of them are quick.
// The time limit is generous: the machine running tests may be busy, and
// tests of the time limit set their own.
func testOptions() gatewayscript.Options {
	return gatewayscript.Options{Timeout: 10 * time.Second, MaxMemory: 8 << 20, MaxInput: 1 << 20}
}

func newEnv(o gatewayscript.Options) *assembly.Env {
	env := &assembly.Env{}
	gatewayscript.Install(env, o)
	return env
}

// compileWith compiles doc, returning the assembly, the API and problems.
func compileWith(t *testing.T, env *assembly.Env, doc string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	return gatewaytest.CompileDoc(t, doc, policy.Builtins(), env, "")
}

// mustCompile compiles an assembly that must have no problems at all.
func mustCompile(t *testing.T, env *assembly.Env, asm string) (*assembly.Assembly, *apidef.API) {
	t.Helper()
	a, api, ps := compileWith(t, env, apiDoc(asm))
	if len(ps) > 0 {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return a, api
}

// logs collects what scripts log.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// request describes a call.
type request struct {
	method, target, body string
	headers              []string // name, value pairs
	log                  *logs
}

func newContext(t testing.TB, api *apidef.API, r request) *assembly.Context {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	if r.target == "" {
		r.target = "/test/items"
	}
	req := gatewaytest.Request(r.method, r.target, r.body, r.headers...)
	req.ContentLength, req.RemoteAddr = int64(len(r.body)), "192.0.2.7:5555"
	if strings.HasPrefix(req.URL.Path, "/test/items/") {
		req.Params = []assembly.Param{{Name: "id", Value: strings.TrimPrefix(req.URL.Path, "/test/items/")}}
	}
	info := gatewaytest.APIInfo(api)
	info.Org, info.Catalog = "acme", "sandbox"
	op := &assembly.OperationInfo{ID: "listItems", Path: "/items", Method: r.method}
	c := assembly.NewContext(context.Background(), req, info, op)
	c.TransactionID = "tx-1"
	if r.log != nil {
		c.Log = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return c
}

// runAsm compiles asm with the test options and runs it once.
func runAsm(t *testing.T, asm string, r request) (*assembly.Context, error) {
	t.Helper()
	return runAsmWith(t, newEnv(testOptions()), asm, r)
}

func runAsmWith(t *testing.T, env *assembly.Env, asm string, r request) (*assembly.Context, error) {
	t.Helper()
	a, api := mustCompile(t, env, asm)
	c := newContext(t, api, r)
	return c, a.Run(c)
}

// mustRun runs asm, which must succeed.
func mustRun(t *testing.T, asm string, r request) *assembly.Context {
	t.Helper()
	c, err := runAsm(t, asm, r)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return c
}

func bodyText(t *testing.T, c *assembly.Context) string {
	t.Helper()
	data, err := c.Message.Body.Bytes()
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return string(data)
}

func varOf(t *testing.T, c *assembly.Context, name string) any {
	t.Helper()
	v, ok := c.Var(name)
	if !ok {
		t.Fatalf("variable %s is not set", name)
	}
	return v
}

func asmError(t *testing.T, err error) *assembly.Error {
	t.Helper()
	var e *assembly.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *assembly.Error, got %T %v", err, err)
	}
	return e
}

// lineOf is the 1-based line of doc holding s.
func lineOf(t *testing.T, doc, s string) int {
	t.Helper()
	for i, line := range strings.Split(doc, "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the document", s)
	return 0
}
