package xmlbody

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// Convention is a way of writing XML as JSON.
type Convention int

const (
	// BadgerFish is API Connect's default: element names become keys, text
	// goes in "$", attributes in "@name", the namespaces in scope in
	// "@xmlns" ({"$": default, "prefix": uri}), and repeated elements
	// become arrays. Text is always a string. It keeps everything but
	// comments, processing instructions and the interleaving of text with
	// child elements, so XML → JSON → XML → JSON is stable.
	BadgerFish Convention = iota
	// Compact is the apicv5 form: as BadgerFish, but an element with no
	// attributes and no child elements becomes a plain string, and
	// namespace declarations are dropped. It is friendlier to read and
	// not reversible when namespaces matter.
	Compact
	// Plain (conversionType None on json-to-xml) gives "$" and "@" keys no
	// meaning: every key is an element. It applies to JSON → XML only;
	// XML → JSON treats it as BadgerFish.
	Plain
)

// ParseConvention reads a conversionType value. The spellings are API
// Connect's (badgerFish, apicv5, None) and the corpus's relaxed-badgerfish;
// case does not matter.
func ParseConvention(s string) (Convention, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "badgerfish", "relaxed-badgerfish", "relaxedbadgerfish":
		return BadgerFish, true
	case "apicv5":
		return Compact, true
	case "none":
		return Plain, true
	}
	return BadgerFish, false
}

func (c Convention) String() string {
	switch c {
	case Compact:
		return "apicv5"
	case Plain:
		return "None"
	}
	return "badgerFish"
}

// ToJSON converts the XML document in data to a JSON value (map[string]any
// with []any and string leaves) by convention c. data is checked to be well
// formed as it is read, as Parse does.
func ToJSON(data []byte, c Convention) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	b := &jsonBuilder{compact: c == Compact}
	if err := scan(data, b); err != nil {
		return nil, err
	}
	return b.root, nil
}

// element is an element being built: its object, its text, and whether it
// has attributes or children (which decide the compact form).
type element struct {
	name     string
	obj      map[string]any
	text     strings.Builder
	children bool
	attrs    bool
}

// jsonBuilder assembles the JSON value as scan reports the document.
type jsonBuilder struct {
	compact bool
	stack   []*element
	root    map[string]any
}

func (b *jsonBuilder) start(name string, attrs []xml.Attr, scope *nsScope) error {
	e := &element{name: name, obj: map[string]any{}}
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		e.obj["@"+qname(a.Name)] = a.Value
		e.attrs = true
	}
	if !b.compact {
		if ns := scope.inScope(); len(ns) > 0 {
			e.obj["@xmlns"] = namespaceObject(ns)
		}
	}
	if n := len(b.stack); n > 0 {
		b.stack[n-1].children = true
	}
	b.stack = append(b.stack, e)
	return nil
}

// namespaceObject is BadgerFish's @xmlns: the default namespace under "$",
// each prefix under its name.
func namespaceObject(ns map[string]string) map[string]any {
	out := make(map[string]any, len(ns))
	for p, uri := range ns {
		if p == "" {
			p = "$"
		}
		out[p] = uri
	}
	return out
}

func (b *jsonBuilder) text(data []byte) {
	b.stack[len(b.stack)-1].text.Write(data)
}

func (b *jsonBuilder) end() error {
	e := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	v := b.value(e)
	if len(b.stack) == 0 {
		b.root = map[string]any{e.name: v}
		return nil
	}
	add(b.stack[len(b.stack)-1].obj, e.name, v)
	return nil
}

// value is the JSON form of a finished element. Text between child
// elements that is only white space is layout, not content, and is dropped.
func (b *jsonBuilder) value(e *element) any {
	text := e.text.String()
	if e.children && strings.TrimSpace(text) == "" {
		text = ""
	}
	if b.compact && !e.children && !e.attrs {
		return text
	}
	if text != "" {
		e.obj["$"] = text
	}
	return e.obj
}

// add puts a child under its name; a name seen before becomes an array.
func add(obj map[string]any, name string, v any) {
	old, ok := obj[name]
	if !ok {
		obj[name] = v
		return
	}
	if list, isList := old.([]any); isList {
		obj[name] = append(list, v)
		return
	}
	obj[name] = []any{old, v}
}
