package apidef

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Node is a position in a loaded document: a YAML node together with the
// file it came from and the dotted path that leads to it. Policies read their
// settings through Node so that each problem they report is located.
type Node struct {
	Y    *yaml.Node
	File string
	Path string
	// at locates a missing node: the mapping it was looked up in.
	at *yaml.Node
}

// IsZero reports whether n holds no node (a missing field).
func (n Node) IsZero() bool { return n.Y == nil }

// Line is the 1-based line of the node; for a missing node, the line of the
// mapping it is missing from.
func (n Node) Line() int {
	if y := n.pos(); y != nil {
		return y.Line
	}
	return 0
}

func (n Node) pos() *yaml.Node {
	if n.Y != nil {
		return n.Y
	}
	return n.at
}

// Problem makes a Problem located at n.
func (n Node) Problem(msg, hint string) Problem {
	p := Problem{File: n.File, Field: n.Path, Msg: msg, Hint: hint}
	if y := n.pos(); y != nil {
		p.Line, p.Column = y.Line, y.Column
	}
	return p
}

// Warning makes a warning located at n.
func (n Node) Warning(msg, hint string) Problem {
	p := n.Problem(msg, hint)
	p.Warn = true
	return p
}

// Problemf is Problem with a formatted message and no hint.
func (n Node) Problemf(format string, args ...any) Problem {
	return n.Problem(fmt.Sprintf(format, args...), "")
}

func (n Node) child(y *yaml.Node, path string) Node {
	return Node{Y: y, File: n.File, Path: path}
}

func (n Node) join(key string) string {
	if n.Path == "" {
		return key
	}
	return n.Path + "." + key
}

// Get returns the value of key in a mapping node; the zero Node when n is not
// a mapping or has no such key.
func (n Node) Get(key string) Node {
	y := n.Y
	if y != nil && y.Kind == yaml.AliasNode {
		y = y.Alias
	}
	missing := Node{File: n.File, Path: n.join(key), at: n.pos()}
	if y == nil || y.Kind != yaml.MappingNode {
		return missing
	}
	for i := 0; i+1 < len(y.Content); i += 2 {
		if y.Content[i].Value == key {
			return n.child(resolve(y.Content[i+1]), n.join(key))
		}
	}
	return missing
}

// Has reports whether a mapping node has key.
func (n Node) Has(key string) bool { return !n.Get(key).IsZero() }

// Keys returns the keys of a mapping node in document order.
func (n Node) Keys() []string {
	if n.Y == nil || n.Y.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Y.Content)/2)
	for i := 0; i+1 < len(n.Y.Content); i += 2 {
		keys = append(keys, n.Y.Content[i].Value)
	}
	return keys
}

// KeyNode returns the node of a key itself (for locating a mapping entry).
func (n Node) KeyNode(key string) Node {
	if n.Y == nil || n.Y.Kind != yaml.MappingNode {
		return Node{File: n.File, Path: n.join(key), at: n.pos()}
	}
	for i := 0; i+1 < len(n.Y.Content); i += 2 {
		if n.Y.Content[i].Value == key {
			return n.child(n.Y.Content[i], n.join(key))
		}
	}
	return Node{File: n.File, Path: n.join(key), at: n.pos()}
}

// Items returns the elements of a sequence node; nil for anything else.
func (n Node) Items() []Node {
	if n.Y == nil || n.Y.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]Node, len(n.Y.Content))
	for i, y := range n.Y.Content {
		out[i] = n.child(resolve(y), n.Path+"["+strconv.Itoa(i)+"]")
	}
	return out
}

// IsMap, IsSeq and IsScalar report the node's kind.
func (n Node) IsMap() bool    { return n.Y != nil && n.Y.Kind == yaml.MappingNode }
func (n Node) IsSeq() bool    { return n.Y != nil && n.Y.Kind == yaml.SequenceNode }
func (n Node) IsScalar() bool { return n.Y != nil && n.Y.Kind == yaml.ScalarNode }

// IsNull reports whether the node is missing or an explicit null.
func (n Node) IsNull() bool {
	return n.Y == nil || (n.Y.Kind == yaml.ScalarNode && n.Y.Tag == "!!null")
}

// Str returns a scalar's text, or "" for anything else.
func (n Node) Str() string {
	if n.Y == nil || n.Y.Kind != yaml.ScalarNode || n.Y.Tag == "!!null" {
		return ""
	}
	return n.Y.Value
}

// String returns the string value of key, or def when the key is missing.
func (n Node) String(key, def string) string {
	v := n.Get(key)
	if v.IsNull() {
		return def
	}
	return v.Str()
}

// Bool returns the boolean value of key, or def when missing. A value that is
// not a boolean is a problem.
func (n Node) Bool(key string, def bool) (bool, *Problem) {
	v := n.Get(key)
	if v.IsNull() {
		return def, nil
	}
	switch strings.ToLower(v.Str()) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	p := v.Problemf("expected true or false, found %q", v.Str())
	return def, &p
}

// Int returns the integer value of key, or def when missing.
func (n Node) Int(key string, def int) (int, *Problem) {
	v := n.Get(key)
	if v.IsNull() {
		return def, nil
	}
	i, err := strconv.Atoi(strings.TrimSpace(v.Str()))
	if err != nil {
		f, ferr := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		if ferr != nil {
			p := v.Problemf("expected a whole number, found %q", v.Str())
			return def, &p
		}
		i = int(f)
	}
	return i, nil
}

// Strings returns a sequence of scalars (or a single scalar) as strings.
func (n Node) Strings(key string) []string {
	v := n.Get(key)
	if v.IsScalar() && !v.IsNull() {
		return []string{v.Str()}
	}
	var out []string
	for _, it := range v.Items() {
		if it.IsScalar() {
			out = append(out, it.Str())
		}
	}
	return out
}

// Decode decodes the node into v using YAML rules.
func (n Node) Decode(v any) error {
	if n.Y == nil {
		return nil
	}
	return n.Y.Decode(v)
}

// Value converts the node to a JSON-like Go value (map[string]any, []any,
// string, float64, int, bool, nil).
func (n Node) Value() any {
	if n.Y == nil {
		return nil
	}
	var v any
	if err := n.Y.Decode(&v); err != nil {
		return nil
	}
	return normalize(v)
}

func resolve(y *yaml.Node) *yaml.Node {
	for y != nil && y.Kind == yaml.AliasNode {
		y = y.Alias
	}
	return y
}

// normalize turns YAML's map[any]any (from odd keys) into map[string]any.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

// Source re-encodes the node as YAML text, for coarse checks such as "does
// this assembly mention request.body anywhere".
func (n Node) Source() string {
	if n.Y == nil {
		return ""
	}
	out, err := yaml.Marshal(n.Y)
	if err != nil {
		return ""
	}
	return string(out)
}
