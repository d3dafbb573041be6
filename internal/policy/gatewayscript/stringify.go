package gatewayscript

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// stringifier is JSON.stringify with a bounded output: goja's own builds
// its result in Go without a limit, and a small object with shared
// references (a = [a, a] twenty times over) serialises to gigabytes.
type stringifier struct {
	rt       *jsrt
	buf      []byte
	limit    int
	replacer goja.Callable
	props    []string // the replacer's property list, or nil
	gap      string
	indent   string
	stack    []*goja.Object
	nodes    int64 // values visited, bounded: shared references multiply them
	// soft makes the limits truncate (for logs) instead of stopping the run.
	soft bool
}

// softLimit is what a soft stringifier panics with at its limit.
type softLimit struct{}

// over handles a limit: a log line is cut short, a script is stopped.
func (s *stringifier) over(format string, args ...any) {
	if s.soft {
		panic(softLimit{})
	}
	s.rt.fail(format, args...)
}

// stringify implements JSON.stringify(value, replacer, space).
func (rt *jsrt) stringify(value, replacer, space goja.Value) goja.Value {
	s := &stringifier{rt: rt, limit: int(rt.maxChars())}
	s.setReplacer(replacer)
	s.setGap(space)
	holder := rt.vm.NewObject()
	_ = holder.DefineDataProperty("", value, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	if !s.property(holder, "", value) {
		return goja.Undefined()
	}
	return rt.vm.ToValue(string(s.buf))
}

func (s *stringifier) setReplacer(r goja.Value) {
	if fn, ok := goja.AssertFunction(r); ok {
		s.replacer = fn
		return
	}
	o, ok := r.(*goja.Object)
	if !ok || o.ClassName() != "Array" {
		return
	}
	seen := map[string]bool{}
	s.props = []string{}
	n := toLength(o.Get("length"))
	s.rt.checkElems("JSON.stringify", float64(n))
	for i := int64(0); i < n; i++ {
		v := o.Get(strconv.FormatInt(i, 10))
		switch {
		case goja.IsString(v) || goja.IsNumber(v):
		case isBoxed(v, "String") || isBoxed(v, "Number"):
		default:
			continue
		}
		if k := v.String(); !seen[k] {
			seen[k] = true
			s.props = append(s.props, k)
		}
	}
}

func isBoxed(v goja.Value, class string) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == class
}

func (s *stringifier) setGap(space goja.Value) {
	if isBoxed(space, "Number") {
		space = space.ToNumber()
	} else if isBoxed(space, "String") {
		space = space.ToString()
	}
	switch {
	case goja.IsNumber(space):
		n := min(max(int(space.ToInteger()), 0), 10)
		s.gap = strings.Repeat(" ", n)
	case goja.IsString(space):
		g := space.String()
		if utf8.RuneCountInString(g) > 10 {
			g = string([]rune(g)[:10])
		}
		s.gap = g
	}
}

func (s *stringifier) write(str string) {
	s.buf = append(s.buf, str...)
	if len(s.buf) > s.limit {
		s.over("JSON.stringify would build a string of more than %d characters", s.limit)
	}
}

// property serialises holder[key] (value); false means undefined, which
// objects leave out.
func (s *stringifier) property(holder *goja.Object, key string, value goja.Value) bool {
	s.nodes++
	if s.nodes&1023 == 0 {
		s.rt.checkStop()
		if s.nodes > s.rt.maxElems() {
			s.over("JSON.stringify would visit more than %d values", s.rt.maxElems())
		}
	}
	if o, ok := value.(*goja.Object); ok {
		if toJSON, ok := goja.AssertFunction(o.Get("toJSON")); ok {
			value = call(toJSON, goja.FunctionCall{This: o}, s.rt.vm.ToValue(key))
		}
	}
	if s.replacer != nil {
		value = call(s.replacer, goja.FunctionCall{This: holder}, s.rt.vm.ToValue(key), value)
	}
	if o, ok := value.(*goja.Object); ok {
		switch o.ClassName() {
		case "Number":
			value = o.ToNumber()
		case "String":
			value = o.ToString()
		case "Boolean":
			if valueOf, ok := goja.AssertFunction(o.Get("valueOf")); ok {
				value = call(valueOf, goja.FunctionCall{This: o})
			}
		}
	}
	switch {
	case value == nil || goja.IsUndefined(value):
		return false
	case goja.IsNull(value):
		s.write("null")
	case goja.IsString(value):
		s.quote(value.String())
	case goja.IsNumber(value):
		if f := value.ToFloat(); math.IsNaN(f) || math.IsInf(f, 0) {
			s.write("null")
		} else {
			s.write(value.String())
		}
	default:
		o, ok := value.(*goja.Object)
		if !ok {
			if b, isBool := value.Export().(bool); isBool {
				s.write(strconv.FormatBool(b))
				return true
			}
			return false // a symbol
		}
		if _, isFn := goja.AssertFunction(o); isFn {
			return false
		}
		s.enter(o)
		defer s.leave()
		if o.ClassName() == "Array" {
			s.array(o)
		} else {
			s.object(o)
		}
	}
	return true
}

func (s *stringifier) enter(o *goja.Object) {
	for _, p := range s.stack {
		if p.SameAs(o) {
			s.rt.throwf("Converting circular structure to JSON")
		}
	}
	if len(s.stack) >= maxDepth {
		s.over("JSON.stringify: the value nests deeper than %d levels", maxDepth)
	}
	s.stack = append(s.stack, o)
}

func (s *stringifier) leave() { s.stack = s.stack[:len(s.stack)-1] }

// newline starts a member on its own line when there is a gap.
func (s *stringifier) newline() {
	if s.gap != "" {
		s.write("\n")
		s.write(s.indent)
	}
}

func (s *stringifier) object(o *goja.Object) {
	keys := s.props
	if keys == nil {
		keys = o.Keys()
	}
	outer := s.indent
	s.indent += s.gap
	s.write("{")
	empty := true
	for _, k := range keys {
		mark := len(s.buf)
		if !empty {
			s.write(",")
		}
		s.newline()
		s.quote(k)
		s.write(":")
		if s.gap != "" {
			s.write(" ")
		}
		if !s.property(o, k, o.Get(k)) {
			s.buf = s.buf[:mark]
			continue
		}
		empty = false
	}
	s.indent = outer
	if !empty {
		s.newline()
	}
	s.write("}")
}

func (s *stringifier) array(o *goja.Object) {
	n := toLength(o.Get("length"))
	if n > s.rt.maxElems() {
		s.over("JSON.stringify would build %d elements", n)
	}
	outer := s.indent
	s.indent += s.gap
	s.write("[")
	for i := int64(0); i < n; i++ {
		if i > 0 {
			s.write(",")
		}
		s.newline()
		k := strconv.FormatInt(i, 10)
		if !s.property(o, k, o.Get(k)) {
			s.write("null")
		}
	}
	s.indent = outer
	if n > 0 {
		s.newline()
	}
	s.write("]")
}

// quote writes a JSON string.
func (s *stringifier) quote(str string) {
	s.buf = appendQuoted(s.buf, str)
	if len(s.buf) > s.limit {
		s.over("JSON.stringify would build a string of more than %d characters", s.limit)
	}
}

func appendQuoted(buf []byte, str string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(str); i++ {
		c := str[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, str[start:i]...)
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, str[start:]...)
	return append(buf, '"')
}
