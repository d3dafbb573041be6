package expr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/recolabs/gnata"
)

// How a JSONata source is turned into something gnata evaluates:
//
//   - $(name) becomes the variable $__v<i>, bound per evaluation to
//     Env.Var(name).
//   - A call to an API Connect function, $header('x'), becomes
//     $header($__env, 'x'). $header is bound to a function value created once
//     for the whole process, and $__env to the per-evaluation state, so the
//     function finds the Env of its own evaluation without any per-call
//     closure or shared mutable state.
//   - A path segment after "headers." is lower-cased (header maps in
//     Env.Root() are keyed by lower-case names), so request.headers.SR matches.
//
// The scan also decides whether the expression navigates the context from
// its root; only then does an evaluation call Env.Root().

const (
	envVar    = "__env" // per-evaluation *evalState
	refPrefix = "__v"   // $(name) references: __v0, __v1, ...
)

// rootUse says how much of Env.Root() a condition needs.
type rootUse uint8

const (
	rootNone rootUse = iota // no path from the root: Env.Root() is never called for the focus
	rootKeys                // only the top-level keys in jsonataProg.rootKeys
	rootFull                // the whole document ($, $$, wildcards, context-defaulted functions, ...)
)

type jsonataProg struct {
	src       string
	rewritten string
	expr      *gnata.Expression
	refs      []string // $(name) references; refs[i] is bound as $__v<i>
	refVars   []string // "__v0", "__v1", ...
	funcs     []string // API Connect functions the source mentions
	root      rootUse
	rootKeys  []string
	preferJS  bool      // only $(ref) comparisons with != < > <= >=: see CompileCondition
	callPool  sync.Pool // *jsonataCall
	funcTable map[string]any
}

// jsonataCall is the per-evaluation scratch space, pooled per program.
type jsonataCall struct {
	vars map[string]any
	st   evalState
}

// evalState is what the API Connect functions see of one evaluation.
type evalState struct {
	env      Env
	root     map[string]any // normalized Env.Root(), built on first use
	rootDone bool
}

func (st *evalState) fullRoot() map[string]any {
	if !st.rootDone {
		st.rootDone = true
		if st.env != nil {
			if r := st.env.Root(); r != nil {
				st.root = normalizeMap(r, 0)
			}
		}
	}
	return st.root
}

func (st *evalState) reset() {
	st.env = nil
	st.root = nil
	st.rootDone = false
}

func compileJSONata(src string) (*jsonataProg, error) {
	sc, err := scanJSONata(src)
	if err != nil {
		return nil, err
	}
	rewritten := sc.output(len(sc.toks))
	ge, err := gnata.Compile(rewritten)
	if err != nil {
		return nil, sc.locateError(err)
	}
	if sc.bareCall >= 0 {
		t := &sc.toks[sc.bareCall]
		line, col := lineCol(src, t.start)
		return nil, &SyntaxError{Lang: JSONata, Source: src, Line: line, Column: col,
			Msg: strconv.Quote(t.val+"(") + " calls a function without $ (JSONata functions are called as $name(...))"}
	}
	p := &jsonataProg{
		src:       src,
		rewritten: rewritten,
		expr:      ge,
		refs:      sc.refs,
		funcs:     sc.funcs,
		root:      sc.root,
		rootKeys:  sc.rootKeys,
		preferJS:  sc.preferJS,
		funcTable: apicFunctions(),
	}
	p.refVars = make([]string, len(p.refs))
	for i := range p.refs {
		p.refVars[i] = refPrefix + strconv.Itoa(i)
	}
	p.callPool.New = func() any {
		c := &jsonataCall{vars: make(map[string]any, 1+len(p.refs)+len(p.funcs))}
		c.vars[envVar] = &c.st
		for _, f := range p.funcs {
			c.vars[f] = p.funcTable[f]
		}
		return c
	}
	return p, nil
}

// evalCondition evaluates with the context root as the focus document.
func (p *jsonataProg) evalCondition(ctx context.Context, env Env) (any, error) {
	c := p.acquire(env)
	defer p.release(c)
	var data any
	switch p.root {
	case rootFull:
		if r := c.st.fullRoot(); r != nil {
			data = r
		}
	case rootKeys:
		if env != nil {
			if r := env.Root(); r != nil {
				sub := make(map[string]any, len(p.rootKeys))
				for _, k := range p.rootKeys {
					if v, ok := r[k]; ok {
						sub[k] = normalize(v, 0)
					}
				}
				data = sub
			}
		}
	}
	return p.eval(ctx, c, data)
}

// evalExpression evaluates with input as the focus document.
func (p *jsonataProg) evalExpression(ctx context.Context, env Env, input any) (any, error) {
	c := p.acquire(env)
	defer p.release(c)
	return p.eval(ctx, c, normalize(input, 0))
}

func (p *jsonataProg) acquire(env Env) *jsonataCall {
	c := p.callPool.Get().(*jsonataCall)
	c.st.env = env
	for i, name := range p.refs {
		var v any // unset: undefined
		if env != nil {
			if x, ok := env.Var(name); ok {
				if x == nil {
					v = jsonataNull()
				} else {
					v = normalize(x, 0)
				}
			}
		}
		c.vars[p.refVars[i]] = v
	}
	return c
}

// jsonataNull is gnata's JSON null value (distinct from Go nil, which is
// undefined). gnata does not export it; the literal null evaluates to it.
var jsonataNull = sync.OnceValue(func() any {
	e, err := gnata.Compile("null")
	if err != nil {
		panic("expr: gnata cannot compile null: " + err.Error())
	}
	v, err := e.Eval(context.Background(), nil)
	if err != nil || !gnata.IsNull(v) {
		panic("expr: gnata's null literal is not its null value")
	}
	return v
})

func (p *jsonataProg) release(c *jsonataCall) {
	c.st.reset()
	for _, rv := range p.refVars {
		c.vars[rv] = nil
	}
	p.callPool.Put(c)
}

func (p *jsonataProg) eval(ctx context.Context, c *jsonataCall, data any) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	v, err := p.expr.EvalWithVars(ctx, data, c.vars)
	if err != nil {
		return nil, &EvalError{Lang: JSONata, Source: p.src, Err: err}
	}
	return v, nil
}

// EvalError is a run-time error of a condition or expression.
type EvalError struct {
	Lang   Lang
	Source string
	Err    error
}

func (e *EvalError) Error() string {
	return "expr: " + e.Lang.String() + " evaluation of " + strconv.Quote(e.Source) + ": " + e.Err.Error()
}

func (e *EvalError) Unwrap() error { return e.Err }

// ---------------------------------------------------------------------------
// Scanner

type jkind uint8

const (
	jName   jkind = iota + 1 // field name (plain or `backtick`)
	jVar                     // $name, $ and $$
	jString                  // '...' or "..."
	jNumber
	jValue // true, false, null
	jRegex
	jOp  // operators and punctuation, including and/or/in in infix position
	jRef // $(name)
)

type jtok struct {
	kind       jkind
	start, end int    // byte offsets in the source
	val        string // name, variable name (without $), operator, reference name
	text       string // replacement text; "" keeps src[start:end]
	replaced   bool
}

type jsonataScan struct {
	src      string
	toks     []jtok
	refs     []string
	funcs    []string
	root     rootUse
	rootKeys []string
	preferJS bool
	// bareCall is the index of the first name(...) call: a function called
	// without $ (apim.getvariable(...)), which JSONata can never evaluate.
	bareCall int
}

// isJStop mirrors gnata's lexer: the characters that end an identifier.
func isJStop(ch byte) bool {
	switch ch {
	case ' ', '\t', '\n', '\r', '\v',
		'.', '[', ']', '{', '}', '(', ')', ',', '@', '#', ';', ':', '?',
		'+', '-', '*', '/', '%', '|', '=', '<', '>', '^', '&', '!', '~':
		return true
	}
	return false
}

func isJSpace(ch byte) bool {
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v'
}

var jTwoCharOps = [...]string{"..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??"}

const jSingleCharOps = ".[]{}(),@#;:?+-*/%|=<>^&!~"

func scanJSONata(src string) (*jsonataScan, error) {
	sc := &jsonataScan{src: src, bareCall: -1}
	fail := func(pos int, msg string) error {
		line, col := lineCol(src, pos)
		return &SyntaxError{Lang: JSONata, Source: src, Line: line, Column: col, Msg: msg}
	}
	pos, infix := 0, false
	for {
		for pos < len(src) && isJSpace(src[pos]) {
			pos++
		}
		if pos >= len(src) {
			break
		}
		start, ch := pos, src[pos]
		next := byte(0)
		if pos+1 < len(src) {
			next = src[pos+1]
		}
		switch {
		case ch == '/' && next == '*':
			end := strings.Index(src[pos+2:], "*/")
			if end < 0 {
				return nil, fail(start, "unclosed comment /*")
			}
			pos += 2 + end + 2
			continue
		case ch == '/' && !infix:
			end, ok := scanJSONataRegex(src, pos)
			if !ok {
				return nil, fail(start, "unterminated regular expression")
			}
			sc.toks = append(sc.toks, jtok{kind: jRegex, start: start, end: end})
			pos, infix = end, true
			continue
		case ch == '$' && next == '(':
			end := strings.IndexByte(src[pos+2:], ')')
			if end < 0 {
				return nil, fail(start, "unterminated $( reference: missing )")
			}
			name := strings.TrimSpace(src[pos+2 : pos+2+end])
			if name == "" {
				return nil, fail(start, "empty $() reference")
			}
			sc.toks = append(sc.toks, jtok{kind: jRef, start: start, end: pos + 2 + end + 1, val: name})
			pos, infix = pos+2+end+1, true
			continue
		}
		if pos+1 < len(src) {
			two := src[pos : pos+2]
			isTwo := false
			for _, op := range jTwoCharOps {
				if two == op {
					isTwo = true
					break
				}
			}
			if isTwo {
				sc.toks = append(sc.toks, jtok{kind: jOp, start: start, end: pos + 2, val: two})
				pos += 2
				infix = two == "**" && !infix // descendant wildcard is a value
				continue
			}
		}
		if strings.IndexByte(jSingleCharOps, ch) >= 0 {
			sc.toks = append(sc.toks, jtok{kind: jOp, start: start, end: pos + 1, val: src[pos : pos+1]})
			pos++
			switch ch {
			case ')', ']', '}':
				infix = true
			case '*', '%':
				infix = !infix // wildcard / parent in prefix position are values
			default:
				infix = false
			}
			continue
		}
		switch {
		case ch == '"' || ch == '\'':
			end, ok := scanQuoted(src, pos, ch)
			if !ok {
				return nil, fail(start, "unterminated string literal")
			}
			sc.toks = append(sc.toks, jtok{kind: jString, start: start, end: end})
			pos, infix = end, true
			continue
		case ch >= '0' && ch <= '9':
			end := scanJSONataNumber(src, pos)
			sc.toks = append(sc.toks, jtok{kind: jNumber, start: start, end: end})
			pos, infix = end, true
			continue
		case ch == '`':
			end := strings.IndexByte(src[pos+1:], '`')
			if end < 0 {
				return nil, fail(start, "unterminated `name`")
			}
			sc.toks = append(sc.toks, jtok{kind: jName, start: start, end: pos + 1 + end + 1, val: src[pos+1 : pos+1+end]})
			pos, infix = pos+1+end+1, true
			continue
		}
		for pos < len(src) && !isJStop(src[pos]) {
			pos++
		}
		id := src[start:pos]
		if id == "" { // unreachable: every stop character is handled above
			pos++
			continue
		}
		switch {
		case id[0] == '$':
			sc.toks = append(sc.toks, jtok{kind: jVar, start: start, end: pos, val: id[1:]})
			infix = true
		case (id == "and" || id == "or" || id == "in") && infix:
			sc.toks = append(sc.toks, jtok{kind: jOp, start: start, end: pos, val: id})
			infix = false
		case id == "true" || id == "false" || id == "null":
			sc.toks = append(sc.toks, jtok{kind: jValue, start: start, end: pos, val: id})
			infix = true
		default:
			sc.toks = append(sc.toks, jtok{kind: jName, start: start, end: pos, val: id})
			infix = true
		}
	}
	sc.analyze()
	return sc, nil
}

func scanJSONataRegex(src string, pos int) (end int, ok bool) {
	i, depth := pos+1, 0
	for i < len(src) {
		switch src[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '/':
			if depth == 0 {
				bs := 0
				for j := i - 1; j > pos && src[j] == '\\'; j-- {
					bs++
				}
				if bs%2 == 0 {
					i++
					for i < len(src) && (src[i] >= 'a' && src[i] <= 'z' || src[i] >= 'A' && src[i] <= 'Z') {
						i++
					}
					return i, true
				}
			}
		}
		i++
	}
	return 0, false
}

// scanQuoted returns the offset after the closing quote.
func scanQuoted(src string, pos int, quote byte) (int, bool) {
	for i := pos + 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case quote:
			return i + 1, true
		}
	}
	return 0, false
}

func scanJSONataNumber(src string, pos int) int {
	isDigit := func(i int) bool { return i < len(src) && src[i] >= '0' && src[i] <= '9' }
	i := pos
	if src[i] == '0' {
		i++
	} else {
		for isDigit(i) {
			i++
		}
	}
	if i < len(src) && src[i] == '.' && isDigit(i+1) {
		for i++; isDigit(i); i++ {
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		for isDigit(i) {
			i++
		}
	}
	return i
}

// focusFunctions are the gnata built-ins that read the focus (context) when
// called with fewer arguments than arity: given the root as focus they could
// see keys the scan did not record.
var focusFunctions = map[string]int{
	"string": 1, "number": 1, "trim": 1, "uppercase": 1, "lowercase": 1,
	"contains": 2, "match": 2, "replace": 3, "formatBase": 1, "fromMillis": 1,
	"sift": 2, "each": 2, "map": 2, "filter": 2, "single": 2, "reduce": 2, "sort": 1,
}

func (sc *jsonataScan) analyze() {
	toks := sc.toks
	tokAt := func(i int) *jtok {
		if i < 0 || i >= len(toks) {
			return nil
		}
		return &toks[i]
	}
	isOp := func(t *jtok, op string) bool { return t != nil && t.kind == jOp && t.val == op }
	refIndex := map[string]int{}
	funcSeen := map[string]bool{}
	keySeen := map[string]bool{}
	root := rootNone
	full := func() { root = rootFull }
	for i := range toks {
		t := &toks[i]
		prev, next := tokAt(i-1), tokAt(i+1)
		switch t.kind {
		case jRef:
			idx, ok := refIndex[t.val]
			if !ok {
				idx = len(sc.refs)
				refIndex[t.val] = idx
				sc.refs = append(sc.refs, t.val)
			}
			t.text, t.replaced = "$"+refPrefix+strconv.Itoa(idx), true
		case jVar:
			switch {
			case t.val == "" || t.val == "$": // $ and $$: the focus / root itself
				full()
			case isAPICFunction(t.val):
				if !funcSeen[t.val] {
					funcSeen[t.val] = true
					sc.funcs = append(sc.funcs, t.val)
				}
				if isOp(next, "(") {
					inject := "($" + envVar
					if nn := tokAt(i + 2); nn != nil && !isOp(nn, ")") {
						inject += ", "
					}
					next.text, next.replaced = inject, true
				}
			case t.val == "eval":
				full()
			default:
				if arity, ok := focusFunctions[t.val]; ok && isOp(next, "(") {
					if countArgs(toks, i+1) < arity {
						full()
					}
				}
			}
		case jName:
			if isOp(prev, ".") {
				// A step. Lower-case a header name: request.headers.SR → request.headers.sr.
				if pp := tokAt(i - 2); pp != nil && pp.kind == jName && pp.val == "headers" {
					if low := asciiLower(t.val); low != t.val {
						t.val = low
						if sc.src[t.start] == '`' {
							t.text = "`" + low + "`"
						} else {
							t.text = low
						}
						t.replaced = true
					}
				}
				if isOp(next, "(") && sc.bareCall < 0 {
					sc.bareCall = i // path.fn(...): a JavaScript method call
				}
				continue
			}
			if (t.val == "function" || t.val == "λ") && isOp(next, "(") {
				continue // lambda
			}
			if isOp(next, "(") && sc.bareCall < 0 {
				sc.bareCall = i // fn(...) without $
			}
			if root == rootNone {
				root = rootKeys
			}
			if !keySeen[t.val] {
				keySeen[t.val] = true
				sc.rootKeys = append(sc.rootKeys, t.val)
			}
		case jOp:
			switch t.val {
			case "*", "**", "%":
				// Wildcards and the parent operator in value position.
				if prev == nil || !endsValue(prev) {
					full()
				}
			case "@", "#":
				full()
			}
		}
	}
	if root == rootFull {
		sc.rootKeys = nil
	}
	sc.root = root
	sc.preferJS = len(sc.refs) > 0 && refComparisonOnly(toks)
}

// refComparisonOnly reports whether the tokens are nothing but operands and
// the comparison operators JSONata shares with JavaScript (no "=", no
// and/or, no function): `$(message.status.code) != '200'` means different
// things in the two languages (JSONata: number != string is always true).
func refComparisonOnly(toks []jtok) bool {
	for i := range toks {
		t := &toks[i]
		switch t.kind {
		case jRef, jString, jNumber, jValue, jName:
		case jOp:
			switch t.val {
			case ".", "(", ")", "!=", "<", ">", "<=", ">=":
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// endsValue reports whether t can end an operand (so a following * is multiplication).
func endsValue(t *jtok) bool {
	switch t.kind {
	case jName, jVar, jString, jNumber, jValue, jRegex, jRef:
		return true
	case jOp:
		return t.val == ")" || t.val == "]" || t.val == "}"
	}
	return false
}

// countArgs counts the arguments of the call whose "(" is toks[open].
func countArgs(toks []jtok, open int) int {
	depth, n, has := 0, 0, false
	for i := open; i < len(toks); i++ {
		t := &toks[i]
		if t.kind == jOp {
			switch t.val {
			case "(", "[", "{":
				depth++
				if depth == 1 {
					continue
				}
			case ")", "]", "}":
				depth--
				if depth == 0 {
					if has {
						n++
					}
					return n
				}
			case ",":
				if depth == 1 {
					n++
					has = false
					continue
				}
			}
		}
		if depth >= 1 {
			has = true
		}
	}
	return n
}

// output renders the rewritten source up to and including token n-1.
func (sc *jsonataScan) output(n int) string {
	var b strings.Builder
	b.Grow(len(sc.src) + 16*len(sc.refs))
	last := 0
	for i := 0; i < n; i++ {
		t := &sc.toks[i]
		b.WriteString(sc.src[last:t.start])
		if t.replaced {
			b.WriteString(t.text)
		} else {
			b.WriteString(sc.src[t.start:t.end])
		}
		last = t.end
	}
	if n == len(sc.toks) {
		b.WriteString(sc.src[last:])
	}
	return b.String()
}

// locateError turns a gnata compile error (which names a token but not its
// position) into a SyntaxError with a column: it finds the shortest token
// prefix of the source that already fails with a "real" error (not merely
// "unexpected end"), by binary search over prefixes.
func (sc *jsonataScan) locateError(err error) error {
	msg := cleanGnataError(err.Error())
	se := &SyntaxError{Lang: JSONata, Source: sc.src, Msg: msg}
	if isIncompleteError(err.Error()) {
		se.Line, se.Column = lineCol(sc.src, len(strings.TrimRight(sc.src, " \t\r\n\v")))
		return se
	}
	lo, hi := 0, len(sc.toks)-1 // find the smallest k with bad(k)
	found := -1
	for lo <= hi {
		mid := (lo + hi) / 2
		if _, perr := gnata.Compile(sc.output(mid + 1)); perr != nil && !isIncompleteError(perr.Error()) {
			found = mid
			hi = mid - 1
		} else {
			lo = mid + 1
		}
	}
	if found >= 0 {
		se.Line, se.Column = lineCol(sc.src, sc.toks[found].start)
	}
	return se
}

func isIncompleteError(msg string) bool {
	return strings.Contains(msg, `at token "EOF"`) || strings.Contains(msg, `at token ""`) ||
		strings.Contains(msg, "S0207") || strings.Contains(msg, "end of expression")
}

// gnataTokens names gnata's lexer token types (internal/lexer.TokenType,
// v0.2.2), for its "expected token 13, got 0" messages.
var gnataTokens = [...]string{
	"end of expression", "name", "variable", "string", "number", "value", "regex",
	".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%",
	"|", "=", "<", ">", "^", "&", "!", "~", "**", "..", ":=", "!=", "<=", ">=", "~>", "?:", "??",
	"and", "or", "in",
}

func gnataTokenName(n string) string {
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(gnataTokens) {
		return "token " + n
	}
	if i <= int(jRegex) && i != 0 {
		return gnataTokens[i]
	}
	if i == 0 {
		return gnataTokens[0]
	}
	return strconv.Quote(gnataTokens[i])
}

// cleanGnataError shortens `JSONata error S0201 at token "=": unexpected token`
// to `unexpected token "=" (S0201)`.
func cleanGnataError(msg string) string {
	rest, ok := strings.CutPrefix(msg, "JSONata error ")
	if !ok {
		return msg
	}
	code, rest, ok := strings.Cut(rest, " ")
	if !ok || len(code) != 5 {
		return msg
	}
	tok, detail := "", strings.TrimPrefix(rest, ": ")
	if after, ok := strings.CutPrefix(rest, "at token "); ok {
		if t, d, ok := strings.Cut(after, ": "); ok {
			tok, detail = t, d
		}
	}
	var want, got, gotVal string
	if n, _ := fmt.Sscanf(detail, "expected token %s got %s (%s", &want, &got, &gotVal); n == 3 {
		want = strings.TrimSuffix(want, ",")
		if got == "0" {
			detail = "expected " + gnataTokenName(want) + " before the end of the expression"
		} else {
			detail = "expected " + gnataTokenName(want) + ", got " + strings.TrimSuffix(gotVal, ")")
		}
	} else if tok != "" && tok != `""` && tok != `"EOF"` && !strings.Contains(detail, tok) {
		detail += " " + tok
	}
	return detail + " (" + code + ")"
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// lineCol converts a byte offset into a 1-based line and rune column.
func lineCol(src string, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line, col = 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
