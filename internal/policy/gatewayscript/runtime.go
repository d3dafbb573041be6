package gatewayscript

import (
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"time"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// jsrt is one goja runtime with DataPower's globals installed. It serves
// one run at a time; cur is that run. The shims are closures over the
// jsrt, so they are built once per runtime, not per request.
type jsrt struct {
	eng    *Engine
	vm     *goja.Runtime
	cur    *run
	fn     goja.Callable // the script's function, made on first use
	work   chan *run     // runs for the runtime's worker goroutine
	done   chan error
	kill   chan struct{}
	timer  *time.Timer
	broken bool // a Go panic went through the runtime: do not reuse it

	// Built-ins captured before any script runs, so a script that
	// replaces them does not change what the shims do.
	objFreeze  goja.Callable
	errorCtor  *goja.Object
	syntaxCtor *goja.Object
	typeCtor   *goja.Object
	uint8Ctor  *goja.Object
	bufferProt *goja.Object

	modules map[string]goja.Value
	refs    map[string]assembly.Ref // parsed variable names
	base    *goja.Object            // the global object with the built-ins and shims
}

// newRuntime makes a runtime: guards first, so the shims and the Buffer
// prelude capture the guarded built-ins, then the globals.
func newRuntime(e *Engine) *jsrt {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStack)
	rt := &jsrt{eng: e, vm: vm, work: make(chan *run), done: make(chan error, 1), kill: make(chan struct{}, 1),
		timer: newStoppedTimer(), modules: map[string]goja.Value{}, refs: map[string]assembly.Ref{}}
	g := vm.GlobalObject()
	rt.objFreeze, _ = goja.AssertFunction(g.Get("Object").ToObject(vm).Get("freeze"))
	rt.errorCtor = g.Get("Error").ToObject(vm)
	rt.typeCtor = g.Get("TypeError").ToObject(vm)
	rt.syntaxCtor = g.Get("SyntaxError").ToObject(vm)
	rt.uint8Ctor = g.Get("Uint8Array").ToObject(vm)
	rt.installGuards()
	rt.installBuffer()
	rt.installGlobals()
	rt.base = g
	go worker(rt.work)
	// The worker holds only the channel between runs, so a runtime the
	// pool drops becomes garbage; closing the channel then ends the worker.
	runtime.AddCleanup(rt, func(work chan *run) { close(work) }, rt.work)
	return rt
}

// worker runs a runtime's scripts. Each runtime keeps one goroutine, whose
// stack has grown to what goja needs, instead of starting one per run.
func worker(work chan *run) {
	for st := range work {
		st.rt.exec(st)
	}
}

// isolate gives the run a global object of its own, inheriting from the
// shared one. A sloppy-mode script creates globals by assigning to names
// it never declared (popo = 4); they land on the run's object and vanish
// with it, so a later request never sees an earlier one's values.
func (rt *jsrt) isolate() {
	g := rt.vm.NewObject()
	_ = g.SetPrototype(rt.base)
	_ = g.Set("globalThis", g) // shadows the shared one
	rt.vm.SetGlobalObject(g)
}

// global defines a name on the shared global object that scripts can
// neither reassign nor delete nor enumerate.
func (rt *jsrt) global(name string, v any) {
	_ = rt.vm.GlobalObject().DefineDataProperty(name, rt.vm.ToValue(v), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

// freeze makes a shim object immutable, so a script cannot change what
// the next run of its runtime sees. Accessors keep working.
func (rt *jsrt) freeze(objs ...*goja.Object) {
	for _, o := range objs {
		_, _ = rt.objFreeze(goja.Undefined(), o)
	}
}

// method adds a function property.
func (rt *jsrt) method(o *goja.Object, name string, fn func(goja.FunctionCall) goja.Value) {
	_ = o.Set(name, fn)
}

// accessor adds a getter (and setter, when set is not nil).
func (rt *jsrt) accessor(o *goja.Object, name string, get func() goja.Value, set func(goja.Value)) {
	var setter goja.Value
	if set != nil {
		setter = rt.vm.ToValue(func(call goja.FunctionCall) goja.Value { set(call.Argument(0)); return goja.Undefined() })
	}
	getter := rt.vm.ToValue(func(goja.FunctionCall) goja.Value { return get() })
	_ = o.DefineAccessorProperty(name, getter, setter, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

func (rt *jsrt) installGlobals() {
	console := rt.newConsole()
	apim := rt.newApim(console)
	rt.modules["apim"] = apim
	rt.global("context", rt.newContextObject())
	rt.global("apim", apim)
	rt.global("session", rt.newSession())
	rt.global("console", console)
	rt.global("require", rt.require)
	rt.global("setTimeout", rt.setTimeout)
	rt.global("setImmediate", rt.setTimeout)
	rt.global("clearTimeout", rt.clearTimeout)
	rt.global("clearImmediate", rt.clearTimeout)
}

// st is the current run; shims are only called while one is in progress.
func (rt *jsrt) st() *run { return rt.cur }

// jsError makes an error object of the given constructor.
func (rt *jsrt) jsError(ctor *goja.Object, msg string) *goja.Object {
	o, err := rt.vm.New(ctor, rt.vm.ToValue(msg))
	if err != nil {
		return rt.vm.NewTypeError(msg)
	}
	return o
}

// throwf throws a TypeError: a script's misuse of a shim.
func (rt *jsrt) throwf(format string, args ...any) {
	panic(rt.jsError(rt.typeCtor, fmt.Sprintf(format, args...)))
}

// throwHost throws an assembly error into the script as an Error whose
// name is the error's (PropertyError, …). Left uncaught, the run fails
// with the assembly error itself. It is called with the context unlocked:
// nothing here may run script code while a shim holds the lock.
func (rt *jsrt) throwHost(e *assembly.Error) {
	o := rt.jsError(rt.errorCtor, e.Message)
	_ = o.DefineDataProperty("name", rt.vm.ToValue(e.Name), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	st := rt.st()
	st.hostErr, st.hostVal = e, o
	panic(o)
}

// ref parses a variable name, caching it in the runtime: scripts use a
// few names over and over.
func (rt *jsrt) ref(name string) assembly.Ref {
	if r, ok := rt.refs[name]; ok {
		return r
	}
	r, err := assembly.ParseRef(name)
	if err != nil {
		rt.throwf("%s", err.Error())
	}
	if len(rt.refs) > 256 {
		clear(rt.refs)
	}
	rt.refs[name] = r
	return r
}

// ---- console

// consoleLevels maps DataPower's console methods to slog levels.
var consoleLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "trace": slog.LevelDebug,
	"log": slog.LevelInfo, "info": slog.LevelInfo, "notice": slog.LevelInfo,
	"warn": slog.LevelWarn, "warning": slog.LevelWarn,
	"error": slog.LevelError, "critical": slog.LevelError, "alert": slog.LevelError, "emerg": slog.LevelError,
}

func (rt *jsrt) newConsole() *goja.Object {
	o := rt.vm.NewObject()
	for name, level := range consoleLevels {
		rt.method(o, name, func(call goja.FunctionCall) goja.Value {
			rt.log(level, call.Arguments)
			return goja.Undefined()
		})
	}
	rt.freeze(o)
	return o
}

// log formats like Node's console (util.format) and writes to the
// request's logger, when it has one.
func (rt *jsrt) log(level slog.Level, args []goja.Value) {
	st := rt.st()
	c := st.lock()
	logger, tx, ctx := c.Log, c.TransactionID, c.Ctx
	api := ""
	if c.API != nil {
		api = c.API.Name + ":" + c.API.Version
	}
	st.unlock()
	if logger == nil || !logger.Enabled(ctx, level) {
		return
	}
	msg := rt.format(args)
	logger.Log(ctx, level, msg, "transaction_id", tx, "api", api, "policy", st.p.kind)
}

// ---- require

// require returns a module's object, made once per runtime. A module
// Portico lacks is an error naming it.
func (rt *jsrt) require(call goja.FunctionCall) goja.Value {
	name := call.Argument(0).String()
	if name == "./apim.custom.js" || name == "local:///isp/policy/apim.custom.js" {
		name = "apim"
	}
	if m, ok := rt.modules[name]; ok {
		return m
	}
	var m *goja.Object
	switch name {
	case "header-metadata":
		m = rt.newHeaderMetadata()
	case "url":
		m = rt.newURLModule()
	case "querystring":
		m = rt.newQuerystring()
	case "util":
		m = rt.newUtil()
	case "crypto":
		m = rt.newCrypto()
	case "service-metadata":
		m = rt.newServiceMetadata()
	default:
		panic(rt.jsError(rt.errorCtor, fmt.Sprintf("Cannot find module '%s': Portico provides %s", name, moduleList())))
	}
	rt.freeze(m)
	rt.modules[name] = m
	return m
}

// ---- timers

// timer is a callback queued by setTimeout. DataPower runs them after
// their delay; here they run when the script's own code is done, in order
// of delay, since nothing else can happen meanwhile.
type timer struct {
	id    int
	delay int64
	fn    goja.Callable
	args  []goja.Value
}

func (rt *jsrt) setTimeout(call goja.FunctionCall) goja.Value {
	fn, ok := goja.AssertFunction(call.Argument(0))
	if !ok {
		rt.throwf("setTimeout needs a function")
	}
	st := rt.st()
	t := timer{id: len(st.timers) + 1, delay: call.Argument(1).ToInteger(), fn: fn}
	if len(call.Arguments) > 2 {
		t.args = append([]goja.Value(nil), call.Arguments[2:]...)
	}
	st.timers = append(st.timers, t)
	return rt.vm.ToValue(t.id)
}

func (rt *jsrt) clearTimeout(call goja.FunctionCall) goja.Value {
	id := int(call.Argument(0).ToInteger())
	st := rt.st()
	for i := range st.timers {
		if st.timers[i].id == id {
			st.timers[i].fn = nil
		}
	}
	return goja.Undefined()
}

// runTimers runs queued callbacks, including those they queue.
func (st *run) runTimers() error {
	for done := 0; done < len(st.timers); {
		pending := st.timers[done:]
		sort.SliceStable(pending, func(i, j int) bool { return pending[i].delay < pending[j].delay })
		t := st.timers[done]
		done++
		if t.fn == nil {
			continue
		}
		if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
			return err
		}
	}
	return nil
}

// ---- small helpers

// newStoppedTimer is a timer for Reset to arm.
func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// optString is a string argument, or def when it is missing.
func optString(v goja.Value, def string) string {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return def
	}
	return v.String()
}
