package policy

import (
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// setBodyStep is a set-variable step that writes text to message.body, indented
// to sit in an execute list at the given depth.
func setBodyStep(indent int, text string) string {
	pad := strings.Repeat(" ", indent)
	return pad + "- set-variable:\n" +
		pad + "    version: 2.0.0\n" +
		pad + "    actions:\n" +
		pad + "    - set: message.body\n" +
		pad + "      value: " + text + "\n"
}

func TestSwitchJSONata(t *testing.T) {
	asm := `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: ($httpVerb() = 'GET' and $operationPath() = '/items')
      execute:
` + setBodyStep(6, "list") + `
    - condition: $header('X-Mode') = 'a' or $(request.headers.x-mode) = 'b'
      execute:
` + setBodyStep(6, "mode $(request.headers.x-mode)") + `
    - condition: $operationPath() = '/items/{id}'
      execute: []
    - condition: "true"
      execute:
` + setBodyStep(6, "second true case") + `
    otherwise:
` + setBodyStep(4, "otherwise")
	cases := []struct {
		method, target, mode, want string
	}{
		{"GET", "/test/items", "a", "list"},      // first true case wins
		{"POST", "/test/items", "a", "mode a"},   // $header
		{"POST", "/test/items", "b", "mode b"},   // $(…) reference
		{"GET", "/test/items/7", "", "original"}, // empty execute: chosen, does nothing
		{"POST", "/test/items", "", "second true case"},
	}
	a, api := mustCompile(t, apidef.GatewayAPI, asm)
	for _, tc := range cases {
		c := newTestContext(t, api, tc.method, tc.target, "original", "X-Mode", tc.mode)
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
		if got := bodyText(t, c); got != tc.want {
			t.Errorf("%s %s mode %q: body = %q, want %q", tc.method, tc.target, tc.mode, got, tc.want)
		}
	}
}

func TestSwitchOtherwise(t *testing.T) {
	// otherwise beside case, and otherwise as the last case item (the form
	// API Connect's editor writes).
	for name, asm := range map[string]string{
		"beside case": `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: $httpVerb() = 'DELETE'
      execute:
` + setBodyStep(6, "delete") + `
    otherwise:
` + setBodyStep(4, "otherwise"),
		"case item": `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: $httpVerb() = 'DELETE'
      execute:
` + setBodyStep(6, "delete") + `
    - otherwise:
` + setBodyStep(6, "otherwise"),
	} {
		c := mustRunAsm(t, apidef.GatewayAPI, asm, "GET", "/test/items", "")
		if got := bodyText(t, c); got != "otherwise" {
			t.Errorf("%s: body = %q", name, got)
		}
	}
	// No case holds and there is no otherwise: nothing happens.
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: "false"
      execute:
`+setBodyStep(6, "no"), "GET", "/test/items", "original")
	if got := bodyText(t, c); got != "original" {
		t.Errorf("body = %q", got)
	}
}

func TestSwitchJavaScript(t *testing.T) {
	asm := `
execute:
- switch:
    version: 1.0.0
    case:
    - condition: ((request.verb==='GET')&&(api.operation.path==='/items'))
      execute:
` + setBodyStep(6, "js list") + `
    - condition: apim.getvariable('request.headers.x-mode') == 'a'
      execute:
` + setBodyStep(6, "js mode a") + `
    - otherwise:
` + setBodyStep(6, "js otherwise")
	for _, gw := range []string{apidef.GatewayV5, ""} {
		a, api := mustCompile(t, gw, asm)
		for _, tc := range []struct{ method, mode, want string }{
			{"GET", "", "js list"}, {"POST", "a", "js mode a"}, {"POST", "", "js otherwise"},
		} {
			c := newTestContext(t, api, tc.method, "/test/items", "", "X-Mode", tc.mode)
			if err := a.Run(c); err != nil {
				t.Fatal(err)
			}
			if got := bodyText(t, c); got != tc.want {
				t.Errorf("gateway %q %s %q: body = %q, want %q", gw, tc.method, tc.mode, got, tc.want)
			}
		}
	}
}

func TestSwitchConditionError(t *testing.T) {
	asm := `
execute:
- switch:
    version: 1.0.0
    case:
    - condition: nosuch.field === 1
      execute:
` + setBodyStep(6, "no")
	_, err := runAsm(t, apidef.GatewayV5, asm, "GET", "/test/items", "")
	e := asmError(t, err)
	if e.Name != assembly.RuntimeError || e.Policy != "switch" || !strings.Contains(e.Message, "nosuch.field === 1") {
		t.Errorf("error = %+v", *e)
	}
	c := mustRunAsm(t, apidef.GatewayV5, asm+`
catch:
- errors: [RuntimeError]
  execute:
`+setBodyStep(2, "caught $(error.policy)"), "GET", "/test/items", "")
	if got := bodyText(t, c); got != "caught switch" {
		t.Errorf("body = %q", got)
	}
}

// Errors of a chosen branch pass through the switch unchanged.
func TestSwitchBranchError(t *testing.T) {
	_, err := runAsm(t, apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: "true"
      execute:
      - throw:
          version: 2.0.0
          name: Inner
          error-status-code: 409
`, "GET", "/test/items", "")
	if e := asmError(t, err); e.Name != "Inner" || e.StatusCode() != 409 || e.Policy != "throw" {
		t.Errorf("error = %+v", *e)
	}
}

func TestSwitchProblems(t *testing.T) {
	cases := []struct{ name, gw, asm, at, msg string }{
		{"syntax", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: $httpVerb() = = 'GET'
      execute: []
`, "condition: $httpVerb", "does not compile"},
		{"javascript on the API gateway", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: request.verb === 'GET'
      execute: []
`, "condition: request.verb", "runs as JavaScript"},
		{"no condition", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - execute: []
`, "- execute: []", "needs a condition"},
		{"empty condition", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: ""
      execute: []
`, `condition: ""`, "missing or empty"},
		{"no case", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    otherwise: []
`, "version: 2.0.0", "needs case"},
		{"two otherwise", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: "true"
      execute: []
    - otherwise: []
    otherwise: []
`, "- otherwise: []", "more than one otherwise"},
		{"nested policy", apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: "true"
      execute:
      - throw:
          version: 2.1.0
`, "version: 2.1.0", "needs a name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := problemsOf(t, tc.gw, tc.asm)
			wantProblem(t, doc, ps, tc.at, tc.msg)
		})
	}
}

// A syntax error is located at its column inside the condition.
func TestSwitchConditionColumn(t *testing.T) {
	doc, ps := problemsOf(t, apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: $httpVerb() = = 'GET'
      execute: []
`)
	line := strings.Split(doc, "\n")[lineOf(t, doc, "condition:")-1]
	start := strings.Index(line, "$httpVerb") + 1 // 1-based column of the scalar
	if len(ps) != 1 || ps[0].Column <= start || ps[0].Column > len(line) {
		t.Fatalf("column %d, scalar starts at %d in %q: %v", ps[0].Column, start, line, ps)
	}
	if got := line[ps[0].Column-1:]; !strings.HasPrefix(got, "=") {
		t.Errorf("column %d points at %q", ps[0].Column, got)
	}
}
