package policy

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// valueType is set-variable's type: how the rendered value is stored.
type valueType int

const (
	typeAny valueType = iota
	typeString
	typeNumber
	typeBoolean
)

var valueTypes = map[string]valueType{"any": typeAny, "string": typeString, "number": typeNumber, "boolean": typeBoolean}

func (t valueType) String() string {
	switch t {
	case typeString:
		return "string"
	case typeNumber:
		return "number"
	case typeBoolean:
		return "boolean"
	}
	return "any"
}

type actionOp int

const (
	opSet actionOp = iota
	opAdd
	opClear
)

// varAction is one compiled entry of set-variable's actions.
type varAction struct {
	op    actionOp
	ref   assembly.Ref
	typ   valueType
	value *assembly.Template // nil when the value is a constant
	// constant is the value decided at load time (a constant template of a
	// typed value, or a YAML mapping or list). Mutable constants are copied
	// per request, since later policies may change them in place.
	constant any
}

// SetVariable compiles the set-variable policy (API Gateway 2.0.0; v5 1.0.0):
//
//	actions:
//	- set: message.headers.x-id     (or add:, to append; or clear:)
//	  value: $(request.headers.x-id)
//	  type: any | string | number | boolean   (default any)
//
// type any keeps the value of a lone $(variable) reference as it is (an
// object stays an object); string stores the rendered text; number parses
// it (whole numbers stay integers); boolean takes true or false.
func SetVariable(b *assembly.Builder, n apidef.Node) assembly.Policy {
	list := n.Get("actions")
	if !list.IsSeq() {
		if list.IsNull() && !list.IsZero() {
			return noopPolicy // `actions:` left empty
		}
		b.Report(missingSetting(n, "actions", "set-variable needs actions: a list of set, add or clear entries",
			"write `actions: [{set: message.headers.x-id, value: $(request.headers.x-id)}]`"))
		return nil
	}
	var actions []varAction
	ok := true
	for _, item := range list.Items() {
		a, good := compileAction(b, item)
		if !good {
			ok = false
			continue
		}
		actions = append(actions, a)
	}
	if !ok {
		return nil
	}
	return func(c *assembly.Context) error {
		for i := range actions {
			if err := actions[i].apply(c); err != nil {
				return err
			}
		}
		return nil
	}
}

func compileAction(b *assembly.Builder, item apidef.Node) (varAction, bool) {
	var a varAction
	if !item.IsMap() {
		b.Report(item.Problem("an action must be a mapping with set, add or clear",
			"write `- set: my.var` with `value: …`"))
		return a, false
	}
	var target apidef.Node
	var verbs []string
	for _, k := range []string{"set", "add", "clear"} {
		if item.Has(k) {
			verbs = append(verbs, k)
			target = item.Get(k)
		}
	}
	switch len(verbs) {
	case 0:
		b.Report(item.Problem("an action needs one of set, add or clear, naming the variable",
			"write `- set: my.var` with `value: …`, `- add: message.headers.x-tag`, or `- clear: message.headers.x-secret`"))
		return a, false
	case 1:
	default:
		b.Report(item.Problem(fmt.Sprintf("an action has both %s and %s", verbs[0], verbs[1]),
			"write one action per list entry"))
		return a, false
	}
	a.op = map[string]actionOp{"set": opSet, "add": opAdd, "clear": opClear}[verbs[0]]
	ref, good := b.Ref(target)
	if !good {
		return a, false
	}
	a.ref = ref
	switch ref.Root() {
	case "request", "api", "system":
		// API Connect saves such an API; the action fails when it runs
		// (PropertyError), so this is a warning, not a load error.
		b.Report(target.Warning(fmt.Sprintf("%s is read-only: this action will fail with a PropertyError", ref.Name),
			readOnlyHint(ref)))
	}
	if a.op == opClear {
		return a, true
	}

	tn := item.Get("type")
	if !tn.IsNull() {
		t, known := valueTypes[strings.ToLower(strings.TrimSpace(tn.Str()))]
		if !known {
			b.Report(tn.Problemf("type %q is not one of any, string, number, boolean", tn.Str()))
			return a, false
		}
		a.typ = t
	}
	if ref.Name == "message" && a.typ != typeAny {
		b.Report(target.Problem("message can only be set to a message, with type any",
			"set message.body, message.headers.<name> or message.status.code instead"))
		return a, false
	}

	vn := item.Get("value")
	switch {
	case vn.IsMap() || vn.IsSeq():
		// A YAML mapping or list as the value: a constant object.
		switch a.typ {
		case typeAny:
			a.constant = vn.Value()
		case typeString:
			a.constant = assembly.Stringify(vn.Value())
		default:
			b.Report(vn.Problemf("a %s value must be a single value, not a mapping or list", a.typ))
			return a, false
		}
		return a, true
	case vn.IsNull():
		a.value = assembly.MustTemplate("")
	default:
		a.value = b.Template(vn)
	}
	if !a.value.IsConst() {
		return a, true
	}
	// A constant: convert it once.
	src := a.value.Source()
	switch a.typ {
	case typeNumber:
		num, err := setVarNumber(src)
		if err != nil {
			b.Report(vn.Problem(fmt.Sprintf("value %q is not a number (type: number)", src),
				"write a number, or set type: string"))
			return a, false
		}
		a.constant = num
	case typeBoolean:
		v, err := setVarBoolean(src)
		if err != nil {
			b.Report(vn.Problem(fmt.Sprintf("value %q is not true or false (type: boolean)", src),
				"write true or false, or set type: string"))
			return a, false
		}
		a.constant = v
	case typeAny:
		a.constant = src
		if v, ok := typedScalar(vn); ok {
			a.constant = v
		}
	default:
		a.constant = src
	}
	a.value = nil
	return a, true
}

func readOnlyHint(ref assembly.Ref) string {
	if ref.Root() == "request" {
		return "request holds what the client sent and cannot change; set message." +
			strings.TrimPrefix(strings.TrimPrefix(ref.Name, "request"), ".") + " instead, or a variable of your own"
	}
	return "set a variable of your own instead, e.g. my." + ref.Name
}

// typedScalar reads a plain YAML scalar written as a JSON number or
// boolean (value: 201, value: true), which type any keeps as such rather
// than as text. Other plain scalars YAML would read as numbers (01234, 1_000,
// .inf) stay text, as they would in a JSON document.
func typedScalar(n apidef.Node) (any, bool) {
	if n.Y == nil || n.Y.Style != 0 {
		return nil, false
	}
	switch src := n.Y.Value; {
	case src == "true":
		return true, true
	case src == "false":
		return false, true
	case jsonNumber.MatchString(src):
		v, err := setVarNumber(src)
		return v, err == nil
	}
	return nil, false
}

var jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)

func (a *varAction) apply(c *assembly.Context) error {
	if a.op == opClear {
		return c.Clear(a.ref)
	}
	v, err := a.compute(c)
	if err != nil {
		return err
	}
	if a.op == opAdd {
		return c.Add(a.ref, v)
	}
	return c.Set(a.ref, v)
}

func (a *varAction) compute(c *assembly.Context) (any, error) {
	if a.value == nil {
		return copyJSONValue(a.constant), nil
	}
	switch a.typ {
	case typeString:
		return a.value.Render(c), nil
	case typeNumber:
		v := a.value.Value(c)
		switch t := v.(type) {
		case int, int64, float64:
			return t, nil
		}
		s := assembly.Stringify(v)
		num, err := setVarNumber(s)
		if err != nil {
			return nil, &assembly.Error{Name: assembly.PropertyError,
				Message: fmt.Sprintf("set-variable: %s: %q is not a number (type: number)", a.ref.Name, s)}
		}
		return num, nil
	case typeBoolean:
		v := a.value.Value(c)
		if bv, ok := v.(bool); ok {
			return bv, nil
		}
		s := assembly.Stringify(v)
		bv, err := setVarBoolean(s)
		if err != nil {
			return nil, &assembly.Error{Name: assembly.PropertyError,
				Message: fmt.Sprintf("set-variable: %s: %q is not true or false (type: boolean)", a.ref.Name, s)}
		}
		return bv, nil
	}
	return a.value.Value(c), nil
}

// setVarNumber parses a number: an integer when it is whole and fits, else a
// float64. Infinity and NaN are not numbers here, as in JSON.
func setVarNumber(s string) (any, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i >= math.MinInt && i <= math.MaxInt {
			return int(i), nil
		}
		return float64(i), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("not a number")
	}
	return f, nil
}

func setVarBoolean(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// copyJSONValue deep-copies the maps and lists of a JSON-like constant, so that
// a request changing its copy does not change the next request's.
func copyJSONValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = copyJSONValue(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = copyJSONValue(e)
		}
		return l
	}
	return v
}
