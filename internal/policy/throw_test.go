package policy

import (
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

const throwNotEntitled = `
execute:
- throw:
    version: 2.1.0
    name: NotEntitled
    message: $(request.headers.x-user) may not do this
    error-status-code: 403
    error-status-reason: Not Entitled
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: not reached
`

func TestThrowUncaught(t *testing.T) {
	c, err := runAsm(t, apidef.GatewayAPI, throwNotEntitled, "GET", "/test/items", "", "X-User", "bob")
	e := asmError(t, err)
	want := assembly.Error{Name: "NotEntitled", Message: "bob may not do this", Status: 403, Reason: "Not Entitled", Policy: "throw"}
	if e.Name != want.Name || e.Message != want.Message || e.Status != want.Status || e.Reason != want.Reason || e.Policy != want.Policy {
		t.Errorf("error = %+v, want %+v", *e, want)
	}
	if got := bodyText(t, c); got == "not reached" {
		t.Error("the flow went on after throw")
	}
}

func TestThrowDefaults(t *testing.T) {
	_, err := runAsm(t, apidef.GatewayV5, `
execute:
- throw:
    version: 1.0.0
    name: newError
    message: New Error Message
`, "GET", "/test/items", "")
	e := asmError(t, err)
	if e.Name != "newError" || e.StatusCode() != 500 || e.StatusReason() != "Internal Server Error" || e.Message != "New Error Message" {
		t.Errorf("error = %+v", *e)
	}
}

func TestThrowStatusFromVariable(t *testing.T) {
	asm := `
execute:
- throw:
    version: 2.1.0
    name: Custom
    error-status-code: $(request.headers.x-status)
`
	_, err := runAsm(t, apidef.GatewayAPI, asm, "GET", "/test/items", "", "X-Status", "418")
	if e := asmError(t, err); e.StatusCode() != 418 || e.StatusReason() != "I'm a teapot" {
		t.Errorf("error = %+v", *e)
	}
	_, err = runAsm(t, apidef.GatewayAPI, asm, "GET", "/test/items", "", "X-Status", "lots")
	if e := asmError(t, err); e.Name != "Custom" || e.StatusCode() != 500 {
		t.Errorf("bad status variable: error = %+v", *e)
	}
}

func TestThrowCaughtByName(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, throwNotEntitled+`
catch:
- errors: [ConnectionError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: wrong clause
- errors: [NotEntitled]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: '$(error.name): $(error.message)'
- default:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: default clause
`, "GET", "/test/items", "", "X-User", "eve")
	if got := bodyText(t, c); got != "NotEntitled: eve may not do this" {
		t.Errorf("body = %q", got)
	}
	if c.Message.StatusCode() != 403 || c.Message.StatusReason() != "Not Entitled" {
		t.Errorf("status = %d %q", c.Message.StatusCode(), c.Message.StatusReason())
	}
}

func TestThrowCaughtByDefault(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, throwNotEntitled+`
catch:
- errors: [ConnectionError]
  execute: []
- default:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: 'default caught $(error.name) from $(error.policy)'
      - set: message.status.code
        value: 200
        type: number
`, "GET", "/test/items", "")
	if got := bodyText(t, c); got != "default caught NotEntitled from throw" {
		t.Errorf("body = %q", got)
	}
	if c.Message.StatusCode() != 200 {
		t.Errorf("status = %d", c.Message.StatusCode())
	}
}

func TestThrowInSwitchCaught(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- switch:
    version: 2.0.0
    case:
    - condition: $httpVerb() = 'GET'
      execute:
      - throw:
          version: 2.1.0
          name: internalServerError
          error-status-code: "500"
catch:
- errors: [internalServerError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: caught $(error.policy)
`, "GET", "/test/items", "")
	if got := bodyText(t, c); got != "caught throw" {
		t.Errorf("body = %q", got)
	}
}

func TestThrowProblems(t *testing.T) {
	doc, ps := problemsOf(t, apidef.GatewayAPI, `
execute:
- throw:
    version: 2.1.0
    message: no name
`)
	wantProblem(t, doc, ps, "version: 2.1.0", "needs a name")
	if ps[0].Field != "x-ibm-configuration.assembly.execute[0].throw.name" {
		t.Errorf("field = %q", ps[0].Field)
	}

	doc, ps = problemsOf(t, apidef.GatewayAPI, `
execute:
- throw:
    version: 2.1.0
    name: X
    error-status-code: 1000
`)
	wantProblem(t, doc, ps, "error-status-code: 1000", "not an HTTP status code")

	doc, ps = problemsOf(t, apidef.GatewayAPI, `
execute:
- throw:
    version: 2.1.0
    name: X
    message: $(oops
`)
	wantProblem(t, doc, ps, "message: $(oops", "unclosed")
}
