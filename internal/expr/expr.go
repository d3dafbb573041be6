// Package expr compiles and evaluates the expressions found in API Connect
// assemblies: switch/if conditions (JSONata for the DataPower API Gateway,
// JavaScript for the v5-compatible DataPower Gateway) and JSONata value
// expressions (map policy, extract).
//
// Everything is parsed once, at load time. An evaluation only binds the
// per-request values: $(var) references, the API Connect extension functions
// ($httpVerb(), $header(name), ...) and, when the expression navigates paths
// from the root of the API context, the context document itself.
//
// The package never imports the assembly engine: the engine's per-request
// context implements Env.
package expr

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Env is what an expression reads during one evaluation. The assembly's per-request
// context implements it; expr never imports the assembly package.
type Env interface {
	// Var returns a context variable by dotted name: "request.verb", "message.status.code",
	// "request.headers.content-type" (header names are case-insensitive; the implementation handles that),
	// "api.operation.path", "iam.body.access_token", "myApi". ok is false when unset.
	// Values are JSON-like: string, float64, int, bool, nil, map[string]any, []any.
	Var(name string) (v any, ok bool)
	// Root returns the whole context as a JSON-like document (map with keys request, message, api, plus user
	// variables). Header maps in it are keyed by lower-case header name. It may be costly: call it only for
	// expressions that navigate paths from the root or call $apiCtx().
	Root() map[string]any
}

// StorageTyper may be implemented by body values the Env returns, to give
// $storageType() its exact answer ("binary", "empty", "graphql", "json",
// "stream" or "xml"). Without it the type is derived from the Go value.
type StorageTyper interface {
	StorageType() string
}

// Lang is the language of a condition.
type Lang int

const (
	// Auto tries JSONata first and falls back to JavaScript when the source is
	// not JSONata: it does not compile, or it calls a function without a
	// leading $ (apim.getvariable(...), which JSONata can never evaluate), or
	// it only compares $(var) references with !=, <, >, <= or >= (v5 style,
	// where "$(message.status.code) != '200'" relies on JavaScript's loose
	// comparison; as JSONata a number never equals a string). Files that omit
	// the gateway are the older, v5-era ones.
	Auto Lang = iota
	// JSONata is the condition language of the DataPower API Gateway
	// (x-ibm-configuration gateway: datapower-api-gateway).
	JSONata
	// JavaScript is the condition language of the v5-compatible DataPower
	// Gateway (gateway: datapower-gateway).
	JavaScript
)

func (l Lang) String() string {
	switch l {
	case Auto:
		return "auto"
	case JSONata:
		return "JSONata"
	case JavaScript:
		return "JavaScript"
	}
	return fmt.Sprintf("Lang(%d)", int(l))
}

// LangForGateway maps the x-ibm-configuration "gateway" value to the condition
// language: datapower-api-gateway → JSONata, datapower-gateway → JavaScript,
// anything else (including "") → Auto.
func LangForGateway(gateway string) Lang {
	switch strings.TrimSpace(gateway) {
	case "datapower-api-gateway":
		return JSONata
	case "datapower-gateway":
		return JavaScript
	}
	return Auto
}

// SyntaxError is returned by CompileCondition and CompileJSONata when the
// source does not compile. Line and Column are 1-based and count characters
// (runes) of the original source; Column is 0 when the position is unknown.
type SyntaxError struct {
	Lang   Lang
	Source string
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("expr: ")
	b.WriteString(e.Lang.String())
	b.WriteString(" syntax error")
	switch {
	case e.Column > 0 && e.Line > 1:
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	case e.Column > 0:
		fmt.Fprintf(&b, " at column %d", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	fmt.Fprintf(&b, " in %q", e.Source)
	return b.String()
}

// autoError is returned in Auto mode when the source is neither JSONata nor
// JavaScript. errors.As finds either *SyntaxError through Unwrap.
type autoError struct {
	jsonata, js error
}

func (e *autoError) Error() string {
	return "expr: condition is neither JSONata nor JavaScript: " +
		strings.TrimPrefix(e.jsonata.Error(), "expr: ") + "; " +
		strings.TrimPrefix(e.js.Error(), "expr: ")
}

func (e *autoError) Unwrap() []error { return []error{e.jsonata, e.js} }

// Condition is compiled once at load time and is safe for concurrent use.
type Condition struct {
	src  string
	lang Lang // resolved: JSONata or JavaScript
	jn   *jsonataProg
	js   *jsProg
}

// CompileCondition compiles a switch/if condition. With Auto, JSONata is tried
// first and JavaScript second. Errors say what is wrong and where (column).
func CompileCondition(src string, lang Lang) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		l := lang
		if l == Auto {
			l = JSONata
		}
		return nil, &SyntaxError{Lang: l, Source: src, Msg: "empty condition"}
	}
	switch lang {
	case JSONata:
		p, err := compileJSONata(src)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				if _, jsErr := compileJS(src); jsErr == nil {
					se.Msg += " (the condition is valid JavaScript: is the gateway datapower-gateway?)"
				}
			}
			return nil, err
		}
		return &Condition{src: src, lang: JSONata, jn: p}, nil
	case JavaScript:
		p, err := compileJS(src)
		if err != nil {
			return nil, err
		}
		return &Condition{src: src, lang: JavaScript, js: p}, nil
	case Auto:
		jn, jnErr := compileJSONata(src)
		if jnErr == nil && !jn.preferJS {
			return &Condition{src: src, lang: JSONata, jn: jn}, nil
		}
		js, jsErr := compileJS(src)
		if jsErr == nil {
			return &Condition{src: src, lang: JavaScript, js: js}, nil
		}
		if jnErr == nil {
			return &Condition{src: src, lang: JSONata, jn: jn}, nil
		}
		return nil, &autoError{jsonata: jnErr, js: jsErr}
	}
	return nil, fmt.Errorf("expr: unknown condition language %v", lang)
}

// Eval evaluates the condition. JSONata results are cast like $boolean()
// (a missing variable gives undefined, hence false); JavaScript results use
// JavaScript truthiness. Errors are runtime errors (type errors, unknown
// functions, timeouts, cancelled ctx).
func (c *Condition) Eval(ctx context.Context, env Env) (bool, error) {
	if c.jn != nil {
		v, err := c.jn.evalCondition(ctx, env)
		if err != nil {
			return false, err
		}
		return truthy(v), nil
	}
	return c.js.eval(ctx, env)
}

// String returns the source of the condition.
func (c *Condition) String() string { return c.src }

// Lang returns the language the condition was compiled as (never Auto).
func (c *Condition) Lang() Lang { return c.lang }

// Expression is a JSONata expression producing a value (map policy, extract).
// It is compiled once and is safe for concurrent use.
type Expression struct {
	p *jsonataProg
}

// CompileJSONata compiles a JSONata expression with the API Connect
// extensions and $(var) references.
func CompileJSONata(src string) (*Expression, error) {
	p, err := compileJSONata(src)
	if err != nil {
		return nil, err
	}
	return &Expression{p: p}, nil
}

// Eval evaluates the expression. input is the focus document (paths navigate
// from it); the API Connect functions and $(var) references read env, which
// may be nil. The result is JSON-like (map[string]any, []any, string,
// float64, bool, nil); both undefined and JSON null give nil, see EvalDefined.
func (e *Expression) Eval(ctx context.Context, env Env, input any) (any, error) {
	v, _, err := e.EvalDefined(ctx, env, input)
	return v, err
}

// EvalDefined is Eval that also tells undefined (defined == false: no match,
// nothing to set) from a JSON null result (nil, true).
func (e *Expression) EvalDefined(ctx context.Context, env Env, input any) (v any, defined bool, err error) {
	raw, err := e.p.evalExpression(ctx, env, input)
	if err != nil || raw == nil {
		return nil, false, err
	}
	return jsonataResult(raw), true, nil
}

// String returns the source of the expression.
func (e *Expression) String() string { return e.p.src }
