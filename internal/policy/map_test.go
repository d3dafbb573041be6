package policy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/policy/mapping"
)

// Helpers of the map, extract and redact tests (tx: transform). They
// compile a real API document with the built-in policies and run it on a
// real context, or serve it through the gateway over HTTP.

const txHead = `swagger: "2.0"
info:
  title: Transform Test
  x-ibm-name: transform-test
  version: 1.0.0
basePath: /test
paths:
  /items:
    get:
      responses: {"200": {description: ok}}
    post:
      responses: {"200": {description: ok}}
`

// txDoc returns an API document: extra is top-level YAML (definitions: …)
// and asm the assembly, both written from column 0.
func txDoc(gateway, extra, asm string) string {
	var b strings.Builder
	b.WriteString(txHead)
	if extra != "" {
		b.WriteString(strings.Trim(extra, "\n") + "\n")
	}
	b.WriteString("x-ibm-configuration:\n")
	if gateway != "" {
		b.WriteString("  gateway: " + gateway + "\n")
	}
	b.WriteString("  assembly:\n")
	for _, line := range strings.Split(strings.Trim(asm, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("    ")
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func txCompile(t testing.TB, doc string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	return gatewaytest.CompileDoc(t, doc, Builtins(), nil, "")
}

// txMustCompile compiles a document that must have no problem at all.
func txMustCompile(t testing.TB, doc string) (*assembly.Assembly, *apidef.API) {
	t.Helper()
	a, api, ps := txCompile(t, doc)
	if len(ps) > 0 {
		t.Fatalf("unexpected problems:\n%v\n%s", ps, doc)
	}
	return a, api
}

// txContext makes the context of a request; headers are name, value pairs.
func txContext(t testing.TB, api *apidef.API, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	req := gatewaytest.Request(method, target, body, headers...)
	info := &assembly.APIInfo{Name: api.Name, Version: api.Version, BasePath: api.BasePath, Properties: map[string]*assembly.Template{}}
	return assembly.NewContext(context.Background(), req, info, &assembly.OperationInfo{Path: "/items", Method: method})
}

func txRun(t testing.TB, doc, method, target, body string, headers ...string) (*assembly.Context, error) {
	t.Helper()
	a, api := txMustCompile(t, doc)
	c := txContext(t, api, method, target, body, headers...)
	return c, a.Run(c)
}

func txMustRun(t testing.TB, doc, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	c, err := txRun(t, doc, method, target, body, headers...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return c
}

// txJSON is the message body decoded as JSON.
func txJSON(t testing.TB, c *assembly.Context) any {
	t.Helper()
	data, err := c.Message.Body.Bytes()
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, data)
	}
	return v
}

// txWantJSON compares a value with JSON text.
func txWantJSON(t testing.TB, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	g, _ := json.Marshal(got)
	var gn any
	_ = json.Unmarshal(g, &gn)
	if !reflect.DeepEqual(gn, w) {
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

// txProblem asserts that ps has exactly one problem, an error or a warning
// as warn says, on the line of doc containing at, whose text has msg.
func txProblem(t testing.TB, doc string, ps apidef.Problems, warn bool, at, msg string) {
	t.Helper()
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %d:\n%v", len(ps), ps)
	}
	p := ps[0]
	line := 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, at) {
			line = i + 1
			break
		}
	}
	if p.Line != line {
		t.Errorf("problem on line %d, want %d (%q): %v", p.Line, line, at, p)
	}
	if p.Warn != warn {
		t.Errorf("warning = %v, want %v: %v", p.Warn, warn, p)
	}
	if !strings.Contains(p.Msg, msg) {
		t.Errorf("problem %q does not mention %q", p.Msg, msg)
	}
	if p.File != "test.yaml" || p.Field == "" {
		t.Errorf("problem not located: %v", p)
	}
}

// txLoadProblems loads API files as the gateway does and returns the
// problems of the bundle and of compiling it.
func txLoadProblems(t testing.TB, files map[string]string) apidef.Problems {
	t.Helper()
	b, ps := bundle.Load(gatewaytest.WriteFiles(t, files))
	if len(ps.Errors()) > 0 {
		return ps
	}
	_, cps := gateway.Compile(b, Builtins(), &assembly.Env{})
	return append(ps, cps...)
}

// txCall sends one request to the test gateway's /items.
func txCall(t testing.TB, srv *httptest.Server, method, body string, headers ...string) gatewaytest.Response {
	t.Helper()
	return gatewaytest.Call(t, method, srv.URL+"/local/sandbox/test/items", body, headers...)
}

// ---------------------------------------------------------------------------
// map

// mapInOut begins an assembly of one map from the input in (request.body)
// to the output out (message.body); its actions follow.
const mapInOut = `
execute:
- map:
    version: 2.0.0
    inputs:
      in: {schema: {type: object}, variable: request.body}
    outputs:
      out: {schema: {type: object}, variable: message.body}
    actions:
`

func TestMapSetFromValueDefault(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- map:
    version: 2.0.0
    inputs:
      in:
        schema: {type: object}
        variable: request.body
        content: application/json
      who:
        schema: {type: string}
        variable: request.parameters.who
    outputs:
      out:
        schema: {type: object}
        variable: message.body
        content: application/json
    actions:
    - set: out.city
      from: in.location.city
    - set: out.address.street
      from: in.location.street
    - set: out.loud
      from: in.name
      value: $uppercase($)
    - set: out.net
      from: in.salary
      value: $(1) - $(1) * 0.07
    - set: out.full
      from: [in.name, who]
      value: $[0] & ' and ' & $(2)
    - set: out.both
      from: [in.name, who]
    - set: out.missing
      from: in.nothing
      default: none
    - set: out.fixed
      value: "'constant'"
    - set: out.fromContext
      value: $(request.headers.x-tag)
    - set: out.skipped
      from: in.nothing
`)
	c := txMustRun(t, doc, "POST", "/test/items?who=Bob", `{"name":"ada","salary":1000,"location":{"city":"Paris","street":"Rue"}}`, "X-Tag", "t1")
	txWantJSON(t, txJSON(t, c), `{"city":"Paris","address":{"street":"Rue"},"loud":"ADA","net":930,
		"full":"ada and Bob","both":["ada","Bob"],"missing":"none","fixed":"constant","fromContext":"t1"}`)
	if !c.Message.Body.IsParsed() {
		t.Errorf("the output body is not a parsed value")
	}
	// The request body is still what the client sent.
	if data, _ := c.Request.Body.Bytes(); !strings.Contains(string(data), `"salary":1000`) {
		t.Errorf("request body changed: %s", data)
	}
}

func TestMapSchemaConversion(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, `
definitions:
  Out:
    type: object
    properties:
      n: {type: number}
      i: {type: integer}
      b: {type: boolean}
      s: {type: string}
      list: {type: array, items: {type: integer}}
      nested: {$ref: '#/definitions/Nested'}
  Nested:
    properties:
      flag: {type: boolean}
`, `
execute:
- map:
    version: 2.0.0
    inputs:
      n: {schema: {type: number}, variable: request.parameters.n}
      i: {schema: {type: integer}, variable: request.parameters.i}
      b: {schema: {type: string}, variable: request.parameters.b}
      body: {schema: {type: object}, variable: request.body}
    outputs:
      out: {schema: {$ref: '#/definitions/Out'}, variable: message.body}
    actions:
    - set: out.n
      from: n
    - set: out.i
      from: i
    - set: out.b
      from: b
    - set: out.s
      from: body.count
    - set: out.list
      from: body.one
    - set: out.nested.flag
      from: body.flag
    - set: out.sum
      from: [n, i]
      value: $(1) + $(2)
`)
	c := txMustRun(t, doc, "POST", "/test/items?n=2.5&i=7&b=true", `{"count": 42, "one": "5", "flag": "false"}`)
	txWantJSON(t, txJSON(t, c), `{"n":2.5,"i":7,"b":true,"s":"42","list":[5],"nested":{"flag":false},"sum":9.5}`)
}

func TestMapForeach(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- map:
    version: 2.0.0
    inputs:
      order: {schema: {type: object}, variable: request.body}
    outputs:
      out: {schema: {type: object}, variable: message.body}
    actions:
    - create: out.lines
      foreach: order.items
      from: order.items
      actions:
      - set: sku
        from: id
      - set: desc
        from: $item.name
        value: $uppercase($)
      - set: total
        from: [price, qty]
        value: $(1) * $(2)
      - set: currency
        from: order.currency
    - set: out.orderTotal
      foreach: order.items
      from: [order.items.price, order.items.qty]
      value: $(0) + $(1) * $(2)
      default: 0
    - set: out.names
      foreach: order.items
      from: order.items.name
    - create: out.copies
      foreach: order.items
      from: order.items
      actions:
      - set: $item
        from: $item
    - create: out.copies
      foreach: order.extra
      actions:
      - set: $item
        from: $item
    - create: out.none
      foreach: order.nothing
      actions:
      - set: x
        from: x
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"currency":"EUR","items":[
		{"id":1,"name":"pen","price":2,"qty":3},{"id":2,"name":"ink","price":5,"qty":1}],"extra":{"id":3}}`)
	txWantJSON(t, txJSON(t, c), `{
		"lines":[{"sku":1,"desc":"PEN","total":6,"currency":"EUR"},{"sku":2,"desc":"INK","total":5,"currency":"EUR"}],
		"orderTotal":11,
		"names":["pen","ink"],
		"copies":[{"id":1,"name":"pen","price":2,"qty":3},{"id":2,"name":"ink","price":5,"qty":1},{"id":3}],
		"none":[]}`)
}

func TestMapEmptyArrayAndNullOptions(t *testing.T) {
	asm := func(opts string) string {
		return mapInOut + `    - create: out.list
      foreach: in.nothing
      actions:
      - set: x
        from: x
    - set: out.n
      from: in.n
    - set: out.m
      from: in.m
    options:
` + opts
	}
	c := txMustRun(t, txDoc(apidef.GatewayAPI, "", asm("      mapCreateEmptyArray: none\n")), "POST", "/test/items", `{"n": null, "m": 1}`)
	txWantJSON(t, txJSON(t, c), `{"m":1}`)
	c = txMustRun(t, txDoc(apidef.GatewayAPI, "", asm("      mapNullValue: true\n")), "POST", "/test/items", `{"n": null, "m": 1}`)
	txWantJSON(t, txJSON(t, c), `{"list":[],"n":null,"m":1}`)
}

func TestMapEmptyOutputIsNotWritten(t *testing.T) {
	asm := mapInOut + `    - set: out.a
      from: in.missing
`
	c := txMustRun(t, txDoc(apidef.GatewayAPI, "", asm), "POST", "/test/items", `{"b":1}`)
	if got, _ := c.Message.Body.Bytes(); string(got) != `{"b":1}` {
		t.Errorf("body = %s, want the request's", got)
	}
	asm += "    options: {mapEmulateV4EmptyJSONObject: true}\n"
	c = txMustRun(t, txDoc(apidef.GatewayAPI, "", asm), "POST", "/test/items", `{"b":1}`)
	txWantJSON(t, txJSON(t, c), `{}`)
}

func TestMapHeadersStatusAndVariables(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- map:
    version: 2.0.0
    inputs:
      id: {schema: {type: integer}, variable: request.parameters.id}
    outputs:
      ct: {schema: {type: string}, variable: message.headers.content-type}
      code: {schema: {type: string}, variable: message.status.code}
      saved: {schema: {type: object}, variable: my.saved}
    actions:
    - set: ct
      default: text/plain
    - set: code
      default: '201'
    - set: saved.id
      from: id
    - set: saved.tags[1]
      value: "'second'"
`)
	c := txMustRun(t, doc, "GET", "/test/items?id=12", "")
	if got := c.Message.Headers.Get("Content-Type"); got != "text/plain" {
		t.Errorf("content-type = %q", got)
	}
	if c.Message.Status != 201 {
		t.Errorf("status = %d", c.Message.Status)
	}
	saved, _ := c.Var("my.saved")
	txWantJSON(t, saved, `{"id":12,"tags":[null,"second"]}`)
}

// The API Connect examples of the corpus: JavaScript values, with $(n) for
// the from values, on both gateways.
func TestMapJavaScriptValues(t *testing.T) {
	for _, gw := range []string{apidef.GatewayAPI, apidef.GatewayV5, ""} {
		t.Run(gw, func(t *testing.T) {
			doc := txDoc(gw, "", `
execute:
- map:
    version: 2.1.0
    inputs:
      input: {schema: {type: object}, variable: request.body}
    outputs:
      output: {schema: {type: object}, variable: message.body}
    actions:
    - set: output.name
      from: input.name
      value: $(1).toUpperCase()
    - set: output.price
      from: input.price
      value: "'$'+ $(1)"
    - set: output.InHand_Salary
      from: input.salary
      value: $(1) - $(1) * 0.07
    - set: output.ID
      value: '1'
    - set: output.city
      value: "'Chicago'"
    - set: output.obj
      from: [input.name, input.price]
      value: "({n: $(1), p: $(2), ok: apim.getvariable('request.verb') === 'POST'})"
    - set: output.joined
      from: [input.name, input.name]
      value: $(1) + $(2)
`)
			c := txMustRun(t, doc, "POST", "/test/items", `{"name":"ada","price":12.5,"salary":1000}`)
			txWantJSON(t, txJSON(t, c), `{"name":"ADA","price":"$12.5","InHand_Salary":930,"ID":1,"city":"Chicago",
				"obj":{"n":"ada","p":12.5,"ok":true},"joined":"adaada"}`)
		})
	}
}

func TestMapValueLanguage(t *testing.T) {
	cases := []struct {
		src  string
		lang mapping.Lang
		js   bool
	}{
		{"$uppercase($)", mapping.LangAuto, false},
		{"$(1) - $(1) * 0.07", mapping.LangAuto, false},
		{"'$' + $(1)", mapping.LangAuto, true},
		{"$(1).toUpperCase()", mapping.LangAuto, true},
		{"new Date().getFullYear()", mapping.LangAuto, true},
		{"'Chicago'", mapping.LangAuto, false},
		{"'Chicago'", mapping.LangJavaScript, true},
		{`$string($) & "x"`, mapping.LangAuto, false},
		{"function($x){$x+1}(2)", mapping.LangAuto, false},
	}
	for _, tc := range cases {
		v, err := mapping.CompileValue(tc.src, tc.lang)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if v.IsJavaScript() != tc.js {
			t.Errorf("%q: JavaScript = %v, want %v", tc.src, v.IsJavaScript(), tc.js)
		}
	}
	if _, err := mapping.CompileValue("$(1) +* )", mapping.LangAuto); err == nil {
		t.Errorf("a value that is neither JSONata nor JavaScript compiled")
	}
}

func TestMapSchemaRefsOpenAPI3(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: T, x-ibm-name: t, version: 1.0.0}
servers: [{url: /test}]
paths:
  /items:
    post:
      responses: {"200": {description: ok}}
components:
  schemas:
    Out:
      type: object
      properties:
        total: {type: number}
        tags: {type: array, items: {type: string}}
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
    - map:
        version: 2.0.0
        inputs:
          in: {schema: {type: object}, variable: request.body}
        outputs:
          out: {schema: {$ref: '#/components/schemas/Out'}, variable: message.body}
        actions:
        - set: out.total
          from: in.total
        - set: out.tags
          from: in.tag
`
	c := txMustRun(t, doc, "POST", "/test/items", `{"total":"10.5","tag":7}`)
	txWantJSON(t, txJSON(t, c), `{"total":10.5,"tags":["7"]}`)
}

func TestMapRecursiveSchema(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, `
definitions:
  Node:
    type: object
    properties:
      value: {type: integer}
      next: {$ref: '#/definitions/Node'}
`, `
execute:
- map:
    version: 2.0.0
    inputs:
      in: {schema: {type: object}, variable: request.body}
    outputs:
      out: {schema: {$ref: '#/definitions/Node'}, variable: message.body}
    actions:
    - set: out
      from: in
    options: {mapReferenceLimit: 2}
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"value":"1","next":{"value":"2","next":{"value":"3"}}}`)
	// Two levels are typed (the reference is expanded twice), the third not.
	txWantJSON(t, txJSON(t, c), `{"value":1,"next":{"value":2,"next":{"value":"3"}}}`)
}

const soapDefinitions = `
definitions:
  Input:
    type: object
    properties:
      Envelope:
        xml: {prefix: soapenv, namespace: 'http://schemas.xmlsoap.org/soap/envelope/'}
        type: object
        properties:
          Body:
            type: object
            properties:
              getQuote:
                xml: {prefix: tns, namespace: 'http://quotes.example/'}
                type: object
                properties:
                  symbol: {type: string, xml: {namespace: ''}}
                  count: {type: integer, xml: {namespace: ''}}
                  id: {type: string, xml: {attribute: true}}
  Output:
    type: object
    properties:
      Envelope:
        type: object
        properties:
          Body:
            type: object
            properties:
              getQuoteResponse:
                type: object
                properties:
                  price: {type: number}
                  history: {type: array, items: {type: number}}
`

func TestMapXMLOutput(t *testing.T) {
	doc := txDoc(apidef.GatewayV5, soapDefinitions, `
execute:
- map:
    inputs:
      symbol: {schema: {type: string}, variable: request.parameters.symbol}
    outputs:
      body: {schema: {$ref: '#/definitions/Input'}, variable: message.body, content: application/xml}
      content-type: {schema: {type: string}, variable: message.headers.content-type}
    actions:
    - set: content-type
      default: text/xml
    - set: body.Envelope.Body.getQuote.symbol
      from: symbol
    - set: body.Envelope.Body.getQuote.count
      value: '2'
    - set: body.Envelope.Body.getQuote.id
      value: "'q<1>'"
`)
	c := txMustRun(t, doc, "GET", "/test/items?symbol=IBM%26Co", "")
	want := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>` +
		`<tns:getQuote xmlns:tns="http://quotes.example/" id="q&lt;1&gt;"><symbol>IBM&amp;Co</symbol><count>2</count></tns:getQuote>` +
		`</soapenv:Body></soapenv:Envelope>`
	if got := string(must(c.Message.Body.Bytes())); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if ct := c.Message.Headers.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("content-type = %q", ct)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMapXMLInput(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, soapDefinitions, `
execute:
- map:
    version: 2.0.0
    inputs:
      input: {schema: {$ref: '#/definitions/Output'}, variable: request.body, content: application/xml}
    outputs:
      out: {schema: {type: object}, variable: message.body}
    actions:
    - set: out.price
      from: input.Envelope.Body.getQuoteResponse.price
    - set: out.history
      from: input.Envelope.Body.getQuoteResponse.history
    - set: out.missing
      from: input.Envelope.Body.getQuoteResponse.missing
      default: none
    options: {mapResolveXMLInputDataType: true}
`)
	body := `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<q:getQuoteResponse xmlns:q="http://quotes.example/"><price>12.5</price><history>11</history></q:getQuoteResponse>
</s:Body></s:Envelope>`
	c := txMustRun(t, doc, "POST", "/test/items", body)
	txWantJSON(t, txJSON(t, c), `{"price":12.5,"history":[11],"missing":"none"}`)

	_, err := txRun(t, doc, "POST", "/test/items", "<a><b></a>")
	if e := asmError(t, err); e.Name != assembly.TransformError || e.StatusCode() != 400 || !strings.Contains(e.Message, "not well-formed XML") {
		t.Errorf("error = %+v", e)
	}
}

func TestMapErrors(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", mapInOut+`    - set: out.x
      from: in.name
      value: $number($)
`)
	_, err := txRun(t, doc, "POST", "/test/items", `{"name":"ada"}`)
	e := asmError(t, err)
	if e.Name != assembly.TransformError || e.StatusCode() != 500 || e.Policy != "map" ||
		!strings.Contains(e.Message, `actions[0] (set out.x): value "$number($)" failed`) || !strings.Contains(e.Message, "D3030") {
		t.Errorf("error = %+v", e)
	}
	_, err = txRun(t, doc, "POST", "/test/items", `{"name":`)
	if e := asmError(t, err); e.Name != assembly.TransformError || e.StatusCode() != 400 || !strings.Contains(e.Message, "input in: request.body is not JSON") {
		t.Errorf("error = %+v", e)
	}
	// A JavaScript value that throws.
	doc = strings.Replace(doc, "value: $number($)", "value: $(1).nope()", 1)
	_, err = txRun(t, doc, "POST", "/test/items", `{"name":"ada"}`)
	if e := asmError(t, err); e.Name != assembly.TransformError || !strings.Contains(e.Message, "JavaScript: TypeError") {
		t.Errorf("error = %+v", e)
	}
}

func TestMapErrorCaught(t *testing.T) {
	doc := txDoc(apidef.GatewayAPI, "", mapInOut+`    - set: out.x
      from: in.name
      value: $number($)
catch:
- errors: [TransformError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: caught $(error.name)
        type: string
`)
	c := txMustRun(t, doc, "POST", "/test/items", `{"name":"ada"}`)
	if got := string(must(c.Message.Body.Bytes())); got != "caught TransformError" {
		t.Errorf("body = %q", got)
	}
}

func TestMapProblems(t *testing.T) {
	cases := []struct {
		name, actions, at, msg string
		warn                   bool
	}{
		{"value does not compile", "- set: out.x\n  from: in.a\n  value: $(1) +* )", "value: $(1) +* )", "value does not compile", false},
		{"unknown output", "- set: other.x\n  from: in.a", "set: other.x", `"other" names no output`, false},
		{"no set", "- from: in.a", "from: in.a", "needs set (or create)", false},
		{"set and create", "- set: out.a\n  create: out.b", "create: out.b", "not both", false},
		{"unknown input", "- set: out.x\n  from: nope.a", "from: nope.a", `"nope.a" names no input`, true},
		{"not a path", "- set: out.x\n  from: in.a[x", "from: in.a[x", "is not a dotted path", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asm strings.Builder
			asm.WriteString(mapInOut + ``)
			for _, line := range strings.Split(tc.actions, "\n") {
				asm.WriteString("    " + line + "\n")
			}
			doc := txDoc(apidef.GatewayAPI, "", asm.String())
			_, _, ps := txCompile(t, doc)
			txProblem(t, doc, ps, tc.warn, tc.at, tc.msg)
		})
	}
}

func TestMapSettingsProblems(t *testing.T) {
	cases := []struct {
		name, settings, at, msg string
		warn                    bool
	}{
		{"input without variable", "inputs:\n  in: {schema: {type: object}}\noutputs: {}\nactions: []", "in: {schema", `input "in" needs a variable`, false},
		{"read-only output", "outputs:\n  o: {variable: request.body}\nactions: []", "o: {variable", "read-only", false},
		{"not a message field", "outputs:\n  o: {variable: message.header.x}\nactions: []", "o: {variable", "not part of a message", true},
		{"bad option", "outputs: {}\nactions: []\noptions: {mapNullValue: maybe}", "options:", "mapNullValue must be true or false", false},
		{"unknown option", "outputs: {}\nactions: []\noptions: {mapFancy: true}", "options:", `unknown map option "mapFancy"`, true},
		{"bad reference limit", "outputs: {}\nactions: []\noptions: {mapReferenceLimit: 9}", "options:", "from 1 to 5", false},
		{"unresolved $ref", "outputs:\n  o: {schema: {$ref: '#/definitions/Nope'}, variable: message.body}\nactions: []", "o: {schema", `$ref "#/definitions/Nope"`, false},
		{"unknown type", "outputs:\n  o: {schema: {type: text}, variable: message.body}\nactions: []", "o: {schema", `schema type "text"`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asm strings.Builder
			asm.WriteString("execute:\n- map:\n    version: 2.0.0\n")
			for _, line := range strings.Split(tc.settings, "\n") {
				asm.WriteString("    " + line + "\n")
			}
			doc := txDoc(apidef.GatewayAPI, "", asm.String())
			_, _, ps := txCompile(t, doc)
			txProblem(t, doc, ps, tc.warn, tc.at, tc.msg)
		})
	}
}

func TestMapEndToEnd(t *testing.T) {
	api := txDoc(apidef.GatewayAPI, "", `
execute:
- map:
    version: 2.0.0
    inputs:
      in: {schema: {type: object}, variable: request.body}
      q: {schema: {type: integer}, variable: request.parameters.limit}
    outputs:
      out: {schema: {type: object}, variable: message.body}
    actions:
    - set: out.greeting
      from: in.name
      value: "'Hello, ' & $"
    - set: out.limit
      from: q
    - create: out.items
      foreach: in.items
      actions:
      - set: n
        from: $item
        value: $ * 10
- switch:
    version: 2.0.0
    case:
    - condition: $exists(message.body.items[n > 100])
      execute:
      - map:
          version: 2.0.0
          inputs:
            in: {schema: {type: object}, variable: message.body}
          outputs:
            out: {schema: {type: object}, variable: message.body}
          actions:
          - set: out.tooBig
            from: in.items
            value: $[n > 100].n
catch:
- errors: [TransformError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.status.code
        value: "418"
        type: number
      - set: message.body
        value: '{"failed": "$(error.name)"}'
        type: string
`)
	srv := serveFiles(t, map[string]string{"api.yaml": api})
	res := txCall(t, srv, "POST", `{"name":"Ada","items":[1,2,3]}`, "Content-Type", "application/json")
	if res.Status != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q: %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	var got any
	_ = json.Unmarshal([]byte(res.Body), &got)
	txWantJSON(t, got, `{"greeting":"Hello, Ada","items":[{"n":10},{"n":20},{"n":30}]}`)

	// A value that fails (a string times ten) is a TransformError, caught.
	res = txCall(t, srv, "POST", `{"name":"Ada","items":["x"]}`)
	if res.Status != 418 || res.Body != `{"failed": "TransformError"}` {
		t.Errorf("caught: %d %s", res.Status, res.Body)
	}
	// Uncaught, a body that is not JSON answers 400 in API Connect's shape.
	srv2 := serveFiles(t, map[string]string{"api.yaml": strings.Split(api, "catch:")[0]})
	res = txCall(t, srv2, "POST", `{"name":`)
	if res.Status != 400 || !strings.Contains(res.Body, `"httpCode":"400"`) || !strings.Contains(res.Body, "is not JSON") {
		t.Errorf("uncaught: %d %s", res.Status, res.Body)
	}
}

// TestTransformCorpus compiles the corpus of real API Connect files: the
// map, extract and redact policies in them load without errors. Warnings
// are allowed where the file itself is at fault, as listed.
func TestTransformCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
	}
	knownWarnings := map[string]string{
		// from holds JavaScript that builds XML instead of a path.
		"ChrisPhillips-cminion__banking-api-mock__config__composite-api-openapi.yaml": "is not a dotted path",
		// message.header (not headers) names nothing.
		"gxvigo__open-bank-project-api__open-bank-project-api_v1.1.0.yaml": "message.header.bankId is not part of a message",
		// v5 redactions without a path.
		"iamjamilspain__APIConnect-APItranslation__Test__if.yaml":                "has no path",
		"iamjamilspain__APIConnect-APItranslation__Test__operationalswitch.yaml": "has no path",
		"iamjamilspain__APIConnect-APItranslation__Test__switch.yaml":            "has no path",
	}
	reg := Builtins()
	counts := map[string]int{}
	seen := map[string]bool{}
	for _, e := range entries {
		if !apidef.IsDocumentFile(e.Name()) {
			continue
		}
		d, err := apidef.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		api, _ := apidef.LoadAPI(d)
		src := api.Assembly.Source()
		for _, p := range []string{"map", "extract", "redact"} {
			if strings.Contains(src, "- "+p+":") || strings.Contains(src, p+":\n") {
				counts[p]++
			}
		}
		_, ps := assembly.CompileAPI(reg, api, nil, dir)
		for _, p := range ps {
			switch txProblemPolicy(p.Field) {
			case "map", "extract", "redact":
			default:
				continue
			}
			if p.Warn && knownWarnings[e.Name()] != "" && strings.Contains(p.Msg, knownWarnings[e.Name()]) {
				seen[e.Name()] = true
				continue
			}
			t.Errorf("%s: unexpected problem: %v", e.Name(), p)
		}
	}
	for f := range knownWarnings {
		if !seen[f] {
			t.Errorf("%s: expected a warning %q, found none", f, knownWarnings[f])
		}
	}
	if counts["map"] < 25 || counts["redact"] < 5 || counts["extract"] < 2 {
		t.Errorf("too few corpus files use the policies: %v", counts)
	}
	t.Logf("files using each policy: %v", counts)
}

// TestTransformCorpusExamples runs real API Connect files whose
// assemblies need no back end and checks what they produce.
func TestTransformCorpusExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	cases := []struct{ file, method, body, want string }{
		// parse, then map with JavaScript values on the API Gateway.
		{"Sh-bit01__APIC_yaml__Task_friday_1.0.0.yaml", "POST", `{"Id":1,"name":"ada","salary":1000}`,
			`{"Id":1,"name":"ADA","salary":1000,"InHand_Salary":930}`},
		// a v5 map of constants; phone does not convert to its schema's number.
		{"ibm-apiconnect__pot-onprem-core__lab-files__lab8__load-student_1.0.0.yaml", "GET", "",
			`{"ID":1,"address":"200 West Monroe Street","city":"Chicago","name":"Think Products Inc","phone":"312 282 2727","state":"IL","zip":"60680"}`},
		// parse, then extract of the whole body.
		{"Sh-bit01__APIC_yaml__1200_extract_api_1.0.0.yaml", "POST", `{"name":"abcdef"}`, `{"jh":6}`},
	}
	for _, tc := range cases {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
		}
		a, api := txMustCompile(t, string(data))
		c := txContext(t, api, tc.method, "/x", tc.body, "Content-Type", "application/json")
		if err := a.Run(c); err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		txWantJSON(t, txJSON(t, c), tc.want)
	}
}

// txProblemPolicy is the innermost policy of a problem's field path,
// e.g. execute[3].switch.case[0].execute[1].map.actions[0] → map.
func txProblemPolicy(field string) string {
	last := ""
	for _, part := range strings.Split(field, ".") {
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		switch part {
		case "map", "extract", "redact", "invoke", "switch", "operation-switch", "if", "set-variable", "parse",
			"throw", "gatewayscript", "validate", "log", "xml-to-json", "json-to-xml", "proxy":
			last = part
		}
	}
	return last
}

// FuzzMapValue feeds arbitrary value expressions to the language choice,
// the $(…) rewriting and both compilers: nothing may panic, and whatever
// compiles must evaluate (or fail) without panicking.
func FuzzMapValue(f *testing.F) {
	for _, s := range []string{"$(1).toUpperCase()", "'$'+ $(1)", "$(1) - $(1) * 0.07", "$uppercase($)",
		"$(0) + $(1) * $(2)", "'a' // $(2)\n + $(1)", "\"$(x)\" + $(request.verb)", "{a: $(1)}", "$(", "$()", "`$(1)`",
		"function($x){$x}(1)", "/* $(1) */ 3", "while(true){}", "[1,2,3][$(1)]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, lang := range []mapping.Lang{mapping.LangAuto, mapping.LangJavaScript} {
			v, err := mapping.CompileValue(src, lang)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20e6)
			_, _, _ = v.Eval(ctx, fuzzEnv{}, map[string]any{"a": 1.0, "b": []any{"x"}})
			cancel()
		}
	})
}

type fuzzEnv struct{}

func (fuzzEnv) Var(name string) (any, bool) {
	switch name {
	case "1":
		return "ada", true
	case "2":
		return 2.0, true
	}
	return nil, false
}

func (fuzzEnv) Root() map[string]any { return map[string]any{"request": map[string]any{"verb": "GET"}} }

// BenchmarkMap maps a 20-field object, with a few value expressions, and
// a foreach over 20 items into an array of objects.
func BenchmarkMap(b *testing.B) {
	var acts strings.Builder
	for i := range 20 {
		name := "f" + string(rune('a'+i))
		switch i {
		case 3:
			acts.WriteString("    - set: out." + name + "\n      from: in." + name + "\n      value: $uppercase($)\n")
		case 7:
			acts.WriteString("    - set: out." + name + "\n      from: [in.fa, in.fb]\n      value: $(1) & '-' & $(2)\n")
		case 11:
			acts.WriteString("    - set: out.nested." + name + "\n      from: in." + name + "\n      value: $length($)\n")
		default:
			acts.WriteString("    - set: out." + name + "\n      from: in." + name + "\n")
		}
	}
	doc := txDoc(apidef.GatewayAPI, "", `
execute:
- map:
    version: 2.0.0
    inputs:
      in: {schema: {type: object}, variable: src}
    outputs:
      out: {schema: {type: object}, variable: message.body}
    actions:
`+acts.String()+`    - create: out.items
      foreach: in.items
      actions:
      - set: id
        from: id
      - set: label
        from: name
      - set: total
        from: [price, qty]
        value: $(1) * $(2)
`)
	a, api := txMustCompile(b, doc)
	src := map[string]any{}
	for i := range 20 {
		src["f"+string(rune('a'+i))] = "value " + string(rune('a'+i))
	}
	items := make([]any, 20)
	for i := range items {
		items[i] = map[string]any{"id": float64(i), "name": "item", "price": 2.5, "qty": float64(i)}
	}
	src["items"] = items
	c := txContext(b, api, "GET", "/test/items", "")
	b.ReportAllocs()
	for b.Loop() {
		c.SetVar("src", src)
		if err := a.Run(c); err != nil {
			b.Fatal(err)
		}
	}
	out, _ := c.Var("message.body")
	if m, _ := out.(map[string]any); len(m) != 21 || len(m["items"].([]any)) != 20 {
		b.Fatalf("unexpected output %v", out)
	}
}
