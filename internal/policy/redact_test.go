package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

const personJSON = `{"id":7,"name":"Ada","ssn":"123-45-6789","creditcard":4111111111111111,
	"apiName":"top","cards":[{"number":"1111","type":"visa"},{"number":"2222","type":"amex"}],
	"nested":{"apiName":"inner","keep":true}}`

func TestRedactAPIGateway(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
`+parseStep+`- redact:
    version: 2.0.0
    root: message.body
    redactions:
    - action: redact
      path: ssn
    - action: redact
      path: creditcard
    - action: remove
      path: $.id
    - path: cards[type = 'amex'].number
    - action: remove
      path: cards[0]
`)
	c := txMustRun(t, doc, "POST", "/test/items", personJSON)
	txWantJSON(t, txJSON(t, c), `{"name":"Ada","ssn":"*","creditcard":"*","apiName":"top",
		"cards":[{"number":"*","type":"amex"}],"nested":{"apiName":"inner","keep":true}}`)
}

// Without root, the path starts with the variable (the corpus's
// message.body.**.apiName), and a body still in text is parsed.
func TestRedactWithoutRoot(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- redact:
    version: 2.0.0
    title: redact
    redactions:
    - action: remove
      path: message.body.**.apiName
    - action: redact
      path: message.headers.Authorization
    - action: remove
      path: request.headers.x-secret
`)
	c := txMustRun(t, doc, "POST", "/test/items", personJSON, "Authorization", "Bearer abc", "X-Secret", "s")
	got := txJSON(t, c).(map[string]any)
	if _, ok := got["apiName"]; ok {
		t.Errorf("apiName kept: %v", got)
	}
	if n := got["nested"].(map[string]any); n["apiName"] != nil || n["keep"] != true {
		t.Errorf("nested = %v", n)
	}
	if h := c.Message.Headers.Get("Authorization"); h != "*" {
		t.Errorf("authorization = %q", h)
	}
	if _, ok := c.Request.Headers["X-Secret"]; ok {
		t.Errorf("request header kept")
	}
	if c.Message.Headers.Get("X-Secret") != "s" {
		t.Errorf("the message's copy of the headers changed too")
	}
}

func TestRedactV5(t *testing.T) {
	doc := txDoc(apidef.GatewayV5, "", `
execute:
- redact:
    title: redact
    actions:
    - action: remove
      from: [all]
      path: "//*[@name='apiName']"
    - action: redact
      from: [request]
      path: /cards/number
    - from: [response, logs]
      path: //ssn
    - from: [all]
      action: redact
`)
	a, api, ps := txCompile(t, doc)
	txProblem(t, doc, ps, true, "- from: [all]", "has no path")
	c := txContext(t, api, "POST", "/test/items", personJSON)
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	// The message is still the request: response redactions wait.
	txWantJSON(t, txJSON(t, c), `{"id":7,"name":"Ada","ssn":"123-45-6789","creditcard":4111111111111111,
		"cards":[{"number":"******","type":"visa"},{"number":"******","type":"amex"}],"nested":{"keep":true}}`)
}

func TestRedactV5Response(t *testing.T) {
	doc := txDoc(apidef.GatewayV5, "", `
execute:
- redact:
    actions:
    - from: [response]
      path: //ssn
`)
	a, api := txMustCompile(t, doc)
	c := txContext(t, api, "POST", "/test/items", personJSON)
	c.Message = &assembly.Message{Headers: map[string][]string{}, Body: assembly.BytesBody([]byte(`{"ssn":"1","x":{"ssn":2}}`))}
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	txWantJSON(t, txJSON(t, c), `{"ssn":"******","x":{"ssn":"******"}}`)
	if data, _ := c.Request.Body.Bytes(); !strings.Contains(string(data), "123-45-6789") {
		t.Errorf("the request body was redacted: %s", data)
	}
}

func TestRedactErrors(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- redact:
    version: 2.0.0
    root: message.body
    redactions:
    - path: ssn
`)
	_, err := txRun(t, doc, "POST", "/test/items", `<ssn>1</ssn>`)
	e := asmError(t, err)
	if e.Name != assembly.RedactionError || e.StatusCode() != 500 || !strings.Contains(e.Message, "message.body is not JSON") {
		t.Errorf("error = %+v", e)
	}
	if _, err := txRun(t, doc, "POST", "/test/items", ""); err != nil {
		t.Errorf("empty body: %v", err)
	}
	// A predicate that fails to evaluate.
	doc = strings.Replace(doc, "path: ssn", "path: cards[$substring(type, 1) > 2]", 1)
	_, err = txRun(t, doc, "POST", "/test/items", `{"cards":[{"type":1}]}`)
	if e := asmError(t, err); e.Name != assembly.RedactionError || !strings.Contains(e.Message, "redact: path") {
		t.Errorf("error = %+v", e)
	}
}

func TestRedactProblems(t *testing.T) {
	cases := []struct{ name, gateway, settings, at, msg string }{
		{"bad path", apidef.GatewayAPI, "root: message.body\nredactions:\n- action: redact\n  path: cards[0", "path: cards[0", "unclosed ["},
		{"bad action", apidef.GatewayAPI, "redactions:\n- action: hide\n  path: message.body.a", "action: hide", `action "hide" is not redact or remove`},
		{"no root variable", apidef.GatewayAPI, "redactions:\n- path: '**.ssn'", "path: '**.ssn'", "does not start with a context variable"},
		{"message field", apidef.GatewayAPI, "redactions:\n- path: message.status.code", "path: message.status.code", "only message.body and message.headers"},
		{"no redactions", apidef.GatewayAPI, "root: message.body", "root: message.body", "redact needs redactions"},
		{"bad xpath", apidef.GatewayV5, "actions:\n- path: //a[@id='x']", "path: //a[@id='x']", "not supported"},
		{"bad from", apidef.GatewayV5, "actions:\n- from: [everywhere]\n  path: //a", "from: [everywhere]", `from "everywhere"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asm strings.Builder
			asm.WriteString("execute:\n- redact:\n")
			for _, line := range strings.Split(tc.settings, "\n") {
				asm.WriteString("    " + line + "\n")
			}
			doc := txDoc(tc.gateway, "", asm.String())
			_, _, ps := txCompile(t, doc)
			txProblem(t, doc, ps, false, tc.at, tc.msg)
		})
	}
}

func TestRedactEndToEnd(t *testing.T) {
	api := txDoc(apidef.GatewayAPI, "", `
execute:
`+parseStep+`- redact:
    version: 2.0.0
    root: message.body
    redactions:
    - action: redact
      path: ssn
    - action: remove
      path: '**.number'
`)
	srv := serveFiles(t, map[string]string{"api.yaml": api})
	res := txCall(t, srv, "POST", personJSON, "Content-Type", "application/json")
	var got any
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil || res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	txWantJSON(t, got, `{"id":7,"name":"Ada","ssn":"*","creditcard":4111111111111111,"apiName":"top",
		"cards":[{"type":"visa"},{"type":"amex"}],"nested":{"apiName":"inner","keep":true}}`)
	// Redaction never lets a body it cannot read through.
	res = txCall(t, srv, "POST", `not json`, "Content-Type", "text/plain")
	if res.Status != 500 || strings.Contains(res.Body, "not json\"") || !strings.Contains(res.Body, "is not JSON") {
		t.Errorf("unreadable body: %d %s", res.Status, res.Body)
	}

	// A path that does not parse stops the bundle from loading, located.
	bad := strings.Replace(api, "path: ssn", "path: cards[0", 1)
	ps := txLoadProblems(t, map[string]string{"api.yaml": bad}).Errors()
	if len(ps) != 1 || !strings.HasSuffix(ps[0].File, "api.yaml") || ps[0].Line != lineIn(bad, "path: cards[0") ||
		!strings.Contains(ps[0].Msg, "unclosed [") {
		t.Errorf("problems: %v", ps)
	}
}

// lineIn is the 1-based line of doc holding s.
func lineIn(doc, s string) int {
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}
