package gatewayscript

import (
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// scriptName is the file name goja gives the script in stack traces.
const scriptName = "gatewayscript.js"

// wrapPrefix and wrapSuffix make the script the body of a function, as
// DataPower runs it (a top-level return is allowed, var stays local). The
// prefix is on the script's first line, so line numbers stay the same.
const (
	wrapPrefix = "(function(){"
	wrapSuffix = "\n})"
)

// location maps a line of the script to the line of the YAML file.
type location struct {
	file  string
	line  int  // line of the source node
	block bool // a literal or folded block: line k of the script is line+k
}

func (l location) yamlLine(scriptLine int) int {
	if l.block {
		return l.line + scriptLine
	}
	// A quoted or plain scalar (JSON documents): the script's lines are
	// escapes on the node's own line.
	return l.line
}

// describe says where a script line is, for messages.
func (l location) describe(scriptLine int) string {
	if scriptLine <= 0 {
		return l.file
	}
	return fmt.Sprintf("line %d of the script, %s:%d", scriptLine, l.file, l.yamlLine(scriptLine))
}

// knownModules are the modules require() provides. apim.custom.js is how
// v5 scripts reached the apim object.
var knownModules = map[string]bool{
	"header-metadata": true, "url": true, "querystring": true, "util": true, "crypto": true,
	"apim": true, "service-metadata": true, "./apim.custom.js": true, "local:///isp/policy/apim.custom.js": true,
}

func moduleList() string {
	return "header-metadata, url, querystring, util, crypto, apim, service-metadata"
}

// compileProgram parses and compiles the script. A syntax error is a load
// warning on the YAML line of the error, and the policy then fails every
// run with a JavaScriptError: API Connect accepts such an API and fails
// when the script runs. A require() of a module Portico lacks is a warning
// too (the script fails only if it gets there).
func (e *Engine) compileProgram(b *assembly.Builder, sn apidef.Node, kind string) (*program, bool) {
	src := sn.Str()
	// Messages name the file without its directory: runtime errors
	// reach clients, which need not learn the gateway's paths.
	loc := location{file: filepath.Base(sn.File), line: sn.Line(), block: sn.Y != nil && sn.Y.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0}
	if d := nestingDepth(src); d > maxDepth {
		b.Report(sn.Problem(fmt.Sprintf("the script nests brackets %d deep, more than the %d Portico accepts", d, maxDepth),
			"flatten the script"))
		return nil, false
	}
	tree, prog, err := parseScript(src)
	if err != nil {
		p := syntaxProblem(sn, loc, err)
		p.Warn = true
		b.Report(p)
		return &program{eng: e, kind: kind, loc: loc, broken: p.Msg}, true
	}
	if line, found := bigIntLiteral(tree); found {
		p := sn.Problem(fmt.Sprintf("the script uses a BigInt literal (%s): Portico does not support BigInt, whose operators can allocate without limit",
			loc.describe(line)), "use numbers, or strings for large values")
		p.Line, p.Column = loc.yamlLine(line), 0
		b.Report(p)
		return nil, false
	}
	for _, r := range requiredModules(tree) {
		if !knownModules[r.name] {
			p := sn.Warning(fmt.Sprintf("require('%s'): Portico does not provide module %s; the script fails with a JavaScriptError when it gets there (%s)",
				r.name, r.name, loc.describe(r.line)), "the modules available are "+moduleList())
			p.Line, p.Column = loc.yamlLine(r.line), 0
			b.Report(p)
		}
	}
	return &program{eng: e, kind: kind, prog: prog, loc: loc}, true
}

// parseScript wraps, parses and compiles the script.
func parseScript(src string) (tree *ast.Program, prog *goja.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot compile the script: %v", r)
		}
	}()
	tree, err = parser.ParseFile(nil, scriptName, wrapPrefix+src+wrapSuffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, nil, err
	}
	prog, err = goja.CompileAST(tree, false)
	return tree, prog, err
}

// syntaxProblem locates a parse or compile error on the YAML line.
func syntaxProblem(sn apidef.Node, loc location, err error) apidef.Problem {
	line, col, msg := 0, 0, err.Error()
	var list parser.ErrorList
	var one *parser.Error
	var cerr *goja.CompilerSyntaxError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		line, col, msg = list[0].Position.Line, list[0].Position.Column, list[0].Message
	case errors.As(err, &one):
		line, col, msg = one.Position.Line, one.Position.Column, one.Message
	case errors.As(err, &cerr) && cerr.File != nil:
		pos := cerr.File.Position(cerr.Offset)
		line, col, msg = pos.Line, pos.Column, cerr.Message
	}
	if line == 1 {
		col -= len(wrapPrefix)
	}
	text := "JavaScript syntax error: " + msg
	if line > 0 {
		text += fmt.Sprintf(" (line %d, column %d of the script)", line, col)
	}
	p := sn.Problem(text, "fix the script; every call that runs it fails until then")
	if line > 0 {
		p.Line, p.Column = loc.yamlLine(line), 0
	}
	return p
}

// nestingDepth is the deepest nesting of brackets in s, counted roughly
// (brackets in strings count too). goja's parser and JSON.parse recurse
// once per level, and a goroutine's stack is finite.
func nestingDepth(s string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
			}
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

type requireCall struct {
	name string
	line int
}

// requiredModules finds require('literal') calls in the parsed script.
func requiredModules(tree *ast.Program) []requireCall {
	var out []requireCall
	seen := map[string]bool{}
	walkAST(reflect.ValueOf(tree), func(n ast.Node) {
		call, ok := n.(*ast.CallExpression)
		if !ok || len(call.ArgumentList) == 0 {
			return
		}
		id, ok := call.Callee.(*ast.Identifier)
		if !ok || id.Name != "require" {
			return
		}
		lit, ok := call.ArgumentList[0].(*ast.StringLiteral)
		if !ok || seen[lit.Value.String()] {
			return
		}
		seen[lit.Value.String()] = true
		pos := tree.File.Position(int(lit.Idx) - tree.File.Base())
		out = append(out, requireCall{name: lit.Value.String(), line: pos.Line})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

var nodeType = reflect.TypeOf((*ast.Node)(nil)).Elem()

// walkAST visits every ast.Node reachable from v. goja's ast has no
// visitor; reflection keeps this short, and it runs at load time only.
func walkAST(v reflect.Value, visit func(ast.Node)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Type().Implements(nodeType) {
			visit(v.Interface().(ast.Node))
		}
		walkAST(v.Elem(), visit)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanInterface() {
				walkAST(f, visit)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkAST(v.Index(i), visit)
		}
	}
}

// scriptLine finds the line of the script where an exception was thrown:
// the innermost frame that belongs to the script.
func scriptLine(frames []goja.StackFrame) int {
	for i := range frames {
		if frames[i].SrcName() == scriptName {
			return frames[i].Position().Line
		}
	}
	return 0
}

// maxErrorText caps the rendering of a thrown value: it goes into the
// error's message, which reaches clients and logs.
const maxErrorText = 1000

// errorText renders a thrown value: "TypeError: …" for errors, JSON for
// other objects, the value itself for anything else.
func (rt *jsrt) errorText(v goja.Value) string {
	if v == nil {
		return "exception"
	}
	s := v.String()
	if o, ok := v.(*goja.Object); ok && o.ClassName() != "Error" && strings.HasPrefix(s, "[object ") {
		f := &formatter{rt: rt}
		f.json(o)
		s = "uncaught " + f.b.String()
	}
	if len(s) > maxErrorText {
		s = s[:maxErrorText] + "…"
	}
	return s
}

// hasBigInt reports whether code has a BigInt literal. A cheap look for a
// digit followed by n comes first; only then is the code parsed.
func hasBigInt(code string) bool {
	maybe := false
	for i := 1; i < len(code); i++ {
		if code[i] == 'n' && code[i-1] >= '0' && code[i-1] <= '9' {
			maybe = true
			break
		}
	}
	if !maybe {
		return false
	}
	tree, err := parser.ParseFile(nil, "", code, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return false
	}
	_, found := bigIntLiteral(tree)
	return found
}

// bigIntLiteral finds the first BigInt literal of a parsed program.
func bigIntLiteral(tree *ast.Program) (line int, found bool) {
	walkAST(reflect.ValueOf(tree), func(n ast.Node) {
		lit, ok := n.(*ast.NumberLiteral)
		if !ok || found {
			return
		}
		if _, isBig := lit.Value.(*big.Int); isBig {
			found = true
			line = tree.File.Position(int(lit.Idx) - tree.File.Base()).Line
		}
	})
	return line, found
}
