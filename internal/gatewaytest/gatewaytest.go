// Package gatewaytest is test support only: it serves API files through a
// real gateway over HTTP, calls it, and compiles and runs single API
// documents, for the tests of the gateway and of the policies.
//
// It takes the policy registry as an argument and does not import
// internal/policy, so that package's own tests can use it.
package gatewaytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
)

// WriteFiles writes files (name → content) to a new temporary folder of
// the test and returns the folder.
func WriteFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Compile loads the bundle in dir and compiles it with reg in env, failing
// the test on errors of the bundle. It returns the problems of compiling.
func Compile(t testing.TB, dir string, reg *assembly.Registry, env *assembly.Env) (*gateway.Config, apidef.Problems) {
	t.Helper()
	b, ps := bundle.Load(dir)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("bundle problems:\n%v", errs)
	}
	return gateway.Compile(b, reg, env)
}

// ServeConfig serves cfg through a gateway with opts behind an HTTP test
// server, closed when the test ends.
func ServeConfig(t testing.TB, cfg *gateway.Config, opts gateway.Options) *httptest.Server {
	t.Helper()
	g := gateway.New(opts)
	g.Store(cfg)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

// Serve loads the bundle in dir, compiles it with reg in env, failing the
// test on errors, and serves it (ServeConfig).
func Serve(t testing.TB, dir string, reg *assembly.Registry, env *assembly.Env, opts gateway.Options) *httptest.Server {
	t.Helper()
	cfg, ps := Compile(t, dir, reg, env)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("compile problems:\n%v", errs)
	}
	return ServeConfig(t, cfg, opts)
}

// ServeFiles writes files (name → content) to a temporary folder and
// serves it (Serve).
func ServeFiles(t testing.TB, files map[string]string, reg *assembly.Registry, env *assembly.Env, opts gateway.Options) *httptest.Server {
	t.Helper()
	return Serve(t, WriteFiles(t, files), reg, env, opts)
}

// Response is a response read in full.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Call sends one request and reads its response; headers are name, value
// pairs, added in order.
func Call(t testing.TB, method, url, body string, headers ...string) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

// DocFile is the file name CompileDoc and LoadDoc give a document, which
// problems report.
const DocFile = "test.yaml"

// LoadDoc parses doc (as DocFile) and loads its API, failing the test on a
// parse error or errors of loading. It returns all problems of loading.
func LoadDoc(t testing.TB, doc string) (*apidef.API, apidef.Problems) {
	t.Helper()
	d, err := apidef.Parse(DocFile, []byte(doc))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	api, ps := apidef.LoadAPI(d)
	if len(ps.Errors()) > 0 {
		t.Fatalf("load: %v", ps)
	}
	return api, ps
}

// CompileDoc loads doc (LoadDoc) and compiles its assembly with reg in env
// (nil: a fresh one), files relative to dir. It returns the problems of
// compiling.
func CompileDoc(t testing.TB, doc string, reg *assembly.Registry, env *assembly.Env, dir string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	api, _ := LoadDoc(t, doc)
	a, ps := assembly.CompileAPI(reg, api, env, dir)
	return a, api, ps
}

// Request makes the assembly request of method to target (a path, or an
// absolute URL) with body; headers are name, value pairs.
func Request(method, target, body string, headers ...string) *assembly.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return &assembly.Request{
		Method:  r.Method,
		URL:     r.URL,
		Host:    r.Host,
		Scheme:  "http",
		Headers: r.Header,
		Body:    assembly.StreamBody(io.NopCloser(strings.NewReader(body)), 0),
	}
}

// APIInfo describes api to an assembly: name, version, title, base path
// and properties.
func APIInfo(api *apidef.API) *assembly.APIInfo {
	info := &assembly.APIInfo{Name: api.Name, Version: api.Version, Title: api.Title, BasePath: api.BasePath,
		Properties: map[string]*assembly.Template{}}
	for k, v := range api.Properties {
		info.Properties[k] = assembly.MustTemplate(v)
	}
	return info
}

// NewContext makes the context of a request to api (Request, APIInfo).
// The operation is found by method and path, as routing would.
func NewContext(t testing.TB, api *apidef.API, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	req := Request(method, target, body, headers...)
	path := strings.TrimPrefix(req.URL.Path, api.BasePath)
	var op *assembly.OperationInfo
	for _, o := range api.Operations {
		if o.Method == method && pathMatches(o.Path, path) {
			op = &assembly.OperationInfo{ID: o.ID, Path: o.Path, Method: o.Method}
			break
		}
	}
	return assembly.NewContext(context.Background(), req, APIInfo(api), op)
}

var paramSeg = regexp.MustCompile(`^\{[^}]+\}$`)

func pathMatches(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && !paramSeg.MatchString(ts[i]) {
			return false
		}
	}
	return true
}

// WithAssembly returns head, an API document ending in
// "  assembly:\n", followed by asm (written from column 0: `execute:` …)
// indented under it.
func WithAssembly(head, asm string) string {
	var b strings.Builder
	b.WriteString(head)
	for _, line := range strings.Split(strings.Trim(asm, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("    ")
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
