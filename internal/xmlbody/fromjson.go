package xmlbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options control JSON → XML, with API Connect's json-to-xml settings.
type Options struct {
	Convention Convention
	// RootName wraps the output when the JSON has no single top-level key
	// to serve as the root element, or when AlwaysRoot is set
	// (root-element-name; "json" when empty).
	RootName   string
	AlwaysRoot bool
	// ItemName names the elements made for members of an array that has
	// no key of its own: a top-level array, or an array inside an array
	// (unnamed-element-name; "element" when empty).
	ItemName string
}

func (o Options) rootName() string {
	if o.RootName == "" {
		return "json"
	}
	return o.RootName
}

func (o Options) itemName() string {
	if o.ItemName == "" {
		return "element"
	}
	return o.ItemName
}

// Check reports a root or item name that is not a valid XML name, so a
// policy can refuse it at load time.
func (o Options) Check() error {
	if !isQName(o.rootName()) {
		return fmt.Errorf("%q is not a valid XML element name", o.rootName())
	}
	if !isQName(o.itemName()) {
		return fmt.Errorf("%q is not a valid XML element name", o.itemName())
	}
	return nil
}

// object is a JSON object that keeps its keys in document order, so that
// elements come out in the order the client wrote them.
type object struct {
	keys []string
	vals map[string]any
}

// FromJSONBytes converts JSON text to XML, keeping the order of keys.
func FromJSONBytes(data []byte, o Options) (*Document, error) {
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, err
	}
	return FromJSON(v, o)
}

// FromJSON converts a JSON value (as encoding/json decodes it, with
// map[string]any objects whose keys are taken in sorted order) to XML.
func FromJSON(v any, o Options) (*Document, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	w := &xmlWriter{o: o, plain: o.Convention == Plain}
	if err := w.document(v); err != nil {
		return nil, err
	}
	return &Document{raw: w.buf.Bytes()}, nil
}

// decodeOrdered decodes JSON text into objects that remember key order.
func decodeOrdered(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, &JSONError{Err: err}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &JSONError{Err: errors.New("data after the top-level value")}
	}
	return v, nil
}

// JSONError reports JSON text that does not parse, as opposed to JSON that
// has no XML form.
type JSONError struct{ Err error }

func (e *JSONError) Error() string { return "not valid JSON: " + e.Err.Error() }

func (e *JSONError) Unwrap() error { return e.Err }

func decodeValue(d *json.Decoder, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, errTooDeep()
	}
	tok, err := d.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return decodeObject(d, depth)
		}
		if t == '[' {
			return decodeArray(d, depth)
		}
		return nil, fmt.Errorf("unexpected %q", t)
	}
	return tok, nil
}

func decodeObject(d *json.Decoder, depth int) (any, error) {
	obj := &object{vals: map[string]any{}}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		v, err := decodeValue(d, depth+1)
		if err != nil {
			return nil, err
		}
		if _, dup := obj.vals[key]; !dup {
			obj.keys = append(obj.keys, key)
		}
		obj.vals[key] = v
	}
	_, err := d.Token() // }
	return obj, err
}

func decodeArray(d *json.Decoder, depth int) (any, error) {
	list := []any{}
	for d.More() {
		v, err := decodeValue(d, depth+1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	_, err := d.Token() // ]
	return list, err
}

func errTooDeep() error { return fmt.Errorf("the JSON is nested more than %d deep", MaxDepth) }

// fields lists an object's keys in output order and looks values up.
func fields(v any) ([]string, func(string) any, bool) {
	switch t := v.(type) {
	case *object:
		return t.keys, func(k string) any { return t.vals[k] }, true
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, func(k string) any { return t[k] }, true
	}
	return nil, nil, false
}

// xmlWriter writes the XML for a JSON value, tracking the namespaces in
// scope so that each prefix used is declared and each declaration is
// written once.
type xmlWriter struct {
	o     Options
	plain bool
	buf   bytes.Buffer
	scope nsScope
	depth int
}

// document writes the root: the single top-level key when there is one
// (and AlwaysRoot is off), else the root-element-name wrapper.
func (w *xmlWriter) document(v any) error {
	if keys, get, ok := fields(v); ok && !w.o.AlwaysRoot {
		if name, single := w.singleRoot(keys, get); single {
			val := get(name)
			if list, isList := val.([]any); isList {
				val = list[0]
			}
			return w.element(name, val)
		}
	}
	if list, isList := v.([]any); isList {
		return w.itemsElement(w.o.rootName(), list)
	}
	return w.element(w.o.rootName(), v)
}

// singleRoot reports whether an object's only key can be the root element.
func (w *xmlWriter) singleRoot(keys []string, get func(string) any) (string, bool) {
	if len(keys) != 1 || (!w.plain && isSpecial(keys[0])) {
		return "", false
	}
	if list, isList := get(keys[0]).([]any); isList && len(list) != 1 {
		return "", false
	}
	return keys[0], true
}

// isSpecial reports keys that BadgerFish reads as text or attributes.
func isSpecial(k string) bool { return k == "$" || strings.HasPrefix(k, "@") }

// element writes <name> for one JSON value.
func (w *xmlWriter) element(name string, v any) error {
	if _, _, ok := fields(v); ok {
		return w.objectElement(name, v)
	}
	if list, isList := v.([]any); isList {
		return w.itemsElement(name, list)
	}
	text, err := scalarText(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return w.leaf(name, text)
}

// itemsElement writes <name> holding one <item> per member of list: the
// form of an array that has no key of its own.
func (w *xmlWriter) itemsElement(name string, list []any) error {
	if err := w.open(name, nil, nil); err != nil {
		return err
	}
	for _, it := range list {
		if err := w.listMember(w.o.itemName(), it); err != nil {
			return err
		}
	}
	w.close(name, len(list) == 0)
	return nil
}

// member writes one value found under key name: an array repeats the
// element, once per member.
func (w *xmlWriter) member(name string, v any) error {
	list, isList := v.([]any)
	if !isList {
		return w.element(name, v)
	}
	for _, it := range list {
		if err := w.listMember(name, it); err != nil {
			return err
		}
	}
	return nil
}

// listMember writes one member of an array as element name; a member that
// is itself an array holds its members as item elements.
func (w *xmlWriter) listMember(name string, v any) error {
	if inner, nested := v.([]any); nested {
		return w.itemsElement(name, inner)
	}
	return w.element(name, v)
}

// attr is one attribute to write.
type attr struct{ name, value string }

// objectElement writes an object: "@xmlns" and "@name" keys become
// declarations and attributes, "$" its text, other keys child elements.
func (w *xmlWriter) objectElement(name string, v any) error {
	keys, get, _ := fields(v)
	var decls []binding
	var attrs []attr
	var text string
	var children []string
	for _, k := range keys {
		var err error
		switch {
		case w.plain || !isSpecial(k):
			children = append(children, k)
		case k == "$":
			text, err = scalarText(get(k))
		case k == "@xmlns":
			var more []binding
			more, err = w.declarations(get(k))
			decls = append(decls, more...)
		case strings.HasPrefix(k, "@xmlns:"):
			var more []binding
			more, err = w.declarations(map[string]any{k[len("@xmlns:"):]: get(k)})
			decls = append(decls, more...)
		default:
			var a attr
			a, err = attribute(k, get(k))
			attrs = append(attrs, a)
		}
		if err != nil {
			return fmt.Errorf("%s.%s: %w", name, k, err)
		}
	}
	if err := w.open(name, decls, attrs); err != nil {
		return err
	}
	if err := w.writeText(text); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range children {
		if err := w.member(k, get(k)); err != nil {
			return err
		}
	}
	w.close(name, text == "" && len(children) == 0)
	return nil
}

// declarations reads "@xmlns": an object of prefix → URI ("$" for the
// default namespace), or a string naming the default namespace.
func (w *xmlWriter) declarations(v any) ([]binding, error) {
	if s, ok := v.(string); ok {
		return []binding{{prefix: "", uri: s}}, nil
	}
	keys, get, ok := fields(v)
	if !ok {
		return nil, fmt.Errorf(`expected an object such as {"$": "urn:default", "p": "urn:p"}`)
	}
	out := make([]binding, 0, len(keys))
	for _, k := range keys {
		uri, isString := get(k).(string)
		if !isString {
			return nil, fmt.Errorf("the namespace of %q must be a string", k)
		}
		if k == "$" {
			out = append(out, binding{prefix: "", uri: uri})
			continue
		}
		if !isNCName(k) {
			return nil, fmt.Errorf("%q is not a valid namespace prefix", k)
		}
		if err := checkDeclaration(k, uri); err != nil {
			return nil, err
		}
		out = append(out, binding{prefix: k, uri: uri})
	}
	return out, nil
}

func attribute(k string, v any) (attr, error) {
	name := k[1:]
	if !isQName(name) {
		return attr{}, fmt.Errorf("%q is not a valid XML attribute name", name)
	}
	text, err := scalarText(v)
	return attr{name: name, value: text}, err
}

// open writes a start tag, declaring the namespaces that differ from those
// in scope, after checking every name and prefix.
func (w *xmlWriter) open(name string, decls []binding, attrs []attr) error {
	if !isQName(name) {
		return fmt.Errorf("%q is not a valid XML element name", name)
	}
	if w.depth >= MaxDepth {
		return errTooDeep()
	}
	depth := w.depth + 1
	var fresh []binding
	for _, d := range decls {
		if cur, ok := w.scope.lookup(d.prefix); ok && cur == d.uri || d.prefix == "xml" {
			continue
		}
		if d.prefix == "" && d.uri == "" {
			if _, ok := w.scope.lookup(""); !ok {
				continue
			}
		}
		d.depth = depth
		fresh = append(fresh, d)
		w.scope.b = append(w.scope.b, d)
	}
	if err := w.checkPrefixes(name, attrs); err != nil {
		w.scope.pop(depth)
		return err
	}
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for _, d := range fresh {
		n := "xmlns"
		if d.prefix != "" {
			n += ":" + d.prefix
		}
		if err := w.writeAttr(n, d.uri); err != nil {
			return err
		}
	}
	for _, a := range attrs {
		if err := w.writeAttr(a.name, a.value); err != nil {
			return err
		}
	}
	w.buf.WriteByte('>')
	w.depth = depth
	return nil
}

// checkPrefixes verifies that the prefixes of an element and its
// attributes are declared, and that no attribute repeats.
func (w *xmlWriter) checkPrefixes(name string, attrs []attr) error {
	if p, _, found := strings.Cut(name, ":"); found {
		if _, ok := w.scope.lookup(p); !ok {
			return fmt.Errorf(`prefix %q of %q is not declared (add "@xmlns": {%q: "…"})`, p, name, p)
		}
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		key := a.name
		if p, local, found := strings.Cut(a.name, ":"); found {
			uri, ok := w.scope.lookup(p)
			if !ok {
				return fmt.Errorf(`prefix %q of attribute %q is not declared (add "@xmlns": {%q: "…"})`, p, a.name, p)
			}
			key = "{" + uri + "}" + local
		}
		if seen[key] {
			return fmt.Errorf("attribute %q appears twice on %q", a.name, name)
		}
		seen[key] = true
	}
	return nil
}

// close ends the element opened last; an empty one is written <a/>.
func (w *xmlWriter) close(name string, empty bool) {
	w.scope.pop(w.depth)
	w.depth--
	if empty && w.buf.Len() > 0 && w.buf.Bytes()[w.buf.Len()-1] == '>' {
		w.buf.Truncate(w.buf.Len() - 1)
		w.buf.WriteString("/>")
		return
	}
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
}

func (w *xmlWriter) leaf(name, text string) error {
	if err := w.open(name, nil, nil); err != nil {
		return err
	}
	if err := w.writeText(text); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	w.close(name, text == "")
	return nil
}

// scalarText renders a JSON scalar as element or attribute text; null is
// empty. Objects and arrays have no text form.
func scalarText(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case json.Number:
		return t.String(), nil
	case float64:
		return formatNumber(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	}
	return "", errors.New("expected text (a string, number, boolean or null), found an object or array")
}

// formatNumber writes a number as JavaScript would: no exponent for the
// usual magnitudes, no trailing zeros.
func formatNumber(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// writeText escapes character data. Carriage returns are written as
// references, since a parser would otherwise turn them into line feeds.
func (w *xmlWriter) writeText(s string) error {
	return w.escape(s, false)
}

func (w *xmlWriter) writeAttr(name, value string) error {
	w.buf.WriteByte(' ')
	w.buf.WriteString(name)
	w.buf.WriteString(`="`)
	if err := w.escape(value, true); err != nil {
		return fmt.Errorf("attribute %s: %w", name, err)
	}
	w.buf.WriteByte('"')
	return nil
}

// escape writes s as XML text. A character XML cannot carry (most control
// characters) is an error rather than silently changed.
func (w *xmlWriter) escape(s string, inAttr bool) error {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return fmt.Errorf("the text is not valid UTF-8")
		}
		switch {
		case r == '&':
			w.buf.WriteString("&amp;")
		case r == '<':
			w.buf.WriteString("&lt;")
		case r == '>':
			w.buf.WriteString("&gt;")
		case r == '\r':
			w.buf.WriteString("&#xD;")
		case inAttr && r == '"':
			w.buf.WriteString("&quot;")
		case inAttr && r == '\n':
			w.buf.WriteString("&#xA;")
		case inAttr && r == '\t':
			w.buf.WriteString("&#x9;")
		case !isXMLChar(r):
			return fmt.Errorf("the text holds character U+%04X, which XML cannot carry", r)
		default:
			w.buf.WriteRune(r)
		}
	}
	return nil
}
