package policy

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

func TestParseJSONMessage(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      default: apic-default-parsesettings
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-count
      value: $(message.body.order.count)
    - set: message.headers.x-first
      value: $(message.body.order.items.0.sku)
    - set: message.headers.x-price
      value: $(message.body.order.price)
`, "POST", "/test/items", ` {"order": {"count": 3, "price": 2.5, "items": [{"sku": "A1"}]}}`)
	h := c.Message.Headers
	if h.Get("X-Count") != "3" || h.Get("X-First") != "A1" || h.Get("X-Price") != "2.5" {
		t.Errorf("headers = %v", h)
	}
	v, ok := c.Message.Body.Parsed()
	if !ok {
		t.Fatal("body not parsed")
	}
	if _, isMap := v.(map[string]any); !isMap {
		t.Errorf("parsed body is %T", v)
	}
	// The request keeps the text the client sent.
	if got, _ := c.Var("request.body"); !strings.Contains(got.(string), `"count": 3`) {
		t.Errorf("request.body = %v", got)
	}
}

// parse of a message variable, as invoke's output leaves one: the body is
// parsed in place and $(iam.body.access_token) reads into it.
func TestParseMessageVariable(t *testing.T) {
	a, api := mustCompile(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.1.0
    input: iam
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.authorization
      value: Bearer $(iam.body.access_token)
    - set: expires
      value: $(iam.body.expires_in)
      type: any
`)
	c := newTestContext(t, api, "GET", "/test/items", "")
	c.SetVar("iam", &assembly.Message{Headers: http.Header{"Content-Type": {"application/json"}},
		Body: assembly.BytesBody([]byte(`{"access_token": "tok", "expires_in": 3600}`))})
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	if got := c.Message.Headers.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("authorization = %q", got)
	}
	if got := varOf(t, c, "expires"); got != float64(3600) {
		t.Errorf("expires = %#v", got)
	}
	if got := varOf(t, c, "iam.headers.content-type"); got != "application/json" {
		t.Errorf("iam headers lost: %v", got)
	}
}

func TestParseToOtherOutput(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    output: parsed
`, "POST", "/test/items", `[1, "two"]`, "Content-Type", "application/json", "X-Trace", "t1")
	if got := varOf(t, c, "parsed.body"); !reflect.DeepEqual(got, []any{float64(1), "two"}) {
		t.Errorf("parsed.body = %#v", got)
	}
	if got := varOf(t, c, "parsed.headers.x-trace"); got != "t1" {
		t.Errorf("parsed.headers.x-trace = %v", got)
	}
	if c.Message.Body.IsParsed() {
		t.Error("the input message was changed")
	}
	if got := bodyText(t, c); got != `[1, "two"]` {
		t.Errorf("message body = %q", got)
	}
}

func TestParseDetect(t *testing.T) {
	asm := `
execute:
- parse:
    version: 2.2.0
`
	cases := []struct {
		name, body, ct string
		parsed         bool
		want           any
	}{
		{"object", `{"a": 1}`, "", true, map[string]any{"a": float64(1)}},
		{"array by first byte", "\n [true]", "text/plain", true, []any{true}},
		{"json scalar by content type", `"just text"`, "application/json; charset=utf-8", true, "just text"},
		{"problem+json", `12`, "application/problem+json", true, float64(12)},
		{"plain text stays", "hello", "text/plain", false, "hello"},
		{"xml parsed into a document that keeps its bytes", `<?xml version="1.0"?><a><b>1</b></a>`, "", true, `<?xml version="1.0"?><a><b>1</b></a>`},
		{"empty", "", "application/json", false, ""},
		{"byte-order mark", "\xef\xbb\xbf{\"a\": 2}", "", true, map[string]any{"a": float64(2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ct != "" {
				hdr = []string{"Content-Type", tc.ct}
			}
			c := mustRunAsm(t, apidef.GatewayAPI, asm, "POST", "/test/items", tc.body, hdr...)
			if c.Message.Body.IsParsed() != tc.parsed {
				t.Fatalf("parsed = %v, want %v", c.Message.Body.IsParsed(), tc.parsed)
			}
			got, err := c.Message.Body.Value()
			if err != nil {
				t.Fatal(err)
			}
			if doc, ok := got.(assembly.Serialized); ok {
				got = string(doc.Bytes())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("body = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	jsonAsm := `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      parse-settings:
        document_type: json
`
	_, err := runAsm(t, apidef.GatewayAPI, jsonAsm, "POST", "/test/items", "{\"a\": 1,\n \"b\": }")
	e := asmError(t, err)
	if e.Name != assembly.RuntimeError || e.StatusCode() != 400 || e.Policy != "parse" {
		t.Errorf("error = %+v", e)
	}
	if !strings.Contains(e.Message, "not valid JSON") || !strings.Contains(e.Message, "line 2") {
		t.Errorf("message = %q", e.Message)
	}

	// A default catch takes it.
	c := mustRunAsm(t, apidef.GatewayAPI, jsonAsm+`
catch:
- default:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: '$(error.status.code) $(error.message)'
`, "POST", "/test/items", "not json")
	if got := bodyText(t, c); !strings.HasPrefix(got, "400 parse: message: the body is not valid JSON") {
		t.Errorf("body = %q", got)
	}
	if c.Message.StatusCode() != 400 {
		t.Errorf("status = %d", c.Message.StatusCode())
	}

	for _, body := range []string{"<a><b></a>", "<a/><b/>", "<a>x</a>trailing", "<a>&nbsp;</a>"} {
		_, err = runAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      parse-settings:
        document_type: xml
`, "POST", "/test/items", body)
		if e := asmError(t, err); e.StatusCode() != 400 || !strings.Contains(e.Message, "not well-formed XML") {
			t.Errorf("%s: error = %+v", body, e)
		}
	}
	// Detected from the first byte.
	_, err = runAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
`, "POST", "/test/items", `{"a": [1, 2}`)
	if e := asmError(t, err); e.StatusCode() != 400 {
		t.Errorf("detect: error = %+v", e)
	}
}

func TestParseUseContentType(t *testing.T) {
	asm := `
execute:
- parse:
    version: 2.2.0
    use-content-type: true
    parse-settings-reference:
      parse-settings:
        document_type: json
`
	_, err := runAsm(t, apidef.GatewayAPI, asm, "POST", "/test/items", `{"a": 1}`, "Content-Type", "text/xml")
	if e := asmError(t, err); e.StatusCode() != 400 || !strings.Contains(e.Message, "Content-Type") {
		t.Errorf("error = %+v", e)
	}
	c := mustRunAsm(t, apidef.GatewayAPI, asm, "POST", "/test/items", `{"a": 1}`, "Content-Type", "application/json")
	if !c.Message.Body.IsParsed() {
		t.Error("not parsed")
	}
	// With detect, Content-Type decides before the first byte.
	_, err = runAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.2.0
    use-content-type: true
`, "POST", "/test/items", `{"a": 1}`, "Content-Type", "application/xml")
	if e := asmError(t, err); !strings.Contains(e.Message, "XML") {
		t.Errorf("error = %+v", e)
	}
}

func TestParseSettingsForms(t *testing.T) {
	for _, settings := range []string{
		"document_type: json",
		"document-type: JSON",
		"parse-settings-reference: {literal: '<ParseSettings><DocumentType>json</DocumentType></ParseSettings>'}",
		`parse-settings-reference: {literal: '{"ParseSettings": {"DocumentType": "json"}}'}`,
	} {
		c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    `+settings+`
`, "POST", "/test/items", `"x"`)
		if v, ok := c.Message.Body.Parsed(); !ok || v != "x" {
			t.Errorf("%s: body = %#v, parsed %v", settings, v, ok)
		}
	}
	// max_document_size
	_, err := runAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      parse-settings:
        max_document_size: 4
`, "POST", "/test/items", `{"a": 1}`)
	if e := asmError(t, err); !strings.Contains(e.Message, "max_document_size") {
		t.Errorf("error = %+v", e)
	}
}

func TestParseMissingInput(t *testing.T) {
	_, err := runAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    input: nosuch
`, "GET", "/test/items", "")
	if e := asmError(t, err); e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "nosuch") {
		t.Errorf("error = %+v", e)
	}
}

func TestParseProblems(t *testing.T) {
	cases := []struct{ name, asm, at, msg string }{
		{"bad document type", `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      parse-settings:
        document_type: yaml
`, "document_type: yaml", `"yaml"`},
		{"url", `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      url: local:///settings.xml
`, "url: local", "not supported"},
		{"bad literal", `
execute:
- parse:
    version: 2.0.0
    parse-settings-reference:
      literal: '<ParseSettings>'
`, "literal:", "do not parse"},
		{"read-only output", `
execute:
- parse:
    version: 2.0.0
    output: api.name
`, "output: api.name", "read-only"},
		{"bad use-content-type", `
execute:
- parse:
    version: 2.0.0
    use-content-type: sometimes
`, "use-content-type:", "true or false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := problemsOf(t, apidef.GatewayAPI, tc.asm)
			wantProblem(t, doc, ps, tc.at, tc.msg)
		})
	}
}

func TestParseRequestAndTextVariable(t *testing.T) {
	c := mustRunAsm(t, apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
    input: request
- set-variable:
    version: 2.0.0
    actions:
    - set: raw
      value: '{"inner": [true]}'
      type: string
- parse:
    version: 2.0.0
    input: raw
    output: doc
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-a
      value: $(request.body.a)
    - set: message.headers.x-inner
      value: $(doc.body.inner.0)
`, "POST", "/test/items", `{"a": "from request"}`)
	if got := c.Message.Headers.Get("X-A"); got != "from request" {
		t.Errorf("x-a = %q", got)
	}
	if got := c.Message.Headers.Get("X-Inner"); got != "true" {
		t.Errorf("x-inner = %q", got)
	}
	// The message still has the text.
	if c.Message.Body.IsParsed() {
		t.Error("message body parsed")
	}
	if got := bodyText(t, c); got != `{"a": "from request"}` {
		t.Errorf("body = %q", got)
	}
}
