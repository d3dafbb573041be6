package mapping

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/expr"
)

// Lang is the language of a map action's value.
type Lang int

const (
	// LangAuto takes JSONata, unless the value can only be JavaScript
	// (see CompileValue). It is what the DataPower API Gateway gets.
	LangAuto Lang = iota
	// LangJavaScript is the v5-compatible gateway's: every value is a
	// JavaScript (GatewayScript) expression.
	LangJavaScript
)

// Value is a compiled map value. Both languages see the same names:
// $(1), $(2), … are the action's from values, $(0) the value being built
// (the running total of a foreach), $(name) a map input by name or else an
// API Connect context variable. In JSONata, $ is the from value (an array of
// them when from lists several).
type Value struct {
	src string
	jn  *expr.Expression
	js  *jsValue
	// fallback runs a JSONata value written in API Connect's style ($(1))
	// as JavaScript when JSONata fails on it: $(1) + $(2) of two strings
	// is an error in JSONata and a concatenation in GatewayScript.
	fallback *jsValue
	// usesInput is false when a JSONata value never reads $, so that no
	// input need be built for it.
	usesInput bool
}

// Source is the expression as written.
func (v *Value) Source() string { return v.src }

// IsJavaScript reports whether the value runs as JavaScript.
func (v *Value) IsJavaScript() bool { return v.js != nil }

// CompileValue compiles a value. With LangAuto it is JSONata when it
// compiles as JSONata and could succeed there; it is JavaScript when it
// does not compile as JSONata, or when it can only fail as JSONata: a method
// call such as $(1).toUpperCase(), or + beside a string ('$' + $(1)),
// which JSONata rejects at run time (T2001) and GatewayScript, API
// Connect's documented language for map values, concatenates. A JSONata
// value with $(n) references also keeps a JavaScript form, run when JSONata
// fails (see Value.fallback).
func CompileValue(src string, lang Lang) (*Value, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty value expression")
	}
	if lang == LangJavaScript {
		js, err := compileJS(src)
		if err != nil {
			return nil, err
		}
		return &Value{src: src, js: js}, nil
	}
	jn, jnErr := expr.CompileJSONata(src)
	if jnErr == nil && !javaScriptOnly(src) {
		v := &Value{src: src, jn: jn, usesInput: readsFocus(src)}
		if hasPositionalRef(src) {
			v.fallback, _ = compileJS(src)
		}
		return v, nil
	}
	js, jsErr := compileJS(src)
	if jsErr == nil {
		return &Value{src: src, js: js}, nil
	}
	if jnErr != nil {
		return nil, fmt.Errorf("%v (nor is it JavaScript: %v)", jnErr, jsErr)
	}
	return &Value{src: src, jn: jn, usesInput: true}, nil
}

// readsFocus reports whether a JSONata source may read its input: it has
// a path (a name outside strings) or $ or $$ on their own. Only $(n) and
// $name references and literals do not.
func readsFocus(src string) bool {
	toks := scanTokens(src)
	for i, t := range toks {
		switch {
		case t.kind == tokName && !jsonataWord[t.text] && !isNumber(t.text):
			if i >= 2 && toks[i-1].text == "(" && toks[i-2].text == "$" { // $(name) is not a path
				continue
			}
			return true
		case t.text == "$" && (i+1 >= len(toks) || toks[i+1].text != "("), t.text == "$$":
			return true
		}
	}
	return false
}

func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != 'e' && s[i] != 'E' {
			return false
		}
	}
	return s != ""
}

// Eval evaluates the value. input is JSONata's $; env answers $(name).
// defined is false when the result is undefined (nothing to set).
func (v *Value) Eval(ctx context.Context, env expr.Env, input any) (any, bool, error) {
	if v.js != nil {
		return v.js.eval(ctx, env)
	}
	res, defined, err := v.jn.EvalDefined(ctx, env, input)
	if err != nil && v.fallback != nil && ctx.Err() == nil {
		if res, defined, jsErr := v.fallback.eval(ctx, env); jsErr == nil {
			return res, defined, nil
		}
	}
	return res, defined, err
}

// hasPositionalRef reports whether src has $(0), $(1), …: API Connect's
// references to from values.
func hasPositionalRef(src string) bool {
	for rest := src; ; {
		i := strings.Index(rest, "$(")
		if i < 0 {
			return false
		}
		rest = rest[i+2:]
		inner, _, found := strings.Cut(rest, ")")
		if found && isNumber(strings.TrimSpace(inner)) {
			return true
		}
	}
}

// javaScriptOnly reports JavaScript that also parses as JSONata but could
// never succeed there: a call of a name without $ (x.toUpperCase(),
// new Date()), or + with a string operand.
func javaScriptOnly(src string) bool {
	toks := scanTokens(src)
	for i, t := range toks {
		switch {
		case t.kind == tokName && i+1 < len(toks) && toks[i+1].text == "(" && !jsonataWord[t.text]:
			return true
		case t.text == "+" && ((i > 0 && toks[i-1].kind == tokString) || (i+1 < len(toks) && toks[i+1].kind == tokString)):
			return true
		}
	}
	return false
}

// jsonataWord are JSONata words that may stand before a parenthesis.
var jsonataWord = map[string]bool{"function": true, "and": true, "or": true, "in": true}

type tokKind uint8

const (
	tokName tokKind = iota + 1
	tokString
	tokOther
)

type token struct {
	kind tokKind
	text string
}

// scanTokens splits a source into names (without a leading $), strings and
// single punctuation characters. It is only used to classify a value.
func scanTokens(src string) []token {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '\'' || c == '"' || c == '`':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 {
				end = len(src) - i - 1
			}
			toks = append(toks, token{kind: tokString, text: src[i : i+end+1]})
			i += end + 2
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokOther, text: src[i:j]})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokName, text: src[i:j]})
			i = j
		default:
			toks = append(toks, token{kind: tokOther, text: src[i : i+1]})
			i++
		}
	}
	return toks
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// valueEnv is the expr.Env of one value evaluation: $(n) and input names
// first, then the API Connect context.
type valueEnv struct {
	ctx      expr.Env
	acc      any
	hasAcc   bool
	froms    []any
	found    []bool
	input    func(name string) (any, bool)
	apicVars bool // mapResolveApicVariables
}

// Var implements expr.Env.
func (e *valueEnv) Var(name string) (any, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		switch {
		case n == 0:
			return e.acc, e.hasAcc
		case n > 0 && n <= len(e.froms):
			return e.froms[n-1], e.found[n-1]
		}
		return nil, false
	}
	if e.input != nil {
		if v, ok := e.input(name); ok {
			return v, true
		}
	}
	if !e.apicVars || e.ctx == nil {
		return nil, false
	}
	return e.ctx.Var(name)
}

// Root implements expr.Env.
func (e *valueEnv) Root() map[string]any {
	if e.ctx == nil {
		return nil
	}
	return e.ctx.Root()
}
