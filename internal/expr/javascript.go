package expr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	jsast "github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// JavaScript conditions (v5-compatible DataPower Gateway).
//
// The source is compiled once with goja. $(name) references are replaced at
// compile time by the identifier __pv<i>, which each evaluation sets to the
// value of Env.Var(name) (undefined when unset), so $(message.status.code) ==
// '200' compares "200" == '200' like v5's substitution of a JS literal.
// The other free identifiers read the context: request, message, api, client,
// plan, product, system and session are read-only objects whose properties
// are looked up through Env.Var ("request.verb", "request.headers.Accept"...);
// any other name (a user variable such as myApi) is set from Env.Var(name).
// apim.getvariable(name) reads a variable.
//
// goja runtimes are not goroutine-safe: each program keeps a pool of them.
// Every run is guarded by vm.Interrupt: at ctx's deadline when it has one,
// else after DefaultJSTimeout, and when ctx is cancelled.

// DefaultJSTimeout bounds one evaluation of a JavaScript condition when ctx
// has no deadline. It is wall-clock time: give conditions their own
// context.WithTimeout to choose another bound.
const DefaultJSTimeout = 100 * time.Millisecond

const jsRefPrefix = "__pv"

// jsContextRoots are the context variables exposed as lazy objects.
var jsContextRoots = []string{"request", "message", "api", "client", "plan", "product", "system", "session"}

type jsProg struct {
	src       string
	prog      *goja.Program
	refs      []string // $(name) references; refs[i] is bound as __pv<i>
	refIdents []string
	roots     []string // context roots used, bound once per runtime
	vars      []string // other free identifiers, bound per evaluation
	usesApim  bool
	reusable  bool // false when the script declares let/const/class at top level
	pool      sync.Pool
}

type jsRuntime struct {
	vm    *goja.Runtime
	env   Env // the Env of the running evaluation
	timer *time.Timer
}

type jsInterrupt struct{ reason string }

func compileJS(src string) (*jsProg, error) {
	sc, err := scanJS(src)
	if err != nil {
		return nil, err
	}
	rewritten, segs := sc.rewrite()
	ast, perr := parser.ParseFile(nil, "", rewritten, 0, parser.WithDisableSourceMaps)
	if perr != nil {
		return nil, jsSyntaxError(src, rewritten, segs, perr)
	}
	prog, cerr := compileJSAST(ast)
	if cerr != nil {
		return nil, jsSyntaxError(src, rewritten, segs, cerr)
	}
	p := &jsProg{
		src:       src,
		prog:      prog,
		refs:      sc.refs,
		refIdents: make([]string, len(sc.refs)),
		reusable:  !sc.declares,
	}
	for i := range sc.refs {
		p.refIdents[i] = jsRefPrefix + strconv.Itoa(i)
	}
	// Classify the free identifiers against a fresh runtime's globals
	// (Math, JSON, undefined, parseInt, ...), then keep that runtime.
	vm := goja.New()
	global := vm.GlobalObject()
	for _, name := range sc.free {
		switch {
		case name == "apim":
			p.usesApim = true
		case slices.Contains(jsContextRoots, name):
			p.roots = append(p.roots, name)
		case strings.HasPrefix(name, jsRefPrefix) && slices.Contains(p.refIdents, name):
		case global.Get(name) != nil:
			// a JavaScript built-in
		default:
			p.vars = append(p.vars, name)
		}
	}
	p.pool.New = func() any { return p.newRuntime(goja.New()) }
	p.pool.Put(p.newRuntime(vm))
	return p, nil
}

func compileJSAST(ast *jsast.Program) (prog *goja.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot compile: %v", r)
		}
	}()
	return goja.CompileAST(ast, false)
}

func (p *jsProg) newRuntime(vm *goja.Runtime) *jsRuntime {
	rt := &jsRuntime{vm: vm}
	vm.SetMaxCallStackSize(256)
	if p.usesApim {
		apim := vm.NewObject()
		get := func(call goja.FunctionCall) goja.Value {
			name := call.Argument(0).String()
			if rt.env == nil {
				return goja.Undefined()
			}
			v, ok := rt.env.Var(name)
			return rt.toJS(name, v, ok)
		}
		_ = apim.Set("getvariable", get)
		_ = apim.Set("getVariable", get)
		_ = vm.Set("apim", apim)
	}
	for _, root := range p.roots {
		_ = vm.Set(root, vm.NewDynamicObject(&ctxObject{rt: rt, prefix: root, persistent: true}))
	}
	rt.timer = time.AfterFunc(time.Hour, func() { vm.Interrupt(jsInterrupt{"timeout"}) })
	rt.timer.Stop()
	return rt
}

// toJS converts an Env value. Objects stay lazy (and header names stay
// case-insensitive) by reading through Env.Var.
func (rt *jsRuntime) toJS(name string, v any, ok bool) goja.Value {
	if !ok {
		return goja.Undefined()
	}
	switch x := v.(type) {
	case nil:
		return goja.Null()
	case string:
		return rt.vm.ToValue(x)
	case map[string]any, map[string]string:
		return rt.vm.NewDynamicObject(&ctxObject{rt: rt, prefix: name})
	case []byte:
		return rt.vm.ToValue(string(x))
	}
	return rt.vm.ToValue(v)
}

// ctxObject is a read-only JavaScript view of a context variable.
type ctxObject struct {
	rt     *jsRuntime
	prefix string
	// kids caches, for views that live as long as their runtime (the context
	// roots and their object-valued properties), the dotted names of the
	// properties read and the views of object-valued ones. A view reads the
	// Env of the current evaluation, so it can be reused by the next one.
	persistent bool
	kids       map[string]*ctxKid
}

type ctxKid struct {
	name string       // prefix + "." + key
	view *goja.Object // for object values, built on first use
}

// maxCachedKids bounds ctxObject.kids (keys may be computed, e.g. headers[x]).
const maxCachedKids = 64

func (o *ctxObject) kid(key string) *ctxKid {
	if k, ok := o.kids[key]; ok {
		return k
	}
	k := &ctxKid{name: o.prefix + "." + key}
	if o.persistent && len(o.kids) < maxCachedKids {
		if o.kids == nil {
			o.kids = make(map[string]*ctxKid)
		}
		o.kids[key] = k
	}
	return k
}

func (o *ctxObject) Get(key string) goja.Value {
	if o.rt.env == nil {
		return nil
	}
	k := o.kid(key)
	v, ok := o.rt.env.Var(k.name)
	if !ok {
		return nil // falls back to Object.prototype
	}
	switch v.(type) {
	case map[string]any, map[string]string:
		if k.view == nil {
			k.view = o.rt.vm.NewDynamicObject(&ctxObject{rt: o.rt, prefix: k.name, persistent: o.persistent})
		}
		return k.view
	}
	return o.rt.toJS(k.name, v, true)
}

func (o *ctxObject) Set(string, goja.Value) bool { return false }

func (o *ctxObject) Has(key string) bool {
	if o.rt.env == nil {
		return false
	}
	_, ok := o.rt.env.Var(o.kid(key).name)
	return ok
}

func (o *ctxObject) Delete(string) bool { return false }

func (o *ctxObject) Keys() []string {
	if o.rt.env == nil {
		return nil
	}
	v, _ := o.rt.env.Var(o.prefix)
	var keys []string
	switch m := v.(type) {
	case map[string]any:
		for k := range m {
			keys = append(keys, k)
		}
	case map[string]string:
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func (p *jsProg) eval(ctx context.Context, env Env) (bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	limit := DefaultJSTimeout
	if dl, ok := ctx.Deadline(); ok {
		if limit = time.Until(dl); limit <= 0 {
			return false, context.DeadlineExceeded
		}
	}
	rt := p.pool.Get().(*jsRuntime)
	rt.env = env
	for i, name := range p.refs {
		rt.set(p.refIdents[i], name, env)
	}
	for _, name := range p.vars {
		rt.set(name, name, env)
	}
	rt.vm.ClearInterrupt()
	rt.timer.Reset(limit)
	var stopCtx func() bool
	if ctx.Done() != nil {
		stopCtx = context.AfterFunc(ctx, func() { rt.vm.Interrupt(jsInterrupt{"cancelled"}) })
	}
	res, panicked, err := rt.run(p.prog)
	clean := rt.timer.Stop() // false: the interrupt fired (or is firing)
	if stopCtx != nil && !stopCtx() {
		clean = false
	}
	rt.env = nil
	if clean && !panicked && p.reusable {
		p.pool.Put(rt)
	}
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			if r, ok := ie.Value().(jsInterrupt); ok && r.reason == "cancelled" {
				return false, ctx.Err()
			}
			return false, &EvalError{Lang: JavaScript, Source: p.src,
				Err: fmt.Errorf("timed out after %v: %w", limit, context.DeadlineExceeded)}
		}
		return false, &EvalError{Lang: JavaScript, Source: p.src, Err: err}
	}
	return res.ToBoolean(), nil
}

func (rt *jsRuntime) set(ident, name string, env Env) {
	var (
		v  any
		ok bool
	)
	if env != nil {
		v, ok = env.Var(name)
	}
	_ = rt.vm.Set(ident, rt.toJS(name, v, ok))
}

func (rt *jsRuntime) run(prog *goja.Program) (res goja.Value, panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, panicked, err = nil, true, fmt.Errorf("JavaScript engine panic: %v", r)
		}
	}()
	res, err = rt.vm.RunProgram(prog)
	return res, false, err
}

// ---------------------------------------------------------------------------
// Scanner: finds $(name) references outside string, template, regex and
// comment text, the free identifiers, and top-level let/const/class.

type jsKind uint8

const (
	jsIdent jsKind = iota + 1
	jsKeyword
	jsPunct
	jsString
	jsTemplate
	jsNumber
	jsRegex
	jsRef
)

type jsTok struct {
	kind       jsKind
	start, end int
	val        string
}

type jsScan struct {
	src      string
	toks     []jsTok
	refs     []string
	refIdx   []int // per jsRef token: index into refs
	free     []string
	declares bool
}

var jsKeywords = map[string]bool{
	"break": true, "case": true, "catch": true, "class": true, "const": true, "continue": true,
	"debugger": true, "default": true, "delete": true, "do": true, "else": true, "export": true,
	"extends": true, "false": true, "finally": true, "for": true, "function": true, "if": true,
	"import": true, "in": true, "instanceof": true, "new": true, "null": true, "return": true,
	"super": true, "switch": true, "this": true, "throw": true, "true": true, "try": true,
	"typeof": true, "var": true, "void": true, "while": true, "with": true, "yield": true,
	"let": true, "static": true, "enum": true, "await": true, "implements": true, "package": true,
	"protected": true, "interface": true, "private": true, "public": true, "of": true, "async": true,
}

// jsPrefixKeywords are followed by an expression (so "/" starts a regex).
var jsPrefixKeywords = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true, "new": true,
	"delete": true, "void": true, "throw": true, "case": true, "do": true, "else": true,
	"yield": true, "await": true,
}

func isJSIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '$' || c == '_' || c == '\\' || c >= 0x80
}

func isJSIdentPart(c byte) bool {
	return isJSIdentStart(c) || c >= '0' && c <= '9'
}

func scanJS(src string) (*jsScan, error) {
	sc := &jsScan{src: src}
	refIndex := map[string]int{}
	var tmplDepth []int // brace depth inside each open ${ ... }
	prefix := func() bool {
		if len(sc.toks) == 0 {
			return true
		}
		t := sc.toks[len(sc.toks)-1]
		switch t.kind {
		case jsPunct:
			return t.val != ")" && t.val != "]" && t.val != "}"
		case jsKeyword:
			return jsPrefixKeywords[t.val]
		}
		return false
	}
	pos := 0
	for pos < len(src) {
		c := src[pos]
		start := pos
		next := byte(0)
		if pos+1 < len(src) {
			next = src[pos+1]
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			pos++
		case c == '/' && next == '/':
			for pos < len(src) && src[pos] != '\n' {
				pos++
			}
		case c == '/' && next == '*':
			end := strings.Index(src[pos+2:], "*/")
			if end < 0 {
				pos = len(src)
			} else {
				pos += 2 + end + 2
			}
		case c == '/' && prefix():
			pos = scanJSRegex(src, pos)
			sc.toks = append(sc.toks, jsTok{kind: jsRegex, start: start, end: pos})
		case c == '\'' || c == '"':
			end, ok := scanQuoted(src, pos, c)
			if !ok {
				end = len(src)
			}
			pos = end
			sc.toks = append(sc.toks, jsTok{kind: jsString, start: start, end: pos})
		case c == '`' || c == '}' && len(tmplDepth) > 0 && tmplDepth[len(tmplDepth)-1] == 0:
			if c == '}' {
				tmplDepth = tmplDepth[:len(tmplDepth)-1]
			}
			end, opens := scanTemplateChunk(src, pos+1)
			pos = end
			if opens {
				tmplDepth = append(tmplDepth, 0)
			}
			sc.toks = append(sc.toks, jsTok{kind: jsTemplate, start: start, end: pos})
		case c == '$' && next == '(':
			end := strings.IndexByte(src[pos+2:], ')')
			if end < 0 {
				line, col := lineCol(src, pos)
				return nil, &SyntaxError{Lang: JavaScript, Source: src, Line: line, Column: col,
					Msg: "unterminated $( reference: missing )"}
			}
			name := strings.TrimSpace(src[pos+2 : pos+2+end])
			if name == "" {
				line, col := lineCol(src, pos)
				return nil, &SyntaxError{Lang: JavaScript, Source: src, Line: line, Column: col,
					Msg: "empty $() reference"}
			}
			idx, ok := refIndex[name]
			if !ok {
				idx = len(sc.refs)
				refIndex[name] = idx
				sc.refs = append(sc.refs, name)
			}
			pos += 2 + end + 1
			sc.toks = append(sc.toks, jsTok{kind: jsRef, start: start, end: pos, val: name})
			sc.refIdx = append(sc.refIdx, idx)
		case isJSIdentStart(c):
			for pos < len(src) && isJSIdentPart(src[pos]) {
				pos++
			}
			id := src[start:pos]
			kind := jsIdent
			if jsKeywords[id] {
				kind = jsKeyword
			}
			sc.toks = append(sc.toks, jsTok{kind: kind, start: start, end: pos, val: id})
		case c >= '0' && c <= '9' || c == '.' && next >= '0' && next <= '9':
			for pos < len(src) && (isJSIdentPart(src[pos]) || src[pos] == '.') {
				pos++
			}
			sc.toks = append(sc.toks, jsTok{kind: jsNumber, start: start, end: pos})
		default:
			n := 1
			if c == '?' && next == '.' && (pos+2 >= len(src) || src[pos+2] < '0' || src[pos+2] > '9') {
				n = 2
			}
			if len(tmplDepth) > 0 {
				switch c {
				case '{':
					tmplDepth[len(tmplDepth)-1]++
				case '}':
					tmplDepth[len(tmplDepth)-1]--
				}
			}
			pos += n
			sc.toks = append(sc.toks, jsTok{kind: jsPunct, start: start, end: pos, val: src[start:pos]})
		}
	}
	sc.analyze()
	return sc, nil
}

// scanJSRegex returns the offset after a regular expression literal and its flags.
func scanJSRegex(src string, pos int) int {
	inClass := false
	for i := pos + 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '\n':
			return i
		case '/':
			if !inClass {
				i++
				for i < len(src) && isJSIdentPart(src[i]) {
					i++
				}
				return i
			}
		}
	}
	return len(src)
}

// scanTemplateChunk scans template text from pos up to and including the
// closing backquote (opens == false) or the next "${" (opens == true).
func scanTemplateChunk(src string, pos int) (end int, opens bool) {
	for i := pos; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '`':
			return i + 1, false
		case '$':
			if i+1 < len(src) && src[i+1] == '{' {
				return i + 2, true
			}
		}
	}
	return len(src), false
}

func (sc *jsScan) analyze() {
	seen := map[string]bool{}
	depth := 0
	for i, t := range sc.toks {
		switch t.kind {
		case jsPunct:
			switch t.val {
			case "{", "(", "[":
				depth++
			case "}", ")", "]":
				depth--
			}
		case jsKeyword:
			if (t.val == "let" || t.val == "const" || t.val == "class") && depth <= 0 {
				sc.declares = true
			}
		case jsIdent:
			if i > 0 {
				if p := sc.toks[i-1]; p.kind == jsPunct && (p.val == "." || p.val == "?.") {
					continue // property name
				}
			}
			if !seen[t.val] {
				seen[t.val] = true
				sc.free = append(sc.free, t.val)
			}
		}
	}
}

// segment records one $(name) replacement, for mapping error offsets back.
type segment struct{ outStart, outEnd, origStart, origEnd int }

func (sc *jsScan) rewrite() (string, []segment) {
	if len(sc.refs) == 0 {
		return sc.src, nil
	}
	var b strings.Builder
	var segs []segment
	last, r := 0, 0
	for _, t := range sc.toks {
		if t.kind != jsRef {
			continue
		}
		b.WriteString(sc.src[last:t.start])
		outStart := b.Len()
		b.WriteString(jsRefPrefix)
		b.WriteString(strconv.Itoa(sc.refIdx[r]))
		r++
		segs = append(segs, segment{outStart, b.Len(), t.start, t.end})
		last = t.end
	}
	b.WriteString(sc.src[last:])
	return b.String(), segs
}

func mapOffset(off int, segs []segment) int {
	delta := 0
	for _, s := range segs {
		if off < s.outStart {
			break
		}
		if off < s.outEnd {
			return s.origStart
		}
		delta = (s.origEnd - s.outEnd)
	}
	return off + delta
}

// jsSyntaxError maps a goja parse or compile error to the original source.
func jsSyntaxError(src, rewritten string, segs []segment, err error) error {
	se := &SyntaxError{Lang: JavaScript, Source: src, Msg: err.Error()}
	var list parser.ErrorList
	var one *parser.Error
	var cse *goja.CompilerSyntaxError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		one = list[0]
	case errors.As(err, &one):
	case errors.As(err, &cse):
		se.Msg = cse.Message
		if cse.File != nil {
			pos := cse.File.Position(cse.Offset)
			se.Line, se.Column = lineCol(src, mapOffset(offsetOf(rewritten, pos.Line, pos.Column), segs))
		}
		return se
	default:
		return se
	}
	se.Msg = one.Message
	if one.Position.Line > 0 {
		se.Line, se.Column = lineCol(src, mapOffset(offsetOf(rewritten, one.Position.Line, one.Position.Column), segs))
	}
	se.Msg = strings.ReplaceAll(se.Msg, jsRefPrefix, "$ref")
	return se
}

// offsetOf converts goja's 1-based line and byte column to a byte offset.
func offsetOf(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	off += col - 1
	if off < 0 {
		return 0
	}
	if off > len(src) {
		return len(src)
	}
	return off
}
