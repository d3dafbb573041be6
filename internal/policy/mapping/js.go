package mapping

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/expr"
)

// JavaScript map values (GatewayScript in API Connect). The expr package
// evaluates JavaScript conditions only, to a boolean; until it offers value
// expressions, map runs its own small goja programs here.
//
// $(name) references are replaced at compile time by identifiers bound per
// evaluation; apim.getvariable(name) reads the context. Each program keeps
// a pool of runtimes (goja runtimes are single-goroutine), and every run is
// bounded by JSTimeout and the request's context.

// JSTimeout bounds one evaluation of a JavaScript map value.
const JSTimeout = 100 * time.Millisecond

const jsRefPrefix = "__mapref"

type jsValue struct {
	src    string
	prog   *goja.Program
	refs   []string // refs[i] is bound as __mapref<i>
	idents []string
	pool   sync.Pool
}

type jsRuntime struct {
	vm  *goja.Runtime
	env expr.Env
}

type jsInterrupt struct{ reason string }

// compileJS compiles a value: as an expression when it is one (so that an
// object literal is an object), else as a script whose last statement gives
// the value.
func compileJS(src string) (*jsValue, error) {
	rewritten, refs := rewriteRefs(src)
	prog, err := compileProgram("(" + rewritten + "\n)")
	if err != nil {
		if prog, err = compileProgram(rewritten); err != nil {
			return nil, fmt.Errorf("JavaScript syntax error: %v", err)
		}
	}
	j := &jsValue{src: src, prog: prog, refs: refs, idents: make([]string, len(refs))}
	for i := range refs {
		j.idents[i] = jsRefPrefix + strconv.Itoa(i)
	}
	j.pool.New = func() any { return j.newRuntime() }
	return j, nil
}

func compileProgram(src string) (prog *goja.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("cannot compile: %v", r)
		}
	}()
	return goja.Compile("value", src, true)
}

// rewriteRefs replaces each $(name) outside string literals and comments
// with an identifier, returning the names in order.
func rewriteRefs(src string) (string, []string) {
	var b strings.Builder
	var refs []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := stringEnd(src, i)
			b.WriteString(src[i:end])
			i = end
		case c == '/' && i+1 < len(src) && (src[i+1] == '/' || src[i+1] == '*'):
			end := commentEnd(src, i)
			b.WriteString(src[i:end])
			i = end
		case c == '$' && i+1 < len(src) && src[i+1] == '(':
			end := strings.IndexByte(src[i:], ')')
			name := ""
			if end > 0 {
				name = strings.TrimSpace(src[i+2 : i+end])
			}
			if name == "" || !isRefName(name) {
				b.WriteByte(c)
				i++
				continue
			}
			b.WriteString(jsRefPrefix + strconv.Itoa(len(refs)))
			refs = append(refs, name)
			i += end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), refs
}

// isRefName reports whether s is a variable name as $( ) takes it.
func isRefName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIdentByte(c) && strings.IndexByte(".-[]'\":@", c) < 0 {
			return false
		}
	}
	return true
}

// stringEnd is the index after the string literal starting at i.
func stringEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return len(s)
}

func commentEnd(s string, i int) int {
	if s[i+1] == '/' {
		if end := strings.IndexByte(s[i:], '\n'); end >= 0 {
			return i + end
		}
		return len(s)
	}
	if end := strings.Index(s[i+2:], "*/"); end >= 0 {
		return i + 2 + end + 2
	}
	return len(s)
}

func (j *jsValue) newRuntime() *jsRuntime {
	rt := &jsRuntime{vm: goja.New()}
	rt.vm.SetMaxCallStackSize(256)
	apim := rt.vm.NewObject()
	get := func(call goja.FunctionCall) goja.Value {
		if rt.env == nil {
			return goja.Undefined()
		}
		v, ok := rt.env.Var(call.Argument(0).String())
		return rt.toJS(v, ok)
	}
	_ = apim.Set("getvariable", get)
	_ = apim.Set("getVariable", get)
	_ = rt.vm.Set("apim", apim)
	return rt
}

func (rt *jsRuntime) toJS(v any, ok bool) goja.Value {
	if !ok {
		return goja.Undefined()
	}
	if v == nil {
		return goja.Null()
	}
	// A copy: a script that changes an object it was given must not
	// change the input (a request body, a back end's response).
	return rt.vm.ToValue(ownValue(v))
}

// eval runs the program. defined is false for an undefined result.
func (j *jsValue) eval(ctx context.Context, env expr.Env) (any, bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	limit := JSTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = max(time.Until(dl), time.Millisecond)
	}
	rt := j.pool.Get().(*jsRuntime)
	rt.env = env
	for i, name := range j.refs {
		v, ok := env.Var(name)
		_ = rt.vm.Set(j.idents[i], rt.toJS(v, ok))
	}
	rt.vm.ClearInterrupt()
	timer := time.AfterFunc(limit, func() { rt.vm.Interrupt(jsInterrupt{"timeout"}) })
	stop := context.AfterFunc(ctx, func() { rt.vm.Interrupt(jsInterrupt{"cancelled"}) })
	res, err := runProgram(rt.vm, j.prog)
	timerStopped, ctxStopped := timer.Stop(), stop()
	clean := timerStopped && ctxStopped // false: an interrupt fired or is firing
	rt.env = nil
	if clean && err == nil {
		j.pool.Put(rt)
	}
	if err != nil {
		return nil, false, j.runError(ctx, err, limit)
	}
	if res == nil || goja.IsUndefined(res) {
		return nil, false, nil
	}
	return exportJS(res.Export(), 0), true, nil
}

func (j *jsValue) runError(ctx context.Context, err error, limit time.Duration) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if r, ok := ie.Value().(jsInterrupt); ok && r.reason == "cancelled" {
			return ctx.Err()
		}
		return fmt.Errorf("JavaScript timed out after %v: %w", limit, context.DeadlineExceeded)
	}
	return fmt.Errorf("JavaScript: %v", err)
}

func runProgram(vm *goja.Runtime, prog *goja.Program) (res goja.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("JavaScript engine panic: %v", r)
		}
	}()
	return vm.RunProgram(prog)
}

// maxExportDepth bounds the conversion of a JavaScript result.
const maxExportDepth = 128

// exportJS turns an exported goja value into a JSON-like one: numbers are
// float64, NaN and infinities are null (as JSON.stringify has them).
func exportJS(v any, depth int) any {
	if depth > maxExportDepth {
		return nil
	}
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = exportJS(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = exportJS(e, depth+1)
		}
		return out
	case nil, string, bool:
		return x
	}
	return fmt.Sprint(v) // dates, functions, regexps: their text
}
