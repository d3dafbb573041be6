package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// parseStep is the parse policy that extract and redact need first.
const parseStep = `- parse:
    version: 2.0.0
`

func TestExtractTransforms(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
`+parseStep+`- extract:
    version: 2.0.0
    root: message.body
    extracts:
    - capture: $.members.policy.**.account
      transform: $substring($, -4)
    - capture: name
      transform: $uppercase($)
    - capture: members[role = 'guest']
      transform: '$merge([$, {"guest": true}])'
    - capture: secret
      transform: $nothing
    - capture: results
      transform: $[0].text
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"name":"club","secret":"s",
		"members":[{"role":"owner","policy":{"x":{"account":"1234567890"}}},{"role":"guest","policy":{"account":"9999000011"}}],
		"results":[{"text":"first"},{"text":"second"}]}`)
	txWantJSON(t, txJSON(t, c), `{"name":"CLUB",
		"members":[{"role":"owner","policy":{"x":{"account":"7890"}}},{"role":"guest","policy":{"account":"0011"},"guest":true}],
		"results":"first"}`)
}

// The corpus example: capture $ replaces the whole root.
func TestExtractWholeRootAndVariables(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
`+parseStep+`- extract:
    version: 2.0.0
    root: message.body
    extracts:
    - capture: $
      transform: '{"jh":$length(name)}'
- map:
    version: 2.0.0
    inputs:
      body: {schema: {type: object}, variable: message.body}
    outputs:
      saved: {schema: {type: object}, variable: saved}
    actions:
    - set: saved
      from: body
- extract:
    version: 2.0.0
    root: saved
    extracts:
    - capture: jh
      transform: $ * 10
- extract:
    version: 2.0.0
    root: message.headers
    extracts:
    - capture: X-Token
      transform: $substringBefore($, '.') & '.…'
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"name":"abcd"}`, "X-Token", "head.payload.sig")
	txWantJSON(t, txJSON(t, c), `{"jh":4}`)
	if got := c.Message.Headers.Get("X-Token"); got != "head.…" {
		t.Errorf("header = %q", got)
	}
	saved, _ := c.Var("saved")
	txWantJSON(t, saved, `{"jh":40}`)
}

func TestExtractNeedsParsedInput(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- extract:
    version: 2.0.0
    extracts:
    - capture: a
      transform: $ + 1
`)
	_, err := txRun(t, doc, "POST", "/test/items", `{"a":1}`)
	e := asmError(t, err)
	if e.Name != assembly.TransformError || e.StatusCode() != 500 || e.Policy != "extract" ||
		!strings.Contains(e.Message, "message.body is not parsed data: add a parse policy") {
		t.Errorf("error = %+v", e)
	}
	// An empty body has nothing to extract from.
	if _, err := txRun(t, doc, "POST", "/test/items", ""); err != nil {
		t.Errorf("empty body: %v", err)
	}
}

func TestExtractTransformError(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
`+parseStep+`- extract:
    version: 2.0.0
    extracts:
    - capture: a
      transform: $substring($, 1)
catch:
- errors: [TransformError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: $(error.message)
        type: string
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"a":1}`)
	if got := string(must(c.Message.Body.Bytes())); !strings.Contains(got, `extract: capture "a", transform "$substring($, 1)": T0410`) {
		t.Errorf("caught message = %q", got)
	}
}

func TestExtractProblems(t *testing.T) {
	cases := []struct{ name, settings, at, msg string }{
		{"no extracts", "root: message.body", "version: 2.0.0", "extract needs extracts"},
		{"no transform", "extracts:\n- capture: a", "- capture: a", "needs transform"},
		{"bad capture", "extracts:\n- capture: a[\n  transform: $", "capture: a[", "unclosed ["},
		{"bad transform", "extracts:\n- capture: a\n  transform: $substring(", "transform: $substring(", "transform does not compile"},
		{"read-only root", "root: api.name\nextracts:\n- capture: a\n  transform: $", "root: api.name", "cannot be changed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asm strings.Builder
			asm.WriteString("execute:\n- extract:\n    version: 2.0.0\n")
			for _, line := range strings.Split(tc.settings, "\n") {
				asm.WriteString("    " + line + "\n")
			}
			doc := txDoc(apidef.GatewayAPI, "", asm.String())
			_, _, ps := txCompile(t, doc)
			txProblem(t, doc, ps, false, tc.at, tc.msg)
		})
	}
}

func TestExtractEndToEnd(t *testing.T) {
	const extract = `- extract:
    version: 2.0.0
    root: message.body
    extracts:
    - capture: $.results
      transform: $[0].generated_text
`
	srv := serveFiles(t, map[string]string{"api.yaml": txDoc(apidef.GatewayAPI, "", "execute:\n"+parseStep+extract)})
	res := txCall(t, srv, "POST", `{"results":[{"generated_text":"hi"}],"model":"m"}`, "Content-Type", "application/json")
	var got any
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil || res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	txWantJSON(t, got, `{"results":"hi","model":"m"}`)

	// Without parse, the API Gateway's rule: the input must be parsed.
	srv = serveFiles(t, map[string]string{"api.yaml": txDoc(apidef.GatewayAPI, "", "execute:\n"+extract)})
	res = txCall(t, srv, "POST", `{"results":[]}`)
	if res.Status != 500 || !strings.Contains(res.Body, "not parsed data") || !strings.Contains(res.Body, `"httpCode":"500"`) {
		t.Errorf("unparsed: %d %s", res.Status, res.Body)
	}
}
