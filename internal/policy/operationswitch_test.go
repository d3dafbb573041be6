package policy

import (
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

func TestOperationSwitch(t *testing.T) {
	a, api := mustCompile(t, apidef.GatewayAPI, `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations: [listItems]
      execute:
`+setBodyStep(6, "by id")+`
    - operations:
      - verb: GeT
        path: /items/{id}
      - createItem
      execute:
`+setBodyStep(6, "by verb and path, or id")+`
    - operations:
      - {verb: get, path: /items}
      execute:
`+setBodyStep(6, "never, listItems took the first case")+`
    otherwise:
`+setBodyStep(4, "otherwise"))
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/test/items", "by id"},
		{"GET", "/test/items/42", "by verb and path, or id"},
		{"POST", "/test/items", "by verb and path, or id"},
		{"DELETE", "/test/items/42", "otherwise"},
	} {
		c := newTestContext(t, api, tc.method, tc.target, "")
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
		if got := bodyText(t, c); got != tc.want {
			t.Errorf("%s %s: body = %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}

	// An operation reported only by id, or only by method and path (as a
	// router that knows one of them would), still finds its case.
	for _, op := range []*assembly.OperationInfo{{ID: "createItem"}, {Method: "get", Path: "/items/{id}"}} {
		c := newTestContext(t, api, "GET", "/test/other", "")
		c.Operation = op
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
		if got := bodyText(t, c); got != "by verb and path, or id" {
			t.Errorf("%+v: body = %q", *op, got)
		}
	}
	// No operation at all: otherwise.
	c := newTestContext(t, api, "GET", "/test/other", "")
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	if got := bodyText(t, c); got != "otherwise" {
		t.Errorf("no operation: body = %q", got)
	}
}

func TestOperationSwitchV5(t *testing.T) {
	// The v5 form: otherwise as the last item of case; no otherwise at all
	// leaves the message alone.
	asm := `
execute:
- operation-switch:
    version: 1.0.0
    title: operation-switch
    case:
    - operations:
      - verb: delete
        path: /items/{id}
      execute:
` + setBodyStep(6, "deleted") + `
    - otherwise:
` + setBodyStep(6, "other")
	a, api := mustCompile(t, apidef.GatewayV5, asm)
	for _, tc := range []struct{ method, target, want string }{
		{"DELETE", "/test/items/1", "deleted"},
		{"GET", "/test/items/1", "other"},
	} {
		c := newTestContext(t, api, tc.method, tc.target, "")
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
		if got := bodyText(t, c); got != tc.want {
			t.Errorf("%s %s: body = %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations: [getItem]
      execute:
`+setBodyStep(6, "item"), "GET", "/test/items", "original")
	if got := bodyText(t, c); got != "original" {
		t.Errorf("no otherwise: body = %q", got)
	}
}

func TestOperationSwitchProblems(t *testing.T) {
	cases := []struct{ name, asm, at, msg string }{
		{"unknown id", `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations: [listItems, getItems]
      execute: []
`, "- operations: [listItems", `"getItems" is not an operationId`},
		{"unknown verb and path", `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations:
      - verb: put
        path: /items
      execute: []
`, "- verb: put", "no operation PUT /items"},
		{"bad verb", `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations:
      - verb: fetch
        path: /items
      execute: []
`, "verb: fetch", "not an HTTP method"},
		{"missing path", `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - operations:
      - verb: get
      execute: []
`, "- verb: get", "not a path"},
		{"no operations", `
execute:
- operation-switch:
    version: 2.0.0
    case:
    - execute: []
`, "- execute: []", "needs operations"},
		{"no case", `
execute:
- operation-switch:
    version: 2.0.0
`, "version: 2.0.0", "needs case"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := problemsOf(t, apidef.GatewayAPI, tc.asm)
			wantProblem(t, doc, ps, tc.at, tc.msg)
		})
	}
}
