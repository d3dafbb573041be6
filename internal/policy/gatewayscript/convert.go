package gatewayscript

import (
	"fmt"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// converter copies values between the context (JSON-like Go values) and
// the script (goja values). Scripts get copies, never live Go objects: a
// value they hold cannot change the context behind the gateway's back, and
// a run abandoned after its time ran out holds nothing of the request.
// Every copy is bounded in size and depth.
type converter struct {
	rt     *jsrt
	budget int64
	in     bool // handing values to the script (else taking them from it)
	apim   bool // v5: parse JSON message bodies for the script
	path   []*goja.Object
}

// nodeCost is what one value costs a budget beyond its text.
const nodeCost = 16

func (rt *jsrt) inConverter(apim bool) *converter {
	return &converter{rt: rt, budget: rt.eng.opts.MaxInput, in: true, apim: apim}
}

func (rt *jsrt) outConverter() *converter {
	return &converter{rt: rt, budget: rt.eng.opts.MaxMemory}
}

func (cv *converter) charge(n int) {
	cv.rt.checkStop()
	cv.budget -= int64(n)
	if cv.budget >= 0 {
		return
	}
	st, o := cv.rt.st(), cv.rt.eng.opts
	if cv.in {
		st.abort(st.tooLarge("a value the script reads", -1))
	}
	st.abort(&assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf(
		"%s stopped: a value the script wrote is larger than the %d bytes Portico accepts", st.p.kind, o.MaxMemory)})
}

func (cv *converter) deep(depth int) {
	if depth > maxDepth {
		st := cv.rt.st()
		st.abort(&assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf(
			"%s stopped: a value nests deeper than %d levels", st.p.kind, maxDepth)})
	}
}

// toJS copies a context value into the script.
func (cv *converter) toJS(v any, depth int) goja.Value {
	cv.deep(depth)
	vm := cv.rt.vm
	cv.charge(nodeCost)
	switch t := v.(type) {
	case nil:
		return goja.Null()
	case string:
		cv.charge(len(t))
		return vm.ToValue(t)
	case []byte:
		cv.charge(len(t))
		return vm.ToValue(string(t))
	case bool, float64, float32, int, int64, int32, uint64, uint32:
		return vm.ToValue(t)
	case map[string]any:
		return cv.object(func(yield func(string, any)) {
			for _, k := range sortedKeys(t) {
				yield(k, t[k])
			}
		}, depth)
	case map[string]string:
		return cv.object(func(yield func(string, any)) {
			for _, k := range sortedKeys(t) {
				yield(k, t[k])
			}
		}, depth)
	case []any:
		items := make([]any, len(t))
		for i, e := range t {
			items[i] = cv.toJS(e, depth+1)
		}
		return vm.NewArray(items...)
	case []string:
		items := make([]any, len(t))
		for i, e := range t {
			items[i] = cv.toJS(e, depth+1)
		}
		return vm.NewArray(items...)
	case http.Header:
		return cv.toJS(headerValues(t), depth)
	case *assembly.Message:
		return cv.message(t, depth)
	}
	return cv.toJS(assembly.Stringify(v), depth)
}

// object builds a plain object. Properties are defined, not assigned, so
// a setter a script put on Object.prototype is never called.
func (cv *converter) object(each func(func(string, any)), depth int) goja.Value {
	o := cv.rt.vm.NewObject()
	each(func(k string, v any) {
		cv.charge(len(k))
		_ = o.DefineDataProperty(k, cv.toJS(v, depth+1), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	})
	return o
}

// message renders a message variable as {headers, body, status}.
func (cv *converter) message(m *assembly.Message, depth int) goja.Value {
	st := cv.rt.st()
	var body any
	if v, ok := m.Body.Parsed(); ok {
		body = v
	} else if m.Body != nil {
		body = string(st.rawBody(st.c, m.Body))
	}
	doc := map[string]any{
		"headers": headerValues(m.Headers),
		"status":  map[string]any{"code": m.StatusCode(), "reason": m.StatusReason()},
	}
	o := cv.toJS(doc, depth).(*goja.Object)
	_ = o.DefineDataProperty("body", cv.bodyValue(body), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	return o
}

// bodyValue copies a body; for v5 scripts a JSON text is parsed, as the
// v5 gateway did for them.
func (cv *converter) bodyValue(v any) goja.Value {
	s, ok := v.(string)
	if !ok || !cv.apim {
		return cv.toJS(v, 1)
	}
	cv.charge(len(s))
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		if parsed, err := cv.rt.parseJSONText(s); err == nil {
			return parsed
		}
	}
	return cv.rt.vm.ToValue(s)
}

// headerValues renders headers with lower-case names, one value as a
// string and several as a list.
func headerValues(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		switch len(vs) {
		case 0:
		case 1:
			out[strings.ToLower(k)] = vs[0]
		default:
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			out[strings.ToLower(k)] = list
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fromJS copies a script value into a JSON-like Go value, with JSON's
// rules (toJSON is called; functions and undefined are left out of
// objects and become null in arrays; a cycle is a TypeError). Typed
// arrays and Buffers at the top become []byte.
func (cv *converter) fromJS(v goja.Value, depth int) any {
	out, _ := cv.value(v, depth)
	return out
}

// value converts v; ok is false for what JSON leaves out.
func (cv *converter) value(v goja.Value, depth int) (any, bool) {
	cv.deep(depth)
	cv.charge(nodeCost)
	if v == nil || goja.IsUndefined(v) {
		return nil, false
	}
	o, isObj := v.(*goja.Object)
	if !isObj {
		return cv.primitive(v)
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return nil, false
	}
	if toJSON, ok := goja.AssertFunction(o.Get("toJSON")); ok {
		res, err := toJSON(o)
		if err != nil {
			panic(err)
		}
		return cv.value(res, depth+1)
	}
	if b, ok := typedBytes(cv.rt.vm, o); ok {
		cv.charge(len(b))
		return append([]byte(nil), b...), true
	}
	switch o.ClassName() {
	case "String", "Number", "Boolean", "BigInt":
		// A boxed primitive: JSON takes its value.
		if valueOf, ok := goja.AssertFunction(o.Get("valueOf")); ok {
			if pv, err := valueOf(o); err == nil {
				return cv.primitive(pv)
			}
		}
	}
	for _, p := range cv.path {
		if p.SameAs(o) {
			cv.rt.throwf("Converting circular structure to JSON")
		}
	}
	cv.path = append(cv.path, o)
	defer func() { cv.path = cv.path[:len(cv.path)-1] }()
	if o.ClassName() == "Array" {
		return cv.array(o, depth), true
	}
	keys := o.Keys()
	m := make(map[string]any, len(keys))
	for _, k := range keys {
		cv.charge(len(k))
		if e, ok := cv.value(o.Get(k), depth+1); ok {
			m[k] = e
		}
	}
	return m, true
}

func (cv *converter) array(o *goja.Object, depth int) []any {
	n := toLength(o.Get("length"))
	cv.charge(int(min(n, math.MaxInt32)) * nodeCost)
	out := make([]any, n)
	for i := range out {
		if i&1023 == 1023 {
			cv.rt.checkStop()
		}
		e, _ := cv.value(o.Get(strconv.FormatInt(int64(i), 10)), depth+1)
		if b, isBytes := e.([]byte); isBytes {
			e = string(b)
		}
		out[i] = e
	}
	return out
}

// primitive converts a primitive: numbers become float64 (JSON's
// numbers), NaN and infinities null, BigInts their decimal text.
func (cv *converter) primitive(v any) (any, bool) {
	if gv, ok := v.(goja.Value); ok {
		v = gv.Export()
	}
	switch t := v.(type) {
	case nil:
		return nil, true
	case string:
		cv.charge(len(t))
		return t, true
	case bool:
		return t, true
	case int64:
		return float64(t), true
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, true
		}
		return t, true
	case *big.Int:
		return t.String(), true
	}
	return nil, false // a symbol
}

var abType = reflect.TypeOf(goja.ArrayBuffer{})

// typedBytes returns the bytes of an ArrayBuffer, or of a typed array or
// Buffer (all elements' bytes), without copying.
func typedBytes(vm *goja.Runtime, o *goja.Object) ([]byte, bool) {
	if o.ClassName() != "Object" {
		return nil, false
	}
	switch t := o.ExportType(); {
	case t == abType:
		ab, _ := o.Export().(goja.ArrayBuffer)
		return ab.Bytes(), true
	case t != nil && t.Kind() == reflect.Slice && t.Elem().Kind() <= reflect.Float64 && t.Elem().Kind() >= reflect.Int:
		var b []byte
		if err := vm.ExportTo(o, &b); err == nil {
			return b, true
		}
	}
	return nil, false
}

// toLength is ECMAScript's ToLength, for array-likes.
func toLength(v goja.Value) int64 {
	if v == nil || goja.IsUndefined(v) {
		return 0
	}
	f := v.ToFloat()
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	return int64(min(f, 1<<53-1))
}
