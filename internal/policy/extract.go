package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/expr"
	"github.com/portico-api/portico/internal/policy/mapping"
)

// extraction is one compiled entry of extract's extracts.
type extraction struct {
	root       docRoot
	capture    *mapping.Path // below root
	captureSrc string        // as written, for messages
	transform  *expr.Expression
}

// Extract compiles the extract policy (API Gateway 2.0.0):
//
//	root: message.body          the data to change (default message.body)
//	extracts:
//	- capture: $.members.**.account   JSONata path of the fields (default $, all of root)
//	  transform: $substring($, -4)    JSONata; $ is a captured value, which the result replaces
//
// A transform that gives nothing (undefined) removes the field. The data
// must be parsed: a message body that is still text is an error (add a
// parse policy first), as on the API Gateway.
func Extract(b *assembly.Builder, n apidef.Node) assembly.Policy {
	rootNode := n.Get("root")
	rootSrc := strings.TrimSpace(rootNode.Str())
	if rootSrc == "" {
		rootSrc = "message.body"
	}
	rootPath, err := mapping.ParsePath(rootSrc, mapping.JSONata)
	if err != nil {
		b.Report(rootNode.Problem(err.Error(), "name a variable, e.g. root: message.body"))
		return nil
	}
	list := n.Get("extracts")
	if !list.IsSeq() {
		b.Report(absentSetting(n, "extracts", "extract needs extracts: a list of {capture, transform}",
			"write `extracts: [{capture: $.account, transform: $substring($, -4)}]`"))
		return nil
	}
	var items []extraction
	ok := true
	for _, item := range list.Items() {
		e, good := compileExtraction(b, item, rootPath, rootNode)
		if !good {
			ok = false
			continue
		}
		items = append(items, e)
	}
	if !ok {
		return nil
	}
	return func(c *assembly.Context) error {
		for i := range items {
			if err := items[i].run(c); err != nil {
				return err
			}
		}
		return nil
	}
}

func compileExtraction(b *assembly.Builder, item apidef.Node, rootPath *mapping.Path, rootNode apidef.Node) (extraction, bool) {
	var e extraction
	tn := item.Get("transform")
	if !item.IsMap() || strings.TrimSpace(tn.Str()) == "" {
		b.Report(absentSetting(item, "transform", "an extract needs transform: the JSONata expression whose result replaces each captured value",
			"write `- capture: $.account` with `transform: $substring($, -4)`"))
		return e, false
	}
	capNode := item.Get("capture")
	capSrc := strings.TrimSpace(capNode.Str())
	if capSrc == "" {
		capSrc = "$"
	}
	capture, err := mapping.ParsePath(capSrc, mapping.JSONata)
	if err != nil {
		b.Report(capNode.Problem(err.Error(), "write a JSONata path such as $.members.**.account"))
		return e, false
	}
	root, rest, err := splitRoot(rootPath.Join(capture))
	if err != nil {
		b.Report(rootNode.Problem(err.Error(), "name a variable, e.g. root: message.body"))
		return e, false
	}
	if e.transform, err = expr.CompileJSONata(tn.Str()); err != nil {
		b.Report(tn.Problem(fmt.Sprintf("transform does not compile: %v", err), "write a JSONata expression, e.g. $uppercase($)"))
		return e, false
	}
	e.root, e.capture, e.captureSrc = root, rest, capSrc
	if root.kind == rootHeaders {
		e.capture = rest.LowerNames()
	}
	return e, true
}

// run replaces each captured value with the transform's result.
func (e *extraction) run(c *assembly.Context) error {
	doc, found, err := e.root.load(c, false)
	if err != nil {
		return extractError(err)
	}
	if !found {
		return nil
	}
	sc := mapping.Scope{Ctx: c.Ctx, Env: c}
	doc, keep, err := e.capture.Apply(sc, doc, func(v any) (any, bool, error) {
		return e.transform.EvalDefined(c.Ctx, c, v)
	})
	if err != nil {
		return extractError(fmt.Errorf("capture %q, transform %q: %w", e.captureSrc, e.transform.String(), unwrapEval(err)))
	}
	if !keep {
		doc = nil
	}
	return e.root.store(c, doc)
}

func extractError(err error) error {
	var ae *assembly.Error
	if errors.As(err, &ae) {
		return ae
	}
	return &assembly.Error{Name: assembly.TransformError, Message: "extract: " + err.Error(), Cause: err}
}

// unwrapEval drops the expr wrapper, whose text repeats the source.
func unwrapEval(err error) error {
	var ee *expr.EvalError
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// absentSetting is the problem of a required setting that n lacks, located
// at the setting or, when it is missing, at the policy's settings.
func absentSetting(n apidef.Node, key, msg, hint string) apidef.Problem {
	p := n.Get(key).Problem(msg, hint)
	if p.Line == 0 && n.Y != nil {
		p.Line, p.Column = n.Y.Line, n.Y.Column
	}
	return p
}

// rootKind is what a docRoot holds.
type rootKind int

const (
	rootBody    rootKind = iota // a message's body: message.body, request.body, <message>.body
	rootHeaders                 // a message's headers, by lower-case name
	rootVar                     // any other variable's value
)

// docRoot is the context variable extract and redact work on.
type docRoot struct {
	kind   rootKind
	msg    string       // the message of a body or headers: request, message or a variable
	msgRef assembly.Ref // msg as a variable name
	ref    assembly.Ref
}

// splitRoot reads the variable a path starts with (message.body,
// request.headers, x.body, x) and returns it with the rest of the path.
func splitRoot(p *mapping.Path) (docRoot, *mapping.Path, error) {
	names := p.LeadingNames()
	if len(names) == 0 {
		return docRoot{}, nil, fmt.Errorf("path %q does not start with a context variable such as message.body", p.Source())
	}
	switch names[0] {
	case "api", "system":
		return docRoot{}, nil, fmt.Errorf("%s variables cannot be changed", names[0])
	case "message", "request":
		if len(names) < 2 || (names[1] != "body" && names[1] != "headers") {
			return docRoot{}, nil, fmt.Errorf("path %q: only %s.body and %s.headers can be changed", p.Source(), names[0], names[0])
		}
	}
	if len(names) >= 2 && (names[1] == "body" || names[1] == "headers") {
		kind := rootBody
		if names[1] == "headers" {
			kind = rootHeaders
		}
		msgRef, err := assembly.ParseRef(names[0])
		if err != nil {
			return docRoot{}, nil, err
		}
		ref, err := assembly.ParseRef(names[0] + "." + names[1])
		if err != nil {
			return docRoot{}, nil, err
		}
		return docRoot{kind: kind, msg: names[0], msgRef: msgRef, ref: ref}, p.Drop(2), nil
	}
	ref, err := assembly.ParseRef(names[0])
	if err != nil {
		return docRoot{}, nil, err
	}
	return docRoot{kind: rootVar, ref: ref}, p.Drop(1), nil
}

// message finds the message of a body or headers root; nil when a
// variable is unset. A variable that is not a message is an error.
func (d *docRoot) message(c *assembly.Context) (*assembly.Message, error) {
	switch d.msg {
	case "message":
		return c.Message, nil
	case "request":
		return &assembly.Message{Headers: c.Request.Headers, Body: c.Request.Body}, nil
	}
	v, ok := c.Lookup(d.msgRef)
	if !ok {
		return nil, nil
	}
	m, isMsg := v.(*assembly.Message)
	if !isMsg {
		return nil, fmt.Errorf("%s is not a message, so it has no %s", d.msg, d.ref.Name[len(d.msg)+1:])
	}
	return m, nil
}

// load returns the document: a parsed body (with parseText, JSON text is
// parsed; without, text is an error), the headers as a map of lower-case
// names, or a variable's value. found is false when there is nothing.
func (d *docRoot) load(c *assembly.Context, parseText bool) (any, bool, error) {
	if d.kind == rootVar {
		v, ok := c.Lookup(d.ref)
		if m, isMsg := v.(*assembly.Message); isMsg {
			return loadBody(m.Body, d.ref.Name, parseText)
		}
		return v, ok, nil
	}
	m, err := d.message(c)
	if err != nil || m == nil {
		return nil, false, err
	}
	if d.kind == rootHeaders {
		doc := make(map[string]any, len(m.Headers))
		for k, vs := range m.Headers {
			if len(vs) > 0 {
				doc[strings.ToLower(k)] = vs[0]
			}
		}
		return doc, true, nil
	}
	return loadBody(m.Body, d.ref.Name, parseText)
}

func loadBody(b *assembly.Body, name string, parseText bool) (any, bool, error) {
	if v, ok := b.Parsed(); ok {
		return v, true, nil
	}
	data, err := b.Bytes()
	if err != nil {
		return nil, false, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, false, nil
	}
	if !parseText {
		return nil, false, fmt.Errorf("%s is not parsed data: add a parse policy before this one", name)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, false, fmt.Errorf("%s is not JSON, so its fields cannot be found: %v", name, err)
	}
	return v, true, nil
}

// store writes the changed document back.
func (d *docRoot) store(c *assembly.Context, doc any) error {
	if d.kind == rootVar {
		if v, _ := c.Lookup(d.ref); v != nil {
			if m, isMsg := v.(*assembly.Message); isMsg {
				m.Body = assembly.ValueBody(doc)
				return nil
			}
		}
		return c.Set(d.ref, doc)
	}
	m, err := d.message(c)
	if err != nil || m == nil {
		return err
	}
	if d.kind == rootHeaders {
		storeHeaders(m.Headers, doc)
		return nil
	}
	body := assembly.ValueBody(doc)
	switch d.msg {
	case "request":
		// The message shares the request's body until a policy replaces
		// it: then both change.
		if c.Message.Body == c.Request.Body {
			c.Message.Body = body
		}
		c.Request.Body = body
	default:
		m.Body = body
	}
	return nil
}

// storeHeaders applies a changed header map: removed names are deleted,
// changed values set.
func storeHeaders(h http.Header, doc any) {
	m, _ := doc.(map[string]any)
	for k, vs := range h {
		v, ok := m[strings.ToLower(k)]
		switch {
		case !ok:
			delete(h, k)
		case len(vs) == 0 || assembly.Stringify(v) != vs[0]:
			h[k] = []string{assembly.Stringify(v)}
		}
	}
	for k, v := range m {
		if _, ok := h[http.CanonicalHeaderKey(k)]; !ok && h.Get(k) == "" {
			h.Set(k, assembly.Stringify(v))
		}
	}
}
