package gatewayscript

import (
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// maxLogText caps one console message or util.format result: logs are
// not the place for whole bodies, and inspect must not expand a value
// with shared references without end.
const maxLogText = 64 << 10

// formatter renders values as Node's util.format and util.inspect do,
// closely enough for log lines.
type formatter struct {
	rt    *jsrt
	b     strings.Builder
	full  bool
	stack []*goja.Object
}

func (f *formatter) write(s string) {
	if f.full {
		return
	}
	if f.b.Len()+len(s) > maxLogText {
		f.b.WriteString(s[:max(0, maxLogText-f.b.Len())])
		f.b.WriteString("…(truncated)")
		f.full = true
		return
	}
	f.b.WriteString(s)
}

// format is util.format: %s %d %i %f %j %o %O %% in a first string
// argument, then the other arguments, inspected, separated by spaces.
func (rt *jsrt) format(args []goja.Value) string {
	f := &formatter{rt: rt}
	rest := args
	if len(args) > 0 && goja.IsString(args[0]) {
		rest = f.directives(args[0].String(), args[1:])
	} else if len(args) > 0 {
		f.inspect(args[0], 0, false)
		rest = args[1:]
	}
	for _, a := range rest {
		f.write(" ")
		if goja.IsString(a) {
			f.write(a.String())
		} else {
			f.inspect(a, 0, false)
		}
	}
	return f.b.String()
}

// directives expands the format string, returning the unused arguments.
func (f *formatter) directives(s string, args []goja.Value) []goja.Value {
	for i := 0; i < len(s) && !f.full; i++ {
		if s[i] != '%' || i+1 >= len(s) {
			f.write(s[i : i+1])
			continue
		}
		verb := s[i+1]
		if verb == '%' {
			f.write("%")
			i++
			continue
		}
		if !strings.ContainsRune("sdifjoOc", rune(verb)) || len(args) == 0 {
			f.write(s[i : i+1])
			continue
		}
		a := args[0]
		args = args[1:]
		i++
		switch verb {
		case 's':
			if _, isObj := a.(*goja.Object); isObj {
				f.inspect(a, 1, false)
			} else {
				f.write(a.String())
			}
		case 'd', 'i':
			n := a.ToFloat()
			if verb == 'i' {
				n = math.Trunc(n)
			}
			f.write(f.rt.vm.ToValue(n).String())
		case 'f':
			f.write(f.rt.vm.ToValue(a.ToFloat()).String())
		case 'j':
			f.json(a)
		case 'o', 'O':
			f.inspect(a, 0, false)
		}
	}
	return args
}

// json is %j: JSON.stringify, cut short at the log limit, or [Circular].
// A stopped run stays stopped: its interrupt is still pending.
func (f *formatter) json(v goja.Value) {
	s := &stringifier{rt: f.rt, limit: maxLogText, soft: true}
	holder := f.rt.vm.NewObject()
	ok, text := f.tryStringify(s, holder, v)
	switch {
	case text != "":
		f.write(text)
	case !ok:
		f.write("undefined")
	default:
		f.write(string(s.buf))
	}
}

func (f *formatter) tryStringify(s *stringifier, holder *goja.Object, v goja.Value) (ok bool, text string) {
	defer func() {
		switch r := recover(); r.(type) {
		case nil:
		case softLimit:
			text = string(s.buf[:min(len(s.buf), maxLogText)]) + "…(truncated)"
		case *goja.Object, *goja.Exception:
			text = "[Circular]"
		default:
			panic(r)
		}
	}()
	return s.property(holder, "", v), ""
}

// inspect renders a value the way util.inspect does, two levels deep.
func (f *formatter) inspect(v goja.Value, depth int, nested bool) {
	switch {
	case f.full:
		return
	case v == nil || goja.IsUndefined(v):
		f.write("undefined")
		return
	case goja.IsString(v):
		if nested {
			f.write("'" + strings.ReplaceAll(v.String(), "'", `\'`) + "'")
		} else {
			f.write(v.String())
		}
		return
	}
	o, ok := v.(*goja.Object)
	if !ok {
		f.write(v.String())
		return
	}
	if fn, isFn := goja.AssertFunction(o); isFn && fn != nil {
		f.write("[Function: " + o.Get("name").String() + "]")
		return
	}
	switch o.ClassName() {
	case "Error", "Date", "RegExp", "String", "Number", "Boolean":
		f.write(o.String())
		return
	}
	if b, isBytes := typedBytes(f.rt.vm, o); isBytes {
		f.bytes(b)
		return
	}
	for _, p := range f.stack {
		if p.SameAs(o) {
			f.write("[Circular]")
			return
		}
	}
	if depth > 2 {
		f.write(map[bool]string{true: "[Array]", false: "[Object]"}[o.ClassName() == "Array"])
		return
	}
	f.stack = append(f.stack, o)
	defer func() { f.stack = f.stack[:len(f.stack)-1] }()
	f.members(o, depth)
}

func (f *formatter) members(o *goja.Object, depth int) {
	isArray := o.ClassName() == "Array"
	open, close := "{ ", " }"
	var keys []string
	if isArray {
		open, close = "[ ", " ]"
		n := min(toLength(o.Get("length")), 100)
		for i := int64(0); i < n; i++ {
			keys = append(keys, strconv.FormatInt(i, 10))
		}
	} else {
		keys = o.Keys()
	}
	if len(keys) == 0 {
		f.write(strings.TrimSpace(open) + strings.TrimSpace(close))
		return
	}
	f.write(open)
	for i, k := range keys {
		if i > 0 {
			f.write(", ")
		}
		if !isArray {
			f.write(k + ": ")
		}
		f.inspect(o.Get(k), depth+1, true)
		if f.full {
			return
		}
	}
	f.write(close)
}

func (f *formatter) bytes(b []byte) {
	const hexDigits = "0123456789abcdef"
	f.write("<Buffer")
	for i, c := range b {
		if i == 50 {
			f.write(" ...")
			break
		}
		f.write(" " + string([]byte{hexDigits[c>>4], hexDigits[c&0xf]}))
	}
	f.write(">")
}
