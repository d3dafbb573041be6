package gatewayscript

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// jsonParser is JSON.parse without a reviver, building goja values
// directly. goja's own goes through encoding/json's token API, which
// dominated the cost of a typical script; and goja's recurses without a
// depth limit. This one keeps key order, as JSON.parse must.
type jsonParser struct {
	rt    *jsrt
	s     string
	pos   int
	depth int
}

// jsonSyntaxError is a parse failure, reported as a SyntaxError.
type jsonSyntaxError struct{ msg string }

// parseJSONText parses s; the error is a SyntaxError object.
func (rt *jsrt) parseJSONText(s string) (v goja.Value, jsErr *goja.Object) {
	p := &jsonParser{rt: rt, s: s}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(jsonSyntaxError)
			if !ok {
				panic(r)
			}
			v, jsErr = goja.Undefined(), rt.jsError(rt.syntaxCtor, se.msg)
		}
	}()
	p.space()
	v = p.value()
	p.space()
	if p.pos < len(p.s) {
		p.unexpected()
	}
	return v, nil
}

func (p *jsonParser) unexpected() {
	if p.pos >= len(p.s) {
		panic(jsonSyntaxError{"Unexpected end of JSON input"})
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	panic(jsonSyntaxError{fmt.Sprintf("Unexpected token %c in JSON at position %d", r, p.pos)})
}

func (p *jsonParser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() goja.Value {
	if p.pos >= len(p.s) {
		p.unexpected()
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.rt.vm.ToValue(p.str())
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case strings.HasPrefix(p.s[p.pos:], "true"):
		p.pos += 4
		return p.rt.vm.ToValue(true)
	case strings.HasPrefix(p.s[p.pos:], "false"):
		p.pos += 5
		return p.rt.vm.ToValue(false)
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		return goja.Null()
	}
	p.unexpected()
	return nil
}

func (p *jsonParser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.rt.fail("JSON.parse: the text nests deeper than %d levels", maxDepth)
	}
	if p.depth&63 == 0 {
		p.rt.checkStop()
	}
}

func (p *jsonParser) object() goja.Value {
	p.enter()
	defer func() { p.depth-- }()
	o := p.rt.vm.NewObject()
	p.pos++ // {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return o
	}
	for {
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			p.unexpected()
		}
		key := p.str()
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			p.unexpected()
		}
		p.pos++
		p.space()
		_ = o.DefineDataProperty(key, p.value(), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		p.space()
		if p.pos >= len(p.s) {
			p.unexpected()
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return o
		default:
			p.unexpected()
		}
	}
}

func (p *jsonParser) array() goja.Value {
	p.enter()
	defer func() { p.depth-- }()
	p.pos++ // [
	p.space()
	var items []any
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return p.rt.vm.NewArray()
	}
	for {
		p.space()
		items = append(items, p.value())
		p.space()
		if p.pos >= len(p.s) {
			p.unexpected()
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return p.rt.vm.NewArray(items...)
		default:
			p.unexpected()
		}
	}
}

// str reads a string literal; the common case (no escapes) is a slice of
// the input.
func (p *jsonParser) str() string {
	p.pos++ // "
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.s[start : p.pos-1]
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			p.unexpected()
		}
		p.pos++
	}
	p.unexpected()
	return ""
}

// escaped reads the rest of a string literal that has escapes.
func (p *jsonParser) escaped(start int) string {
	var b strings.Builder
	b.WriteString(p.s[start:p.pos])
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String()
		case c < 0x20:
			p.unexpected()
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.s) {
			p.unexpected()
		}
		p.pos++
		switch e := p.s[p.pos]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			b.WriteRune(p.unicodeEscape())
			continue
		default:
			p.unexpected()
		}
		p.pos++
	}
	p.unexpected()
	return ""
}

// unicodeEscape reads \uXXXX (p.pos at the u), joining surrogate pairs.
func (p *jsonParser) unicodeEscape() rune {
	r := p.hex4()
	if utf16.IsSurrogate(r) && strings.HasPrefix(p.s[p.pos:], `\u`) {
		save := p.pos
		p.pos++
		if r2 := p.hex4(); utf16.DecodeRune(r, r2) != utf8.RuneError {
			return utf16.DecodeRune(r, r2)
		}
		p.pos = save
	}
	return r
}

// hex4 reads uXXXX at p.pos, leaving p.pos after it.
func (p *jsonParser) hex4() rune {
	if p.pos+5 > len(p.s) {
		p.pos = len(p.s)
		p.unexpected()
	}
	n, err := strconv.ParseUint(p.s[p.pos+1:p.pos+5], 16, 32)
	if err != nil {
		p.pos++
		p.unexpected()
	}
	p.pos += 5
	return rune(n)
}

func (p *jsonParser) number() goja.Value {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	intStart := p.pos
	if digits() == 0 || p.s[intStart] == '0' && p.pos-intStart > 1 {
		p.pos = intStart
		p.unexpected()
	}
	isInt := true
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		isInt = false
		p.pos++
		if digits() == 0 {
			p.unexpected()
		}
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		isInt = false
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.unexpected()
		}
	}
	text := p.s[start:p.pos]
	if isInt && len(text) < 16 {
		n, _ := strconv.ParseInt(text, 10, 64)
		if n != 0 || text[0] != '-' { // -0 stays a float
			return p.rt.vm.ToValue(n)
		}
	}
	f, _ := strconv.ParseFloat(text, 64)
	return p.rt.vm.ToValue(f)
}
