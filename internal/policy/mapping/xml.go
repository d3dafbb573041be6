package mapping

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// maxXMLDepth bounds the nesting of XML documents read or written.
const maxXMLDepth = 256

// emptyElement is mapXMLEmptyElement: what an element without content
// becomes when XML is read.
type emptyElement int

const (
	emptyString emptyElement = iota // "" (the default)
	emptyNull                       // null
	emptyNone                       // left out
	emptyStringBadgerfish
	emptyNullBadgerfish
)

var emptyElements = map[string]emptyElement{"string": emptyString, "null": emptyNull, "none": emptyNone,
	"string-badgerfish": emptyStringBadgerfish, "null-badgerfish": emptyNullBadgerfish}

// xmlFrame is an element being read.
type xmlFrame struct {
	name   string
	schema *Schema
	obj    map[string]any
	text   strings.Builder
}

// decodeXML reads an XML document into a JSON-like value the way the map
// policy addresses it: {root: …}, where an element with child elements is
// an object of its children by local name (a repeated name, or one whose
// schema is an array, is an array) and an element with only text is that
// text (converted to the schema's type when typed, which is
// mapResolveXMLInputDataType). Attributes and namespaces are not kept.
func decodeXML(data []byte, s *Schema, typed bool, empty emptyElement) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	root := &xmlFrame{schema: s, obj: map[string]any{}}
	stack := []*xmlFrame{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, fmt.Errorf("elements nest deeper than %d", maxXMLDepth)
			}
			stack = append(stack, &xmlFrame{name: t.Name.Local, schema: top.schema.Prop(t.Name.Local)})
		case xml.CharData:
			if len(stack) > 1 {
				top.text.Write(t)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			addChild(stack[len(stack)-1], top, typed, empty)
		}
	}
	if len(root.obj) == 0 {
		return nil, fmt.Errorf("no root element")
	}
	return root.obj, nil
}

// addChild stores the finished element f in its parent.
func addChild(parent, f *xmlFrame, typed bool, empty emptyElement) {
	var v any
	switch {
	case f.obj != nil:
		v = f.obj
	case f.text.Len() == 0:
		switch empty {
		case emptyNone:
			return
		case emptyNull:
			v = nil
		case emptyStringBadgerfish:
			v = map[string]any{"$": ""}
		case emptyNullBadgerfish:
			v = map[string]any{"$": nil}
		default:
			v = ""
		}
	default:
		v = f.text.String()
		if typed {
			v = xmlScalar(v, f.schema)
		}
	}
	if parent.obj == nil {
		parent.obj = map[string]any{}
	}
	switch old, seen := parent.obj[f.name]; {
	case seen:
		if arr, ok := old.([]any); ok {
			parent.obj[f.name] = append(arr, v)
		} else {
			parent.obj[f.name] = []any{old, v}
		}
	case f.schema != nil && f.schema.Type == TypeArray:
		parent.obj[f.name] = []any{v}
	default:
		parent.obj[f.name] = v
	}
}

// xmlScalar converts element text to its schema's boolean or number type.
func xmlScalar(v any, s *Schema) any {
	if s == nil {
		return v
	}
	t := s.Type
	if t == TypeArray && s.Items != nil {
		t = s.Items.Type
	}
	switch t {
	case TypeNumber, TypeInteger, TypeBoolean:
		return convertScalar(v, t)
	}
	return v
}

// xmlOptions are the map options for XML output.
type xmlOptions struct {
	inherit      bool // namespaceInheritance
	includeEmpty bool // includeEmptyXMLElements: null members become empty elements
}

// xmlScope is the namespaces in force at an element.
type xmlScope struct {
	uri, prefix string            // the element's own namespace, for children to inherit
	defaultNS   string            // the default namespace declared
	prefixes    map[string]string // prefix → URI declared
}

// encodeXML writes an output value as an XML document. v is the document's
// one root element as an object ({Envelope: …}); a string is taken as XML
// text already. Members are written in the order of the schema's
// properties, then the others sorted; an array is its element repeated;
// names, prefixes and namespaces come from the schemas' xml objects.
func encodeXML(v any, s *Schema, o xmlOptions) ([]byte, error) {
	switch t := v.(type) {
	case string:
		return []byte(t), nil
	case map[string]any:
		if len(t) != 1 {
			return nil, fmt.Errorf("XML output needs exactly one root element, the value has %d members", len(t))
		}
		var b bytes.Buffer
		for k, e := range t {
			if err := writeMember(&b, k, e, s.Prop(k), xmlScope{}, o, 0); err != nil {
				return nil, err
			}
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("XML output must be an object with one root element, not %s", describe(v))
}

// writeMember writes one member: an array as its element repeated (inside
// a wrapper when the schema says wrapped).
func writeMember(b *bytes.Buffer, name string, v any, s *Schema, sc xmlScope, o xmlOptions, depth int) error {
	arr, isArr := v.([]any)
	if !isArr {
		return writeElement(b, name, v, s, sc, o, depth)
	}
	item := s
	if s != nil && s.Type == TypeArray {
		item = s.Items
	}
	if s != nil && s.XML.Wrapped {
		return writeElement(b, name, map[string]any{itemName(name, item): arr}, &Schema{Type: TypeObject,
			Props: map[string]*Schema{itemName(name, item): s}, XML: s.XML}, sc, o, depth)
	}
	for _, e := range arr {
		if err := writeElement(b, name, e, item, sc, o, depth); err != nil {
			return err
		}
	}
	return nil
}

func itemName(name string, item *Schema) string {
	if item != nil && item.XML.Name != "" {
		return item.XML.Name
	}
	return name
}

func writeElement(b *bytes.Buffer, name string, v any, s *Schema, parent xmlScope, o xmlOptions, depth int) error {
	if depth > maxXMLDepth {
		return fmt.Errorf("the value nests deeper than %d", maxXMLDepth)
	}
	if v == nil && !o.includeEmpty {
		return nil
	}
	if s != nil && s.XML.Name != "" {
		name = s.XML.Name
	}
	sc, decls := elementScope(s, parent, o)
	qname := name
	if sc.prefix != "" {
		qname = sc.prefix + ":" + name
	}
	b.WriteByte('<')
	b.WriteString(qname)
	b.WriteString(decls)
	obj, _ := v.(map[string]any)
	keys := memberOrder(obj, s)
	for _, k := range keys {
		if ps := s.Prop(k); ps != nil && ps.XML.Attribute {
			writeAttr(b, k, obj[k], ps)
		}
	}
	b.WriteByte('>')
	if obj != nil {
		for _, k := range keys {
			ps := s.Prop(k)
			if ps != nil && ps.XML.Attribute {
				continue
			}
			if err := writeMember(b, k, obj[k], ps, sc, o, depth+1); err != nil {
				return err
			}
		}
	} else if v != nil {
		if _, isArr := v.([]any); isArr {
			return fmt.Errorf("element %s: nested arrays cannot be written as XML", name)
		}
		xml.EscapeText(b, []byte(scalarText(v)))
	}
	b.WriteString("</")
	b.WriteString(qname)
	b.WriteByte('>')
	return nil
}

// elementScope works out an element's namespace and the declarations it
// must carry.
func elementScope(s *Schema, parent xmlScope, o xmlOptions) (xmlScope, string) {
	sc := parent
	switch {
	case s != nil && s.XML.HasNS:
		sc.uri, sc.prefix = s.XML.Namespace, s.XML.Prefix
	case s != nil && s.XML.Prefix != "":
		sc.prefix = s.XML.Prefix
		sc.uri = parent.prefixes[s.XML.Prefix]
	case !o.inherit:
		sc.uri, sc.prefix = "", ""
	}
	if sc.uri == "" {
		sc.prefix = ""
	}
	var decls strings.Builder
	switch {
	case sc.prefix != "" && parent.prefixes[sc.prefix] != sc.uri:
		sc.prefixes = maps.Clone(parent.prefixes)
		if sc.prefixes == nil {
			sc.prefixes = map[string]string{}
		}
		sc.prefixes[sc.prefix] = sc.uri
		decls.WriteString(" xmlns:" + sc.prefix + "=")
		writeQuoted(&decls, sc.uri)
	case sc.prefix == "" && sc.uri != parent.defaultNS:
		sc.defaultNS = sc.uri
		decls.WriteString(" xmlns=")
		writeQuoted(&decls, sc.uri)
	}
	return sc, decls.String()
}

// writeQuoted writes an attribute value in double quotes, escaped.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	_ = xml.EscapeText(b, []byte(s))
	b.WriteByte('"')
}

func writeAttr(b *bytes.Buffer, name string, v any, s *Schema) {
	if v == nil {
		return
	}
	if s.XML.Name != "" {
		name = s.XML.Name
	}
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	xml.EscapeText(b, []byte(scalarText(v)))
	b.WriteByte('"')
}

// memberOrder lists an object's members: the schema's order first.
func memberOrder(obj map[string]any, s *Schema) []string {
	if len(obj) == 0 {
		return nil
	}
	keys := make([]string, 0, len(obj))
	if s != nil {
		for _, k := range s.Order {
			if _, ok := obj[k]; ok {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == len(obj) {
		return keys
	}
	var rest []string
	for k := range obj {
		if s == nil || s.Props[k] == nil {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

func scalarText(v any) string {
	if s, ok := toString(v).(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// describe names a value's JSON type, for messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
