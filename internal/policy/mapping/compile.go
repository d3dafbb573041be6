package mapping

import (
	"fmt"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// Map is a compiled map policy. It is immutable and shared by all requests.
type Map struct {
	inputs  []*input
	inputIx map[string]int
	outputs []*output
	outIx   map[string]int
	actions []*action
	opts    options
}

// input is one entry of inputs: where its value comes from.
type input struct {
	name   string
	ref    assembly.Ref
	msg    *assembly.Ref // set when the variable is in a message's body: that message
	rest   *Path         // below .body; nil for the whole body
	schema *Schema
	xml    bool // content is XML
	scalar bool // the schema is a scalar type, which the value is converted to
}

// output is one entry of outputs: the variable the built value goes to.
type output struct {
	name   string
	ref    assembly.Ref
	schema *Schema
	xml    bool
	body   bool // the variable is a message body
	skip   bool // the variable cannot be written; reported at load
}

// Source kinds besides an input index.
const (
	relative = -1 // the foreach element being mapped
	nowhere  = -2 // names nothing: never found
)

// source is a compiled from or foreach path.
type source struct {
	input    int   // the input, relative or nowhere
	path     *Path // below the input or element; no steps: all of it
	fallback int   // for a relative path whose first name is an input: that input
	fbPath   *Path
}

// target is where an action sets its value.
type target struct {
	output int   // the output; relative: the element being built
	path   *Path // below it
	// hints[i] is how many members the object made for path step i gets,
	// counted over the actions that write there: objects are made at
	// their final size.
	hints []int
}

// action is one compiled entry of actions.
type action struct {
	label   string // for messages: actions[2] (set output.name)
	create  bool
	target  target
	from    []source
	value   *Value
	def     any
	hasDef  bool
	foreach *source
	actions []*action
}

// compiler holds what compiling one map policy needs.
type compiler struct {
	b    *assembly.Builder
	lang Lang
	m    *Map
	sb   *schemaBuilder
	ok   bool
}

// Compile compiles a map policy's settings (2.x; v5 1.0.0):
//
//	inputs:  {name: {schema, variable, content}}
//	outputs: {name: {schema, variable, content}}
//	actions: [{set | create, from, value, default, foreach, actions}]
//	options: {mapNullValue, mapCreateEmptyArray, …}
//
// Problems are reported through b; Compile returns nil when the settings
// are unusable.
func Compile(b *assembly.Builder, n apidef.Node) *Map {
	cp := &compiler{b: b, m: &Map{inputIx: map[string]int{}, outIx: map[string]int{}}, ok: true}
	if b.API != nil && b.API.Gateway == apidef.GatewayV5 {
		cp.lang = LangJavaScript
	}
	cp.m.opts = compileOptions(b, n)
	var root apidef.Node
	if b.API != nil && b.API.Doc != nil {
		root = b.API.Doc.Root
	}
	cp.sb = &schemaBuilder{root: root, report: b.Report, refLimit: cp.m.opts.refLimit}
	cp.compileInputs(n.Get("inputs"))
	cp.compileOutputs(n.Get("outputs"))
	list := n.Get("actions")
	if !list.IsNull() && !list.IsSeq() {
		b.Report(list.Problem("actions must be a list", "write `actions: [{set: output.name, from: input.name}]`"))
		cp.ok = false
	}
	for i, item := range list.Items() {
		if a := cp.compileAction(item, fmt.Sprintf("actions[%d]", i), nil); a != nil {
			cp.m.actions = append(cp.m.actions, a)
		}
	}
	sizeHints(cp.m.actions)
	if !cp.ok {
		return nil
	}
	return cp.m
}

// entries returns the named entries of inputs or outputs, written as a
// mapping (name: {…}) or, as v5 documents it, a list of one-key mappings.
func entries(n apidef.Node) (names []string, nodes []apidef.Node) {
	if n.IsMap() {
		for _, k := range n.Keys() {
			names, nodes = append(names, k), append(nodes, n.Get(k))
		}
		return names, nodes
	}
	for _, it := range n.Items() {
		if keys := it.Keys(); len(keys) == 1 {
			names, nodes = append(names, keys[0]), append(nodes, it.Get(keys[0]))
		}
	}
	return names, nodes
}

func (cp *compiler) compileInputs(n apidef.Node) {
	if !n.IsNull() && !n.IsMap() && !n.IsSeq() {
		cp.b.Report(n.Problem("inputs must be a mapping of names to {schema, variable}", "write `inputs: {in: {schema: {type: object}, variable: request.body}}`"))
		cp.ok = false
		return
	}
	names, nodes := entries(n)
	for i, name := range names {
		e := nodes[i]
		ref, ok := cp.variable(e, name, "input")
		if !ok {
			continue
		}
		in := &input{name: name, ref: ref, schema: cp.schema(e), xml: isXMLContent(e.String("content", ""))}
		in.scalar = in.schema != nil && in.schema.Type >= TypeString && in.schema.Type <= TypeBoolean
		in.msg, in.rest = bodyParts(ref)
		cp.m.inputIx[name] = len(cp.m.inputs)
		cp.m.inputs = append(cp.m.inputs, in)
	}
}

func (cp *compiler) compileOutputs(n apidef.Node) {
	if !n.IsNull() && !n.IsMap() && !n.IsSeq() {
		cp.b.Report(n.Problem("outputs must be a mapping of names to {schema, variable}", "write `outputs: {out: {schema: {type: object}, variable: message.body}}`"))
		cp.ok = false
		return
	}
	names, nodes := entries(n)
	for i, name := range names {
		e := nodes[i]
		ref, ok := cp.variable(e, name, "output")
		if !ok {
			continue
		}
		out := &output{name: name, ref: ref, schema: cp.schema(e), xml: isXMLContent(e.String("content", ""))}
		out.skip = !cp.writable(e.Get("variable"), ref)
		out.body = strings.HasSuffix(ref.Name, ".body")
		cp.m.outIx[name] = len(cp.m.outputs)
		cp.m.outputs = append(cp.m.outputs, out)
	}
}

// variable reads an entry's variable.
func (cp *compiler) variable(e apidef.Node, name, kind string) (assembly.Ref, bool) {
	v := e.Get("variable")
	if !e.IsMap() || strings.TrimSpace(v.Str()) == "" {
		at := v
		if at.IsZero() {
			at = e
		}
		cp.b.Report(at.Problem(fmt.Sprintf("%s %q needs a variable: the context variable it is read from or written to", kind, name),
			"write e.g. `variable: request.body` or `variable: message.body`"))
		cp.ok = false
		return assembly.Ref{}, false
	}
	ref, ok := cp.b.Ref(v)
	cp.ok = cp.ok && ok
	return ref, ok
}

// schema compiles an entry's schema: `schema:`, or $ref or type beside the
// variable as v5 documents it.
func (cp *compiler) schema(e apidef.Node) *Schema {
	if s := e.Get("schema"); !s.IsNull() {
		return cp.sb.compile(s, 0)
	}
	if e.Has("$ref") || e.Has("type") {
		return cp.sb.compile(e, 0)
	}
	return nil
}

// writable checks an output variable. message.header.x (not headers) is
// accepted with a warning and left unwritten, as it names nothing.
func (cp *compiler) writable(at apidef.Node, ref assembly.Ref) bool {
	segs := strings.Split(ref.Name, ".")
	switch segs[0] {
	case "request", "api", "system":
		cp.b.Report(at.Problem(fmt.Sprintf("output variable %s is read-only", ref.Name),
			"write to message.body, message.headers.<name>, or a variable of your own"))
		cp.ok = false
		return false
	case "message":
		if len(segs) == 1 {
			break
		}
		switch {
		case segs[1] == "body", segs[1] == "headers" && len(segs) > 2,
			len(segs) == 3 && segs[1] == "status" && (segs[2] == "code" || segs[2] == "reason"):
			return true
		}
		cp.b.Report(at.Warning(fmt.Sprintf("output variable %s is not part of a message; the map does not write it", ref.Name),
			"use message.body, message.headers.<name> or message.status.code"))
		return false
	}
	return true
}

// bodyParts splits X.body.a.b into the message X and the path a.b.
func bodyParts(ref assembly.Ref) (*assembly.Ref, *Path) {
	segs := strings.Split(ref.Name, ".")
	if len(segs) < 2 || segs[1] != "body" || segs[0] == "api" || segs[0] == "system" {
		return nil, nil
	}
	msg, err := assembly.ParseRef(segs[0])
	if err != nil {
		return nil, nil
	}
	if len(segs) == 2 {
		return &msg, nil
	}
	p, err := ParsePath(strings.Join(segs[2:], "."), Dotted)
	if err != nil {
		return nil, nil
	}
	return &msg, p
}

func isXMLContent(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasSuffix(ct, "/xml") || strings.HasSuffix(ct, "+xml")
}

// loop is the enclosing foreach of nested actions: its path as written.
type loop struct {
	src string
}

func (cp *compiler) compileAction(n apidef.Node, label string, in *loop) *action {
	a := cp.actionTarget(n, label, in)
	if a == nil {
		return nil
	}
	foreach := strings.TrimSpace(n.Get("foreach").Str())
	if f := n.Get("foreach"); !f.IsNull() {
		a.foreach = cp.compileSource(f, in, "")
	}
	cp.compileFroms(a, n.Get("from"), in, foreach)
	cp.compileValue(a, n)
	if d := n.Get("default"); !d.IsNull() {
		a.def, a.hasDef = d.Value(), true
	}
	// Nested actions build each element of the foreach, or, without
	// foreach, one object from the (first) from value.
	inner := &loop{src: foreach}
	if a.foreach == nil {
		inner.src = strings.TrimSpace(firstSource(n.Get("from")))
		if in != nil && inner.src == "" {
			inner = in
		}
	}
	a.actions = cp.nestedActions(n.Get("actions"), label, inner)
	return a
}

// actionTarget starts an action from its set or create.
func (cp *compiler) actionTarget(n apidef.Node, label string, in *loop) *action {
	if !n.IsMap() {
		cp.b.Report(n.Problem("an action must be a mapping with set or create", "write `- set: output.name` with `from: input.name`"))
		cp.ok = false
		return nil
	}
	a := &action{}
	verb, tn := "set", n.Get("set")
	if n.Has("create") {
		verb, tn, a.create = "create", n.Get("create"), true
		if n.Has("set") {
			cp.b.Report(n.KeyNode("create").Problem("an action has set or create, not both", "keep one of them"))
			cp.ok = false
			return nil
		}
	}
	if strings.TrimSpace(tn.Str()) == "" {
		cp.b.Report(tn.Problem("an action needs set (or create): the output it writes", "write e.g. `set: output.name`"))
		cp.ok = false
		return nil
	}
	a.label = fmt.Sprintf("%s (%s %s)", label, verb, tn.Str())
	if !cp.compileTarget(a, tn, in) {
		return nil
	}
	return a
}

func (cp *compiler) nestedActions(list apidef.Node, label string, in *loop) []*action {
	if !list.IsNull() && !list.IsSeq() {
		cp.b.Report(list.Problem("actions must be a list", "write `actions: [{set: name, from: name}]`"))
		cp.ok = false
	}
	var out []*action
	for i, item := range list.Items() {
		if na := cp.compileAction(item, fmt.Sprintf("%s.actions[%d]", label, i), in); na != nil {
			out = append(out, na)
		}
	}
	sizeHints(out)
	return out
}

// sizeHints counts, over one list of actions, the members each object
// they create gets (see target.hints).
func sizeHints(actions []*action) {
	members := map[string]map[string]bool{}
	prefixes := func(a *action, visit func(i int, parent, name string)) {
		parent := fmt.Sprint(a.target.output)
		for i, st := range a.target.path.steps {
			if st.kind != stepField {
				return
			}
			visit(i, parent, st.name)
			parent += "." + st.name
		}
	}
	for _, a := range actions {
		prefixes(a, func(_ int, parent, name string) {
			if members[parent] == nil {
				members[parent] = map[string]bool{}
			}
			members[parent][name] = true
		})
	}
	for _, a := range actions {
		a.target.hints = make([]int, len(a.target.path.steps))
		prefixes(a, func(i int, parent, _ string) { a.target.hints[i] = len(members[parent]) })
	}
}

// compileTarget reads set/create: an output name and a path below it, or,
// inside a foreach, a path in the element being built ($item: all of it).
func (cp *compiler) compileTarget(a *action, n apidef.Node, in *loop) bool {
	p, err := ParsePath(n.Str(), Dotted)
	if err != nil {
		cp.b.Report(n.Problem(err.Error(), "write a dotted path such as output.address.city"))
		cp.ok = false
		return false
	}
	names := p.LeadingNames()
	if in != nil {
		if len(names) > 0 && names[0] == "$item" {
			p = p.Drop(1)
		}
		a.target = target{output: relative, path: p}
		return true
	}
	idx, ok := cp.m.outIx[names[0]]
	if !ok {
		cp.b.Report(n.Problem(fmt.Sprintf("%q names no output of this map (outputs: %s)", names[0], strings.Join(keys(cp.m.outIx), ", ")),
			"begin the path with the name of an entry of outputs"))
		cp.ok = false
		return false
	}
	a.target = target{output: idx, path: p.Drop(1)}
	return true
}

func (cp *compiler) compileFroms(a *action, n apidef.Node, in *loop, foreach string) {
	if n.IsNull() {
		return
	}
	items := []apidef.Node{n}
	if n.IsSeq() {
		items = n.Items()
	}
	for _, it := range items {
		if s := cp.compileSource(it, in, foreach); s != nil {
			a.from = append(a.from, *s)
		}
	}
}

// firstSource is the first path of a from (a path or a list of them).
func firstSource(n apidef.Node) string {
	if n.IsSeq() {
		if items := n.Items(); len(items) > 0 {
			return items[0].Str()
		}
		return ""
	}
	return n.Str()
}

// compileSource compiles a from or foreach path. At the top level it
// starts with an input name. Inside a foreach (in) it is relative to the
// element ($item is the element itself; a path that repeats the foreach
// path stands for the rest of it), falling back to an input of that name.
// The from paths of a foreach action (own: its foreach path) are read in
// each element the same way.
func (cp *compiler) compileSource(n apidef.Node, in *loop, own string) *source {
	src := strings.TrimSpace(n.Str())
	if rel, ok := relativeTo(src, own); ok {
		return cp.relative(n, rel)
	}
	if in != nil {
		if rel, ok := relativeTo(src, in.src); ok {
			return cp.relative(n, rel)
		}
	}
	p, err := ParsePath(src, Dotted)
	if err != nil {
		// A from that is not a path can never find anything, which API
		// Connect accepts too: warn, and map nothing from it.
		cp.b.Report(n.Warning(fmt.Sprintf("%q is not a dotted path; nothing is mapped from it", firstLine(src)),
			"write a dotted path such as input.address.city; compute values with value:"))
		return &source{input: nowhere, fallback: nowhere}
	}
	first := p.LeadingNames()[0]
	idx, isInput := cp.m.inputIx[first]
	switch {
	case in != nil:
		s := &source{input: relative, path: p, fallback: nowhere}
		if isInput {
			s.fallback, s.fbPath = idx, p.Drop(1)
		}
		return s
	case isInput:
		return &source{input: idx, path: p.Drop(1), fallback: nowhere}
	}
	cp.b.Report(n.Warning(fmt.Sprintf("%q names no input of this map (inputs: %s); nothing is mapped from it", firstLine(src), strings.Join(keys(cp.m.inputIx), ", ")),
		"begin the path with the name of an entry of inputs"))
	return &source{input: nowhere, fallback: nowhere}
}

// relativeTo returns the part of src below the foreach path loopSrc.
func relativeTo(src, loopSrc string) (string, bool) {
	switch {
	case src == "$item":
		return "", true
	case strings.HasPrefix(src, "$item."):
		return src[len("$item."):], true
	case loopSrc == "":
		return "", false
	case src == loopSrc:
		return "", true
	case strings.HasPrefix(src, loopSrc+"."):
		return src[len(loopSrc)+1:], true
	}
	return "", false
}

func (cp *compiler) relative(n apidef.Node, rel string) *source {
	if rel == "" {
		return &source{input: relative, path: &Path{}, fallback: nowhere}
	}
	p, err := ParsePath(rel, Dotted)
	if err != nil {
		cp.b.Report(n.Problem(err.Error(), "write a dotted path such as input.items.price"))
		cp.ok = false
		return nil
	}
	return &source{input: relative, path: p, fallback: nowhere}
}

func (cp *compiler) compileValue(a *action, n apidef.Node) {
	v := n.Get("value")
	if v.IsNull() {
		return
	}
	src := v.Str()
	if !v.IsScalar() {
		cp.b.Report(v.Problem("value must be an expression (text)", "write e.g. `value: $(1) * 2` or `value: \"'constant'\"`"))
		cp.ok = false
		return
	}
	val, err := CompileValue(src, cp.lang)
	if err != nil {
		hint := "write a JSONata expression, e.g. $uppercase($), or a JavaScript one using $(1) for the first from value"
		if cp.lang == LangJavaScript {
			hint = "on the v5 gateway (datapower-gateway) a value is JavaScript, e.g. $(1).toUpperCase()"
		}
		cp.b.Report(v.Problem(fmt.Sprintf("value does not compile: %v", err), hint))
		cp.ok = false
		return
	}
	a.value = val
}

func keys(m map[string]int) []string {
	out := make([]string, len(m))
	for k, i := range m {
		out[i] = k
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
