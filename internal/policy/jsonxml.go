package policy

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
)

// This file holds json-to-xml and xml-to-json, and the helpers that the
// body-reading policies (these two, validate and xslt) share: finding the
// input message, telling JSON from XML, and storing a result.

// jsonToXML is a compiled json-to-xml policy.
type jsonToXML struct {
	io   msgIO
	opts xmlbody.Options
}

// JSONToXML compiles the json-to-xml policy (API Gateway 2.0.0; v5 1.0.0):
//
//	input: message                       the message whose body is converted
//	output: (the input)                  where the XML goes
//	conversionType: badgerFish           badgerFish (also relaxed-badgerfish) or None
//	root-element-name: json              wraps JSON that has no single top-level key
//	always-output-root-element: false    wrap even when there is one
//	unnamed-element-name: element        members of arrays that have no key
//
// The JSON is read in BadgerFish form ("$" text, "@name" attributes,
// "@xmlns" namespaces); plain values ({"a": "hello"}) become text, as in
// API Connect. Keys keep their order when the body is still JSON text; a
// body parsed earlier has lost it, and its keys come out sorted.
func JSONToXML(b *assembly.Builder, n apidef.Node) assembly.Policy {
	p := &jsonToXML{}
	var ok bool
	if p.io, ok = compileIO(b, n, "json-to-xml", true); !ok {
		return nil
	}
	if p.opts.Convention, ok = conversionType(b, n); !ok {
		return nil
	}
	p.opts.RootName = strings.TrimSpace(n.String("root-element-name", "json"))
	p.opts.ItemName = strings.TrimSpace(n.String("unnamed-element-name", "element"))
	always, prob := n.Bool("always-output-root-element", false)
	if prob != nil {
		b.Report(*prob)
		return nil
	}
	p.opts.AlwaysRoot = always
	if err := p.opts.Check(); err != nil {
		at := n.Get("root-element-name")
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", p.opts.RootName)) {
			at = n.Get("unnamed-element-name")
		}
		b.Report(at.Problem(err.Error(), "use a name such as json or element: a letter or _, then letters, digits, -, _ or ."))
		return nil
	}
	return p.run
}

func (p *jsonToXML) run(c *assembly.Context) error {
	src, err := p.io.source(c, "json-to-xml")
	if err != nil {
		return err
	}
	in, err := readContent(src, "json-to-xml")
	if err != nil {
		return err
	}
	if in.xml != nil {
		return transformError(src, "json-to-xml", "is XML, not JSON", nil)
	}
	var doc *xmlbody.Document
	if in.jsonText != nil {
		doc, err = xmlbody.FromJSONBytes(in.jsonText, p.opts)
	} else {
		doc, err = xmlbody.FromJSON(in.json, p.opts)
	}
	var syntax *xmlbody.JSONError
	switch {
	case errors.As(err, &syntax):
		return transformError(src, "json-to-xml", "is "+err.Error(), err)
	case err != nil:
		return transformError(src, "json-to-xml", "cannot be written as XML: "+err.Error(), err)
	}
	return p.io.store(c, src, xmlOutput(doc), xmlbody.ContentType)
}

// xmlToJSON is a compiled xml-to-json policy.
type xmlToJSON struct {
	io         msgIO
	convention xmlbody.Convention
}

// XMLToJSON compiles the xml-to-json policy (API Gateway 2.0.0; v5 1.0.0):
//
//	input: message              the message whose body is converted
//	output: (the input)         where the JSON goes
//	conversionType: badgerFish  badgerFish, or apicv5 (text-only elements become strings, no namespaces)
//
// The result is a parsed JSON body, so $(message.body.a.$) reads into it.
func XMLToJSON(b *assembly.Builder, n apidef.Node) assembly.Policy {
	p := &xmlToJSON{}
	var ok bool
	if p.io, ok = compileIO(b, n, "xml-to-json", true); !ok {
		return nil
	}
	if p.convention, ok = conversionType(b, n); !ok {
		return nil
	}
	if p.convention == xmlbody.Plain {
		p.convention = xmlbody.BadgerFish
	}
	return p.run
}

func (p *xmlToJSON) run(c *assembly.Context) error {
	src, err := p.io.source(c, "xml-to-json")
	if err != nil {
		return err
	}
	in, err := readContent(src, "xml-to-json")
	if err != nil {
		return err
	}
	if in.xml == nil {
		return transformError(src, "xml-to-json", "is JSON, not XML", nil)
	}
	v, err := in.xml.ToJSON(p.convention)
	if err != nil {
		return transformError(src, "xml-to-json", "is not well-formed XML: "+err.Error(), err)
	}
	return p.io.store(c, src, assembly.ValueBody(v), "application/json")
}

// conversionType reads conversionType; API Connect spells it in camel case
// while its other fields use dashes, so conversion-type is taken too.
func conversionType(b *assembly.Builder, n apidef.Node) (xmlbody.Convention, bool) {
	at := n.Get("conversionType")
	if at.IsNull() {
		at = n.Get("conversion-type")
	}
	c, ok := xmlbody.ParseConvention(at.Str())
	if !ok {
		b.Report(at.Problem(fmt.Sprintf("conversionType %q is not one of badgerFish, relaxed-badgerfish, apicv5, None", at.Str()),
			"leave it out for badgerFish"))
	}
	return c, ok
}

// xmlOutput is the body a policy stores for an XML result. It is the
// serialised document for now: assembly JSON-encodes parsed values it does
// not know, so a *xmlbody.Document body would be written as {}. Once
// assembly serialises values with a Bytes() []byte method as those bytes,
// this becomes assembly.ValueBody(doc) and the tree is kept for the next
// XML policy.
func xmlOutput(doc *xmlbody.Document) *assembly.Body {
	return assembly.ValueBody(doc)
}

// msgIO is where a body-reading policy takes its message from and puts
// its result: API Connect's input and output settings.
type msgIO struct {
	input, output assembly.Ref
}

// compileIO reads input (default message) and output. An output that is
// not given is the input when the policy writes a result (a conversion),
// and none when writing one is optional (validate). The request and the
// api and system trees are read-only, so they cannot be an output.
func compileIO(b *assembly.Builder, n apidef.Node, policy string, writes bool) (msgIO, bool) {
	io := msgIO{input: assembly.MustRef("message")}
	ok := true
	if in := n.Get("input"); strings.TrimSpace(in.Str()) != "" {
		io.input, ok = b.Ref(in)
	}
	at := n.Get("output")
	switch {
	case strings.TrimSpace(at.Str()) != "":
		r, good := b.Ref(at)
		io.output, ok = r, ok && good
	case writes:
		io.output, at = io.input, n.Get("input")
	default:
		return io, ok
	}
	if !ok {
		return io, false
	}
	switch io.output.Root() {
	case "request", "api", "system":
		b.Report(at.Problem(fmt.Sprintf("%s cannot write its result to %s, which is read-only", policy, io.output.Name),
			"set output: message, or a variable of your own"))
		return io, false
	}
	return io, true
}

// msgSource is a policy's input, found at run time.
type msgSource struct {
	name    string // the input variable, for messages
	headers http.Header
	body    *assembly.Body
	// fromClient is set when the body is what the client sent, so that a
	// malformed body is the client's fault (400) rather than the gateway's.
	fromClient bool
	status     int // the message's status code; 0 when unset or not a message
}

// source finds the input message: message, request, a message variable
// (invoke's output), or a variable holding a body of its own.
func (io msgIO) source(c *assembly.Context, policy string) (msgSource, error) {
	src := msgSource{name: io.input.Name}
	switch io.input.Name {
	case "message":
		src.headers, src.body, src.fromClient = c.Message.Headers, c.Message.Body, c.MessageIsRequest()
		src.status = c.Message.Status
		return src, nil
	case "request":
		src.headers, src.body, src.fromClient = c.Request.Headers, c.Request.Body, true
		return src, nil
	}
	v, found := c.Lookup(io.input)
	if !found {
		return src, &assembly.Error{Name: assembly.RuntimeError,
			Message: fmt.Sprintf("%s: input %s is not set", policy, io.input.Name)}
	}
	switch t := v.(type) {
	case *assembly.Message:
		src.headers, src.body, src.status = t.Headers, t.Body, t.Status
	case string:
		src.body = assembly.BytesBody([]byte(t))
	case []byte:
		src.body = assembly.BytesBody(t)
	default:
		src.body = assembly.ValueBody(v)
	}
	return src, nil
}

// store puts a result body, with its Content-Type, in the output message;
// a variable that does not hold a message yet becomes one, with the
// input's headers.
func (io msgIO) store(c *assembly.Context, src msgSource, body *assembly.Body, contentType string) error {
	var m *assembly.Message
	if io.output.Name == "message" {
		m = c.Message
	} else if v, found := c.Lookup(io.output); found {
		m, _ = v.(*assembly.Message)
	}
	if m == nil {
		m = &assembly.Message{Headers: src.headers.Clone()}
		if m.Headers == nil {
			m.Headers = http.Header{}
		}
		if err := c.Set(io.output, m); err != nil {
			return err
		}
	}
	m.Body = body
	if contentType != "" {
		if m.Headers == nil {
			m.Headers = http.Header{}
		}
		m.Headers.Set("Content-Type", contentType)
	}
	return nil
}

// content is an input body, told apart: parsed or raw JSON, or XML.
type content struct {
	json     any
	jsonText []byte // the JSON as sent, when it was never parsed (keeps key order)
	xml      *xmlbody.Document
}

// readContent reads the input body as JSON or XML. API Connect wants it
// parsed (by a parse policy) first; Portico also takes JSON or XML text and
// parses it here. What is neither is an error that names the parse policy.
func readContent(src msgSource, policy string) (content, error) {
	if v, parsed := src.body.Parsed(); parsed {
		if doc, isXML := v.(*xmlbody.Document); isXML {
			return content{xml: doc}, nil
		}
		if s, isText := v.(string); !isText || !looksXML([]byte(s)) {
			return content{json: v}, nil
		}
	}
	data, err := src.body.Bytes()
	if err != nil {
		return content{}, err
	}
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 {
		return content{}, transformError(src, policy, "is empty", nil)
	}
	switch kind := bodyKind(trimmed, src.headers); kind {
	case docXML:
		doc, err := xmlbody.Parse(data)
		if err != nil {
			return content{}, transformError(src, policy, "is not well-formed XML: "+err.Error(), err)
		}
		return content{xml: doc}, nil
	case docJSON:
		return content{jsonText: trimmed}, nil
	}
	ct := "none"
	if src.headers != nil && src.headers.Get("Content-Type") != "" {
		ct = src.headers.Get("Content-Type")
	}
	return content{}, transformError(src, policy, fmt.Sprintf(
		"is neither JSON nor XML (Content-Type %s): add a parse policy before %s, or send JSON or XML", ct, policy), nil)
}

// bodyKind tells JSON from XML by the first byte, then by Content-Type.
func bodyKind(trimmed []byte, h http.Header) docType {
	if d := sniff(trimmed); d != docDetect {
		return d
	}
	if h == nil {
		return docDetect
	}
	return contentKind(h)
}

func looksXML(data []byte) bool { return sniff(data) == docXML }

// transformError is a TransformError about the input body. A body the
// client sent is the client's fault, so it answers 400; a body from a back
// end or a variable answers 500.
func transformError(src msgSource, policy, what string, cause error) *assembly.Error {
	status := http.StatusInternalServerError
	if src.fromClient {
		status = http.StatusBadRequest
	}
	return &assembly.Error{Name: assembly.TransformError, Status: status, Cause: cause,
		Message: fmt.Sprintf("%s: %s.body %s", policy, src.name, what)}
}
