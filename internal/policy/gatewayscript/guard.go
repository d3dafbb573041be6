package gatewayscript

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// Guards. goja runs built-ins as Go code that its interrupt cannot stop
// and that allocates without limit, so a one-line script such as
// 'x'.repeat(2e9) or new Array(5e8).fill(0) could take the process down.
// Every built-in that can build a value much larger than its input (or
// recurse on a script's nesting) is replaced by a wrapper that checks what
// the call would build against MaxMemory first, then calls the original.
// A call over the limit stops the run with a JavaScriptError: it is not a
// catchable RangeError, so a script cannot retry it in a loop.
//
// What stays unguarded grows at the speed of the interpreter (a string
// doubled in a loop, an array pushed to forever): the heap watchdog and
// the time limit stop those.

// guard is the check a wrapper makes before calling the original.
type guard func(orig goja.Callable, call goja.FunctionCall) goja.Value

func (rt *jsrt) maxChars() int64 { return rt.eng.opts.MaxMemory }
func (rt *jsrt) maxElems() int64 { return rt.eng.opts.MaxMemory / nodeCost }

// fail stops the run: a built-in was asked for more than the limit.
func (rt *jsrt) fail(format string, args ...any) {
	st := rt.st()
	line := scriptLine(rt.vm.CaptureCallStack(0, nil))
	st.abort(&assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf("%s stopped: %s (%s)",
		st.p.kind, fmt.Sprintf(format, args...), st.p.loc.describe(line))})
}

// checkChars fails when a built-in would build a string of n characters.
func (rt *jsrt) checkChars(what string, n float64) {
	if n > float64(rt.maxChars()) {
		rt.fail("%s would build a string of %.0f characters, more than the %d allowed", what, n, rt.maxChars())
	}
}

// checkElems fails when a built-in would build n elements.
func (rt *jsrt) checkElems(what string, n float64) {
	if n > float64(rt.maxElems()) {
		rt.fail("%s would build %.0f elements, more than the %d allowed", what, n, rt.maxElems())
	}
}

// wrap replaces o[name] with g around the original.
func (rt *jsrt) wrap(o *goja.Object, name string, g guard) {
	orig, ok := goja.AssertFunction(o.Get(name))
	if !ok {
		return
	}
	rt.defineMethod(o, name, func(call goja.FunctionCall) goja.Value { return g(orig, call) })
}

// defineMethod defines a method the way built-ins are: writable,
// configurable, not enumerable.
func (rt *jsrt) defineMethod(o *goja.Object, name string, fn func(goja.FunctionCall) goja.Value) {
	_ = o.DefineDataProperty(name, rt.vm.ToValue(fn), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

func (rt *jsrt) proto(ctor string) *goja.Object {
	return rt.vm.GlobalObject().Get(ctor).ToObject(rt.vm).Get("prototype").ToObject(rt.vm)
}

// call calls orig with the same this and arguments.
func call(orig goja.Callable, c goja.FunctionCall, args ...goja.Value) goja.Value {
	if args == nil {
		args = c.Arguments
	}
	v, err := orig(c.This, args...)
	if err != nil {
		panic(err)
	}
	return v
}

// toStr is ToString(v) as a goja string (ToString of a number is not
// always one).
func toStr(v goja.Value) goja.String {
	s := v.ToString()
	if js, ok := s.(goja.String); ok {
		return js
	}
	return goja.StringFromUTF16(utf16.Encode([]rune(s.String())))
}

// strLen is ToString(v) and its length in UTF-16 units.
func strLen(v goja.Value) (goja.String, float64) {
	s := toStr(v)
	return s, float64(s.Length())
}

func (rt *jsrt) installGuards() {
	rt.guardStrings()
	rt.guardArrays()
	rt.guardCalls()
	rt.guardTypedArrays()
	rt.guardJSON()
	rt.guardDynamicCode()
	rt.guardIterators()
	rt.removeBigInt()
}

func (rt *jsrt) guardStrings() {
	sp := rt.proto("String")
	rt.wrap(sp, "repeat", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		_, n := strLen(c.This)
		if count := c.Argument(0).ToFloat(); n > 0 && count > 0 && !math.IsInf(count, 1) {
			rt.checkChars("String.prototype.repeat", n*math.Trunc(count))
		}
		return call(orig, c)
	})
	pad := func(name string) guard {
		return func(orig goja.Callable, c goja.FunctionCall) goja.Value {
			rt.checkChars("String.prototype."+name, c.Argument(0).ToFloat())
			return call(orig, c)
		}
	}
	rt.wrap(sp, "padStart", pad("padStart"))
	rt.wrap(sp, "padEnd", pad("padEnd"))
	rt.wrap(sp, "concat", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		_, total := strLen(c.This)
		args := make([]goja.Value, len(c.Arguments))
		for i, a := range c.Arguments {
			var n float64
			args[i], n = strLen(a)
			total += n
		}
		rt.checkChars("String.prototype.concat", total)
		return call(orig, c, args...)
	})
	rt.wrap(sp, "replace", rt.replaceGuard(false))
	rt.wrap(sp, "replaceAll", rt.replaceGuard(true))
	rt.wrap(sp, "split", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		_, n := strLen(c.This)
		count := n + 1
		if sep := c.Argument(0); goja.IsString(sep) {
			if l := float64(len(sep.String())); l > 0 {
				count = n/l + 1
			}
		}
		if lim := c.Argument(1); !goja.IsUndefined(lim) {
			count = min(count, lim.ToFloat())
		}
		rt.checkElems("String.prototype.split", count*2)
		return call(orig, c)
	})
	rt.wrapSym(sp, goja.SymIterator, func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		_, n := strLen(c.This)
		rt.checkElems("iterating a string", n)
		return call(orig, c)
	})
	str := rt.vm.GlobalObject().Get("String").ToObject(rt.vm)
	rt.wrap(str, "raw", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		if o, ok := c.Argument(0).(*goja.Object); ok {
			if raw, ok := o.Get("raw").(*goja.Object); ok {
				n := toLength(raw.Get("length"))
				rt.checkElems("String.raw", float64(n))
				var total float64
				for i := int64(0); i < n; i++ {
					_, l := strLen(raw.Get(strconv.FormatInt(i, 10)))
					total += l
				}
				for _, a := range c.Arguments[1:] {
					_, l := strLen(a)
					total += l
				}
				rt.checkChars("String.raw", total)
			}
		}
		return call(orig, c)
	})
	// A string has one property per character: listing them costs far
	// more than the string (an entry is an array of two values).
	obj := rt.vm.GlobalObject().Get("Object").ToObject(rt.vm)
	for name, cost := range map[string]float64{"keys": 8, "values": 8, "entries": 32, "getOwnPropertyNames": 8, "assign": 8} {
		idx := 0
		if name == "assign" {
			idx = 1
		}
		rt.wrap(obj, name, func(orig goja.Callable, c goja.FunctionCall) goja.Value {
			for _, a := range c.Arguments[min(idx, len(c.Arguments)):] {
				if goja.IsString(a) || isClass(a, "String") {
					_, n := strLen(a)
					rt.checkElems("Object."+name+" of a string", n*cost)
				}
			}
			return call(orig, c)
		})
	}
}

// wrapSym is wrap for a symbol-keyed method.
func (rt *jsrt) wrapSym(o *goja.Object, sym *goja.Symbol, g guard) {
	orig, ok := goja.AssertFunction(o.GetSymbol(sym))
	if !ok {
		return
	}
	fn := rt.vm.ToValue(func(call goja.FunctionCall) goja.Value { return g(orig, call) })
	_ = o.DefineDataPropertySymbol(sym, fn, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// replaceGuard bounds replace and replaceAll. The result holds the kept
// text plus one replacement per match. When that cannot be bounded up
// front (a long replacement, $` or $'), the replacement becomes a function
// that counts what it returns.
func (rt *jsrt) replaceGuard(all bool) guard {
	name := "String.prototype.replace"
	if all {
		name += "All"
	}
	return func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		this, n := strLen(c.This)
		pattern, repl := c.Argument(0), c.Argument(1)
		var used float64
		counted := func(s goja.Value) goja.Value {
			rt.checkStop()
			_, l := strLen(s)
			used += l
			rt.checkChars(name, n+used)
			return s
		}
		if fn, ok := goja.AssertFunction(repl); ok {
			wrapped := rt.vm.ToValue(func(fc goja.FunctionCall) goja.Value {
				return counted(call(fn, fc))
			})
			return call(orig, goja.FunctionCall{This: this}, pattern, wrapped)
		}
		replStr, rl := strLen(repl)
		global := all
		if re, ok := pattern.(*goja.Object); ok && re.ClassName() == "RegExp" {
			global = global || strings.Contains(re.Get("flags").String(), "g")
		}
		matches := 1.0
		if global {
			matches = n + 1
		}
		text := replStr.String()
		refs := float64(strings.Count(text, "$&") + strings.Count(text, "$<") + countGroupRefs(text))
		if !strings.Contains(text, "$`") && !strings.Contains(text, "$'") && n+matches*rl+refs*n <= float64(rt.maxChars()) {
			return call(orig, goja.FunctionCall{This: this}, pattern, replStr)
		}
		subst := rt.vm.ToValue(func(fc goja.FunctionCall) goja.Value {
			return counted(rt.substitute(text, fc.Arguments))
		})
		return call(orig, goja.FunctionCall{This: this}, pattern, subst)
	}
}

// countGroupRefs counts $1…$99 in a replacement.
func countGroupRefs(s string) int {
	n := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] >= '0' && s[i+1] <= '9' {
			n++
		}
	}
	return n
}

// substitute is ECMAScript's GetSubstitution for a replacer function's
// arguments: (matched, p1…pn, position, string[, groups]).
func (rt *jsrt) substitute(repl string, args []goja.Value) goja.Value {
	if len(args) < 3 {
		return rt.vm.ToValue(repl)
	}
	var groups *goja.Object
	last := len(args) - 1
	if o, ok := args[last].(*goja.Object); ok {
		groups, last = o, last-1
	}
	str, pos := toStr(args[last]), int(args[last-1].ToInteger())
	matched := toStr(args[0])
	caps := args[1 : last-1]
	var b goja.StringBuilder
	for i := 0; i < len(repl); i++ {
		if j := strings.IndexByte(repl[i:], '$'); j != 0 {
			if j < 0 {
				j = len(repl) - i
			}
			b.WriteUTF8String(repl[i : i+j])
			i += j - 1
			continue
		}
		if i+1 >= len(repl) {
			b.WriteUTF8String("$")
			continue
		}
		next := repl[i+1]
		switch {
		case next == '$':
			b.WriteUTF8String("$")
			i++
		case next == '&':
			b.WriteString(matched)
			i++
		case next == '`':
			b.WriteString(str.Substring(0, min(pos, str.Length())))
			i++
		case next == '\'':
			if end := pos + matched.Length(); end < str.Length() {
				b.WriteString(str.Substring(end, str.Length()))
			}
			i++
		case next >= '0' && next <= '9':
			idx, width := int(next-'0'), 1
			if i+2 < len(repl) && repl[i+2] >= '0' && repl[i+2] <= '9' {
				if two := idx*10 + int(repl[i+2]-'0'); two >= 1 && two <= len(caps) {
					idx, width = two, 2
				}
			}
			if idx < 1 || idx > len(caps) {
				b.WriteUTF8String("$")
				continue
			}
			if v := caps[idx-1]; !goja.IsUndefined(v) {
				b.WriteString(toStr(v))
			}
			i += width
		case next == '<' && groups != nil:
			end := strings.IndexByte(repl[i+2:], '>')
			if end < 0 {
				b.WriteUTF8String("$")
				continue
			}
			if v := groups.Get(repl[i+2 : i+2+end]); v != nil && !goja.IsUndefined(v) {
				b.WriteString(toStr(v))
			}
			i += 2 + end
		default:
			b.WriteUTF8String("$")
		}
	}
	return b.String()
}

func (rt *jsrt) guardArrays() {
	ap := rt.proto("Array")
	rt.defineMethod(ap, "join", func(c goja.FunctionCall) goja.Value { return rt.join(c, false) })
	rt.defineMethod(ap, "toLocaleString", func(c goja.FunctionCall) goja.Value { return rt.join(c, true) })
	rt.wrap(ap, "fill", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		n := float64(rt.lengthOf(c.This))
		start, end := relIndex(c.Argument(1), n, 0), relIndex(c.Argument(2), n, n)
		rt.checkElems("Array.prototype.fill", end-start)
		return call(orig, c)
	})
	rt.wrap(ap, "concat", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		total := float64(rt.lengthOf(c.This))
		for _, a := range c.Arguments {
			if o, ok := a.(*goja.Object); ok && o.ClassName() == "Array" {
				total += float64(toLength(o.Get("length")))
			} else {
				total++
			}
		}
		rt.checkElems("Array.prototype.concat", total)
		return call(orig, c)
	})
	rt.wrap(ap, "flat", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		depth := 1.0
		if d := c.Argument(0); !goja.IsUndefined(d) {
			depth = d.ToFloat()
		}
		var count float64
		rt.countFlat(c.This, depth, 0, &count)
		return call(orig, c)
	})
	rt.wrap(ap, "flatMap", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			return call(orig, c)
		}
		var count float64
		counted := rt.vm.ToValue(func(fc goja.FunctionCall) goja.Value {
			v := call(fn, fc)
			count++
			if o, ok := v.(*goja.Object); ok && o.ClassName() == "Array" {
				count += float64(toLength(o.Get("length")))
			}
			rt.checkElems("Array.prototype.flatMap", count)
			return v
		})
		return call(orig, c, append([]goja.Value{counted}, c.Arguments[1:]...)...)
	})
	lengthGuard := func(what string) guard {
		return func(orig goja.Callable, c goja.FunctionCall) goja.Value {
			rt.checkElems(what, float64(rt.lengthOf(c.This)))
			return call(orig, c)
		}
	}
	for _, m := range []string{"keys", "entries", "toReversed", "toSorted", "with"} {
		rt.wrap(ap, m, lengthGuard("Array.prototype."+m))
	}
	rt.wrap(ap, "toSpliced", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		rt.checkElems("Array.prototype.toSpliced", float64(rt.lengthOf(c.This))+float64(len(c.Arguments)))
		return call(orig, c)
	})
	// values and [Symbol.iterator] are one function: spread and for-of
	// of an array go through it.
	rt.wrap(ap, "values", lengthGuard("iterating an array"))
	_ = ap.DefineDataPropertySymbol(goja.SymIterator, ap.Get("values"), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	arr := rt.vm.GlobalObject().Get("Array").ToObject(rt.vm)
	rt.wrap(arr, "from", rt.fromGuard("Array.from"))
}

// fromGuard bounds X.from(arrayLike): an iterable is bounded by its
// iterator, an array-like by its length.
func (rt *jsrt) fromGuard(what string) guard {
	return func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		if o, ok := c.Argument(0).(*goja.Object); ok {
			if it := o.GetSymbol(goja.SymIterator); it == nil || goja.IsUndefined(it) {
				rt.checkElems(what, float64(toLength(o.Get("length"))))
			}
		}
		return call(orig, c)
	}
}

// lengthOf is ToLength(this.length).
func (rt *jsrt) lengthOf(this goja.Value) int64 {
	if this == nil || goja.IsUndefined(this) || goja.IsNull(this) {
		return 0
	}
	return toLength(this.ToObject(rt.vm).Get("length"))
}

// relIndex is a relative index argument (negative from the end) clamped
// to [0, n].
func relIndex(v goja.Value, n, def float64) float64 {
	if v == nil || goja.IsUndefined(v) {
		return def
	}
	i := v.ToFloat()
	if math.IsNaN(i) {
		i = 0
	}
	i = math.Trunc(i)
	if i < 0 {
		return max(n+i, 0)
	}
	return min(i, n)
}

// countFlat counts what flat(depth) would build, failing past the limit.
func (rt *jsrt) countFlat(v goja.Value, depth float64, level int, count *float64) {
	o, ok := v.(*goja.Object)
	if !ok {
		return
	}
	if level > maxDepth {
		rt.fail("Array.prototype.flat: the array nests deeper than %d levels", maxDepth)
	}
	n := toLength(o.Get("length"))
	rt.checkElems("Array.prototype.flat", *count+float64(n))
	for i := int64(0); i < n; i++ {
		rt.checkStop()
		e, isObj := o.Get(strconv.FormatInt(i, 10)).(*goja.Object)
		if depth >= 1 && isObj && e.ClassName() == "Array" {
			rt.countFlat(e, depth-1, level+1, count)
			continue
		}
		*count++
		rt.checkElems("Array.prototype.flat", *count)
	}
}

// join is Array.prototype.join (and toLocaleString), building within the
// limit. A cycle joins as "", as in browsers.
func (rt *jsrt) join(c goja.FunctionCall, locale bool) goja.Value {
	st := rt.st()
	o := c.This.ToObject(rt.vm)
	n := toLength(o.Get("length"))
	rt.checkElems("Array.prototype.join", float64(n))
	sep := goja.Value(rt.vm.ToValue(","))
	if a := c.Argument(0); !locale && !goja.IsUndefined(a) {
		sep = a.ToString()
	}
	sepStr, sepLen := strLen(sep)
	for _, p := range st.joining {
		if p.SameAs(o) {
			return rt.vm.ToValue("")
		}
	}
	if len(st.joining) >= maxDepth {
		rt.fail("Array.prototype.join: the array nests deeper than %d levels", maxDepth)
	}
	st.joining = append(st.joining, o)
	defer func() { st.joining = st.joining[:len(st.joining)-1] }()
	var b goja.StringBuilder
	var size float64
	for i := int64(0); i < n; i++ {
		if i&1023 == 1023 {
			rt.checkStop()
		}
		if i > 0 {
			b.WriteString(sepStr)
			size += sepLen
		}
		e := o.Get(strconv.FormatInt(i, 10))
		if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
			rt.checkChars("Array.prototype.join", size)
			continue
		}
		if locale {
			if eo, ok := e.(*goja.Object); ok {
				if fn, ok := goja.AssertFunction(eo.Get("toLocaleString")); ok {
					e = call(fn, goja.FunctionCall{This: eo}, []goja.Value{}...)
				}
			}
		}
		s, l := strLen(e)
		size += l
		rt.checkChars("Array.prototype.join", size)
		b.WriteString(s)
	}
	return b.String()
}

func (rt *jsrt) guardCalls() {
	argsGuard := func(what string, idx int) guard {
		return func(orig goja.Callable, c goja.FunctionCall) goja.Value {
			if o, ok := c.Argument(idx).(*goja.Object); ok {
				rt.checkElems(what, float64(toLength(o.Get("length"))))
			}
			return call(orig, c)
		}
	}
	rt.wrap(rt.proto("Function"), "apply", argsGuard("Function.prototype.apply", 1))
	reflect := rt.vm.GlobalObject().Get("Reflect").ToObject(rt.vm)
	rt.wrap(reflect, "apply", argsGuard("Reflect.apply", 2))
	rt.wrap(reflect, "construct", argsGuard("Reflect.construct", 1))
}

// typedArrays are the constructors that allocate, with their element size.
var typedArrays = []struct {
	name string
	size float64
}{
	{"ArrayBuffer", 1}, {"Int8Array", 1}, {"Uint8Array", 1}, {"Uint8ClampedArray", 1}, {"Int16Array", 2},
	{"Uint16Array", 2}, {"Int32Array", 4}, {"Uint32Array", 4}, {"Float32Array", 4}, {"Float64Array", 8},
}

// guardTypedArrays replaces the allocating constructors (they allocate
// all their bytes at once) with checking ones. The replacements share the
// originals' prototypes, so instanceof and methods are unchanged.
func (rt *jsrt) guardTypedArrays() {
	g := rt.vm.GlobalObject()
	for _, ta := range typedArrays {
		orig, ok := g.Get(ta.name).(*goja.Object)
		if !ok {
			continue
		}
		ctor := rt.checkedConstructor(ta.name, orig, func(args []goja.Value) {
			rt.checkBytes(ta.name, ta.size, args)
		})
		for _, static := range []string{"BYTES_PER_ELEMENT", "isView", "of"} {
			if v := orig.Get(static); v != nil {
				_ = ctor.DefineDataProperty(static, v, goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
			}
		}
		if from, ok := goja.AssertFunction(orig.Get("from")); ok {
			fg := rt.fromGuard(ta.name + ".from")
			_ = ctor.Set("from", func(c goja.FunctionCall) goja.Value {
				return fg(from, goja.FunctionCall{This: orig, Arguments: c.Arguments})
			})
		}
		_ = g.DefineDataProperty(ta.name, ctor, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	}
	if u8, ok := g.Get("Uint8Array").(*goja.Object); ok {
		if tp := u8.Get("prototype").ToObject(rt.vm).Prototype(); tp != nil {
			rt.defineMethod(tp, "join", func(c goja.FunctionCall) goja.Value { return rt.join(c, false) })
			rt.defineMethod(tp, "toLocaleString", func(c goja.FunctionCall) goja.Value { return rt.join(c, true) })
		}
	}
}

// checkBytes fails when a typed array constructor would allocate more
// than the limit: new T(length), new T(arrayLike).
func (rt *jsrt) checkBytes(name string, size float64, args []goja.Value) {
	if len(args) == 0 {
		return
	}
	var n float64
	switch a := args[0].(type) {
	case *goja.Object:
		if a.ExportType() == abType {
			return // a view over an existing ArrayBuffer
		}
		n = float64(toLength(a.Get("length")))
	default:
		n = args[0].ToFloat()
	}
	if n*size > float64(rt.maxChars()) {
		rt.fail("new %s would allocate %.0f bytes, more than the %d allowed", name, n*size, rt.maxChars())
	}
}

// checkedConstructor makes a constructor that runs check on its arguments
// and then constructs with orig (a subclass keeps its own prototype).
func (rt *jsrt) checkedConstructor(name string, orig *goja.Object, check func([]goja.Value)) *goja.Object {
	var ctor *goja.Object
	ctor = rt.vm.ToValue(func(c goja.ConstructorCall) *goja.Object {
		check(c.Arguments)
		o, err := rt.vm.New(orig, c.Arguments...)
		if err != nil {
			panic(err)
		}
		if c.NewTarget != nil && !c.NewTarget.SameAs(ctor) {
			if p, ok := c.NewTarget.Get("prototype").(*goja.Object); ok {
				_ = o.SetPrototype(p)
			}
		}
		return o
	}).(*goja.Object)
	proto := orig.Get("prototype")
	_ = ctor.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = ctor.DefineDataProperty("name", rt.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	if p, ok := proto.(*goja.Object); ok {
		// x.constructor must not lead back to the unchecked original.
		_ = p.DefineDataProperty("constructor", ctor, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	return ctor
}

func (rt *jsrt) guardJSON() {
	j := rt.vm.GlobalObject().Get("JSON").ToObject(rt.vm)
	rt.wrap(j, "parse", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		s, _ := strLen(c.Argument(0))
		if _, hasReviver := goja.AssertFunction(c.Argument(1)); !hasReviver {
			v, jsErr := rt.parseJSONText(s.String())
			if jsErr != nil {
				panic(jsErr)
			}
			return v
		}
		if d := nestingDepth(s.String()); d > maxDepth {
			rt.fail("JSON.parse: the text nests %d levels deep, more than the %d allowed", d, maxDepth)
		}
		return call(orig, c, s, c.Argument(1))
	})
	rt.defineMethod(j, "stringify", func(c goja.FunctionCall) goja.Value {
		return rt.stringify(c.Argument(0), c.Argument(1), c.Argument(2))
	})
}

// guardDynamicCode checks code given to eval and the Function
// constructors: goja's parser recurses once per nesting level, and code
// must not bring BigInt back. eval becomes an indirect eval (global
// scope), which scripts rarely notice.
func (rt *jsrt) guardDynamicCode() {
	check := func(what string, args []goja.Value) {
		var total float64
		for _, a := range args {
			s, n := strLen(a)
			total += n
			code := s.String()
			if d := nestingDepth(code); d > maxDepth {
				rt.fail("%s: the code nests %d levels deep, more than the %d allowed", what, d, maxDepth)
			}
			if hasBigInt(code) {
				rt.fail("%s: the code uses BigInt, which Portico does not support", what)
			}
		}
		rt.checkChars(what, total)
	}
	g := rt.vm.GlobalObject()
	if eval, ok := goja.AssertFunction(g.Get("eval")); ok {
		rt.defineMethod(g, "eval", func(c goja.FunctionCall) goja.Value {
			if goja.IsString(c.Argument(0)) {
				check("eval", c.Arguments[:1])
			}
			return call(eval, goja.FunctionCall{This: goja.Undefined(), Arguments: c.Arguments})
		})
	}
	ctors := map[string]*goja.Object{"Function": g.Get("Function").ToObject(rt.vm)}
	for name, src := range map[string]string{"GeneratorFunction": "(function*(){})", "AsyncFunction": "(async function(){})",
		"AsyncGeneratorFunction": "(async function*(){})"} {
		if v, err := rt.vm.RunString(src); err == nil {
			if c, ok := v.ToObject(rt.vm).Get("constructor").(*goja.Object); ok {
				ctors[name] = c
			}
		}
	}
	for name, orig := range ctors {
		ctor := rt.checkedConstructor(name, orig, func(args []goja.Value) { check(name, args) })
		if name == "Function" {
			_ = g.DefineDataProperty("Function", ctor, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		}
	}
}

// removeBigInt takes BigInt away: its operators (1n << 10n**11n) allocate
// without limit inside the interpreter, where no guard can reach. Scripts
// with BigInt literals are refused when they load.
func (rt *jsrt) removeBigInt() {
	g := rt.vm.GlobalObject()
	for _, name := range []string{"BigInt", "BigInt64Array", "BigUint64Array"} {
		_ = g.Delete(name)
	}
	dv := rt.proto("DataView")
	for _, name := range []string{"getBigInt64", "getBigUint64", "setBigInt64", "setBigUint64"} {
		_ = dv.Delete(name)
	}
}

// guardIterators bounds what native loops (spread, Array.from) can pull
// from array iterators in one run, including the unguarded intrinsic
// iterator that arguments objects carry.
func (rt *jsrt) guardIterators() {
	v, err := rt.vm.RunString("Object.getPrototypeOf([][Symbol.iterator]())")
	if err != nil {
		return
	}
	itProto := v.ToObject(rt.vm)
	limit := rt.maxElems()
	rt.wrap(itProto, "next", func(orig goja.Callable, c goja.FunctionCall) goja.Value {
		st := rt.st()
		st.iterSteps++
		if st.iterSteps&1023 == 0 {
			rt.checkStop()
		}
		if st.iterSteps > limit {
			rt.fail("the script stepped through more than %d array elements in all", limit)
		}
		return call(orig, c)
	})
}
