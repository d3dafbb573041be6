package policy

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
)

// docType is what parse reads a body as.
type docType int

const (
	docDetect docType = iota
	docJSON
	docXML
	docGraphQL
	docBinary
)

var docTypes = map[string]docType{"detect": docDetect, "json": docJSON, "xml": docXML, "graphql": docGraphQL, "binary": docBinary}

func (d docType) String() string {
	for k, v := range docTypes {
		if v == d {
			return k
		}
	}
	return "detect"
}

// docParser is a compiled parse policy.
type docParser struct {
	input, output  assembly.Ref
	doc            docType
	useContentType bool
	maxSize        int64 // 0: no limit beyond the body's own
}

// Parse compiles the parse policy (API Gateway 2.0.0–2.2.0):
//
//	input: message              a message variable (invoke's output, say)
//	output: message             default: the input, parsed in place
//	use-content-type: false     let Content-Type choose (detect) or confirm (json, xml) the type
//	parse-settings-reference:
//	  default: apic-default-parsesettings
//	  parse-settings: {document_type: detect | json | xml | graphql, max_document_size: …}
//	  literal: '<ParseSettings><DocumentType>json</DocumentType></ParseSettings>'
//
// A JSON body becomes a parsed value, so $(msg.body.field) reads into it. An
// XML body is checked to be well formed and kept as text (XML trees come
// later). detect looks at the first byte ({ or [ is JSON, < is XML), then at
// Content-Type; anything else is left as it is.
func Parse(b *assembly.Builder, n apidef.Node) assembly.Policy {
	p := &docParser{input: assembly.MustRef("message")}
	ok := true
	if in := n.Get("input"); strings.TrimSpace(in.Str()) != "" {
		r, good := b.Ref(in)
		ok = ok && good
		p.input = r
	}
	p.output = p.input
	if out := n.Get("output"); strings.TrimSpace(out.Str()) != "" {
		r, good := b.Ref(out)
		ok = ok && good
		p.output = r
	}
	switch p.output.Root() {
	case "api", "system", "request":
		// The request may only be parsed in place: its content stays what
		// the client sent.
		if p.output.Name != "request" || p.input.Name != "request" {
			at := n.Get("output")
			if at.IsZero() {
				at = n.Get("input")
			}
			b.Report(at.Problem(fmt.Sprintf("output %s is read-only", p.output.Name),
				"name a message, e.g. output: message, or a variable of your own"))
			ok = false
		}
	}
	var prob *apidef.Problem
	if p.useContentType, prob = n.Bool("use-content-type", false); prob != nil {
		b.Report(*prob)
		ok = false
	}
	if !p.readSettings(b, n) {
		ok = false
	}
	if !ok {
		return nil
	}
	return p.run
}

// readSettings reads the document type and size limit, in API Connect's
// increasing order of precedence: document_type beside the policy's other
// settings, then parse-settings-reference's parse-settings, literal, url.
// The default settings object (apic-default-parsesettings) detects the type.
func (p *docParser) readSettings(b *assembly.Builder, n apidef.Node) bool {
	ok := true
	setType := func(v apidef.Node, s string) {
		d, known := docTypes[strings.ToLower(strings.TrimSpace(s))]
		if !known {
			b.Report(v.Problemf("document type %q is not one of detect, json, xml, graphql", s))
			ok = false
			return
		}
		p.doc = d
	}
	for _, key := range []string{"document_type", "document-type"} {
		if v := n.Get(key); !v.IsNull() {
			setType(v, v.Str())
		}
	}
	ref := n.Get("parse-settings-reference")
	if ps := ref.Get("parse-settings"); !ps.IsNull() {
		if v := ps.Get("document_type"); !v.IsNull() {
			setType(v, v.Str())
		}
		size, prob := ps.Int("max_document_size", 0)
		if prob != nil {
			b.Report(*prob)
			ok = false
		}
		if size > 0 {
			p.maxSize = int64(size)
		}
	}
	if lit := ref.Get("literal"); !lit.IsNull() {
		typ, size, err := literalSettings(lit.Str())
		if err != nil {
			b.Report(lit.Problem(fmt.Sprintf("literal parse settings do not parse: %v", err),
				`write <ParseSettings><DocumentType>json</DocumentType></ParseSettings> or {"ParseSettings": {"DocumentType": "json"}}`))
			ok = false
		}
		if typ != "" {
			setType(lit, typ)
		}
		if size > 0 {
			p.maxSize = size
		}
	}
	if u := ref.Get("url"); !u.IsNull() {
		b.Report(u.Problem("parse-settings-reference.url is not supported: the settings it names live on a DataPower gateway",
			"copy the settings into parse-settings-reference.parse-settings, e.g. {document_type: json}"))
		ok = false
	}
	return ok
}

// literalSettings reads DocumentType and DocumentSize from a literal
// ParseSettings object, serialised as XML or JSON.
func literalSettings(s string) (typ string, size int64, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, nil
	}
	props := map[string]string{}
	if strings.HasPrefix(s, "{") {
		var doc map[string]map[string]any
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return "", 0, err
		}
		for k, v := range doc {
			if !strings.EqualFold(k, "ParseSettings") {
				continue
			}
			for pk, pv := range v {
				props[strings.ToLower(pk)] = assembly.Stringify(pv)
			}
		}
	} else {
		var doc struct {
			XMLName xml.Name
			Props   []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		}
		if err := xml.Unmarshal([]byte(s), &doc); err != nil {
			return "", 0, err
		}
		for _, pr := range doc.Props {
			props[strings.ToLower(pr.XMLName.Local)] = strings.TrimSpace(pr.Value)
		}
	}
	typ = props["documenttype"]
	if v := props["documentsize"]; v != "" {
		if _, err := fmt.Sscan(v, &size); err != nil {
			return "", 0, fmt.Errorf("DocumentSize %q is not a number", v)
		}
	}
	return typ, size, nil
}

func (p *docParser) run(c *assembly.Context) error {
	// Find the input: the message, the request, a message variable, or a
	// variable holding text.
	var (
		msg     *assembly.Message
		headers http.Header
		body    *assembly.Body
	)
	switch {
	case p.input.Name == "message":
		msg = c.Message
	case p.input.Name == "request":
		headers, body = c.Request.Headers, c.Request.Body
	default:
		v, found := c.Lookup(p.input)
		if !found {
			return &assembly.Error{Name: assembly.RuntimeError,
				Message: fmt.Sprintf("parse: input %s is not set", p.input.Name)}
		}
		switch t := v.(type) {
		case *assembly.Message:
			msg = t
		case string:
			body = assembly.BytesBody([]byte(t))
		case []byte:
			body = assembly.BytesBody(t)
		default:
			body = assembly.ValueBody(v) // already parsed
		}
	}
	if msg != nil {
		headers, body = msg.Headers, msg.Body
	}

	parsed, err := p.parse(body, headers)
	if err != nil {
		return err
	}
	return p.store(c, headers, parsed)
}

// parse returns the body to store: a parsed value, or the body itself when
// it stays as it is (text, XML, binary).
func (p *docParser) parse(body *assembly.Body, headers http.Header) (*assembly.Body, error) {
	var data []byte
	if v, ok := body.Parsed(); ok {
		s, isText := v.(string)
		if !isText {
			return body, nil // already parsed
		}
		// A JSON string is parsed again, as API Connect does.
		data = []byte(s)
	} else {
		var err error
		if data, err = body.Bytes(); err != nil {
			return nil, err
		}
	}
	if p.maxSize > 0 && int64(len(data)) > p.maxSize {
		return nil, p.fail(fmt.Sprintf("the document is %d bytes, more than max_document_size %d", len(data), p.maxSize), nil)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte-order mark
	if len(bytes.TrimSpace(data)) == 0 {
		return body, nil // nothing to parse: an empty document is left as it is
	}

	ct := contentKind(headers)
	doc := p.doc
	switch doc {
	case docDetect:
		doc = sniff(data)
		if p.useContentType && ct != docDetect {
			doc = ct
		} else if doc == docDetect {
			doc = ct
		}
	case docJSON, docXML:
		if p.useContentType && ct != docDetect && ct != doc {
			return nil, p.fail(fmt.Sprintf("Content-Type %q is not %s", headers.Get("Content-Type"), doc), nil)
		}
	case docGraphQL:
		// A GraphQL request as JSON ({"query": …}) is parsed as JSON; a
		// bare query stays text until GraphQL support lands.
		if sniff(data) != docJSON {
			return body, nil
		}
		doc = docJSON
	}
	switch doc {
	case docJSON:
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, p.fail("the body is not valid JSON: "+jsonErrorText(err, data), err)
		}
		return assembly.ValueBody(v), nil
	case docXML:
		x, err := xmlbody.Parse(data)
		if err != nil {
			return nil, p.fail("the body is not well-formed XML: "+err.Error(), err)
		}
		return assembly.ValueBody(x), nil
	}
	return body, nil
}

// fail is the error of a document that does not parse. API Connect's
// public documentation does not name the error its parse policy raises; we
// use RuntimeError (so a default catch takes it) with status 400, since the
// document, not the gateway, is at fault.
func (p *docParser) fail(msg string, cause error) error {
	return &assembly.Error{Name: assembly.RuntimeError, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("parse: %s: %s", p.input.Name, msg), Cause: cause}
}

// store puts the parsed body in the output message, creating it when the
// output names a variable that is not a message yet.
func (p *docParser) store(c *assembly.Context, headers http.Header, body *assembly.Body) error {
	switch {
	case p.output.Name == "message":
		c.Message.Body = body
		return nil
	case p.output.Name == "request":
		c.Request.Body = body
		return nil
	}
	if v, found := c.Lookup(p.output); found {
		if m, ok := v.(*assembly.Message); ok {
			m.Body = body
			return nil
		}
	}
	return c.Set(p.output, &assembly.Message{Headers: headers.Clone(), Body: body})
}

// sniff tells the type from the first byte that is not white space;
// docDetect when it says nothing.
func sniff(data []byte) docType {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 {
		return docDetect
	}
	switch t[0] {
	case '{', '[':
		return docJSON
	case '<':
		return docXML
	}
	return docDetect
}

// contentKind tells JSON or XML from a Content-Type header (application/json,
// text/xml, application/problem+json, …); docDetect for anything else.
func contentKind(h http.Header) docType {
	ct := h.Get("Content-Type")
	if ct == "" {
		return docDetect
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return docJSON
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return docXML
	}
	return docDetect
}

// jsonErrorText describes a JSON syntax error with its line and column.
func jsonErrorText(err error, data []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset)
		if off > len(data) {
			off = len(data)
		}
		line := 1 + bytes.Count(data[:off], []byte("\n"))
		col := off - bytes.LastIndexByte(data[:off], '\n')
		return fmt.Sprintf("%s (line %d, column %d)", se.Error(), line, col)
	}
	var ue *json.UnmarshalTypeError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return err.Error()
}
