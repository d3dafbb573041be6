// Package mapping is the engine of the map policy, and the path language
// that map, extract and redact share: compiled once at load time, run
// against JSON-like values (map[string]any, []any, string, float64, bool,
// nil) on each request.
package mapping

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portico-api/portico/internal/expr"
)

// Syntax is how a path is written.
type Syntax int

const (
	// Dotted is the map policy's form: names split on dots, where every
	// other character (hyphens, spaces, $item) belongs to the name, with
	// optional [n] or [] after a name.
	Dotted Syntax = iota
	// JSONata is the path subset of JSONata used by extract's capture and
	// redact's path: $, names, `quoted names`, *, **, [n] and [predicate];
	// JSONPath's .., ['name'] and [*] are accepted as well.
	JSONata
	// XPath is the v5 redact form: /a/b, //a, *, *[@name='x'] (JSONx), [n].
	XPath
)

type stepKind uint8

const (
	stepField  stepKind = iota // a named member
	stepWild                   // *: every member
	stepDesc                   // ** (or // or ..): the value and all its descendants
	stepIndex                  // [n]: one array element; negative counts from the end
	stepAll                    // [*] or []: every array element
	stepFilter                 // [predicate]: the array elements it holds for
)

type step struct {
	kind  stepKind
	name  string
	index int
	pred  *expr.Expression
}

// Path is a compiled path. It is immutable and safe for concurrent use.
type Path struct {
	src   string
	steps []step
}

// Source is the path as written.
func (p *Path) Source() string { return p.src }

// IsRoot reports whether the path selects the value it starts from ($).
func (p *Path) IsRoot() bool { return len(p.steps) == 0 }

// LeadingNames returns the names of the path's leading plain field steps,
// for callers that read them as a variable name (message.body.x).
func (p *Path) LeadingNames() []string {
	var out []string
	for _, s := range p.steps {
		if s.kind != stepField {
			break
		}
		out = append(out, s.name)
	}
	return out
}

// Drop returns the path without its first n steps.
func (p *Path) Drop(n int) *Path {
	if n > len(p.steps) {
		n = len(p.steps)
	}
	return &Path{src: p.src, steps: p.steps[n:]}
}

// Join returns p followed by q.
func (p *Path) Join(q *Path) *Path {
	steps := make([]step, 0, len(p.steps)+len(q.steps))
	steps = append(append(steps, p.steps...), q.steps...)
	src := p.src + "." + q.src
	if p.src == "" {
		src = q.src
	}
	return &Path{src: src, steps: steps}
}

// LowerNames returns the path with its member names in lower case, for
// header maps, whose names are.
func (p *Path) LowerNames() *Path {
	steps := slices.Clone(p.steps)
	for i := range steps {
		steps[i].name = strings.ToLower(steps[i].name)
	}
	return &Path{src: p.src, steps: steps}
}

// FieldsOnly reports whether every step names a member, so that the path
// can be walked without allocating.
func (p *Path) FieldsOnly() bool {
	for _, s := range p.steps {
		if s.kind != stepField {
			return false
		}
	}
	return true
}

// ParsePath compiles a path. Predicates are compiled as JSONata.
func ParsePath(src string, syn Syntax) (*Path, error) {
	var (
		steps []step
		err   error
	)
	switch syn {
	case Dotted:
		steps, err = parseDotted(src)
	case JSONata:
		steps, err = parseJSONata(src)
	case XPath:
		steps, err = parseXPath(src)
	default:
		err = fmt.Errorf("unknown path syntax %d", syn)
	}
	if err != nil {
		return nil, err
	}
	return &Path{src: src, steps: steps}, nil
}

// parseDotted reads a.b[0].c and a[].b: names end only at dots and brackets.
func parseDotted(src string) ([]step, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	var steps []step
	for _, seg := range strings.Split(s, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("path %q has an empty part", src)
		}
		steps = append(steps, step{kind: stepField, name: name})
		if rest == "" && !strings.Contains(seg, "[") {
			continue
		}
		brackets, err := dottedBrackets("[" + rest)
		if err != nil {
			return nil, fmt.Errorf("path %q: %v", src, err)
		}
		steps = append(steps, brackets...)
	}
	return steps, nil
}

// dottedBrackets reads the [n], [] and [*] suffixes of a dotted name.
func dottedBrackets(s string) ([]step, error) {
	var steps []step
	for s != "" {
		end := strings.IndexByte(s, ']')
		if s[0] != '[' || end < 0 {
			return nil, fmt.Errorf("%q: write an index as [0] or every element as []", s)
		}
		inner := strings.TrimSpace(s[1:end])
		switch inner {
		case "", "*":
			steps = append(steps, step{kind: stepAll})
		default:
			n, err := strconv.Atoi(inner)
			if err != nil {
				return nil, fmt.Errorf("[%s] is not an index", inner)
			}
			steps = append(steps, step{kind: stepIndex, index: n})
		}
		s = s[end+1:]
	}
	return steps, nil
}

// jsonataLexer walks a JSONata-style path.
type jsonataLexer struct {
	src string
	pos int
}

func (l *jsonataLexer) peek(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

func (l *jsonataLexer) skipSpace() {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
}

func (l *jsonataLexer) errorf(format string, args ...any) error {
	return fmt.Errorf("path %q, column %d: %s", l.src, l.pos+1, fmt.Sprintf(format, args...))
}

func parseJSONata(src string) ([]step, error) {
	l := &jsonataLexer{src: src}
	l.skipSpace()
	if l.pos == len(src) {
		return nil, fmt.Errorf("empty path")
	}
	var steps []step
	// A leading $ or $$ is the value the path starts from.
	if l.peek(0) == '$' && !isNameRune(rune(l.peek(1))) {
		l.pos++
		if l.peek(0) == '$' {
			l.pos++
		}
		l.skipSpace()
		if l.pos == len(src) {
			return nil, nil
		}
		switch l.peek(0) {
		case '.', '[':
		default:
			return nil, l.errorf("expected . or [ after $")
		}
		if l.peek(0) == '.' && l.peek(1) != '.' {
			l.pos++
		}
	}
	for {
		l.skipSpace()
		if l.peek(0) == '.' && l.peek(1) == '.' { // JSONPath descendants
			l.pos += 2
			steps = append(steps, step{kind: stepDesc})
		}
		if l.peek(0) != '[' {
			st, err := l.member()
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
		}
		for l.skipSpace(); l.peek(0) == '['; l.skipSpace() {
			st, err := l.bracket()
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
		}
		if l.pos == len(src) {
			return steps, nil
		}
		if l.peek(0) != '.' {
			return nil, l.errorf("unexpected %q: a path is names joined by dots", l.src[l.pos:])
		}
		if l.peek(1) != '.' {
			l.pos++
		}
	}
}

// member reads a name, `quoted name`, * or **.
func (l *jsonataLexer) member() (step, error) {
	switch c := l.peek(0); {
	case c == '*' && l.peek(1) == '*':
		l.pos += 2
		return step{kind: stepDesc}, nil
	case c == '*':
		l.pos++
		return step{kind: stepWild}, nil
	case c == '`':
		end := strings.IndexByte(l.src[l.pos+1:], '`')
		if end < 0 {
			return step{}, l.errorf("unclosed `")
		}
		name := l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		return step{kind: stepField, name: name}, nil
	}
	start := l.pos
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !isNameRune(r) && !(r == '-' && l.pos > start) {
			break
		}
		l.pos += size
	}
	if l.pos == start {
		if l.pos == len(l.src) {
			return step{}, l.errorf("the path ends after a dot")
		}
		return step{}, l.errorf("unexpected %q where a name is expected (quote odd names with backticks)", l.src[l.pos:])
	}
	return step{kind: stepField, name: l.src[start:l.pos]}, nil
}

func isNameRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// bracket reads [n], [*], ['name'] or [predicate].
func (l *jsonataLexer) bracket() (step, error) {
	end, err := matchBracket(l.src, l.pos)
	if err != nil {
		return step{}, l.errorf("%v", err)
	}
	inner := strings.TrimSpace(l.src[l.pos+1 : end])
	l.pos = end + 1
	switch {
	case inner == "*" || inner == "":
		return step{kind: stepAll}, nil
	case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] &&
		!strings.ContainsRune(inner[1:len(inner)-1], rune(inner[0])):
		return step{kind: stepField, name: inner[1 : len(inner)-1]}, nil
	case strings.HasPrefix(inner, "?"):
		return step{}, fmt.Errorf("path %q: JSONPath filters [?(…)] are not supported; write a JSONata predicate such as items[price > 10]", l.src)
	}
	if n, err := strconv.Atoi(inner); err == nil {
		return step{kind: stepIndex, index: n}, nil
	}
	pred, err := expr.CompileJSONata(inner)
	if err != nil {
		return step{}, fmt.Errorf("path %q: predicate [%s] does not compile: %v", l.src, inner, err)
	}
	return step{kind: stepFilter, pred: pred}, nil
}

// matchBracket finds the ] closing the [ at open, skipping quoted text and
// nested brackets.
func matchBracket(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"', '`':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return 0, fmt.Errorf("unclosed %c", c)
			}
			i += end + 1
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed [")
}

// parseXPath reads the XPath subset of v5 redaction: child (/) and
// descendant (//) steps over names and *, with [@name='x'] (a JSONx member
// named x) and [n] (1-based) predicates.
func parseXPath(src string) ([]step, error) {
	s := strings.TrimSpace(src)
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	var steps []step
	for s != "" {
		switch {
		case strings.HasPrefix(s, "//"):
			steps = append(steps, step{kind: stepDesc})
			s = s[2:]
		case s[0] == '/':
			s = s[1:]
		}
		end := xpathStepEnd(s)
		if end == 0 {
			return nil, fmt.Errorf("XPath %q: expected a name or * after /", src)
		}
		st, err := xpathStep(src, s[:end])
		if err != nil {
			return nil, err
		}
		steps = append(steps, st...)
		s = s[end:]
	}
	return steps, nil
}

// xpathStepEnd is the length of the step at the start of s: up to the next
// / outside brackets and quotes.
func xpathStepEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/':
			return i
		case '[':
			end, err := matchBracket(s, i)
			if err != nil {
				return len(s)
			}
			i = end
		}
	}
	return len(s)
}

func xpathStep(src, s string) ([]step, error) {
	name, preds, _ := strings.Cut(s, "[")
	name = strings.TrimSpace(name)
	var steps []step
	switch {
	case name == "." || name == "text()":
	case name == "*":
		steps = append(steps, step{kind: stepWild})
	case name != "" && !strings.ContainsAny(name, "()@=' \""):
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:] // a prefix: the local name is what a field is called
		}
		steps = append(steps, step{kind: stepField, name: name})
	default:
		return nil, fmt.Errorf("XPath %q: step %q is not supported (use names, *, // and [@name='field'])", src, s)
	}
	if !strings.Contains(s, "[") {
		return steps, nil
	}
	rest := "[" + preds
	for rest != "" {
		end, err := matchBracket(rest, 0)
		if err != nil || rest[0] != '[' {
			return nil, fmt.Errorf("XPath %q: bad predicate in %q", src, s)
		}
		st, err := xpathPredicate(src, strings.TrimSpace(rest[1:end]), steps)
		if err != nil {
			return nil, err
		}
		steps = st
		rest = strings.TrimSpace(rest[end+1:])
	}
	return steps, nil
}

// xpathPredicate applies [@name='x'] or [n] to the steps of one XPath step.
func xpathPredicate(src, p string, steps []step) ([]step, error) {
	if v, ok := strings.CutPrefix(p, "@name"); ok {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "="))
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			// In JSONx an element named x is the member x: it replaces
			// the element step (json:string, *, …) it qualifies.
			if n := len(steps); n > 0 && (steps[n-1].kind == stepWild || steps[n-1].kind == stepField) {
				steps = steps[:n-1]
			}
			return append(steps, step{kind: stepField, name: v[1 : len(v)-1]}), nil
		}
	}
	if n, err := strconv.Atoi(p); err == nil && n >= 1 {
		return append(steps, step{kind: stepIndex, index: n - 1}), nil
	}
	return nil, fmt.Errorf("XPath %q: predicate [%s] is not supported (use [@name='field'] or [n])", src, p)
}

// Scope is what predicates are evaluated in.
type Scope struct {
	Ctx context.Context
	Env expr.Env
}

// Select returns what the path selects in v, with JSONata's sequence
// rules: nothing is (nil, false); one value is that value; several are an
// array, arrays among them flattened.
func (p *Path) Select(sc Scope, v any) (any, bool, error) {
	if p.FieldsOnly() {
		if got, ok, simple := selectFields(p.steps, v); simple {
			return got, ok, nil
		}
	}
	var out []any
	err := p.walk(sc, v, 0, func(x any) { out = append(out, x) })
	if err != nil {
		return nil, false, err
	}
	switch len(out) {
	case 0:
		return nil, false, nil
	case 1:
		return out[0], true, nil
	}
	flat := make([]any, 0, len(out))
	for _, x := range out {
		if arr, ok := x.([]any); ok {
			flat = append(flat, arr...)
		} else {
			flat = append(flat, x)
		}
	}
	return flat, true, nil
}

// selectFields walks member steps through objects only; simple is false
// when an array is met and the general walk must take over.
func selectFields(steps []step, v any) (got any, ok, simple bool) {
	for _, s := range steps {
		switch t := v.(type) {
		case map[string]any:
			if v, ok = t[s.name]; !ok {
				return nil, false, true
			}
		case []any:
			return nil, false, false
		default:
			return nil, false, true
		}
	}
	return v, true, true
}

func (p *Path) walk(sc Scope, v any, i int, emit func(any)) error {
	if i == len(p.steps) {
		emit(v)
		return nil
	}
	s := &p.steps[i]
	if arr, ok := v.([]any); ok && (s.kind == stepField || s.kind == stepWild) {
		for _, e := range arr {
			if err := p.walk(sc, e, i, emit); err != nil {
				return err
			}
		}
		return nil
	}
	switch s.kind {
	case stepField:
		if m, ok := v.(map[string]any); ok {
			if child, ok := m[s.name]; ok {
				return p.walk(sc, child, i+1, emit)
			}
		}
	case stepWild:
		if m, ok := v.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				if err := p.walk(sc, m[k], i+1, emit); err != nil {
					return err
				}
			}
		}
	case stepDesc:
		return p.walkDesc(sc, v, i, emit)
	default:
		return p.walkElements(sc, v, i, emit)
	}
	return nil
}

func (p *Path) walkDesc(sc Scope, v any, i int, emit func(any)) error {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if err := p.walkDesc(sc, e, i, emit); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := p.walk(sc, v, i+1, emit); err != nil {
			return err
		}
		for _, k := range sortedKeys(t) {
			if err := p.walkDesc(sc, t[k], i, emit); err != nil {
				return err
			}
		}
		return nil
	}
	return p.walk(sc, v, i+1, emit)
}

// walkElements applies an index, [*] or predicate step. A value that is
// not an array counts as an array of one, as in JSONata.
func (p *Path) walkElements(sc Scope, v any, i int, emit func(any)) error {
	arr, isArr := v.([]any)
	if !isArr {
		arr = []any{v}
	}
	for j, e := range arr {
		hit, err := p.steps[i].matches(sc, e, j, len(arr))
		if err != nil {
			return err
		}
		if hit {
			if err := p.walk(sc, e, i+1, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// matches reports whether element j of n is chosen by an element step.
func (s *step) matches(sc Scope, e any, j, n int) (bool, error) {
	switch s.kind {
	case stepAll:
		return true, nil
	case stepIndex:
		idx := s.index
		if idx < 0 {
			idx += n
		}
		return idx == j, nil
	}
	ctx := sc.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	res, defined, err := s.pred.EvalDefined(ctx, sc.Env, e)
	if err != nil || !defined {
		return false, err
	}
	if f, ok := res.(float64); ok {
		idx := int(f)
		if idx < 0 {
			idx += n
		}
		return idx == j, nil
	}
	return Truthy(res), nil
}

// Truthy is JSONata's $boolean.
func Truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case float64:
		return t != 0
	case int:
		return t != 0
	case []any:
		for _, e := range t {
			if Truthy(e) {
				return true
			}
		}
		return false
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// ApplyFunc rewrites one selected value: it returns the replacement, or
// keep false to delete the value from its container.
type ApplyFunc func(v any) (replacement any, keep bool, err error)

// Apply rewrites every value the path selects in v, in place where the
// containers allow it, and returns the new v (keep false: v itself was
// selected and deleted). Deleted array elements are removed, closing the
// gap.
func (p *Path) Apply(sc Scope, v any, fn ApplyFunc) (any, bool, error) {
	return p.apply(sc, v, 0, fn)
}

func (p *Path) apply(sc Scope, v any, i int, fn ApplyFunc) (any, bool, error) {
	if i == len(p.steps) {
		return fn(v)
	}
	s := &p.steps[i]
	if arr, ok := v.([]any); ok && (s.kind == stepField || s.kind == stepWild) {
		for j, e := range arr {
			nv, _, err := p.apply(sc, e, i, fn)
			if err != nil {
				return nil, false, err
			}
			arr[j] = nv
		}
		return arr, true, nil
	}
	switch s.kind {
	case stepField:
		m, ok := v.(map[string]any)
		if !ok {
			return v, true, nil
		}
		child, ok := m[s.name]
		if !ok {
			return v, true, nil
		}
		return m, true, p.applyMember(sc, m, s.name, child, i+1, fn)
	case stepWild:
		if m, ok := v.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				if err := p.applyMember(sc, m, k, m[k], i+1, fn); err != nil {
					return nil, false, err
				}
			}
		}
		return v, true, nil
	case stepDesc:
		return p.applyDesc(sc, v, i, fn)
	}
	return p.applyElements(sc, v, i, fn)
}

func (p *Path) applyMember(sc Scope, m map[string]any, k string, child any, i int, fn ApplyFunc) error {
	nv, keep, err := p.apply(sc, child, i, fn)
	if err != nil {
		return err
	}
	if keep {
		m[k] = nv
	} else {
		delete(m, k)
	}
	return nil
}

func (p *Path) applyDesc(sc Scope, v any, i int, fn ApplyFunc) (any, bool, error) {
	switch t := v.(type) {
	case []any:
		for j, e := range t {
			nv, _, err := p.applyDesc(sc, e, i, fn)
			if err != nil {
				return nil, false, err
			}
			t[j] = nv
		}
		return t, true, nil
	case map[string]any:
		for _, k := range sortedKeys(t) {
			nv, keep, err := p.applyDesc(sc, t[k], i, fn)
			if err != nil {
				return nil, false, err
			}
			if keep {
				t[k] = nv
			} else {
				delete(t, k)
			}
		}
	}
	return p.apply(sc, v, i+1, fn)
}

func (p *Path) applyElements(sc Scope, v any, i int, fn ApplyFunc) (any, bool, error) {
	arr, isArr := v.([]any)
	if !isArr {
		hit, err := p.steps[i].matches(sc, v, 0, 1)
		if err != nil || !hit {
			return v, true, err
		}
		return p.apply(sc, v, i+1, fn)
	}
	out := arr[:0:0]
	removed := false
	for j, e := range arr {
		hit, err := p.steps[i].matches(sc, e, j, len(arr))
		if err != nil {
			return nil, false, err
		}
		keep := true
		if hit {
			if e, keep, err = p.apply(sc, e, i+1, fn); err != nil {
				return nil, false, err
			}
		}
		if !keep {
			if !removed {
				out = append(make([]any, 0, len(arr)), arr[:j]...)
				removed = true
			}
			continue
		}
		if removed {
			out = append(out, e)
		} else {
			arr[j] = e
		}
	}
	if removed {
		return out, true, nil
	}
	return arr, true, nil
}

// sortedKeys orders a map's keys, so that wildcards visit members in a
// stable order.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
