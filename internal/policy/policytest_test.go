package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// Helpers shared by the tests of set-variable, parse, throw, log, switch,
// operation-switch and if: an API is compiled through the real loader and run
// on a real context.

// testDocHead is the API every test assembly runs in. Its assembly is
// appended, indented under x-ibm-configuration.assembly.
const testDocHead = `swagger: "2.0"
info:
  title: Policy Test
  x-ibm-name: policy-test
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
    delete:
      responses: {"200": {description: ok}}
x-ibm-configuration:
  gateway: GATEWAY
  properties:
    greeting:
      value: hello
  assembly:
`

// testAPIDoc returns an API document whose assembly is asm (written from column
// 0: `execute:` …) on the given gateway type ("" leaves gateway unset).
func testAPIDoc(gateway, asm string) string {
	head := testDocHead
	if gateway == "" {
		head = strings.Replace(head, "  gateway: GATEWAY\n", "", 1)
	} else {
		head = strings.Replace(head, "GATEWAY", gateway, 1)
	}
	return gatewaytest.WithAssembly(head, asm)
}

// lineOf is the 1-based line of the first line of doc's assembly containing
// s.
func lineOf(t testing.TB, doc, s string) int {
	t.Helper()
	inAssembly := false
	for i, line := range strings.Split(doc, "\n") {
		if line == "  assembly:" {
			inAssembly = true
		}
		if inAssembly && strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the document", s)
	return 0
}

// compileTestDoc loads doc and compiles its assembly with the built-in policies.
func compileTestDoc(t testing.TB, doc string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	return compileTestDocIn(t, doc, "")
}

// compileTestDocIn is compileTestDoc with files relative to dir. Loading
// must have no problem at all, not even a warning.
func compileTestDocIn(t testing.TB, doc, dir string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	api, ps := gatewaytest.LoadDoc(t, doc)
	if len(ps) > 0 {
		t.Fatalf("load: %v", ps)
	}
	a, ps := assembly.CompileAPI(Builtins(), api, nil, dir)
	return a, api, ps
}

// mustCompile compiles an assembly that must have no problems.
func mustCompile(t testing.TB, gateway, asm string) (*assembly.Assembly, *apidef.API) {
	t.Helper()
	a, api, ps := compileTestDoc(t, testAPIDoc(gateway, asm))
	if len(ps) > 0 {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return a, api
}

// problemsOf compiles an assembly expected to have problems, returning the
// document (for lineOf) and the problems.
func problemsOf(t testing.TB, gateway, asm string) (string, apidef.Problems) {
	t.Helper()
	doc := testAPIDoc(gateway, asm)
	_, _, ps := compileTestDoc(t, doc)
	if len(ps) == 0 {
		t.Fatalf("expected problems, got none for:\n%s", asm)
	}
	return doc, ps
}

// wantProblem asserts that ps holds exactly one problem, on the line of doc
// that contains at, whose message contains msg.
func wantProblem(t testing.TB, doc string, ps apidef.Problems, at, msg string) {
	t.Helper()
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %d:\n%v", len(ps), ps)
	}
	p := ps[0]
	if line := lineOf(t, doc, at); p.Line != line {
		t.Errorf("problem on line %d, want %d (%q): %v", p.Line, line, at, p)
	}
	if !strings.Contains(p.Msg, msg) {
		t.Errorf("problem %q does not mention %q", p.Msg, msg)
	}
	if p.File != "test.yaml" || p.Field == "" {
		t.Errorf("problem not located: file %q field %q", p.File, p.Field)
	}
}

// newTestContext makes the context of a request to api. headers are name,
// value pairs. The operation is found by method and path, as routing would.
func newTestContext(t testing.TB, api *apidef.API, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	return gatewaytest.NewContext(t, api, method, target, body, headers...)
}

// runAsm compiles asm, runs it for one request and returns the context and
// the error that remained uncaught.
func runAsm(t testing.TB, gateway, asm, method, target, body string, headers ...string) (*assembly.Context, error) {
	t.Helper()
	a, api := mustCompile(t, gateway, asm)
	c := newTestContext(t, api, method, target, body, headers...)
	return c, a.Run(c)
}

// mustRunAsm is runAsm for a flow that must succeed.
func mustRunAsm(t testing.TB, gateway, asm, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	c, err := runAsm(t, gateway, asm, method, target, body, headers...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return c
}

// quietGateway is the options of a test gateway whose log is discarded.
var quietGateway = gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

// serveFiles serves API files (name → text) through the gateway with the
// built-in policies and a fresh Env, on an HTTP test server.
func serveFiles(t testing.TB, files map[string]string) *httptest.Server {
	t.Helper()
	return gatewaytest.ServeFiles(t, files, Builtins(), &assembly.Env{}, quietGateway)
}

// errorBody decodes API Connect's error body.
func errorBody(t testing.TB, r gatewaytest.Response) map[string]string {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("error body %q is not API Connect's shape: %v", r.Body, err)
	}
	return e
}

// bodyText is the message body as text.
func bodyText(t testing.TB, c *assembly.Context) string {
	t.Helper()
	data, err := c.Message.Body.Bytes()
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return string(data)
}

// varOf returns a context variable, failing when it is unset.
func varOf(t testing.TB, c *assembly.Context, name string) any {
	t.Helper()
	v, ok := c.Var(name)
	if !ok {
		t.Fatalf("variable %s is not set", name)
	}
	return v
}

// asmError returns err as an assembly error, failing when it is none.
func asmError(t testing.TB, err error) *assembly.Error {
	t.Helper()
	var e *assembly.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *assembly.Error, got %T %v", err, err)
	}
	return e
}

// myPolicies are the policies of this set of files.
var myPolicies = map[string]bool{"set-variable": true, "parse": true, "throw": true, "log": true,
	"activity-log": true, "switch": true, "operation-switch": true, "if": true}

// stepName matches one policy step in a problem's field path:
// execute[3].switch, otherwise[0].parse, default[1].throw.
var stepName = regexp.MustCompile(`(?:execute|otherwise|default)\[\d+\]\.([A-Za-z0-9_-]+)`)

// problemPolicy is the innermost policy a problem's field lies in.
func problemPolicy(field string) string {
	m := stepName.FindAllStringSubmatch(field, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// corpusWrong lists the real files whose problems with these policies are
// the files' own fault: file → what is wrong, a substring of the problem.
var corpusWrong = map[string][]string{
	// API Gateway files with v5 JavaScript conditions (=== and ==): they
	// run as JavaScript, with a warning.
	// The first also sets request.headers.myname, which is read-only.
	"IBMIntegration__apic-demos__2018-api-country_2.0.0.yaml": {"the condition is JavaScript", "request.headers.myname is read-only"},
	"IBMIntegration__apic-demos__2018-shipping_1.0.0.yaml":    {"the condition is JavaScript"},
	// A test file whose operation-switch names verbs its path lacks.
	"iamjamilspain__APIConnect-APItranslation__Test__operationalswitch.yaml": {"has no operation DELETE /op2", "has no operation PUT /op2"},
}

// TestCorpus compiles every API of the shared corpus of real API Connect
// files: none may have a problem in these policies, save the known faults
// of the files themselves.
func TestCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
	}
	reg := Builtins()
	var apis, compiled int
	seenWrong := map[string]bool{}
	for _, e := range entries {
		if !apidef.IsDocumentFile(e.Name()) {
			continue
		}
		d, err := apidef.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		apis++
		api, _ := apidef.LoadAPI(d)
		_, ps := assembly.CompileAPI(reg, api, nil, dir)
		compiled++
		var mine []string
		for _, p := range ps {
			if myPolicies[problemPolicy(p.Field)] {
				mine = append(mine, p.Msg+" ["+p.Error()+"]")
			}
		}
		// The files of corpusWrong load (their faults are warnings, as
		// API Connect accepts them); no other file may have any.
		for _, p := range ps.Errors() {
			if myPolicies[problemPolicy(p.Field)] {
				t.Errorf("%s: an error, not a warning: %s", e.Name(), p.Error())
			}
		}
		sort.Strings(mine)
		known := corpusWrong[e.Name()]
		for _, m := range mine {
			expected := false
			for _, k := range known {
				if strings.Contains(m, k) {
					expected = true
					seenWrong[e.Name()+"\x00"+k] = true
				}
			}
			if expected {
				t.Logf("known fault of %s: %s", e.Name(), m)
			} else {
				t.Errorf("%s: unexpected problem: %s", e.Name(), m)
			}
		}
	}
	for file, ks := range corpusWrong {
		for _, k := range ks {
			if !seenWrong[file+"\x00"+k] {
				t.Errorf("%s: expected a problem %q, found none (has the file or the policy changed?)", file, k)
			}
		}
	}
	if apis == 0 {
		t.Fatalf("no API found in %s", dir)
	}
	t.Logf("compiled %d APIs", compiled)
}

const concurrentFlow = `
execute:
- parse:
    version: 2.0.0
- operation-switch:
    version: 2.0.0
    case:
    - operations: [createItem]
      execute:
      - switch:
          version: 2.0.0
          case:
          - condition: $(message.body.n) > 1
            execute:
            - set-variable:
                version: 2.0.0
                actions:
                - set: message.body.big
                  value: true
                  type: boolean
                - set: message.headers.x-n
                  value: $(message.body.n)
                  type: number
          otherwise:
          - throw:
              version: 2.1.0
              name: Small
              error-status-code: 422
catch:
- errors: [Small]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: small $(request.headers.x-i)
`

// One compiled assembly serves many requests at once (run with -race).
func TestConcurrentRuns(t *testing.T) {
	a, api := mustCompile(t, apidef.GatewayAPI, concurrentFlow)
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		go func(i int) {
			body := fmt.Sprintf(`{"n": %d}`, i%4)
			c := newTestContext(t, api, "POST", "/test/items", body, "X-I", strconv.Itoa(i))
			if err := a.Run(c); err != nil {
				errs <- err
				return
			}
			data, _ := c.Message.Body.Bytes()
			want := fmt.Sprintf(`{"big":true,"n":%d}`, i%4)
			if i%4 <= 1 {
				want = fmt.Sprintf("small %d", i)
			}
			if string(data) != want {
				errs <- fmt.Errorf("request %d: body %s, want %s", i, data, want)
				return
			}
			errs <- nil
		}(i)
	}
	for i := 0; i < 64; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkFlow(b *testing.B) {
	a, api := mustCompile(b, apidef.GatewayAPI, concurrentFlow)
	b.ReportAllocs()
	for b.Loop() {
		c := newTestContext(b, api, "POST", "/test/items", `{"n": 3}`, "X-I", "1")
		if err := a.Run(c); err != nil {
			b.Fatal(err)
		}
	}
}
