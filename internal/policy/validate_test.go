package policy

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
)

const goodOrder = `{"id": 7, "note": null, "items": [{"sku": "A1", "qty": 2, "price": 9.5}]}`

func TestValidateDefinition(t *testing.T) {
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
- validate:
    version: 2.0.0
    validate-against: definition
    definition: '#/definitions/Order'
`)
	c := xvOK(t, doc, "POST", "/xv/echo", goodOrder)
	if !c.Message.Body.IsParsed() {
		t.Error("the body is no longer parsed")
	}
	e := xvFail(t, doc, "POST", "/xv/echo", `{"id": 0, "items": [{"sku": "a1", "qty": "2"}, {"price": "x"}]}`)
	if e.Name != assembly.ValidateError || e.StatusCode() != 422 || e.StatusReason() != "Unprocessable Entity" || e.Policy != "validate" {
		t.Errorf("error = %+v", e)
	}
	for _, reason := range []string{
		"Validation of message.body against #/definitions/Order failed: ",
		"message.body.id: minimum: got 0, want 1",
		"message.body.items[0].sku: 'a1' does not match pattern '^[A-Z][0-9]+$'",
		"message.body.items[0].qty: got string, want integer",
		"message.body.items[1]: missing property 'sku'",
		"message.body.items[1].price: got string, want number",
	} {
		if !strings.Contains(e.Message, reason) {
			t.Errorf("message lacks %q:\n%s", reason, e.Message)
		}
	}
}

// Without a parse policy the body is read as JSON text, numbers exactly.
func TestValidateRawBody(t *testing.T) {
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    definition: Order
`)
	xvOK(t, doc, "POST", "/xv/echo", goodOrder, "Content-Type", "application/json")
	e := xvFail(t, doc, "POST", "/xv/echo", `{"id": 1.5, "items": []}`)
	if !strings.Contains(e.Message, "message.body.id: got number, want integer") || !strings.Contains(e.Message, "minItems") {
		t.Errorf("message = %s", e.Message)
	}
	e = xvFail(t, doc, "POST", "/xv/echo", `{"id": `)
	if e.Name != assembly.ValidateError || !strings.Contains(e.Message, "against #/definitions/Order failed: message.body is not valid JSON") {
		t.Errorf("error = %+v", e)
	}
	e = xvFail(t, doc, "POST", "/xv/echo", ``)
	if e.Name != assembly.ValidateError || !strings.Contains(e.Message, "message.body is empty") {
		t.Errorf("error = %+v", e)
	}
	e = xvFail(t, doc, "POST", "/xv/echo", `<order/>`, "Content-Type", "application/xml")
	if e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "validating XML against an OpenAPI schema is not supported") {
		t.Errorf("error = %+v", e)
	}
}

func TestValidateBodyParam(t *testing.T) {
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: body-param
`)
	xvOK(t, doc, "POST", "/xv/orders", goodOrder)
	e := xvFail(t, doc, "POST", "/xv/orders", `{"items": [{"sku": "A1", "qty": 1}]}`)
	if !strings.Contains(e.Message, "against the body parameter order of POST /orders failed: message.body: missing property 'id'") {
		t.Errorf("message = %s", e.Message)
	}
	// The body parameter is required.
	if e := xvFail(t, doc, "POST", "/xv/orders", ""); !strings.Contains(e.Message, "message.body is empty") {
		t.Errorf("message = %s", e.Message)
	}
	// Operations without a body schema have nothing to check.
	xvOK(t, doc, "GET", "/xv/orders", "anything")
	xvOK(t, doc, "POST", "/xv/echo", "anything")
}

func TestValidateResponseParam(t *testing.T) {
	a, api := xvMust(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: response-param
`))
	respond := func(status int, body string) error {
		c := xvContext(api, "POST", "/xv/orders", goodOrder)
		c.Message = &assembly.Message{Headers: http.Header{"Content-Type": {"application/json"}},
			Body: assembly.BytesBody([]byte(body)), Status: status}
		return a.Run(c)
	}
	if err := respond(201, goodOrder); err != nil {
		t.Errorf("201: %v", err)
	}
	err := respond(201, `{"id": 1}`)
	if e := asXVError(t, err); !strings.Contains(e.Message, "against the 201 response of POST /orders failed") {
		t.Errorf("201: %v", err)
	}
	// Other statuses use default.
	if e := asXVError(t, respond(500, `{}`)); !strings.Contains(e.Message, "the default response of POST /orders") ||
		!strings.Contains(e.Message, "missing property 'message'") {
		t.Errorf("500: %v", e)
	}
	if err := respond(404, `{"message": "no"}`); err != nil {
		t.Errorf("404: %v", err)
	}
}

func asXVError(t testing.TB, err error) *assembly.Error {
	t.Helper()
	e, ok := err.(*assembly.Error)
	if !ok {
		t.Fatalf("want an *assembly.Error, got %T %v", err, err)
	}
	return e
}

// v5: definition request and response, and a validate that names nothing,
// which follows the message: request body first, response after invoke.
func TestValidateV5(t *testing.T) {
	doc := xvDoc(apidef.GatewayV5, `
execute:
- validate:
    version: 1.0.0
    definition: request
`)
	xvOK(t, doc, "POST", "/xv/orders", goodOrder)
	if e := xvFail(t, doc, "POST", "/xv/orders", `{"id": 1}`); e.StatusCode() != 400 || e.Name != assembly.ValidateError {
		t.Errorf("v5 error = %+v", e)
	}
	implicit := xvDoc(apidef.GatewayV5, `
execute:
- validate:
    version: 1.0.0
    title: validate
`)
	_, _, ps := xvCompile(t, implicit, "")
	if len(ps) != 1 || !ps[0].Warn || !strings.Contains(ps[0].Msg, "validate names no schema") {
		t.Fatalf("problems = %v", ps)
	}
	a, api, _ := xvCompile(t, implicit, "")
	c := xvContext(api, "POST", "/xv/orders", `{"id": 1}`)
	if err := a.Run(c); err == nil || !strings.Contains(err.Error(), "body parameter order") {
		t.Errorf("request: %v", err)
	}
	c = xvContext(api, "POST", "/xv/orders", goodOrder)
	c.Message = &assembly.Message{Headers: http.Header{}, Body: assembly.BytesBody([]byte(`{"id": 1}`)), Status: 201}
	if err := a.Run(c); err == nil || !strings.Contains(err.Error(), "the 201 response") {
		t.Errorf("response: %v", err)
	}
}

func TestValidateInlineSchema(t *testing.T) {
	for _, schema := range []string{
		"json-schema:\n      type: object\n      required: [order]\n      properties:\n        order: {$ref: '#/definitions/Order'}",
		`json-schema: '{"type": "object", "required": ["order"], "properties": {"order": {"$ref": "#/definitions/Order"}}}'`,
		"validate-against: url\n    json-schema: {type: object, required: [order], properties: {order: {$ref: '#/definitions/Order'}}}",
	} {
		doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    `+schema+`
`)
		xvOK(t, doc, "POST", "/xv/echo", `{"order": `+goodOrder+`}`)
		e := xvFail(t, doc, "POST", "/xv/echo", `{"order": {"id": 1, "items": [{}]}}`)
		if !strings.Contains(e.Message, "against json-schema failed") || !strings.Contains(e.Message, "message.body.order.items[0]: missing property 'sku'") {
			t.Errorf("%s: message = %s", schema, e.Message)
		}
	}
	// An inline schema's own references stay inside it.
	xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    json-schema:
      definitions: {n: {type: integer}}
      properties: {a: {$ref: '#/definitions/n'}, b: {$ref: '#/properties/a'}}
`), "POST", "/xv/echo", `{"a": 1, "b": 2}`)
}

func TestValidateURLFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
	os.WriteFile(filepath.Join(dir, "schemas", "ping.json"), []byte(`{"type": "object", "required": ["ping"], "properties": {"ping": {"type": "string"}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "schemas", "order.xsd"), []byte(`<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o" xmlns="urn:o" elementFormDefault="qualified">
  <xs:include schemaLocation="types.xsd"/>
  <xs:element name="order">
    <xs:complexType><xs:sequence><xs:element name="id" type="positive"/></xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>`), 0o644)
	os.WriteFile(filepath.Join(dir, "schemas", "types.xsd"), []byte(`<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o">
  <xs:simpleType name="positive"><xs:restriction base="xs:integer"><xs:minInclusive value="1"/></xs:restriction></xs:simpleType>
</xs:schema>`), 0o644)

	compile := func(settings string) (*assembly.Assembly, *apidef.API) {
		a, api, ps := xvCompile(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: url
    `+settings+`
`), dir)
		if len(ps) > 0 {
			t.Fatalf("%s: %v", settings, ps)
		}
		return a, api
	}
	runWith := func(a *assembly.Assembly, api *apidef.API, body string) error {
		return a.Run(xvContext(api, "POST", "/xv/echo", body))
	}
	// Without validate-against, a json-schema that is a location is a URL too.
	a, api, ps := xvCompile(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    json-schema: schemas/ping.json
`), dir)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if err := runWith(a, api, `{"ping": true}`); err == nil {
		t.Error("schemas/ping.json was not applied")
	}
	a, api = compile("json-schema: local:///schemas/ping.json")
	if err := runWith(a, api, `{"ping": "x"}`); err != nil {
		t.Error(err)
	}
	if err := runWith(a, api, `{"ping": 1}`); err == nil || !strings.Contains(err.Error(), "against schemas/ping.json failed: message.body.ping: got number, want string") {
		t.Errorf("json: %v", err)
	}

	a, api = compile("xml-validation-mode: xsd\n    xml-schema: schemas/order.xsd")
	if err := runWith(a, api, `<order xmlns="urn:o"><id>3</id></order>`); err != nil {
		t.Error(err)
	}
	err := runWith(a, api, `<order xmlns="urn:o"><id>0</id></order>`)
	if e := asXVError(t, err); e.Name != assembly.ValidateError || e.StatusCode() != 422 || !strings.Contains(e.Message, "against schemas/order.xsd failed") {
		t.Errorf("xsd: %v", err)
	}
	if e := asXVError(t, runWith(a, api, `<order xmlns="urn:o"><id>1</id>`)); e.Name != assembly.ValidateError || !strings.Contains(e.Message, "not well-formed") {
		t.Errorf("bad XML: %v", e)
	}
	if e := asXVError(t, runWith(a, api, `{"order": 1}`)); !strings.Contains(e.Message, "is JSON, not XML") {
		t.Errorf("JSON body: %v", e)
	}
	// A body parse stored as a document.
	c := xvContext(api, "POST", "/xv/echo", "")
	doc, _ := xmlbody.Parse([]byte(`<order xmlns="urn:o"><id>5</id></order>`))
	c.Message.Body = assembly.ValueBody(doc)
	if err := a.Run(c); err != nil {
		t.Errorf("parsed document: %v", err)
	}
}

func TestValidateOpenAPI3(t *testing.T) {
	head := `openapi: 3.0.3
info: {title: V3, x-ibm-name: v3, version: 1.0.0}
servers: [{url: /v3}]
paths:
  /pets:
    post:
      requestBody:
        $ref: '#/components/requestBodies/Pet'
      responses:
        2XX:
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
components:
  requestBodies:
    Pet:
      required: true
      content:
        application/json; charset=utf-8:
          schema: {$ref: '#/components/schemas/Pet'}
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, maxLength: 5}
        tag: {type: string, nullable: true}
        born: {type: string, format: date-time}
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
    - validate:
        version: 2.0.0
        validate-against: AGAINST
`
	body := xvDocWithHead(head, "body-param")
	xvOK(t, body, "POST", "/v3/pets", `{"name": "rex", "tag": null, "born": "2020-01-02T03:04:05Z"}`)
	e := xvFail(t, body, "POST", "/v3/pets", `{"name": "rexanne", "born": "yesterday"}`)
	if !strings.Contains(e.Message, "the request body of POST /pets") || !strings.Contains(e.Message, "message.body.name: maxLength") ||
		!strings.Contains(e.Message, "message.body.born: 'yesterday' is not valid date-time") {
		t.Errorf("message = %s", e.Message)
	}
	def := xvDocWithHead(head, "definition\n        definition: '#/components/schemas/Pet'")
	xvOK(t, def, "POST", "/v3/pets", `{"name": "a"}`)

	a, api := xvMust(t, xvDocWithHead(head, "response-param"))
	c := xvContext(api, "POST", "/v3/pets", "")
	c.Message = &assembly.Message{Headers: http.Header{}, Body: assembly.BytesBody([]byte(`{"tag": 1}`)), Status: 202}
	if err := a.Run(c); err == nil || !strings.Contains(err.Error(), "the 2XX response of POST /pets") {
		t.Errorf("2XX: %v", err)
	}

	v31 := strings.Replace(strings.Replace(head, "openapi: 3.0.3", "openapi: 3.1.0", 1),
		"tag: {type: string, nullable: true}", "tag: {type: [string, 'null']}", 1)
	xvOK(t, xvDocWithHead(v31, "body-param"), "POST", "/v3/pets", `{"name": "rex", "tag": null}`)
	if e := xvFail(t, xvDocWithHead(v31, "body-param"), "POST", "/v3/pets", `{"name": "rex", "tag": 2}`); !strings.Contains(e.Message, "message.body.tag") {
		t.Errorf("3.1: %s", e.Message)
	}
}

func xvDocWithHead(head, against string) string {
	return strings.Replace(head, "AGAINST", against, 1)
}

func TestValidateOutputAndCatch(t *testing.T) {
	c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
- validate:
    version: 2.0.0
    validate-against: definition
    definition: '#/definitions/Problem'
    output: checked
`), "POST", "/xv/echo", `{"message": "m"}`, "X-Trace", "t1")
	if got, _ := c.Var("checked.body.message"); got != "m" {
		t.Errorf("checked.body.message = %v", got)
	}
	if got, _ := c.Var("checked.headers.x-trace"); got != "t1" {
		t.Errorf("checked.headers.x-trace = %v", got)
	}
	c = xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: definition
    definition: '#/definitions/Problem'
catch:
- errors: [ValidateError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: '$(error.status.code) $(error.message)'
`), "POST", "/xv/echo", `{}`)
	if got := bodyText(t, c); !strings.HasPrefix(got, "422 Validation of message.body against #/definitions/Problem failed: message.body: missing property 'message'") {
		t.Errorf("body = %q", got)
	}
}

func TestValidateManyReasons(t *testing.T) {
	e := xvFail(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    json-schema: {type: array, items: {type: integer}}
`), "POST", "/xv/echo", `["a","b","c","d","e","f","g","h","i","j","k","l"]`)
	if !strings.HasSuffix(e.Message, "; and 2 more") || strings.Count(e.Message, "want integer") != maxReasons {
		t.Errorf("message = %s", e.Message)
	}
}

func TestValidateUnsupported(t *testing.T) {
	for _, against := range []string{"graphql", "wsdl"} {
		doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: `+against+`
`)
		xvProblem(t, doc, "validate-against: "+against, "is not supported by Portico", true)
		a, api, _ := xvCompile(t, doc, "")
		err := a.Run(xvContext(api, "POST", "/xv/echo", "{}"))
		if e := asXVError(t, err); e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "validate-against: "+against+" is not supported") {
			t.Errorf("%s: %v", against, err)
		}
	}
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: url
    xml-schema: http://192.168.1.208:8000/xml_schema.xsd
`)
	xvProblem(t, doc, "xml-schema: http", "is remote", true)
}

func TestValidateProblems(t *testing.T) {
	cases := []struct{ name, settings, at, msg string }{
		{"unknown mode", "validate-against: schema", "validate-against: schema", `"schema" is not one of body-param`},
		{"definition missing", "validate-against: definition", "validate-against: definition", "needs definition"},
		{"not defined", "definition: '#/definitions/Nope'", "definition: '#/definitions/Nope'",
			"#/definitions/Nope is not defined in this API"},
		{"bad schema", "definition: '#/definitions/Broken'", "definition: '#/definitions/Broken'", "does not compile"},
		{"bad inline", "json-schema: {type: 5}", "json-schema: {type: 5}", "json-schema does not compile"},
		{"external ref", "json-schema: {$ref: 'other.json#/x'}", "json-schema:", "outside the API document"},
		{"leaves the directory", "validate-against: url\n    json-schema: local:///../secret.json", "json-schema: local", "leaves the API's directory"},
		{"no file", "validate-against: url\n    json-schema: local:///none.json", "json-schema: local", "cannot read none.json"},
		{"url needs a schema", "validate-against: url", "validate-against: url", "needs json-schema"},
		{"read-only output", "definition: Order\n    output: api.name", "output: api.name", "read-only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    `+tc.settings+`
`)
			xvProblem(t, doc, tc.at, tc.msg, false)
		})
	}
	// The hint lists what the API defines.
	_, _, ps := xvCompile(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    definition: Nope
`), "")
	if len(ps) != 1 || !strings.Contains(ps[0].Hint, "#/definitions/Broken, #/definitions/Item") {
		t.Errorf("problems = %v", ps)
	}
}

// TestValidateHTTP checks the response a client gets: 422 in API Connect's
// error shape, with the reasons.
func TestValidateHTTP(t *testing.T) {
	srv := serveFiles(t, map[string]string{"api.yaml": xvDoc(apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
- validate:
    version: 2.0.0
    validate-against: body-param
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: '{"accepted": true}'
`)})
	r := xvCall(t, srv, "POST", "/xv/orders", `{"id": "seven", "items": [{"sku": "A1"}]}`, "Content-Type", "application/json")
	e := errorBody(t, r)
	if r.Status != 422 || e["httpCode"] != "422" || e["httpMessage"] != "Unprocessable Entity" {
		t.Errorf("status %d, body %s", r.Status, r.Body)
	}
	if !strings.Contains(e["moreInformation"], "message.body.id: got string, want integer") {
		t.Errorf("moreInformation = %q", e["moreInformation"])
	}
	r = xvCall(t, srv, "POST", "/xv/orders", goodOrder, "Content-Type", "application/json")
	if r.Status != 200 || r.Body != `{"accepted": true}` {
		t.Errorf("valid order: %d %s", r.Status, r.Body)
	}
}

// BenchmarkValidate measures one validation of a small body that was
// parsed earlier: the schema is compiled once, at load.
func BenchmarkValidate(b *testing.B) {
	a, api := xvMust(b, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: body-param
`))
	for b.Loop() {
		c := xvContext(api, "POST", "/xv/orders", goodOrder)
		if err := a.Run(c); err != nil {
			b.Fatal(err)
		}
	}
}

// input: request validates what the client sent, whatever message holds.
func TestValidateRequestInput(t *testing.T) {
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: 'not json'
- validate:
    version: 2.0.0
    input: request
    definition: '#/definitions/Problem'
`)
	c := xvOK(t, doc, "POST", "/xv/echo", `{"message": "m"}`)
	if got := bodyText(t, c); got != "not json" {
		t.Errorf("message.body = %q", got)
	}
	if e := xvFail(t, doc, "POST", "/xv/echo", `{"message": 1}`); !strings.Contains(e.Message, "Validation of request.body") {
		t.Errorf("message = %s", e.Message)
	}
}

// Formats are checked as draft-04 does; OpenAPI's own (int64) are known
// names that constrain nothing further.
func TestValidateFormats(t *testing.T) {
	doc := xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    definition: Problem
`)
	xvOK(t, doc, "POST", "/xv/echo", `{"message": "m", "at": "2026-11-22T10:00:00Z"}`)
	if e := xvFail(t, doc, "POST", "/xv/echo", `{"message": "m", "at": "noon"}`); !strings.Contains(e.Message, "message.body.at: 'noon' is not valid date-time") {
		t.Errorf("message = %s", e.Message)
	}
}
