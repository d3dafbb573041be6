package policy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/xmlbody"
)

// Helpers of the validate, json-to-xml, xml-to-json and xslt tests. They
// are self-contained (prefixed xv) so these tests do not depend on the
// helpers of other policies' tests.

// xvHead is a Swagger 2 API with a body parameter, response schemas and
// definitions; an assembly is appended under x-ibm-configuration.
const xvHead = `swagger: "2.0"
info:
  title: XML Policy Test
  x-ibm-name: xml-policy-test
  version: 1.0.0
basePath: /xv
paths:
  /orders:
    post:
      operationId: createOrder
      parameters:
      - name: order
        in: body
        required: true
        schema:
          $ref: '#/definitions/Order'
      responses:
        "201":
          description: created
          schema:
            $ref: '#/definitions/Order'
        default:
          description: error
          schema:
            $ref: '#/definitions/Problem'
    get:
      operationId: listOrders
      responses:
        "200":
          description: ok
          schema:
            type: array
            items:
              $ref: '#/definitions/Order'
  /echo:
    post:
      responses: {"200": {description: ok}}
definitions:
  Order:
    type: object
    required: [id, items]
    properties:
      id: {type: integer, format: int64, minimum: 1}
      note: {type: string, x-nullable: true}
      items:
        type: array
        minItems: 1
        items: {$ref: '#/definitions/Item'}
  Item:
    type: object
    required: [sku]
    properties:
      sku: {type: string, pattern: '^[A-Z][0-9]+$'}
      qty: {type: integer, required: true}
      price: {type: string, $ref: '#/definitions/Money'}
  Money:
    type: number
  Problem:
    type: object
    required: [message]
    properties:
      message: {type: string}
      at: {type: string, format: date-time}
  Broken:
    type: 5
x-ibm-configuration:
  gateway: GATEWAY
  properties:
    backend:
      value: BACKEND
  assembly:
`

// xvDoc returns an API document: head (xvHead unless given) on gateway gw,
// with asm (written from column 0) as its assembly.
func xvDoc(gw, asm string) string {
	return gatewaytest.WithAssembly(strings.Replace(xvHead, "GATEWAY", gw, 1), asm)
}

// xvCompile loads doc from dir and compiles its assembly.
func xvCompile(t testing.TB, doc, dir string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	return compileTestDocIn(t, doc, dir)
}

// xvMust compiles doc, which must have no problems at all.
func xvMust(t testing.TB, doc string) (*assembly.Assembly, *apidef.API) {
	t.Helper()
	a, api, ps := xvCompile(t, doc, "")
	if len(ps) > 0 {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return a, api
}

// xvProblem compiles doc and expects exactly one problem, on the line
// holding at, mentioning msg; warn says whether it is a warning.
func xvProblem(t testing.TB, doc, at, msg string, warn bool) {
	t.Helper()
	_, _, ps := xvCompile(t, doc, "")
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
	if p.Line != line || p.Warn != warn || !strings.Contains(p.Msg, msg) {
		t.Errorf("problem %v (line %d, warn %v); want line %d (%q), warn %v, mentioning %q", p, p.Line, p.Warn, line, at, warn, msg)
	}
}

// xvContext makes the context of one request to api; headers are name,
// value pairs. The operation is found by verb and path.
func xvContext(api *apidef.API, method, path, body string, headers ...string) *assembly.Context {
	req := gatewaytest.Request(method, path, body, headers...)
	req.ContentLength = -1
	info := &assembly.APIInfo{Name: api.Name, Version: api.Version, BasePath: api.BasePath,
		Properties: map[string]*assembly.Template{}}
	var op *assembly.OperationInfo
	for _, o := range api.Operations {
		if o.Method == method && api.BasePath+o.Path == req.URL.Path {
			op = &assembly.OperationInfo{ID: o.ID, Path: o.Path, Method: o.Method}
		}
	}
	return assembly.NewContext(context.Background(), req, info, op)
}

// xvRun compiles the assembly of doc and runs it for one request.
func xvRun(t testing.TB, doc, method, path, body string, headers ...string) (*assembly.Context, error) {
	t.Helper()
	a, api := xvMust(t, doc)
	c := xvContext(api, method, path, body, headers...)
	return c, a.Run(c)
}

// xvOK is xvRun for a flow that must succeed.
func xvOK(t testing.TB, doc, method, path, body string, headers ...string) *assembly.Context {
	t.Helper()
	c, err := xvRun(t, doc, method, path, body, headers...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return c
}

// xvFail is xvRun for a flow that must fail with an assembly error.
func xvFail(t testing.TB, doc, method, path, body string, headers ...string) *assembly.Error {
	t.Helper()
	_, err := xvRun(t, doc, method, path, body, headers...)
	return asmError(t, err)
}

// xvCall sends a request to path (under the default org and catalog).
func xvCall(t testing.TB, srv *httptest.Server, method, path, body string, headers ...string) gatewaytest.Response {
	t.Helper()
	return gatewaytest.Call(t, method, srv.URL+"/local/sandbox"+path, body, headers...)
}

// ---------------------------------------------------------------------------
// json-to-xml, xml-to-json

func TestJSONToXMLKeepsKeyOrder(t *testing.T) {
	c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- json-to-xml:
    version: 2.0.0
`), "POST", "/xv/echo", `{"order": {"id": 7, "name": "box", "items": [{"sku": "A1"}, {"sku": "B2"}], "gift": false, "note": null}}`,
		"Content-Type", "application/json")
	want := `<order><id>7</id><name>box</name><items><sku>A1</sku></items><items><sku>B2</sku></items><gift>false</gift><note/></order>`
	if got := bodyText(t, c); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	if ct := c.Message.Headers.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := c.Get(assembly.MustRef("request.body")); !strings.HasPrefix(got, `{"order"`) {
		t.Errorf("request.body changed: %s", got)
	}
}

func TestJSONToXMLAfterParse(t *testing.T) {
	// A parsed body has lost its key order: keys come out sorted. The
	// BadgerFish forms make attributes, text and namespaces.
	c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- parse:
    version: 2.0.0
- json-to-xml:
    version: 2.0.0
    title: json-to-xml
    root-element-name: json
    always-output-root-element: false
    unnamed-element-name: element
    conversionType: relaxed-badgerfish
`), "POST", "/xv/echo", `{"m:doc": {"@xmlns": {"m": "urn:m"}, "@id": "9", "z": {"$": "last"}, "a": "first"}}`)
	want := `<m:doc xmlns:m="urn:m" id="9"><a>first</a><z>last</z></m:doc>`
	if got := bodyText(t, c); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

func TestJSONToXMLOptions(t *testing.T) {
	cases := []struct{ settings, body, want string }{
		{"", `{"a": 1, "b": 2}`, `<json><a>1</a><b>2</b></json>`},
		{"root-element-name: doc", `[1, 2]`, `<doc><element>1</element><element>2</element></doc>`},
		{"root-element-name: doc\n    unnamed-element-name: item", `[[1], 2]`, `<doc><item><item>1</item></item><item>2</item></doc>`},
		{"always-output-root-element: true", `{"a": "x"}`, `<json><a>x</a></json>`},
		{"conversionType: None", `{"a": {"b": "c"}}`, `<a><b>c</b></a>`},
		{"version: 1.0.0", `"text"`, `<json>text</json>`},
	}
	for _, tc := range cases {
		c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- json-to-xml:
    `+tc.settings+`
`), "POST", "/xv/echo", tc.body, "Content-Type", "application/json")
		if got := bodyText(t, c); got != tc.want {
			t.Errorf("%s / %s: body = %s, want %s", tc.settings, tc.body, got, tc.want)
		}
	}
}

func TestXMLToJSON(t *testing.T) {
	const in = `<?xml version="1.0"?>
<o:order xmlns:o="urn:o" id="7"><o:item>A1</o:item><o:item>B2</o:item><o:note/></o:order>`
	cases := []struct{ conversion, want string }{
		{"", `{"o:order": {"@xmlns": {"o": "urn:o"}, "@id": "7",
			"o:item": [{"$": "A1", "@xmlns": {"o": "urn:o"}}, {"$": "B2", "@xmlns": {"o": "urn:o"}}],
			"o:note": {"@xmlns": {"o": "urn:o"}}}}`},
		{"conversionType: apicv5", `{"o:order": {"@id": "7", "o:item": ["A1", "B2"], "o:note": ""}}`},
	}
	for _, tc := range cases {
		c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
    `+tc.conversion+`
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-id
      value: $(message.body.o:order.@id)
`), "POST", "/xv/echo", in, "Content-Type", "text/xml")
		v, parsed := c.Message.Body.Parsed()
		if !parsed {
			t.Fatalf("%s: body not parsed", tc.conversion)
		}
		var want any
		json.Unmarshal([]byte(tc.want), &want)
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s: body = %#v", tc.conversion, v)
		}
		if ct := c.Message.Headers.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if got := c.Message.Headers.Get("X-Id"); got != "7" {
			t.Errorf("%s: $(message.body.o:order.@id) = %q", tc.conversion, got)
		}
	}
}

// The parse policy will store XML as a *xmlbody.Document: the policies take
// that as well as text.
func TestXMLPoliciesTakeParsedDocument(t *testing.T) {
	a, api := xvMust(t, xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
    input: doc
    output: converted
`))
	c := xvContext(api, "POST", "/xv/echo", "")
	doc, err := xmlbody.Parse([]byte(`<a><b>1</b></a>`))
	if err != nil {
		t.Fatal(err)
	}
	c.SetVar("doc", &assembly.Message{Headers: http.Header{"X-Trace": {"t1"}}, Body: assembly.ValueBody(doc)})
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Var("converted.body.a.b.$"); got != "1" {
		t.Errorf("converted.body.a.b.$ = %v", got)
	}
	if got, _ := c.Var("converted.headers.x-trace"); got != "t1" {
		t.Errorf("the output lost the input's headers: %v", got)
	}
	if got, _ := c.Var("doc.headers.content-type"); got != nil {
		t.Errorf("the input changed: %v", got)
	}
}

func TestJSONXMLMessageVariables(t *testing.T) {
	a, api := xvMust(t, xvDoc(apidef.GatewayAPI, `
execute:
- json-to-xml:
    version: 2.0.0
    input: resp
- xml-to-json:
    version: 2.0.0
    input: resp
    output: back
`))
	c := xvContext(api, "POST", "/xv/echo", "")
	c.SetVar("resp", &assembly.Message{Headers: http.Header{"Content-Type": {"application/json"}},
		Body: assembly.BytesBody([]byte(`{"a": {"@k": "v", "$": "t"}}`))})
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	resp := varOfXV(t, c, "resp").(*assembly.Message)
	if data, _ := resp.Body.Bytes(); string(data) != `<a k="v">t</a>` {
		t.Errorf("resp.body = %s", data)
	}
	if resp.Headers.Get("Content-Type") != "application/xml" {
		t.Errorf("resp Content-Type = %q", resp.Headers.Get("Content-Type"))
	}
	if got, _ := c.Var("back.body.a.@k"); got != "v" {
		t.Errorf("back.body.a.@k = %v", got)
	}
}

func varOfXV(t testing.TB, c *assembly.Context, name string) any {
	t.Helper()
	v, ok := c.Lookup(assembly.MustRef(name))
	if !ok {
		t.Fatalf("%s is not set", name)
	}
	return v
}

func TestJSONXMLErrors(t *testing.T) {
	toJSON := xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
`)
	toXML := xvDoc(apidef.GatewayAPI, `
execute:
- json-to-xml:
    version: 2.0.0
`)
	cases := []struct {
		name, doc, body, ct string
		status              int
		msg                 string
	}{
		{"malformed XML", toJSON, `<a><b></a>`, "application/xml", 400, "xml-to-json: message.body is not well-formed XML: line 1: end tag </a> does not match <b>"},
		{"XXE refused", toJSON, `<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`, "application/xml", 400, "DOCTYPE"},
		{"JSON to xml-to-json", toJSON, `{"a": 1}`, "application/json", 400, "is JSON, not XML"},
		{"XML to json-to-xml", toXML, `<a/>`, "", 400, "is XML, not JSON"},
		{"text", toXML, `hello`, "text/plain", 400, "is neither JSON nor XML (Content-Type text/plain): add a parse policy before json-to-xml"},
		{"empty", toXML, ``, "", 400, "message.body is empty"},
		{"malformed JSON", toXML, `{"a": }`, "application/json", 400, "message.body is not valid JSON"},
		{"no XML name", toXML, `{"first name": 1}`, "application/json", 400, `"first name" is not a valid XML element name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ct != "" {
				hdr = []string{"Content-Type", tc.ct}
			}
			e := xvFail(t, tc.doc, "POST", "/xv/echo", tc.body, hdr...)
			if e.Name != assembly.TransformError || e.StatusCode() != tc.status || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error = %s %d %q, want TransformError %d mentioning %q", e.Name, e.StatusCode(), e.Message, tc.status, tc.msg)
			}
			if e.Policy == "" {
				t.Error("the error does not name its policy")
			}
		})
	}
	// A body that came from a back end is not the client's fault: 500.
	a, api := xvMust(t, toJSON)
	c := xvContext(api, "POST", "/xv/echo", "")
	c.Message = &assembly.Message{Headers: http.Header{}, Body: assembly.BytesBody([]byte("<a>"))}
	var e *assembly.Error
	if err := a.Run(c); !errors.As(err, &e) || e.Name != assembly.TransformError || e.StatusCode() != 500 {
		t.Errorf("back-end body error = %v", err)
	}
	// A missing input variable.
	e = xvFail(t, xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
    input: nosuch
`), "POST", "/xv/echo", "<a/>")
	if e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "input nosuch is not set") {
		t.Errorf("error = %+v", e)
	}
}

func TestJSONXMLErrorCaught(t *testing.T) {
	c := xvOK(t, xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
catch:
- errors: [TransformError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: 'caught $(error.name) $(error.status.code)'
`), "POST", "/xv/echo", "<a>", "Content-Type", "application/xml")
	if got := bodyText(t, c); got != "caught TransformError 400" {
		t.Errorf("body = %q", got)
	}
}

func TestJSONXMLProblems(t *testing.T) {
	cases := []struct{ name, asm, at, msg string }{
		{"conversion type", `
execute:
- xml-to-json:
    version: 2.0.0
    conversionType: jsonx
`, "conversionType: jsonx", `"jsonx" is not one of badgerFish`},
		{"root name", `
execute:
- json-to-xml:
    version: 2.0.0
    root-element-name: my root
`, "root-element-name: my root", `"my root" is not a valid XML element name`},
		{"item name", `
execute:
- json-to-xml:
    version: 2.0.0
    unnamed-element-name: 1st
`, "unnamed-element-name: 1st", `"1st" is not a valid XML element name`},
		{"always", `
execute:
- json-to-xml:
    version: 2.0.0
    always-output-root-element: often
`, "always-output-root-element: often", "true or false"},
		{"read-only output", `
execute:
- json-to-xml:
    version: 2.0.0
    output: request
`, "output: request", "request, which is read-only"},
		{"request input needs an output", `
execute:
- xml-to-json:
    version: 2.0.0
    input: request
`, "input: request", "read-only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xvProblem(t, xvDoc(apidef.GatewayAPI, tc.asm), tc.at, tc.msg, false)
		})
	}
}

// TestJSONXMLHTTP runs the conversions through the gateway: the client's
// JSON reaches the back end as XML, and the back end's XML reaches the
// client as JSON.
func TestJSONXMLHTTP(t *testing.T) {
	var seenType, seenBody string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		seenType, seenBody = r.Header.Get("Content-Type"), string(data)
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<result status="ok"><id>42</id></result>`)
	}))
	defer backend.Close()
	doc := strings.Replace(xvDoc(apidef.GatewayAPI, `
execute:
- json-to-xml:
    version: 2.0.0
- invoke:
    version: 2.0.0
    target-url: $(backend)
- xml-to-json:
    version: 2.0.0
    conversionType: apicv5
`), "BACKEND", backend.URL, 1)
	srv := serveFiles(t, map[string]string{"api.yaml": doc})

	r := xvCall(t, srv, "POST", "/xv/echo", `{"req": {"name": "n", "qty": 2}}`, "Content-Type", "application/json")
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if seenType != "application/xml" || seenBody != `<req><name>n</name><qty>2</qty></req>` {
		t.Errorf("back end got %q %s", seenType, seenBody)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("response Content-Type = %q", ct)
	}
	var got any
	json.Unmarshal([]byte(r.Body), &got)
	if want := map[string]any{"result": map[string]any{"@status": "ok", "id": "42"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("response = %s", r.Body)
	}

	// Bad XML from the client: TransformError, 400, in API Connect's shape.
	srv2 := serveFiles(t, map[string]string{"api.yaml": xvDoc(apidef.GatewayAPI, `
execute:
- xml-to-json:
    version: 2.0.0
`)})
	r = xvCall(t, srv2, "POST", "/xv/echo", `<a><b></a>`, "Content-Type", "application/xml")
	e := errorBody(t, r)
	if r.Status != 400 || e["httpCode"] != "400" || !strings.Contains(e["moreInformation"], "not well-formed XML") {
		t.Errorf("status %d, body %s", r.Status, r.Body)
	}
}

// TestXMLPoliciesCorpus loads every real API Connect file that uses these
// policies: none may have a problem in them other than warnings (remote
// schemas, GraphQL validation, DataPower extensions, implicit schemas).
func TestXMLPoliciesCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
	}
	mine := map[string]bool{"validate": true, "json-to-xml": true, "xml-to-json": true, "xslt": true}
	files, uses := 0, 0
	for _, e := range entries {
		if !apidef.IsDocumentFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, _ := os.ReadFile(path)
		n := 0
		for p := range mine {
			n += strings.Count(string(data), "- "+p+":")
		}
		if n == 0 {
			continue
		}
		d, err := apidef.ReadFile(path)
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		files, uses = files+1, uses+n
		api, _ := apidef.LoadAPI(d)
		_, ps := assembly.CompileAPI(Builtins(), api, nil, dir)
		for _, p := range ps {
			if !mine[xvPolicyOf(p.Field)] {
				continue
			}
			if p.Warn {
				t.Logf("%s: %s", e.Name(), p.Msg)
			} else {
				t.Errorf("%s: %v", e.Name(), p)
			}
		}
	}
	if files == 0 {
		t.Fatalf("no corpus file uses validate, json-to-xml, xml-to-json or xslt")
	}
	t.Logf("%d files, %d uses", files, uses)
}

// xvPolicyOf is the innermost policy a problem's field lies in.
func xvPolicyOf(field string) string {
	policy := ""
	for _, seg := range strings.Split(field, ".") {
		if i := strings.Index(seg, "["); i >= 0 {
			seg = seg[:i]
		}
		if mineOrKnown(seg) {
			policy = seg
		}
	}
	return policy
}

func mineOrKnown(seg string) bool {
	switch seg {
	case "validate", "json-to-xml", "xml-to-json", "xslt", "switch", "operation-switch", "if", "invoke", "parse",
		"set-variable", "gatewayscript", "map", "throw":
		return true
	}
	return false
}
