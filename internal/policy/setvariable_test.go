package policy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

func TestSetVariableHeadersAndStatus(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-greeting
      value: $(greeting), $(request.headers.x-name)!
      type: string
    - add: message.headers.x-tag
      value: one
    - add: message.headers.x-tag
      value: two
    - clear: message.headers.x-secret
    - set: message.status.code
      value: "201"
      type: number
    - set: message.status.reason
      value: Made
    - set: message.body
      value: '{"ok": true}'
      type: string
`, "GET", "/test/items", "", "X-Name", "Ada", "X-Secret", "s3cret")

	h := c.Message.Headers
	if got := h.Get("X-Greeting"); got != "hello, Ada!" {
		t.Errorf("x-greeting = %q", got)
	}
	if got := h.Values("X-Tag"); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Errorf("x-tag = %q", got)
	}
	if _, ok := h["X-Secret"]; ok {
		t.Errorf("x-secret not cleared: %q", h)
	}
	if c.Message.Status != 201 || c.Message.StatusReason() != "Made" {
		t.Errorf("status = %d %q", c.Message.Status, c.Message.StatusReason())
	}
	if got := bodyText(t, c); got != `{"ok": true}` {
		t.Errorf("body = %q", got)
	}
	// The request is what the client sent.
	if got := c.Request.Headers.Get("X-Secret"); got != "s3cret" {
		t.Errorf("request header changed: %q", got)
	}
}

func TestSetVariableTypes(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
- set-variable:
    version: 2.0.0
    actions:
    - set: v.int
      value: $(request.headers.x-int)
      type: number
    - set: v.float
      value: $(request.headers.x-float)
      type: number
    - set: v.fromBody
      value: $(message.body.n)
      type: number
    - set: v.yes
      value: $(request.headers.x-bool)
      type: boolean
    - set: v.no
      value: "false"
      type: boolean
    - set: v.text
      value: $(message.body.n)
      type: string
    - set: v.object
      value: $(message.body)
    - set: v.mixed
      value: n=$(message.body.n)
      type: any
    - set: v.literal
      value: 7
    - set: v.quoted
      value: "7"
    - set: v.zip
      value: 01234
    - set: v.constObject
      value: {a: [1, x]}
    - add: v.list
      value: first
    - add: v.list
      value: second
    - set: target-url
      value: http://backend$(request.path)
`, "POST", "/test/items", `{"n": 3, "name": "x"}`,
		"X-Int", " 42 ", "X-Float", "1.5", "X-Bool", "TRUE", "Content-Type", "application/json")

	want := map[string]any{
		"v.int":         42,
		"v.float":       1.5,
		"v.fromBody":    float64(3),
		"v.yes":         true,
		"v.no":          false,
		"v.text":        "3",
		"v.object":      map[string]any{"n": float64(3), "name": "x"},
		"v.mixed":       "n=3",
		"v.literal":     7,
		"v.quoted":      "7",
		"v.zip":         "01234",
		"v.constObject": map[string]any{"a": []any{1, "x"}},
		"v.list":        []any{"first", "second"},
		"target-url":    "http://backend/test/items",
	}
	for name, w := range want {
		if got := varOf(t, c, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
}

func TestSetVariableClearVariable(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: a.b
      value: x
    - set: a.c
      value: y
    - clear: a.b
    - set: gone
      value: z
    - clear: gone
    - clear: message.body
`, "POST", "/test/items", "payload")
	if _, ok := c.Var("a.b"); ok {
		t.Error("a.b not cleared")
	}
	if _, ok := c.Var("gone"); ok {
		t.Error("gone not cleared")
	}
	if got := varOf(t, c, "a.c"); got != "y" {
		t.Errorf("a.c = %v", got)
	}
	if got := bodyText(t, c); got != "" {
		t.Errorf("body = %q", got)
	}
}

// A constant object is the policy's, shared by all requests: a request that
// changes its copy must not change the next request's.
func TestSetVariableConstantIsCopied(t *testing.T) {
	a, api := mustCompile(t, apidef.GatewayAPI, `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: my.obj
      value: {count: 1, list: [a]}
`)
	for i := 0; i < 2; i++ {
		c := newTestContext(t, api, "GET", "/test/items", "")
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
		obj := varOf(t, c, "my.obj").(map[string]any)
		if want := map[string]any{"count": 1, "list": []any{"a"}}; !reflect.DeepEqual(obj, want) {
			t.Fatalf("run %d: my.obj = %#v", i, obj)
		}
		obj["count"] = 99
		obj["list"].([]any)[0] = "changed"
	}
}

func TestSetVariableBadNumberAtRunTime(t *testing.T) {
	asm := `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: my.count
      value: $(request.headers.x-count)
      type: number
`
	_, err := runAsm(t, apidef.GatewayAPI, asm, "GET", "/test/items", "", "X-Count", "many")
	e := asmError(t, err)
	if e.Name != assembly.PropertyError || !strings.Contains(e.Message, "my.count") || !strings.Contains(e.Message, `"many"`) {
		t.Errorf("error = %+v", e)
	}
	if e.Policy != "set-variable" || e.StatusCode() != 500 {
		t.Errorf("policy %q status %d", e.Policy, e.StatusCode())
	}

	// Caught by name.
	c := mustRunAsm(t, apidef.GatewayAPI, asm+`
catch:
- errors: [PropertyError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: 'caught $(error.name)'
`, "GET", "/test/items", "", "X-Count", "many")
	if got := bodyText(t, c); got != "caught PropertyError" {
		t.Errorf("body = %q", got)
	}

	// A boolean that is not true or false.
	_, err = runAsm(t, apidef.GatewayAPI, `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: my.flag
      value: $(request.headers.x-flag)
      type: boolean
`, "GET", "/test/items", "", "X-Flag", "yes")
	if e := asmError(t, err); e.Name != assembly.PropertyError || !strings.Contains(e.Message, "my.flag") {
		t.Errorf("error = %+v", e)
	}
}

func TestSetVariableProblems(t *testing.T) {
	cases := []struct {
		name, asm, at, msg string
	}{
		{"no verb", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - value: x
      type: string
`, "- value: x", "one of set, add or clear"},
		{"two verbs", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: a
      add: b
`, "- set: a", "both set and add"},
		{"bad type", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: a
      value: x
      type: integer
`, "type: integer", `type "integer"`},
		{"constant not a number", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: message.status.code
      value: two hundred
      type: number
`, "value: two hundred", "not a number"},
		{"constant not a boolean", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: flag
      value: maybe
      type: boolean
`, "value: maybe", "not true or false"},
		{"read-only", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: request.headers.x-id
      value: x
`, "set: request.headers.x-id", "read-only"},
		{"bad reference", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: a
      value: $(request.headers.x
`, "value: $(request", "unclosed"},
		{"no actions", `
execute:
- set-variable:
    version: 2.0.0
    action:
    - set: a
`, "version: 2.0.0", "needs actions"}, // a missing field: located at the settings
		{"object as number", `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: a
      type: number
      value: {x: 1}
`, "value: {x: 1}", "single value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := problemsOf(t, apidef.GatewayAPI, tc.asm)
			wantProblem(t, doc, ps, tc.at, tc.msg)
		})
	}
}
