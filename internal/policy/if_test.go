package policy

import (
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

func TestIf(t *testing.T) {
	for _, tc := range []struct{ gw, cond string }{
		{apidef.GatewayV5, "apim.getvariable('request.headers.x-go') == 'yes'"},
		{apidef.GatewayV5, "$(request.headers.x-go) == 'yes'"},
		{apidef.GatewayAPI, "$header('X-Go') = 'yes'"},
		{"", "request.headers['x-go'] === 'yes'"},
	} {
		a, api := mustCompile(t, tc.gw, `
execute:
- if:
    version: 1.0.0
    title: if
    condition: "`+tc.cond+`"
    execute:
`+setBodyStep(4, "went"))
		for _, goes := range []string{"yes", "no"} {
			c := newTestContext(t, api, "GET", "/test/items", "stayed", "X-Go", goes)
			if err := a.Run(c); err != nil {
				t.Fatalf("%s: %v", tc.cond, err)
			}
			want := map[string]string{"yes": "went", "no": "stayed"}[goes]
			if got := bodyText(t, c); got != want {
				t.Errorf("%s with %s: body = %q, want %q", tc.cond, goes, got, want)
			}
		}
	}
	// An empty execute list.
	mustRunAsm(t, apidef.GatewayV5, `
execute:
- if:
    version: 1.0.0
    condition: "true"
    execute: []
`, "GET", "/test/items", "")
}

func TestIfConditionError(t *testing.T) {
	_, err := runAsm(t, apidef.GatewayV5, `
execute:
- if:
    version: 1.0.0
    condition: nosuch.x > 1
    execute: []
`, "GET", "/test/items", "")
	if e := asmError(t, err); e.Name != assembly.RuntimeError || e.Policy != "if" {
		t.Errorf("error = %+v", *e)
	}
}

func TestIfProblems(t *testing.T) {
	doc, ps := problemsOf(t, apidef.GatewayV5, `
execute:
- if:
    version: 1.0.0
    execute: []
`)
	wantProblem(t, doc, ps, "version: 1.0.0", "condition is missing")

	doc, ps = problemsOf(t, apidef.GatewayV5, `
execute:
- if:
    version: 1.0.0
    condition: request.verb ===
    execute: []
`)
	wantProblem(t, doc, ps, "condition: request.verb", "does not compile")
}
