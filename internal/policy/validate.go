package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/lestrrat-go/helium"
	"github.com/lestrrat-go/helium/xsd"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
)

// against is what a validate policy checks a body against.
type against int

const (
	// againstImplicit: no schema named (v5 1.0.0 without definition): the
	// operation's request body schema while message is the request, its
	// response schema once message holds a response.
	againstImplicit against = iota
	againstBody
	againstResponse
	againstSchema // one compiled JSON schema: definition, json-schema
	againstXSD
	againstUnsupported
)

// maxReasons caps the reasons listed in a ValidateError's message.
const maxReasons = 10

// validator is a compiled validate policy.
type validator struct {
	io          msgIO
	hasOutput   bool
	against     against
	schema      *jsonschema.Schema
	xsd         *xsd.Schema
	what        string // what the body is checked against, for messages
	ops         *opSchemas
	unsupported string
	status      int
}

// Validate compiles the validate policy (API Gateway 2.0.0–2.7.0; v5 1.0.0):
//
//	validate-against: body-param | response-param | definition | url | wsdl | graphql
//	definition: '#/definitions/Order'      with definition (also #/components/schemas/…)
//	json-schema: {type: object, …}          an inline schema (or, with url, a local:/// file)
//	xml-schema: local:///schemas/order.xsd  with url: an XSD file beside the API
//	input: message                          the message whose body is validated
//	output: (none)                          a variable that receives the validated message
//
// v5's definition: request | response | '#/definitions/X' is read too. Every
// schema is compiled once, at load: body-param and response-param compile
// the schema of each operation, keyed by verb and path. A body that does not
// match raises ValidateError (422 on the API Gateway, 400 on the v5 gateway)
// whose message lists the reasons.
func Validate(b *assembly.Builder, n apidef.Node) assembly.Policy {
	v := &validator{status: http.StatusUnprocessableEntity}
	if b.API.Gateway == apidef.GatewayV5 {
		v.status = http.StatusBadRequest
	}
	var ok bool
	if v.io, ok = compileIO(b, n, "validate", false); !ok {
		return nil
	}
	v.hasOutput = v.io.output.Name != "" && v.io.output.Name != v.io.input.Name
	if !v.compileAgainst(b, n) {
		return nil
	}
	return v.run
}

// compileAgainst decides what the body is checked against and compiles it.
func (v *validator) compileAgainst(b *assembly.Builder, n apidef.Node) bool {
	at := n.Get("validate-against")
	mode := strings.ToLower(strings.TrimSpace(at.Str()))
	switch mode {
	case "":
		return v.compileImplicit(b, n)
	case "body-param", "response-param":
		return v.compileOperations(b, n, mode)
	case "definition":
		def := n.Get("definition")
		if strings.TrimSpace(def.Str()) == "" {
			b.Report(at.Problem("validate-against: definition needs definition: the schema to use",
				"write definition: '#/definitions/Order'"))
			return false
		}
		return v.compileDefinition(b, n, def)
	case "url":
		return v.compileURL(b, n)
	case "wsdl", "graphql":
		return v.notSupported(b, at, "validate-against: "+mode)
	}
	b.Report(at.Problem(fmt.Sprintf("validate-against %q is not one of body-param, response-param, definition, url, wsdl, graphql", at.Str()),
		"write validate-against: definition with definition: '#/definitions/…'"))
	return false
}

// compileImplicit handles a validate that names its schema without
// validate-against: v5's definition, or an inline json-schema; with
// neither it validates against the operation's own schemas.
func (v *validator) compileImplicit(b *assembly.Builder, n apidef.Node) bool {
	if def := n.Get("definition"); strings.TrimSpace(def.Str()) != "" {
		return v.compileDefinition(b, n, def)
	}
	if js := n.Get("json-schema"); !js.IsNull() {
		if js.IsMap() || strings.HasPrefix(strings.TrimSpace(js.Str()), "{") {
			return v.compileInline(b, js)
		}
		return v.compileURL(b, n)
	}
	b.Report(n.Warning("validate names no schema: the operation's request body schema is used, or its response schema once message holds a response",
		"set validate-against: body-param (or response-param, or definition with definition: '#/definitions/…')"))
	return v.compileOperations(b, n, "")
}

// compileDefinition reads definition: v5's request and response, or a
// reference to a schema of the API.
func (v *validator) compileDefinition(b *assembly.Builder, n, def apidef.Node) bool {
	ref := strings.TrimSpace(def.Str())
	switch strings.ToLower(ref) {
	case "request":
		return v.compileOperations(b, n, "body-param")
	case "response":
		return v.compileOperations(b, n, "response-param")
	}
	if !strings.HasPrefix(ref, "#/") {
		ref = definitionsRef(b.API, ref)
	}
	set := newSchemaSet(b.API)
	if _, found := set.lookup(ref); !found {
		b.Report(def.Problem(fmt.Sprintf("%s is not defined in this API", ref), definitionsHint(b.API)))
		return false
	}
	sch, err := set.compileRef(ref)
	if err != nil {
		b.Report(def.Problem(fmt.Sprintf("schema %s does not compile: %s", ref, schemaErrorText(err)), "fix the schema in the API's definitions"))
		return false
	}
	v.against, v.schema, v.what = againstSchema, sch, ref
	return true
}

// compileInline compiles json-schema given in the policy, as YAML or as
// JSON text. A value that is neither an object nor JSON text is a URL.
func (v *validator) compileInline(b *assembly.Builder, js apidef.Node) bool {
	set := newSchemaSet(b.API)
	sch, err := set.compileInline(js)
	if err != nil {
		b.Report(js.Problem("json-schema does not compile: "+schemaErrorText(err), "write a JSON schema object, e.g. {type: object, required: [id]}"))
		return false
	}
	v.against, v.schema, v.what = againstSchema, sch, "json-schema"
	return true
}

// compileURL handles validate-against: url: a JSON schema or an XSD in a
// file beside the API (local:///path or a relative path). Remote schemas
// are not fetched: a gateway load must not depend on the network.
func (v *validator) compileURL(b *assembly.Builder, n apidef.Node) bool {
	if xs := n.Get("xml-schema"); strings.TrimSpace(xs.Str()) != "" {
		return v.compileXSD(b, xs)
	}
	js := n.Get("json-schema")
	if js.IsMap() || strings.HasPrefix(strings.TrimSpace(js.Str()), "{") {
		return v.compileInline(b, js)
	}
	if strings.TrimSpace(js.Str()) == "" {
		b.Report(n.Get("validate-against").Problem("validate-against: url needs json-schema (or xml-schema): the schema's location",
			"write json-schema: local:///schemas/order.json, a file beside the API"))
		return false
	}
	file, ok := localFile(b, js)
	if !ok {
		return false
	}
	data, err := readConfined(b.Dir, file)
	if err != nil {
		b.Report(js.Problem(fmt.Sprintf("cannot read %s: %v", file, err), "put the schema file beside the API, and name it relative to it"))
		return false
	}
	set := newSchemaSet(b.API)
	sch, err := set.compileText(data)
	if err != nil {
		b.Report(js.Problem(fmt.Sprintf("schema %s does not compile: %s", file, schemaErrorText(err)), "fix the schema file"))
		return false
	}
	v.against, v.schema, v.what = againstSchema, sch, file
	return true
}

// compileXSD compiles an XML schema file beside the API, its xs:include
// and xs:import confined to the API's directory.
func (v *validator) compileXSD(b *assembly.Builder, xs apidef.Node) bool {
	file, ok := localFile(b, xs)
	if !ok {
		return false
	}
	dir := b.Dir
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Report(xs.Problem(fmt.Sprintf("cannot read %s: %v", file, err), "put the schema file beside the API"))
		return false
	}
	defer root.Close()
	data, err := root.ReadFile(file)
	if err != nil {
		b.Report(xs.Problem(fmt.Sprintf("cannot read %s: %v", file, err), "put the schema file beside the API, and name it relative to it"))
		return false
	}
	ctx := context.Background()
	doc, err := helium.NewParser().Parse(ctx, data)
	if err == nil {
		v.xsd, err = xsd.NewCompiler().FS(root.FS()).BaseDir(path.Dir(file)).Compile(ctx, doc)
	}
	if err != nil {
		b.Report(xs.Problem(fmt.Sprintf("XML schema %s does not compile: %v", file, err), "fix the schema file"))
		return false
	}
	v.against, v.what = againstXSD, file
	return true
}

// localFile reads a schema location: local:///path or a path relative to
// the API's directory. Remote URLs are a warning, failing at run time.
func localFile(b *assembly.Builder, at apidef.Node) (string, bool) {
	loc := strings.TrimSpace(at.Str())
	if strings.HasPrefix(loc, "local:///") {
		loc = strings.TrimPrefix(loc, "local:///")
	} else if strings.Contains(loc, "://") {
		b.Report(at.Warning(fmt.Sprintf("schema %s is remote: Portico does not fetch schemas, so this validate fails when it runs", loc),
			"copy the schema beside the API and write local:///file.json (or .xsd)"))
		return "", false
	}
	loc = path.Clean(strings.TrimPrefix(loc, "/"))
	if loc == "." || strings.HasPrefix(loc, "../") || loc == ".." {
		b.Report(at.Problem(fmt.Sprintf("schema location %q leaves the API's directory", at.Str()), "name a file beside the API"))
		return "", false
	}
	return loc, true
}

// readConfined reads a file under dir without following paths out of it.
func readConfined(dir, file string) ([]byte, error) {
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(file)
}

// notSupported records a kind of validation Portico cannot do: the API
// loads with a warning and the policy fails when it runs.
func (v *validator) notSupported(b *assembly.Builder, at apidef.Node, what string) bool {
	b.Report(at.Warning(what+" is not supported by Portico: this validate fails when it runs",
		"validate JSON bodies with validate-against: definition or body-param"))
	v.against, v.unsupported = againstUnsupported, what+" is not supported"
	return true
}

// run validates the input body.
func (v *validator) run(c *assembly.Context) error {
	src, err := v.io.source(c, "validate")
	if err != nil {
		return err
	}
	switch v.against {
	case againstUnsupported:
		return &assembly.Error{Name: assembly.RuntimeError, Message: "validate: " + v.unsupported}
	case againstSchema:
		err = v.checkJSON(c, src, v.schema, v.what, true)
	case againstXSD:
		err = v.checkXSD(c, src)
	default:
		err = v.checkOperation(c, src)
	}
	if err != nil {
		return err
	}
	return v.copyOutput(c, src)
}

// checkOperation validates against the matched operation's request body
// or response schema. An operation without one has nothing to check.
func (v *validator) checkOperation(c *assembly.Context, src msgSource) error {
	if c.Operation == nil {
		return nil
	}
	key := opKey(c.Operation.Method, c.Operation.Path)
	response := v.against == againstResponse || (v.against == againstImplicit && !c.MessageIsRequest())
	if response {
		sch, what := v.ops.response(key, src.status)
		if sch == nil {
			return nil
		}
		return v.checkJSON(c, src, sch, what, true)
	}
	body, found := v.ops.bodies[key]
	if !found {
		return nil
	}
	return v.checkJSON(c, src, body.schema, body.what, body.required)
}

// checkJSON validates the body against a JSON schema. An empty body passes
// only when a body is optional.
func (v *validator) checkJSON(c *assembly.Context, src msgSource, sch *jsonschema.Schema, what string, required bool) error {
	val, empty, err := v.jsonInstance(src)
	var bad *notJSON
	if errors.As(err, &bad) {
		return v.fail(src, what, []string{src.name + ".body is not valid JSON: " + bad.err.Error()})
	}
	if err != nil {
		return err
	}
	if empty {
		if !required {
			return nil
		}
		return v.fail(src, what, []string{src.name + ".body is empty"})
	}
	err = sch.Validate(val)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return v.fail(src, what, v.reasons(src.name+".body", ve))
	}
	if err != nil {
		return &assembly.Error{Name: assembly.RuntimeError, Message: "validate: " + err.Error(), Cause: err}
	}
	return nil
}

// notJSON is a body that does not parse as JSON.
type notJSON struct{ err error }

func (e *notJSON) Error() string { return "not valid JSON: " + e.err.Error() }

// jsonInstance reads the body as a JSON value to validate; empty reports
// a body with nothing in it.
func (v *validator) jsonInstance(src msgSource) (val any, empty bool, err error) {
	if parsedVal, parsed := src.body.Parsed(); parsed {
		if _, isXML := parsedVal.(*xmlbody.Document); !isXML {
			return parsedVal, false, nil
		}
		return nil, false, v.xmlNotSupported(src)
	}
	data, err := src.body.Bytes()
	if err != nil {
		return nil, false, err
	}
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 {
		return nil, true, nil
	}
	if bodyKind(trimmed, src.headers) == docXML {
		return nil, false, v.xmlNotSupported(src)
	}
	val, err = jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
	if err != nil {
		return nil, false, &notJSON{err}
	}
	return val, false, nil
}

func (v *validator) xmlNotSupported(src msgSource) error {
	return &assembly.Error{Name: assembly.RuntimeError, Message: fmt.Sprintf(
		"validate: %s.body is XML: validating XML against an OpenAPI schema is not supported; validate JSON, or use validate-against: url with an xml-schema", src.name)}
}

// checkXSD validates an XML body against the compiled XML schema.
func (v *validator) checkXSD(c *assembly.Context, src msgSource) error {
	in, err := readContent(src, "validate")
	if err != nil {
		var e *assembly.Error
		if errors.As(err, &e) && e.Name == assembly.TransformError {
			return v.fail(src, v.what, []string{strings.TrimPrefix(e.Message, "validate: ")})
		}
		return err
	}
	if in.xml == nil {
		return v.fail(src, v.what, []string{src.name + ".body is JSON, not XML"})
	}
	dom, err := in.xml.DOM(c.Ctx)
	if err != nil {
		return v.fail(src, v.what, []string{err.Error()})
	}
	var collected xsdErrors
	err = xsd.NewValidator(v.xsd).ErrorHandler(&collected).Validate(c.Ctx, dom)
	if err == nil {
		return nil
	}
	if errors.Is(err, xsd.ErrValidationFailed) {
		reasons := collected.list
		if len(reasons) == 0 {
			reasons = []string{err.Error()}
		}
		return v.fail(src, v.what, reasons)
	}
	return &assembly.Error{Name: assembly.RuntimeError, Message: "validate: " + err.Error(), Cause: err}
}

// xsdErrors collects the reasons an XSD validation reports.
type xsdErrors struct{ list []string }

func (x *xsdErrors) Handle(_ context.Context, err error) {
	x.list = append(x.list, strings.TrimSpace(err.Error()))
}

// fail is the ValidateError of a body that does not match.
func (v *validator) fail(src msgSource, what string, reasons []string) error {
	if len(reasons) > maxReasons {
		more := len(reasons) - maxReasons
		reasons = append(reasons[:maxReasons:maxReasons], fmt.Sprintf("and %d more", more))
	}
	return &assembly.Error{Name: assembly.ValidateError, Status: v.status,
		Message: fmt.Sprintf("Validation of %s.body against %s failed: %s", src.name, what, strings.Join(reasons, "; "))}
}

// reasons lists the leaf errors of a validation, each with the place in
// the body it is about, written as a variable path (message.body.items[0].sku).
func (v *validator) reasons(base string, ve *jsonschema.ValidationError) []string {
	printer := message.NewPrinter(language.English)
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, instancePath(base, e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(ve)
	return out
}

func instancePath(base string, loc []string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
		} else {
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

// copyOutput puts the validated message in output, when one is named.
func (v *validator) copyOutput(c *assembly.Context, src msgSource) error {
	if !v.hasOutput {
		return nil
	}
	m := &assembly.Message{Headers: src.headers.Clone(), Body: src.body, Status: src.status}
	if m.Headers == nil {
		m.Headers = http.Header{}
	}
	return c.Set(v.io.output, m)
}

// compileOperations compiles the request body schema (body-param), the
// response schemas (response-param), or both (mode ""), of every operation.
func (v *validator) compileOperations(b *assembly.Builder, n apidef.Node, mode string) bool {
	v.ops = &opSchemas{bodies: map[string]opBody{}, responses: map[string]map[string]opResponse{}}
	switch mode {
	case "body-param":
		v.against = againstBody
	case "response-param":
		v.against = againstResponse
	default:
		v.against = againstImplicit
	}
	set := newSchemaSet(b.API)
	ok := true
	for _, op := range b.API.Operations {
		key := opKey(op.Method, op.Path)
		if mode != "response-param" {
			ok = v.ops.compileBody(b, set, op, key) && ok
		}
		if mode != "body-param" {
			ok = v.ops.compileResponses(b, set, op, key) && ok
		}
	}
	return ok
}

func opKey(method, path string) string { return strings.ToUpper(method) + " " + path }

// opSchemas are the compiled schemas of every operation.
type opSchemas struct {
	bodies    map[string]opBody
	responses map[string]map[string]opResponse // operation → status key → schema
}

type opBody struct {
	schema   *jsonschema.Schema
	what     string
	required bool
}

type opResponse struct {
	schema *jsonschema.Schema
	what   string
}

// response finds the schema for a status: the code itself, then its class
// (2XX), then default.
func (o *opSchemas) response(key string, status int) (*jsonschema.Schema, string) {
	byStatus := o.responses[key]
	if status == 0 {
		status = http.StatusOK
	}
	code := strconv.Itoa(status)
	for _, k := range []string{code, code[:1] + "XX", code[:1] + "xx", "default"} {
		if r, found := byStatus[k]; found {
			return r.schema, r.what
		}
	}
	return nil, ""
}

// compileBody compiles an operation's request body schema: the in: body
// parameter of OpenAPI 2, the JSON content of requestBody in OpenAPI 3.
func (o *opSchemas) compileBody(b *assembly.Builder, set *schemaSet, op apidef.Operation, key string) bool {
	schemaNode, required, where := bodySchemaNode(b.API, set, op)
	if schemaNode.IsZero() {
		return true
	}
	sch, err := set.compileNode(schemaNode)
	if err != nil {
		b.Report(schemaNode.Problem(fmt.Sprintf("the request body schema of %s does not compile: %s", key, schemaErrorText(err)),
			"fix the schema, or validate against a definition instead"))
		return false
	}
	o.bodies[key] = opBody{schema: sch, what: "the " + where + " of " + key, required: required}
	return true
}

// bodySchemaNode finds an operation's request body schema.
func bodySchemaNode(api *apidef.API, set *schemaSet, op apidef.Operation) (apidef.Node, bool, string) {
	if api.OpenAPI == "2.0" {
		params := append(op.Node.Get("parameters").Items(), pathItem(api, op).Get("parameters").Items()...)
		for _, p := range params {
			p = set.deref(p)
			if p.String("in", "") == "body" {
				req, _ := p.Bool("required", false)
				return p.Get("schema"), req, "body parameter " + p.String("name", "")
			}
		}
		return apidef.Node{}, false, ""
	}
	rb := set.deref(op.Node.Get("requestBody"))
	if rb.IsZero() {
		return apidef.Node{}, false, ""
	}
	req, _ := rb.Bool("required", false)
	return jsonContent(rb.Get("content")).Get("schema"), req, "request body"
}

// compileResponses compiles an operation's response schemas, by status.
func (o *opSchemas) compileResponses(b *assembly.Builder, set *schemaSet, op apidef.Operation, key string) bool {
	responses := op.Node.Get("responses")
	ok := true
	for _, code := range responses.Keys() {
		r := set.deref(responses.Get(code))
		schemaNode := r.Get("schema")
		if b.API.OpenAPI != "2.0" {
			schemaNode = jsonContent(r.Get("content")).Get("schema")
		}
		if schemaNode.IsZero() {
			continue
		}
		sch, err := set.compileNode(schemaNode)
		if err != nil {
			b.Report(schemaNode.Problem(fmt.Sprintf("the %s response schema of %s does not compile: %s", code, key, schemaErrorText(err)),
				"fix the schema, or validate against a definition instead"))
			ok = false
			continue
		}
		if o.responses[key] == nil {
			o.responses[key] = map[string]opResponse{}
		}
		o.responses[key][code] = opResponse{schema: sch, what: "the " + code + " response of " + key}
	}
	return ok
}

// jsonContent picks the JSON media type of an OpenAPI 3 content map:
// application/json, then any +json type, then */*.
func jsonContent(content apidef.Node) apidef.Node {
	keys := content.Keys()
	for _, k := range keys {
		if strings.HasPrefix(strings.ToLower(k), "application/json") {
			return content.Get(k)
		}
	}
	for _, k := range keys {
		if mt := strings.ToLower(k); strings.HasSuffix(strings.SplitN(mt, ";", 2)[0], "+json") || mt == "*/*" {
			return content.Get(k)
		}
	}
	return apidef.Node{}
}

// pathItem is the path item holding an operation (for shared parameters).
func pathItem(api *apidef.API, op apidef.Operation) apidef.Node {
	return api.Doc.Root.Get("paths").Get(op.Path)
}

// definitionsRef turns a bare schema name into a reference.
func definitionsRef(api *apidef.API, name string) string {
	if api.OpenAPI == "2.0" {
		return "#/definitions/" + escapePointer(name)
	}
	return "#/components/schemas/" + escapePointer(name)
}

// definitionsHint lists the schemas the API defines.
func definitionsHint(api *apidef.API) string {
	ref, container := "#/definitions/", api.Doc.Root.Get("definitions")
	if api.OpenAPI != "2.0" {
		ref, container = "#/components/schemas/", api.Doc.Root.Get("components").Get("schemas")
	}
	names := container.Keys()
	if len(names) == 0 {
		return "the API defines no schemas; add one under " + strings.ReplaceAll(strings.Trim(ref, "#/"), "/", ".")
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	return "the API defines " + ref + strings.Join(names, ", "+ref)
}

// schemaErrorText flattens a compiler error to one line.
func schemaErrorText(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// apiBase is the URL space the API's schemas are compiled in. Nothing is
// ever fetched from it: the compiler's loader refuses every URL.
const apiBase = "api:///"

// schemaSet compiles JSON schemas out of the API document. Each named
// schema the compiled ones reach (#/definitions/X, #/components/schemas/X,
// …) becomes a resource of its own, converted from YAML on first
// reference, so a broken schema elsewhere in the API does not matter. For
// OpenAPI 2.0 and 3.0 the schemas follow draft-04 (as those versions
// define them) with nullable and x-nullable read; 3.1 uses 2020-12.
type schemaSet struct {
	c       *jsonschema.Compiler
	root    apidef.Node
	legacy  bool
	added   map[string]bool
	pending [][]string
	next    int
	// inline is the policy's own schema while it is converted: its
	// references resolve inside it first.
	inline *yaml.Node
}

func newSchemaSet(api *apidef.API) *schemaSet {
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	legacy := !strings.HasPrefix(api.OpenAPI, "3.1")
	if legacy {
		c.DefaultDraft(jsonschema.Draft4)
	} else {
		c.DefaultDraft(jsonschema.Draft2020)
	}
	return &schemaSet{c: c, root: api.Doc.Root, legacy: legacy, added: map[string]bool{}}
}

// noLoader refuses to load anything: every schema comes from the API
// document, never from files or the network a $ref might name.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	if rest, inAPI := strings.CutPrefix(u, apiBase); inAPI && apiContainer(strings.Split(rest, "/")) {
		return nil, fmt.Errorf("#/%s is not defined in this API", rest)
	}
	return nil, fmt.Errorf("a $ref leads outside the API document (to %s), and Portico does not follow such references", strings.TrimPrefix(u, apiBase))
}

// compileRef compiles the schema a reference such as #/definitions/Order
// names.
func (s *schemaSet) compileRef(ref string) (*jsonschema.Schema, error) {
	return s.compile(s.rewriteRef(ref, false))
}

// compileNode compiles a schema written in the API document (an
// operation's body or response schema).
func (s *schemaSet) compileNode(n apidef.Node) (*jsonschema.Schema, error) {
	return s.compileValue(n.Y, false)
}

// compileInline compiles a policy's json-schema: a YAML mapping, or JSON
// text. Its own #/… references stay inside it, except those into the API's
// schema containers (#/definitions/…, #/components/…).
func (s *schemaSet) compileInline(n apidef.Node) (*jsonschema.Schema, error) {
	if n.IsMap() {
		return s.compileValue(n.Y, true)
	}
	return s.compileText([]byte(n.Str()))
}

// compileText compiles a schema given as JSON or YAML text.
func (s *schemaSet) compileText(data []byte) (*jsonschema.Schema, error) {
	var y yaml.Node
	if err := yaml.Unmarshal(data, &y); err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %v", err)
	}
	return s.compileValue(&y, true)
}

func (s *schemaSet) compileValue(y *yaml.Node, inline bool) (*jsonschema.Schema, error) {
	if inline {
		s.inline = y
		defer func() { s.inline = nil }()
	}
	v, err := s.convert(y, inline, 0)
	if err != nil {
		return nil, err
	}
	s.next++
	u := apiBase + "portico-schema-" + strconv.Itoa(s.next)
	if err := s.c.AddResource(u, v); err != nil {
		return nil, err
	}
	return s.compile(u)
}

func (s *schemaSet) compile(u string) (*jsonschema.Schema, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	return s.c.Compile(u)
}

// flush adds the resources that references have asked for.
func (s *schemaSet) flush() error {
	for len(s.pending) > 0 {
		toks := s.pending[len(s.pending)-1]
		s.pending = s.pending[:len(s.pending)-1]
		n, found := s.nodeAt(toks)
		if !found {
			continue // the compiler's loader reports it
		}
		v, err := s.convert(n.Y, false, 0)
		if err != nil {
			return err
		}
		if err := s.c.AddResource(resourceURL(toks), v); err != nil {
			return err
		}
	}
	return nil
}

// rewriteRef points a #/… reference into the API document at the resource
// holding its target. In an inline schema only references into the API's
// schema containers are rewritten; others are the schema's own.
func (s *schemaSet) rewriteRef(ref string, inline bool) string {
	if !strings.HasPrefix(ref, "#/") {
		return ref
	}
	toks := pointerTokens(ref)
	if inline && (!apiContainer(toks) || yamlAt(s.inline, toks) != nil) {
		return ref
	}
	res, rest := resourceOf(toks)
	u := resourceURL(res)
	if !s.added[u] {
		s.added[u] = true
		s.pending = append(s.pending, res)
	}
	var frag strings.Builder
	for _, t := range rest {
		frag.WriteString("/" + escapePointer(t))
	}
	return u + "#" + frag.String()
}

// apiContainer reports pointers into the places an API keeps named schemas.
func apiContainer(toks []string) bool {
	if len(toks) == 0 {
		return false
	}
	switch toks[0] {
	case "definitions", "components", "parameters", "responses":
		return true
	}
	return false
}

// resourceOf splits a pointer into the named item holding it
// (definitions/X, components/schemas/X) and the path inside that item.
func resourceOf(toks []string) ([]string, []string) {
	n := 2
	if toks[0] == "components" {
		n = 3
	}
	if len(toks) < n {
		n = len(toks)
	}
	return toks[:n], toks[n:]
}

func resourceURL(toks []string) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = url.PathEscape(t)
	}
	return apiBase + strings.Join(parts, "/")
}

// lookup finds the node a #/… reference names in the API document.
func (s *schemaSet) lookup(ref string) (apidef.Node, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return apidef.Node{}, false
	}
	return s.nodeAt(pointerTokens(ref))
}

func (s *schemaSet) nodeAt(toks []string) (apidef.Node, bool) {
	n := s.root
	for _, t := range toks {
		if n.IsSeq() {
			i, err := strconv.Atoi(t)
			items := n.Items()
			if err != nil || i < 0 || i >= len(items) {
				return apidef.Node{}, false
			}
			n = items[i]
			continue
		}
		n = n.Get(t)
		if n.IsZero() {
			return apidef.Node{}, false
		}
	}
	return n, true
}

// deref follows $ref (to a shared parameter, request body or response).
func (s *schemaSet) deref(n apidef.Node) apidef.Node {
	for i := 0; i < 8 && n.Has("$ref"); i++ {
		target, found := s.lookup(n.String("$ref", ""))
		if !found {
			break
		}
		n = target
	}
	return n
}

// yamlAt finds the node a pointer names inside a YAML tree; nil when it
// names nothing.
func yamlAt(y *yaml.Node, toks []string) *yaml.Node {
	for y != nil && (y.Kind == yaml.DocumentNode || y.Kind == yaml.AliasNode) {
		if y.Kind == yaml.AliasNode {
			y = y.Alias
		} else if len(y.Content) > 0 {
			y = y.Content[0]
		} else {
			return nil
		}
	}
	if len(toks) == 0 || y == nil {
		return y
	}
	switch y.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(y.Content); i += 2 {
			if y.Content[i].Value == toks[0] {
				return yamlAt(y.Content[i+1], toks[1:])
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(toks[0]); err == nil && i >= 0 && i < len(y.Content) {
			return yamlAt(y.Content[i], toks[1:])
		}
	}
	return nil
}

func pointerTokens(ref string) []string {
	rest := strings.TrimPrefix(ref, "#/")
	if rest == "" {
		return nil
	}
	toks := strings.Split(rest, "/")
	for i, t := range toks {
		if u, err := url.PathUnescape(t); err == nil {
			t = u
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

func escapePointer(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

// maxSchemaDepth bounds the YAML a schema is converted from.
const maxSchemaDepth = 512

// convert turns a YAML node into the JSON value the schema compiler reads,
// rewriting references and, for OpenAPI 2.0 and 3.0, the few forms
// draft-04 does not read.
func (s *schemaSet) convert(y *yaml.Node, inline bool, depth int) (any, error) {
	if y == nil {
		return nil, nil
	}
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("the schema is nested more than %d deep", maxSchemaDepth)
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, nil
		}
		return s.convert(y.Content[0], inline, depth+1)
	case yaml.AliasNode:
		return s.convert(y.Alias, inline, depth+1)
	case yaml.SequenceNode:
		list := make([]any, len(y.Content))
		for i, c := range y.Content {
			v, err := s.convert(c, inline, depth+1)
			if err != nil {
				return nil, err
			}
			list[i] = v
		}
		return list, nil
	case yaml.MappingNode:
		return s.convertMap(y, inline, depth)
	}
	return scalarJSON(y), nil
}

func (s *schemaSet) convertMap(y *yaml.Node, inline bool, depth int) (any, error) {
	m := make(map[string]any, len(y.Content)/2)
	for i := 0; i+1 < len(y.Content); i += 2 {
		v, err := s.convert(y.Content[i+1], inline, depth+1)
		if err != nil {
			return nil, err
		}
		m[y.Content[i].Value] = v
	}
	if ref, ok := m["$ref"].(string); ok {
		m["$ref"] = s.rewriteRef(ref, inline)
	}
	if s.legacy {
		legacySchema(m)
	}
	return m, nil
}

// legacySchema adapts an OpenAPI 2.0/3.0 schema object to draft-04:
// nullable (3.0) and x-nullable (2.0) allow null; a required that is not a
// list of names (required: true on a property, or an empty list) is
// dropped, as is type: file. Keys whose value is an object are left alone:
// they are property names, not keywords.
func legacySchema(m map[string]any) {
	if m["nullable"] == true || m["x-nullable"] == true {
		if t, ok := m["type"].(string); ok {
			m["type"] = []any{t, "null"}
		}
		if enum, ok := m["enum"].([]any); ok {
			m["enum"] = append(enum, nil)
		}
	}
	if req, present := m["required"]; present {
		list, isList := req.([]any)
		if _, isMap := req.(map[string]any); !isMap && (!isList || len(list) == 0 || !allStrings(list)) {
			delete(m, "required")
		}
	}
	if m["type"] == "file" {
		delete(m, "type")
	}
}

func allStrings(list []any) bool {
	for _, v := range list {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

// scalarJSON is the JSON value of a YAML scalar. Values JSON has no form
// for (timestamps, binary, infinities) keep their text.
func scalarJSON(y *yaml.Node) any {
	var v any
	if err := y.Decode(&v); err != nil {
		return y.Value
	}
	switch t := v.(type) {
	case nil, bool, string, int, int64, uint64:
		return t
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return y.Value
		}
		return t
	}
	return y.Value
}
