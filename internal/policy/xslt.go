package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/lestrrat-go/helium"
	"github.com/lestrrat-go/helium/xpath3"
	"github.com/lestrrat-go/helium/xslt3"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
)

// Namespaces of the context APIs stylesheets call, and of Portico's bridge
// to them.
const (
	nsXSL      = "http://www.w3.org/1999/XSL/Transform"
	nsAPIGW    = "http://www.ibm.com/xmlns/datapower/2017/11/apigateway" // API Gateway: apigw:get-variable, <apigw:set-variable>
	nsAPIM     = "http://www.ibm.com/apimanagement"                      // v5: apim.custom.xsl's apim:getVariable, apim:setVariable
	nsDP       = "http://www.datapower.com/extensions"                   // DataPower extensions: not provided
	nsBridge   = "urn:portico:xslt"
	apimCustom = "local:///isp/policy/apim.custom.xsl"
	userModule = "portico:stylesheet.xsl"
	apigwStub  = "portico:apigw.xsl"
)

// apigwModule defines the API Gateway's XSLT context functions over the two
// Go functions each run passes in as parameters.
const apigwModule = `<xsl:stylesheet version="3.0" xmlns:xsl="` + nsXSL + `"
  xmlns:apigw="` + nsAPIGW + `" xmlns:portico="` + nsBridge + `">
  <xsl:param name="portico:get" select="()"/>
  <xsl:param name="portico:set" select="()"/>
  <xsl:function name="apigw:get-variable">
    <xsl:param name="name"/>
    <xsl:sequence select="$portico:get(string($name))"/>
  </xsl:function>
  <xsl:function name="apigw:set-variable">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:sequence select="$portico:set(string($name), $value, 'set')"/>
  </xsl:function>
</xsl:stylesheet>`

// apimModule stands in for v5's local:///isp/policy/apim.custom.xsl: the
// context functions and templates v5 stylesheets import it for.
const apimModule = `<xsl:stylesheet version="3.0" xmlns:xsl="` + nsXSL + `"
  xmlns:apim="` + nsAPIM + `" xmlns:portico="` + nsBridge + `">
  <xsl:param name="portico:get" select="()"/>
  <xsl:param name="portico:set" select="()"/>
  <xsl:function name="apim:getVariable">
    <xsl:param name="name"/>
    <xsl:sequence select="$portico:get(string($name))"/>
  </xsl:function>
  <xsl:function name="apim:setVariable">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:sequence select="$portico:set(string($name), $value, 'set')"/>
  </xsl:function>
  <xsl:function name="apim:setVariable">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:param name="action"/>
    <xsl:sequence select="$portico:set(string($name), $value, string($action))"/>
  </xsl:function>
  <xsl:function name="apim:policyProperties">
    <xsl:sequence select="()"/>
  </xsl:function>
  <xsl:template name="apim:setVariable">
    <xsl:param name="varName"/>
    <xsl:param name="value"/>
    <xsl:param name="action" select="'set'"/>
    <xsl:sequence select="$portico:set(string($varName), $value, string($action))"/>
  </xsl:template>
  <xsl:template name="apim:setVariableImpl">
    <xsl:param name="rawName"/>
    <xsl:param name="rawValue"/>
    <xsl:param name="action" select="'set'"/>
    <xsl:sequence select="$portico:set(string($rawName), $rawValue, string($action))"/>
  </xsl:template>
</xsl:stylesheet>`

// wrapperModule imports the user's stylesheet and the API Gateway bridge:
// the stylesheet keeps all its templates, and apigw:get-variable and the
// rewritten <apigw:set-variable> find their definitions.
const wrapperModule = `<xsl:stylesheet version="3.0" xmlns:xsl="` + nsXSL + `">
  <xsl:import href="` + userModule + `"/>
  <xsl:import href="` + apigwStub + `"/>
</xsl:stylesheet>`

// xsltPolicy is a compiled xslt policy.
type xsltPolicy struct {
	ss        *xslt3.Stylesheet
	input     bool
	serialize bool
	bridge    bool   // the stylesheet reads or sets context variables
	mediaType string // of the serialised output
}

// XSLT compiles the xslt policy (API Gateway 2.0.0–2.1.0; v5 1.0.0):
//
//	source: <xsl:stylesheet …>      the stylesheet (XSLT 1.0, 2.0 or 3.0)
//	input: false                    true: transform message.body; false: run on an empty document
//	serialize-output: false         true: message.body gets the serialised text (xsl:output applies)
//
// The stylesheet is compiled once, at load. It may read and set context
// variables with the API Gateway's apigw:get-variable('name') and
// <apigw:set-variable name="'name'" value="…"/>, or v5's apim:getVariable and
// apim:setVariable from local:///isp/policy/apim.custom.xsl. DataPower's own
// extensions (dp:…) are not provided: the API loads with a warning and the
// transform fails when it reaches one. Other xsl:import and document()
// targets are refused: a stylesheet cannot read files or the network.
func XSLT(b *assembly.Builder, n apidef.Node) assembly.Policy {
	p := &xsltPolicy{}
	var prob *apidef.Problem
	if p.input, prob = n.Bool("input", false); prob != nil {
		b.Report(*prob)
		return nil
	}
	if p.serialize, prob = n.Bool("serialize-output", false); prob != nil {
		b.Report(*prob)
		return nil
	}
	src := n.Get("source")
	if strings.TrimSpace(src.Str()) == "" {
		b.Report(missingSetting(n, "source", "xslt needs source: the stylesheet",
			`write source: '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">…</xsl:stylesheet>'`))
		return nil
	}
	ss, err := compileStylesheet(context.Background(), src.Str())
	if err != nil {
		b.Report(src.Problem("the stylesheet does not compile: "+err.Error(), "fix the XSLT in source"))
		return nil
	}
	p.ss = ss
	p.bridge = strings.Contains(src.Str(), nsAPIGW) || strings.Contains(src.Str(), nsAPIM)
	p.mediaType = outputMediaType(ss.DefaultOutputDef())
	if ext := dataPowerExtensions(src.Str()); len(ext) > 0 {
		b.Report(src.Warning(fmt.Sprintf("the stylesheet uses DataPower extensions that Portico does not provide (%s): the transform fails when it reaches them",
			strings.Join(ext, ", ")), "use apigw:get-variable and <apigw:set-variable> for context variables; do other work in other policies"))
	}
	return p.run
}

// compileStylesheet parses and compiles a stylesheet. One that uses the
// API Gateway namespace has its <apigw:set-variable> elements rewritten to
// calls, and is compiled under a wrapper that imports the bridge.
func compileStylesheet(ctx context.Context, src string) (*xslt3.Stylesheet, error) {
	doc, err := helium.NewParser().Parse(ctx, []byte(src))
	if err != nil {
		return nil, fmt.Errorf("it is not well-formed XML: %v", err)
	}
	res := &moduleResolver{}
	compiler := xslt3.NewCompiler().URIResolver(res)
	if !strings.Contains(src, nsAPIGW) {
		return compiler.Compile(ctx, doc)
	}
	if res.user, err = rewriteSetVariable(doc); err != nil {
		return nil, err
	}
	wrapper, err := helium.NewParser().Parse(ctx, []byte(wrapperModule))
	if err != nil {
		return nil, err
	}
	return compiler.Compile(ctx, wrapper)
}

// rewriteSetVariable turns each <apigw:set-variable name="N" value="V"/>
// (whose attributes are XPath expressions) into
// <xsl:sequence select="apigw:set-variable((N), (V))"/>, and returns the
// stylesheet's text.
func rewriteSetVariable(doc *helium.Document) (string, error) {
	var targets []*helium.Element
	err := helium.Walk(doc, helium.NodeWalkerFunc(func(n helium.Node) error {
		if e, ok := n.(*helium.Element); ok && e.URI() == nsAPIGW && e.LocalName() == "set-variable" {
			targets = append(targets, e)
		}
		return nil
	}))
	if err != nil {
		return "", err
	}
	for _, e := range targets {
		name, _ := e.GetAttribute("name")
		value, _ := e.GetAttribute("value")
		xsl, err := doc.CreateNamespace("xsl", nsXSL)
		if err != nil {
			return "", err
		}
		seq, err := doc.CreateElementNS("sequence", xsl)
		if err != nil {
			return "", err
		}
		if err := seq.SetAttribute("select", "Q{"+nsAPIGW+"}set-variable(("+name+"), ("+value+"))"); err != nil {
			return "", err
		}
		if err := e.Replace(seq); err != nil {
			return "", err
		}
	}
	return helium.WriteString(doc)
}

// moduleResolver serves the modules a stylesheet may import: the user's own
// (under the wrapper), the API Gateway bridge, and v5's apim.custom.xsl.
// Anything else is refused, so a stylesheet reads nothing from disk.
type moduleResolver struct{ user string }

func (r *moduleResolver) Resolve(uri string) (io.ReadCloser, error) {
	switch uri {
	case userModule:
		return io.NopCloser(strings.NewReader(r.user)), nil
	case apigwStub:
		return io.NopCloser(strings.NewReader(apigwModule)), nil
	case apimCustom, "store:///isp/policy/apim.custom.xsl":
		return io.NopCloser(strings.NewReader(apimModule)), nil
	}
	return nil, fmt.Errorf("%s cannot be imported: stylesheets must be inline; only %s is provided", uri, apimCustom)
}

// dpFunction finds calls such as dp:variable( in attribute values; the
// prefix is checked against the DataPower namespace afterwards.
var dpFunction = regexp.MustCompile(`([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)\s*\(`)

// dataPowerExtensions lists the DataPower extension elements and functions
// a stylesheet uses, as prefix:name.
func dataPowerExtensions(src string) []string {
	doc, err := helium.NewParser().Parse(context.Background(), []byte(src))
	if err != nil {
		return nil
	}
	found := map[string]bool{}
	_ = helium.Walk(doc, helium.NodeWalkerFunc(func(n helium.Node) error {
		e, ok := n.(*helium.Element)
		if !ok {
			return nil
		}
		if e.URI() == nsDP {
			found["dp:"+e.LocalName()] = true
		}
		for _, a := range e.Attributes() {
			for _, m := range dpFunction.FindAllStringSubmatch(a.Value(), -1) {
				if uri, declared := inScopeNamespace(e, m[1]); declared && uri == nsDP {
					found["dp:"+m[2]+"()"] = true
				}
			}
		}
		return nil
	}))
	out := make([]string, 0, len(found))
	for k := range found {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// inScopeNamespace finds the URI prefix is bound to at e.
func inScopeNamespace(e *helium.Element, prefix string) (string, bool) {
	for n := helium.Node(e); n != nil; n = n.Parent() {
		el, ok := n.(*helium.Element)
		if !ok {
			break
		}
		for _, ns := range el.Namespaces() {
			if ns.Prefix() == prefix {
				return ns.URI(), true
			}
		}
	}
	return "", false
}

// outputMediaType is the Content-Type of the stylesheet's output.
func outputMediaType(def *xslt3.OutputDef) string {
	if def == nil {
		return xmlbody.ContentType
	}
	if def.MediaType != "" {
		return def.MediaType
	}
	switch def.Method {
	case "text":
		return "text/plain"
	case "html", "xhtml":
		return "text/html"
	case "json", "adaptive":
		return "application/json"
	}
	return xmlbody.ContentType
}

// run transforms message.body (or an empty document) and puts the result
// in message.body. A transform that produces nothing leaves the body as it
// was: such stylesheets run for what they set, not for what they return.
func (p *xsltPolicy) run(c *assembly.Context) error {
	source, err := p.source(c)
	if err != nil {
		return err
	}
	inv := p.ss.Transform(source).MessageHandler(messageLog{c})
	if p.bridge {
		inv = inv.SetParameter("{"+nsBridge+"}get", xpath3.ItemSlice{getVariable(c)}).
			SetParameter("{"+nsBridge+"}set", xpath3.ItemSlice{setVariable(c)})
	}
	if p.serialize {
		out, err := inv.Serialize(c.Ctx)
		if err != nil {
			return transformFailed(err)
		}
		if out != "" {
			p.store(c, assembly.BytesBody([]byte(out)), p.mediaType)
		}
		return nil
	}
	result, err := inv.Do(c.Ctx)
	if err != nil {
		return transformFailed(err)
	}
	return p.storeTree(c, result)
}

// source is the document the stylesheet runs on.
func (p *xsltPolicy) source(c *assembly.Context) (*helium.Document, error) {
	if !p.input {
		return helium.NewDefaultDocument(), nil
	}
	src := msgSource{name: "message", headers: c.Message.Headers, body: c.Message.Body, fromClient: c.MessageIsRequest()}
	in, err := readContent(src, "xslt")
	if err != nil {
		return nil, err
	}
	if in.xml == nil {
		return nil, transformError(src, "xslt", "is JSON: the xslt policy transforms XML; convert it with json-to-xml first", nil)
	}
	dom, err := in.xml.DOM(c.Ctx)
	if err != nil {
		return nil, transformError(src, "xslt", "is not well-formed XML: "+err.Error(), err)
	}
	return dom, nil
}

// storeTree stores the result tree: a document when it has a root element,
// its text when it is only text.
func (p *xsltPolicy) storeTree(c *assembly.Context, result *helium.Document) error {
	if result == nil || result.FirstChild() == nil {
		return nil
	}
	if result.DocumentElement() == nil {
		p.store(c, assembly.BytesBody(result.Content()), p.mediaType)
		return nil
	}
	doc, err := xmlbody.FromDOM(result)
	if err != nil {
		return transformFailed(err)
	}
	p.store(c, xmlOutput(doc), xmlbody.ContentType)
	return nil
}

// store replaces message.body, and sets Content-Type when the message's
// says another kind of content.
func (p *xsltPolicy) store(c *assembly.Context, body *assembly.Body, mediaType string) {
	c.Message.Body = body
	if c.Message.Headers == nil {
		c.Message.Headers = http.Header{}
	}
	if !sameMediaKind(c.Message.Headers.Get("Content-Type"), mediaType) {
		c.Message.Headers.Set("Content-Type", mediaType)
	}
}

// sameMediaKind reports whether two content types say the same kind of
// content (both XML, both JSON, or the same type), so that text/xml is
// not replaced by application/xml.
func sameMediaKind(current, want string) bool {
	if current == "" {
		return false
	}
	ck := contentKind(http.Header{"Content-Type": {current}})
	wk := contentKind(http.Header{"Content-Type": {want}})
	if ck != docDetect || wk != docDetect {
		return ck == wk
	}
	cm, _, err1 := mime.ParseMediaType(current)
	wm, _, err2 := mime.ParseMediaType(want)
	return err1 == nil && err2 == nil && cm == wm
}

// transformFailed is the TransformError of a stylesheet that fails while
// it runs. A missing DataPower extension is named as such.
func transformFailed(err error) error {
	msg := err.Error()
	var ae *assembly.Error
	if errors.As(err, &ae) {
		return ae // a context variable could not be set
	}
	if strings.Contains(msg, "XTDE1450") || strings.Contains(msg, "unknown function") {
		msg += " (DataPower extension elements and functions are not provided by Portico)"
	}
	return &assembly.Error{Name: assembly.TransformError, Message: "xslt: " + msg, Cause: err}
}

// messageLog sends xsl:message output to the request's log.
type messageLog struct{ c *assembly.Context }

func (m messageLog) HandleMessage(msg string, terminate bool) error {
	if m.c.Log != nil {
		m.c.Log.InfoContext(m.c.Ctx, "xslt message", "text", strings.TrimSpace(msg), "terminate", terminate)
	}
	return nil
}

// getVariable is the function behind apigw:get-variable and
// apim:getVariable: a context variable as an XPath value.
func getVariable(c *assembly.Context) xpath3.FunctionItem {
	return xpath3.FunctionItem{Arity: 1, Name: "get-variable", Namespace: nsBridge,
		Invoke: func(ctx context.Context, args []xpath3.Sequence) (xpath3.Sequence, error) {
			name, err := sequenceText(args[0])
			if err != nil {
				return nil, err
			}
			r, err := assembly.ParseRef(name)
			if err != nil {
				return nil, fmt.Errorf("get-variable(%q): %v", name, err)
			}
			v, found := c.Lookup(r)
			if !found {
				return xpath3.ItemSlice{}, nil
			}
			return toXPath(ctx, v)
		}}
}

// toXPath converts a context value: text, numbers and booleans as atomic
// values, XML as a document node, JSON objects and arrays as their text.
func toXPath(ctx context.Context, v any) (xpath3.Sequence, error) {
	switch t := v.(type) {
	case nil:
		return xpath3.ItemSlice{}, nil
	case string:
		return xpath3.SingleString(t), nil
	case []byte:
		return xpath3.SingleString(string(t)), nil
	case bool:
		return xpath3.SingleBoolean(t), nil
	case int:
		return xpath3.SingleInteger(int64(t)), nil
	case int64:
		return xpath3.SingleInteger(t), nil
	case float64:
		return xpath3.SingleDouble(t), nil
	case *xmlbody.Document:
		dom, err := t.DOM(ctx)
		if err != nil {
			return nil, err
		}
		return xpath3.SingleNode(dom), nil
	case *assembly.Message:
		body, err := t.Body.Value()
		if err != nil {
			return nil, err
		}
		return toXPath(ctx, body)
	case map[string]any, []any:
		data, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return xpath3.SingleString(string(data)), nil
	}
	return xpath3.SingleString(assembly.Stringify(v)), nil
}

// setVariable is the function behind <apigw:set-variable> and
// apim:setVariable: it sets (or adds to, or clears) a context variable.
func setVariable(c *assembly.Context) xpath3.FunctionItem {
	return xpath3.FunctionItem{Arity: 3, Name: "set-variable", Namespace: nsBridge,
		Invoke: func(ctx context.Context, args []xpath3.Sequence) (xpath3.Sequence, error) {
			name, err := sequenceText(args[0])
			if err != nil {
				return nil, err
			}
			action, err := sequenceText(args[2])
			if err != nil {
				return nil, err
			}
			r, err := assembly.ParseRef(name)
			if err != nil {
				return nil, fmt.Errorf("set-variable(%q): %v", name, err)
			}
			if strings.EqualFold(action, "clear") {
				return xpath3.ItemSlice{}, c.Clear(r)
			}
			v, err := fromXPath(args[1])
			if err != nil {
				return nil, fmt.Errorf("set-variable(%q): %v", name, err)
			}
			if strings.EqualFold(action, "add") {
				return xpath3.ItemSlice{}, c.Add(r, v)
			}
			return xpath3.ItemSlice{}, c.Set(r, v)
		}}
}

// fromXPath converts an XPath value for the context: one atomic value as
// text, number or boolean; nodes as XML text; several items as their text
// joined by spaces.
func fromXPath(seq xpath3.Sequence) (any, error) {
	if seq == nil || seq.Len() == 0 {
		return "", nil
	}
	if seq.Len() == 1 {
		if a, ok := seq.Get(0).(xpath3.AtomicValue); ok {
			return atomicValue(a)
		}
	}
	nodes := true
	for it := range seq.Items() {
		if _, ok := it.(xpath3.NodeItem); !ok {
			nodes = false
		}
	}
	if nodes {
		return nodesXML(seq)
	}
	return sequenceText(seq)
}

func atomicValue(a xpath3.AtomicValue) (any, error) {
	switch {
	case a.TypeName == xpath3.TypeBoolean:
		return a.BooleanVal(), nil
	case a.IsNumeric():
		return a.ToFloat64(), nil
	}
	return xpath3.AtomicToString(a)
}

// nodesXML serialises nodes. One document or element becomes XML text (the
// form a set-variable of message.body stores); text nodes become text.
func nodesXML(seq xpath3.Sequence) (any, error) {
	var buf bytes.Buffer
	for it := range seq.Items() {
		n := it.(xpath3.NodeItem).Node
		if err := helium.NewWriter().XMLDeclaration(false).WriteTo(&buf, n); err != nil {
			return nil, err
		}
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	if doc, err := xmlbody.Parse(out); err == nil {
		return xmlValue(doc), nil
	}
	return string(out), nil
}

// xmlValue is how an XML value is stored in a context variable: its text
// for now, for the reason xmlOutput gives.
func xmlValue(doc *xmlbody.Document) any { return doc }

// sequenceText is the string value of an XPath sequence.
func sequenceText(seq xpath3.Sequence) (string, error) {
	if seq == nil {
		return "", nil
	}
	var parts []string
	for it := range seq.Items() {
		switch t := it.(type) {
		case xpath3.AtomicValue:
			s, err := xpath3.AtomicToString(t)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		case xpath3.NodeItem:
			parts = append(parts, string(t.Node.Content()))
		default:
			return "", fmt.Errorf("a function, map or array has no text value")
		}
	}
	return strings.Join(parts, " "), nil
}
