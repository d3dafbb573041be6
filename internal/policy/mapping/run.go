package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/expr"
)

// run is one execution of a map: inputs read on first use, outputs built.
type run struct {
	m    *Map
	c    *assembly.Context
	ins  []inState
	outs []outState
	env  valueEnv
	// fromBuf and foundBuf hold the from values of the action computing.
	fromBuf  []any
	foundBuf []bool
}

type inState struct {
	v        any
	ok, done bool
	err      error
}

type outState struct {
	v   any
	set bool
}

// scope is where an action runs: at the top (outputs), or in an element
// of a foreach (item is the input element, box the output element being
// built when hasBox).
type scope struct {
	nested bool
	item   any
	hasBox bool
	box    any
	boxSet bool
}

// Run executes the map for one request.
func (m *Map) Run(c *assembly.Context) error {
	r := &run{m: m, c: c, ins: make([]inState, len(m.inputs)), outs: make([]outState, len(m.outputs))}
	r.env = valueEnv{ctx: c, apicVars: m.opts.apicVars, input: r.inputNamed}
	top := &scope{}
	for _, a := range m.actions {
		if err := r.exec(a, top); err != nil {
			return err
		}
	}
	return r.write()
}

func (r *run) exec(a *action, sc *scope) error {
	switch {
	case a.foreach != nil:
		return r.foreach(a, sc)
	case len(a.actions) > 0:
		return r.build(a, sc)
	}
	v, ok, err := r.compute(a, sc, nil, false)
	if err != nil || !ok {
		return err
	}
	return r.assign(a, sc, ownValue(v))
}

// compute is an action's value: its value expression over the from
// values, else the from value itself (an array of them for several), else
// its default.
func (r *run) compute(a *action, sc *scope, acc any, hasAcc bool) (any, bool, error) {
	v, ok, err := r.computeRaw(a, sc, acc, hasAcc)
	if err == nil && !ok && a.hasDef {
		return ownValue(a.def), true, nil
	}
	return v, ok, err
}

// computeRaw is compute without the default.
func (r *run) computeRaw(a *action, sc *scope, acc any, hasAcc bool) (any, bool, error) {
	froms, found, anyFound, err := r.sources(a, sc)
	if err != nil {
		return nil, false, err
	}
	var (
		v  any
		ok bool
	)
	switch {
	case a.value != nil && (len(a.from) == 0 || anyFound):
		v, ok, err = r.evalValue(a, froms, found, acc, hasAcc)
		if err != nil {
			return nil, false, err
		}
	case len(a.from) == 1:
		v, ok = froms[0], found[0]
	case anyFound:
		list := make([]any, 0, len(froms))
		for i, f := range froms {
			if found[i] {
				list = append(list, f)
			}
		}
		v, ok = list, true
	}
	if ok && v == nil && !r.m.opts.nullValue {
		ok = false
	}
	return v, ok, nil
}

func (r *run) sources(a *action, sc *scope) ([]any, []bool, bool, error) {
	r.fromBuf, r.foundBuf = r.fromBuf[:0], r.foundBuf[:0]
	anyFound := false
	for i := range a.from {
		v, ok, err := r.source(&a.from[i], sc)
		if err != nil {
			return nil, nil, false, err
		}
		r.fromBuf, r.foundBuf = append(r.fromBuf, v), append(r.foundBuf, ok)
		anyFound = anyFound || ok
	}
	return r.fromBuf, r.foundBuf, anyFound, nil
}

func (r *run) evalValue(a *action, froms []any, found []bool, acc any, hasAcc bool) (any, bool, error) {
	var input any
	switch {
	case !a.value.usesInput:
	case len(froms) == 1:
		input = froms[0]
	case len(froms) > 1:
		input = append([]any(nil), froms...)
	}
	r.env.froms, r.env.found, r.env.acc, r.env.hasAcc = froms, found, acc, hasAcc
	v, ok, err := a.value.Eval(r.c.Ctx, &r.env, input)
	r.env.froms, r.env.found, r.env.acc = nil, nil, nil
	if err != nil {
		if ctxErr := r.c.Ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return nil, false, err
		}
		var ee *expr.EvalError
		if errors.As(err, &ee) {
			err = ee.Err // its text repeats the source
		}
		return nil, false, r.fail(fmt.Sprintf("%s: value %q failed: %v", a.label, a.value.Source(), err), err)
	}
	return v, ok, nil
}

// source reads a from or foreach path.
func (r *run) source(s *source, sc *scope) (any, bool, error) {
	switch {
	case s.input >= 0:
		return r.fromInput(s.input, s.path)
	case s.input == relative && sc.nested:
		v, ok, err := s.path.Select(Scope{Ctx: r.c.Ctx, Env: r.c}, sc.item)
		if err != nil || ok || s.fallback < 0 {
			return v, ok, err
		}
		return r.fromInput(s.fallback, s.fbPath)
	}
	return nil, false, nil
}

func (r *run) fromInput(i int, p *Path) (any, bool, error) {
	v, ok, err := r.input(i)
	if err != nil || !ok || p.IsRoot() {
		return v, ok, err
	}
	return p.Select(Scope{Ctx: r.c.Ctx, Env: r.c}, v)
}

func (r *run) input(i int) (any, bool, error) {
	st := &r.ins[i]
	if !st.done {
		st.v, st.ok, st.err = r.m.inputs[i].read(r)
		st.done = true
	}
	return st.v, st.ok, st.err
}

// inputNamed answers $(name) for an input name in value expressions.
func (r *run) inputNamed(name string) (any, bool) {
	i, ok := r.m.inputIx[name]
	if !ok {
		return nil, false
	}
	v, ok, err := r.input(i)
	return v, ok && err == nil
}

// foreach runs an action for each element of its foreach path: nested
// actions build an array of one element each; a value accumulates ($(0) is
// the result so far); otherwise the from values (or the elements) are
// collected into an array.
func (r *run) foreach(a *action, sc *scope) error {
	v, ok, err := r.source(a.foreach, sc)
	if err != nil {
		return err
	}
	elems := elements(v, ok)
	if a.value != nil && len(a.actions) == 0 {
		return r.accumulate(a, sc, elems)
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		if err := r.c.Ctx.Err(); err != nil {
			return err
		}
		inner := &scope{nested: true, item: e}
		var (
			v  any
			ok bool
		)
		if len(a.actions) > 0 {
			v, ok, err = r.element(a, inner)
		} else if len(a.from) > 0 {
			v, ok, err = r.compute(a, inner, nil, false)
			v = ownValue(v)
		} else {
			v, ok = ownValue(e), true
		}
		if err != nil {
			return err
		}
		if ok {
			out = append(out, v)
		}
	}
	return r.assignArray(a, sc, out)
}

func elements(v any, ok bool) []any {
	switch {
	case !ok:
		return nil
	case v == nil:
		return nil
	}
	if arr, isArr := v.([]any); isArr {
		return arr
	}
	return []any{v}
}

// element builds one element with the nested actions.
func (r *run) element(a *action, inner *scope) (any, bool, error) {
	inner.hasBox = true
	for _, na := range a.actions {
		if err := r.exec(na, inner); err != nil {
			return nil, false, err
		}
	}
	return inner.box, inner.boxSet, nil
}

// build runs nested actions without foreach: one object from the from value.
func (r *run) build(a *action, sc *scope) error {
	inner := &scope{nested: true}
	if len(a.from) > 0 {
		v, ok, err := r.source(&a.from[0], sc)
		if err != nil {
			return err
		}
		if ok {
			inner.item = v
		}
	} else if sc.nested {
		inner.item = sc.item
	}
	v, ok, err := r.element(a, inner)
	if err != nil || !ok {
		return err
	}
	return r.assign(a, sc, v)
}

func (r *run) accumulate(a *action, sc *scope, elems []any) error {
	acc, hasAcc := r.current(a, sc)
	if !hasAcc && a.hasDef {
		acc, hasAcc = ownValue(a.def), true
	}
	for _, e := range elems {
		if err := r.c.Ctx.Err(); err != nil {
			return err
		}
		v, ok, err := r.computeRaw(a, &scope{nested: true, item: e}, acc, hasAcc)
		if err != nil {
			return err
		}
		if ok {
			acc, hasAcc = v, true
		}
	}
	if !hasAcc {
		return nil
	}
	return r.assign(a, sc, ownValue(acc))
}

// assignArray stores a foreach's array: create appends to an array already
// there; mapCreateEmptyArray decides whether an empty one is written.
func (r *run) assignArray(a *action, sc *scope, out []any) error {
	old, had := r.current(a, sc)
	if prev, isArr := old.([]any); isArr && a.create {
		out = append(append(make([]any, 0, len(prev)+len(out)), prev...), out...)
	}
	if len(out) == 0 {
		switch r.m.opts.emptyArray {
		case "none":
			return nil
		case "parent":
			if !had && !r.parentExists(a, sc) {
				return nil
			}
		}
	}
	return r.assign(a, sc, out)
}

// current is the value at an action's target now.
func (r *run) current(a *action, sc *scope) (any, bool) {
	root, set := r.targetRoot(a, sc)
	if !set {
		return nil, false
	}
	v, ok, _ := a.target.path.Select(Scope{}, root)
	return v, ok
}

// parentExists reports whether the object holding an action's target
// exists already.
func (r *run) parentExists(a *action, sc *scope) bool {
	root, set := r.targetRoot(a, sc)
	if !set {
		return false
	}
	if len(a.target.path.steps) <= 1 {
		return true
	}
	parent := &Path{steps: a.target.path.steps[:len(a.target.path.steps)-1]}
	_, ok, _ := parent.Select(Scope{}, root)
	return ok
}

func (r *run) targetRoot(a *action, sc *scope) (any, bool) {
	if a.target.output == relative {
		return sc.box, sc.hasBox && sc.boxSet
	}
	st := &r.outs[a.target.output]
	return st.v, st.set
}

// assign stores v, which the caller owns, at the action's target.
func (r *run) assign(a *action, sc *scope, v any) error {
	if a.target.output == relative {
		if sc.hasBox {
			sc.box, sc.boxSet = setPath(sc.box, a.target.path.steps, a.target.hints, v), true
		}
		return nil
	}
	st := &r.outs[a.target.output]
	st.v, st.set = setPath(st.v, a.target.path.steps, a.target.hints, v), true
	return nil
}

// setPath stores v at steps below root, creating objects (of hints[i]
// members) and arrays (for [n] and []) on the way, and returns the new
// root. A name applied to an array sets it in every element.
func setPath(root any, steps []step, hints []int, v any) any {
	if len(steps) == 0 {
		return v
	}
	s, rest, restHints := steps[0], steps[1:], hints[1:]
	switch s.kind {
	case stepField:
		switch t := root.(type) {
		case map[string]any:
			t[s.name] = setPath(t[s.name], rest, restHints, v)
			return t
		case []any:
			for i, e := range t {
				t[i] = setPath(e, steps, hints, ownValue(v))
			}
			return t
		}
		m := make(map[string]any, hints[0])
		m[s.name] = setPath(nil, rest, restHints, v)
		return m
	case stepIndex:
		arr, _ := root.([]any)
		i := s.index
		if i < 0 {
			i = max(len(arr)+i, 0)
		}
		for len(arr) <= i {
			arr = append(arr, nil)
		}
		arr[i] = setPath(arr[i], rest, restHints, v)
		return arr
	case stepAll:
		arr, _ := root.([]any)
		return append(arr, setPath(nil, rest, restHints, v))
	}
	return root
}

// ownValue copies objects and arrays, so that what the map builds never
// shares memory with its inputs.
func ownValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = ownValue(e)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = ownValue(e)
		}
		return out
	}
	return v
}

// write stores every output that was set, converted to its schema.
func (r *run) write() error {
	for i, o := range r.m.outputs {
		st := r.outs[i]
		if !st.set {
			if !r.m.opts.emptyObject || o.schema == nil || o.schema.Type != TypeObject {
				continue
			}
			st.v = map[string]any{}
		}
		if o.skip {
			continue
		}
		v := Convert(st.v, o.schema, r.m.opts.convert)
		if o.xml {
			data, err := encodeXML(v, o.schema, r.m.opts.xml)
			if err != nil {
				return r.fail(fmt.Sprintf("output %s: %v", o.name, err), err)
			}
			v = string(data)
			if o.body {
				v = data // a body of bytes, not a JSON string
			}
		}
		if err := r.store(o, v); err != nil {
			return err
		}
	}
	return nil
}

// store writes an output. The message body is set directly: the value is
// the map's own, so the copy Context.Set makes is not needed.
func (r *run) store(o *output, v any) error {
	if o.ref.Name != "message.body" {
		return r.c.Set(o.ref, v)
	}
	switch t := v.(type) {
	case string:
		r.c.Message.Body = assembly.BytesBody([]byte(t))
	case []byte:
		r.c.Message.Body = assembly.BytesBody(t)
	default:
		r.c.Message.Body = assembly.ValueBody(v)
	}
	return nil
}

// read gets an input's value: a variable, or a message body, parsed as JSON
// or XML when it is still text.
func (in *input) read(r *run) (any, bool, error) {
	var (
		v   any
		ok  bool
		err error
	)
	if body, isBody := in.body(r.c); isBody {
		v, ok, err = in.readBody(r, body)
		if ok && in.rest != nil {
			v, ok, err = in.rest.Select(Scope{Ctx: r.c.Ctx, Env: r.c}, v)
		}
	} else {
		v, ok = r.c.Lookup(in.ref)
		if m, isMsg := v.(*assembly.Message); isMsg {
			v, ok, err = in.readBody(r, m.Body)
		}
	}
	if err != nil || !ok {
		return nil, false, err
	}
	if in.scalar {
		v = Convert(v, in.schema, r.m.opts.convert)
	}
	return v, true, nil
}

// body finds the message body an X.body input names.
func (in *input) body(c *assembly.Context) (*assembly.Body, bool) {
	if in.msg == nil {
		return nil, false
	}
	switch in.msg.Name {
	case "request":
		return c.Request.Body, true
	case "message":
		return c.Message.Body, true
	}
	if v, ok := c.Lookup(*in.msg); ok {
		if m, isMsg := v.(*assembly.Message); isMsg {
			return m.Body, true
		}
	}
	return nil, false
}

func (in *input) readBody(r *run, b *assembly.Body) (any, bool, error) {
	if v, parsed := b.Parsed(); parsed {
		return v, true, nil
	}
	data, err := b.Bytes()
	if err != nil {
		return nil, false, err
	}
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if len(data) == 0 {
		return nil, false, nil
	}
	if in.xml || data[0] == '<' {
		v, err := decodeXML(data, in.schema, r.m.opts.xmlTypes, r.m.opts.empty)
		if err != nil {
			return nil, false, r.failStatus(in.badStatus(r.c), fmt.Sprintf("input %s: %s is not well-formed XML: %v", in.name, in.ref.Name, err), err)
		}
		return v, true, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		if in.schema == nil || in.schema.Type == TypeString || in.schema.Type == TypeAny {
			return string(data), true, nil // text, for an input that takes text
		}
		return nil, false, r.failStatus(in.badStatus(r.c), fmt.Sprintf("input %s: %s is not JSON: %v", in.name, in.ref.Name, err), err)
	}
	return v, true, nil
}

// badStatus is the status of an input that does not parse: 400 when the
// client sent it, 500 when a back end did.
func (in *input) badStatus(c *assembly.Context) int {
	if in.msg != nil && (in.msg.Name == "request" || in.msg.Name == "message" && c.MessageIsRequest()) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// fail is the TransformError of a map that cannot produce its output.
func (r *run) fail(msg string, cause error) error {
	return r.failStatus(http.StatusInternalServerError, msg, cause)
}

func (r *run) failStatus(status int, msg string, cause error) error {
	return &assembly.Error{Name: assembly.TransformError, Status: status, Message: "map: " + msg, Cause: cause}
}
