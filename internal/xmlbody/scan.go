package xmlbody

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// xmlNS is the namespace the xml: prefix is bound to by definition.
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// binding is one namespace declaration in scope: prefix ("" for the default
// namespace) bound to uri by an element at depth.
type binding struct {
	prefix, uri string
	depth       int
}

// nsScope is the stack of namespace declarations in force while scanning.
type nsScope struct{ b []binding }

// lookup returns the URI prefix is bound to.
func (s *nsScope) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return xmlNS, true
	}
	for i := len(s.b) - 1; i >= 0; i-- {
		if s.b[i].prefix == prefix {
			return s.b[i].uri, s.b[i].uri != "" || prefix == ""
		}
	}
	return "", false
}

// inScope lists the bindings in force, innermost declaration of each prefix
// winning. An undeclared default namespace (xmlns="") is listed, as "",
// only when it cancels a default declared further out: that is when it
// changes the meaning of unprefixed names.
func (s *nsScope) inScope() map[string]string {
	if len(s.b) == 0 {
		return nil
	}
	out := make(map[string]string, len(s.b))
	cancels := false
	for _, b := range s.b {
		if b.prefix == "" {
			cancels = b.uri == "" && (cancels || out[""] != "")
		}
		out[b.prefix] = b.uri
	}
	if out[""] == "" && !cancels {
		delete(out, "")
	}
	return out
}

func (s *nsScope) pop(depth int) {
	for len(s.b) > 0 && s.b[len(s.b)-1].depth >= depth {
		s.b = s.b[:len(s.b)-1]
	}
}

// handler receives the structure of a document as scan checks it. Names
// are as written, prefix included ("soap:Body").
type handler interface {
	start(name string, attrs []xml.Attr, scope *nsScope) error
	text(data []byte)
	end() error
}

type nopHandler struct{}

func (nopHandler) start(string, []xml.Attr, *nsScope) error { return nil }
func (nopHandler) text([]byte)                              {}
func (nopHandler) end() error                               { return nil }

// scanner checks what encoding/xml's raw tokenizer leaves unchecked:
// matching end tags, one root, declared prefixes, unique attributes, and
// depth. Raw tokens keep prefixes as written, which BadgerFish needs.
type scanner struct {
	d     *xml.Decoder
	h     handler
	open  []string
	scope nsScope
	roots int
}

// scan reads data as one well-formed, namespace-well-formed XML document,
// reporting its structure to h.
func scan(data []byte, h handler) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// The bytes are read as they are: a document declaring another
	// encoding is accepted when its bytes are valid UTF-8.
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	s := &scanner{d: d, h: h}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return s.finish()
		}
		if err != nil {
			return s.syntax(err)
		}
		if err := s.token(tok); err != nil {
			return fmt.Errorf("line %d: %w", s.line(), err)
		}
	}
}

func (s *scanner) line() int {
	line, _ := s.d.InputPos()
	return line
}

// syntax words an encoding/xml error; it already names the line.
func (s *scanner) syntax(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: %s", se.Line, se.Msg)
	}
	return err
}

func (s *scanner) finish() error {
	if len(s.open) > 0 {
		return fmt.Errorf("line %d: element <%s> is not closed", s.line(), s.open[len(s.open)-1])
	}
	if s.roots == 0 {
		return fmt.Errorf("no root element")
	}
	return nil
}

func (s *scanner) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return s.startElement(t)
	case xml.EndElement:
		return s.endElement(t)
	case xml.CharData:
		if len(s.open) == 0 {
			if len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("text outside the root element")
			}
			return nil
		}
		s.h.text(t)
	case xml.Directive:
		return fmt.Errorf("DOCTYPE and other <!…> declarations are not accepted in message bodies")
	}
	return nil
}

func (s *scanner) startElement(t xml.StartElement) error {
	if len(s.open) == 0 {
		s.roots++
		if s.roots > 1 {
			return fmt.Errorf("more than one root element (<%s> after the first)", qname(t.Name))
		}
	}
	if len(s.open) >= MaxDepth {
		return fmt.Errorf("elements are nested more than %d deep", MaxDepth)
	}
	depth := len(s.open) + 1
	if err := s.declare(t.Attr, depth); err != nil {
		return err
	}
	if err := s.checkNames(t); err != nil {
		return err
	}
	s.open = append(s.open, qname(t.Name))
	return s.h.start(qname(t.Name), t.Attr, &s.scope)
}

// declare pushes the namespace declarations among attrs.
func (s *scanner) declare(attrs []xml.Attr, depth int) error {
	for _, a := range attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			s.scope.b = append(s.scope.b, binding{prefix: "", uri: a.Value, depth: depth})
		case a.Name.Space == "xmlns":
			if err := checkDeclaration(a.Name.Local, a.Value); err != nil {
				return err
			}
			s.scope.b = append(s.scope.b, binding{prefix: a.Name.Local, uri: a.Value, depth: depth})
		}
	}
	return nil
}

// checkDeclaration applies the namespace rules for xmlns:prefix="uri".
func checkDeclaration(prefix, uri string) error {
	switch {
	case uri == "":
		return fmt.Errorf("xmlns:%s cannot be empty", prefix)
	case prefix == "xmlns":
		return fmt.Errorf("the prefix xmlns cannot be declared")
	case prefix == "xml" && uri != xmlNS, prefix != "xml" && uri == xmlNS:
		return fmt.Errorf("only the prefix xml may be bound to %s", xmlNS)
	}
	return nil
}

// checkNames verifies that every prefix used is declared and that no
// attribute appears twice.
func (s *scanner) checkNames(t xml.StartElement) error {
	if !validName(t.Name) {
		return fmt.Errorf("%q is not a valid element name", qname(t.Name))
	}
	if p := t.Name.Space; p != "" {
		if _, ok := s.scope.lookup(p); !ok {
			return fmt.Errorf("prefix %q of <%s> is not declared", p, qname(t.Name))
		}
	}
	seen := make(map[xml.Name]bool, len(t.Attr))
	for _, a := range t.Attr {
		if !validName(a.Name) {
			return fmt.Errorf("%q is not a valid attribute name", qname(a.Name))
		}
		key := a.Name
		if p := a.Name.Space; p != "" && p != "xmlns" {
			uri, ok := s.scope.lookup(p)
			if !ok {
				return fmt.Errorf("prefix %q of attribute %s is not declared", p, qname(a.Name))
			}
			key.Space = "{" + uri + "}"
		}
		if seen[key] {
			return fmt.Errorf("attribute %s appears twice on <%s>", qname(a.Name), qname(t.Name))
		}
		seen[key] = true
	}
	return nil
}

func (s *scanner) endElement(t xml.EndElement) error {
	name := qname(t.Name)
	if len(s.open) == 0 || s.open[len(s.open)-1] != name {
		if len(s.open) == 0 {
			return fmt.Errorf("end tag </%s> without a start tag", name)
		}
		return fmt.Errorf("end tag </%s> does not match <%s>", name, s.open[len(s.open)-1])
	}
	s.scope.pop(len(s.open))
	s.open = s.open[:len(s.open)-1]
	return s.h.end()
}

// validName checks a raw name against the namespaces spec: an NCName,
// optionally after an NCName prefix. encoding/xml lets names such as ":"
// and "a:b:c" through.
func validName(n xml.Name) bool {
	return isNCName(n.Local) && (n.Space == "" || isNCName(n.Space))
}

// qname renders a raw name as written: prefix:local.
func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
