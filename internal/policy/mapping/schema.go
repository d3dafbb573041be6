package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
)

// Type is a JSON schema type, as far as the map policy converts values.
type Type uint8

const (
	TypeAny Type = iota // no type: values pass unchanged
	TypeString
	TypeNumber
	TypeInteger
	TypeBoolean
	TypeObject
	TypeArray
	TypeNull
)

var typeNames = map[string]Type{
	"string": TypeString, "number": TypeNumber, "integer": TypeInteger, "boolean": TypeBoolean,
	"object": TypeObject, "array": TypeArray, "null": TypeNull,
	// Names that API Designer v5 accepted in map inputs.
	"float": TypeNumber, "double": TypeNumber, "int": TypeInteger, "long": TypeInteger,
}

// XMLInfo is a schema's xml object: how a value is written as XML.
type XMLInfo struct {
	Name      string
	Prefix    string
	Namespace string
	HasNS     bool // namespace given, possibly "" (no namespace)
	Attribute bool
	Wrapped   bool
}

// Schema is the part of a JSON schema the map policy uses: types to
// convert values to, and XML names. It is built once at load time.
type Schema struct {
	Type  Type
	Props map[string]*Schema
	Order []string // property names in document order, for XML
	Items *Schema
	XML   XMLInfo
}

// Prop is the schema of property name, nil when unknown.
func (s *Schema) Prop(name string) *Schema {
	if s == nil {
		return nil
	}
	if p, ok := s.Props[name]; ok {
		return p
	}
	if s.Type == TypeArray && s.Items != nil {
		return s.Items.Prop(name)
	}
	return nil
}

// schemaBuilder compiles schemas, resolving $ref within the API document.
type schemaBuilder struct {
	root     apidef.Node // the document, for #/… references
	report   func(apidef.Problem)
	refLimit int            // how many times one $ref may nest in itself
	active   map[string]int // $refs being expanded, with their depth
}

// maxSchemaDepth bounds schemas nested without references.
const maxSchemaDepth = 64

func (sb *schemaBuilder) compile(n apidef.Node, depth int) *Schema {
	if n.IsNull() || !n.IsMap() || depth > maxSchemaDepth {
		return nil
	}
	if ref := n.Get("$ref"); !ref.IsNull() {
		return sb.ref(ref, depth)
	}
	s := &Schema{XML: xmlInfo(n.Get("xml"))}
	if t := n.Get("type"); !t.IsNull() {
		name := strings.ToLower(strings.TrimSpace(t.Str()))
		if t.IsSeq() && len(t.Items()) > 0 { // type: [string, "null"]
			name = strings.ToLower(t.Items()[0].Str())
		}
		typ, ok := typeNames[name]
		if !ok {
			sb.report(t.Warning(fmt.Sprintf("schema type %q is not a JSON schema type; values are not converted", t.Str()),
				"use string, number, integer, boolean, object or array"))
		}
		s.Type = typ
	}
	if props := n.Get("properties"); props.IsMap() {
		s.Props = make(map[string]*Schema, len(props.Keys()))
		for _, k := range props.Keys() {
			s.Props[k] = sb.compile(props.Get(k), depth+1)
			s.Order = append(s.Order, k)
		}
		if s.Type == TypeAny {
			s.Type = TypeObject
		}
	}
	if items := n.Get("items"); items.IsMap() {
		s.Items = sb.compile(items, depth+1)
		if s.Type == TypeAny {
			s.Type = TypeArray
		}
	}
	return s
}

// ref resolves a local reference (#/definitions/X, #/components/schemas/X,
// #/x-ibm-configuration/targets/…). A reference met again inside itself is
// expanded refLimit times (mapReferenceLimit), then left untyped.
func (sb *schemaBuilder) ref(ref apidef.Node, depth int) *Schema {
	target := strings.TrimSpace(ref.Str())
	if sb.active[target] >= sb.refLimit {
		return &Schema{}
	}
	n, err := resolvePointer(sb.root, target)
	if err != nil {
		sb.report(ref.Problem(fmt.Sprintf("$ref %q: %v", target, err),
			"refer to a schema of this document, e.g. #/definitions/Name or #/components/schemas/Name"))
		return nil
	}
	if sb.active == nil {
		sb.active = map[string]int{}
	}
	sb.active[target]++
	defer func() { sb.active[target]-- }()
	return sb.compile(n, depth+1)
}

// resolvePointer follows a JSON pointer fragment within the document.
func resolvePointer(root apidef.Node, ref string) (apidef.Node, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return apidef.Node{}, fmt.Errorf("only references within the API document (#/…) are supported")
	}
	n := root
	for _, part := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if part == "" {
			continue
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if n.IsSeq() {
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Items()) {
				return apidef.Node{}, fmt.Errorf("no element %q", part)
			}
			n = n.Items()[i]
			continue
		}
		if !n.Has(part) {
			return apidef.Node{}, fmt.Errorf("nothing is defined at %s", ref)
		}
		n = n.Get(part)
	}
	if !n.IsMap() {
		return apidef.Node{}, fmt.Errorf("%s is not a schema", ref)
	}
	return n, nil
}

func xmlInfo(n apidef.Node) XMLInfo {
	if !n.IsMap() {
		return XMLInfo{}
	}
	x := XMLInfo{Name: n.String("name", ""), Prefix: n.String("prefix", ""), Namespace: n.String("namespace", "")}
	x.HasNS = n.Has("namespace")
	x.Attribute, _ = n.Bool("attribute", false)
	x.Wrapped, _ = n.Bool("wrapped", false)
	return x
}

// convertOptions are the map options that change conversions.
type convertOptions struct {
	firstElement bool // mapArrayFirstElementValue
}

// Convert shapes v to the schema: scalars become the schema's type where
// they can ("12" for a number is 12), a single value for an array becomes
// an array of one, and objects and arrays are converted member by member.
// Values that do not convert are left as they are.
func Convert(v any, s *Schema, o convertOptions) any {
	if s == nil || v == nil {
		return v
	}
	switch s.Type {
	case TypeObject:
		if m, ok := v.(map[string]any); ok && len(s.Props) > 0 {
			for k, e := range m {
				if ps := s.Props[k]; ps != nil {
					m[k] = Convert(e, ps, o)
				}
			}
		}
		return v
	case TypeArray:
		arr, ok := v.([]any)
		if !ok {
			arr = []any{v}
		}
		if s.Items != nil {
			for i, e := range arr {
				arr[i] = Convert(e, s.Items, o)
			}
		}
		return arr
	case TypeAny, TypeNull:
		return v
	}
	if arr, ok := v.([]any); ok {
		if !o.firstElement || len(arr) == 0 {
			return v
		}
		v = arr[0]
	}
	return convertScalar(v, s.Type)
}

func convertScalar(v any, t Type) any {
	switch t {
	case TypeString:
		return toString(v)
	case TypeNumber, TypeInteger:
		f, ok := toFloat(v)
		if !ok {
			return v
		}
		if t == TypeInteger {
			f = math.Trunc(f)
		}
		return f
	case TypeBoolean:
		switch x := v.(type) {
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b
			}
		case float64:
			return x != 0
		}
	}
	return v
}

func toString(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		data, err := json.Marshal(x)
		if err != nil {
			return v
		}
		return string(data)
	}
	return v
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}
