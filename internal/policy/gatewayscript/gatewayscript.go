// Package gatewayscript runs API Connect's gatewayscript policy (DataPower
// API Gateway) and the v5 javascript policy: JavaScript with DataPower's
// programming model (context, apim, session, console, require of
// header-metadata, url, querystring, util, crypto, service-metadata), on the
// goja engine.
//
// A script is compiled once when the configuration loads. Each run borrows
// a goja runtime from the policy's pool and runs on its own goroutine, so
// that the request can be answered when the script overruns its time limit
// even if it is stuck inside a built-in that goja cannot interrupt. goja has
// no memory limit, so the built-ins that can build a large value from a
// small input are guarded (see guard.go) and a process-wide watchdog stops
// scripts when the Go heap passes a ceiling (see watchdog.go).
package gatewayscript

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// Defaults for Options.
const (
	DefaultTimeout   = 2 * time.Second
	DefaultMaxInput  = 4 << 20
	DefaultMaxMemory = 64 << 20
	DefaultMaxStuck  = 4
	// maxDepth bounds nesting wherever Go code recurses on what a script
	// built (JSON, conversions, joins, dynamic code): deep enough for any
	// real document, far below what would exhaust a goroutine's stack.
	maxDepth = 1000
	// maxCallStack bounds JavaScript recursion.
	maxCallStack = 2000
	// abandonGrace is how long a run may take to stop after an interrupt
	// before the request is answered without it.
	abandonGrace = 100 * time.Millisecond
)

// Options configure the engine. Zero values take the defaults.
type Options struct {
	// Timeout bounds one run of a script; a policy's timeout field
	// overrides it.
	Timeout time.Duration
	// MaxInput caps what is handed to a script: a body it reads, a
	// variable it gets. Beyond it the run fails with a RuntimeError 413.
	MaxInput int64
	// MaxMemory is the most one guarded built-in call may build (a string
	// of MaxMemory characters, an array of MaxMemory/16 elements, a typed
	// array of MaxMemory bytes), and the most a script may write back.
	MaxMemory int64
	// HeapLimit is the Go heap size (bytes of live and not yet swept
	// objects) above which running scripts are stopped, oldest first. 0
	// derives it: 3/4 of GOMEMLIMIT or of the cgroup memory limit, else
	// 2 GiB.
	HeapLimit uint64
	// MaxStuck is how many abandoned runs of one policy (stuck in a
	// built-in after their time ran out) may still be running before new
	// runs of that policy are refused.
	MaxStuck int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxInput <= 0 {
		o.MaxInput = DefaultMaxInput
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.HeapLimit == 0 {
		o.HeapLimit = defaultHeapLimit()
	}
	if o.MaxStuck <= 0 {
		o.MaxStuck = DefaultMaxStuck
	}
	return o
}

// defaultHeapLimit reads the memory the process may use: GOMEMLIMIT when
// set, else the cgroup (v2) limit; scripts are stopped at 3/4 of it.
func defaultHeapLimit() uint64 {
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		return uint64(lim) / 4 * 3
	}
	if data, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err == nil && n > 0 {
			return n / 4 * 3
		}
	}
	return 2 << 30
}

// Engine holds what all gatewayscript policies of a gateway share: the
// options, the heap watchdog and the compiled Buffer shim. It lives in the
// assembly.Env, so it survives configuration reloads.
type Engine struct {
	opts    Options
	watch   *watchdog
	prelude *goja.Program
}

// NewEngine makes an engine with the given options.
func NewEngine(o Options) *Engine {
	o = o.withDefaults()
	return &Engine{opts: o, watch: newWatchdog(o.HeapLimit), prelude: goja.MustCompile("buffer.js", bufferJS, true)}
}

// Options returns the engine's options, defaults filled in.
func (e *Engine) Options() Options { return e.opts }

const resourceKey = "policy.gatewayscript.engine"

// EngineFor returns the engine of env, made with default options the
// first time.
func EngineFor(env *assembly.Env) *Engine {
	if env == nil {
		env = &assembly.Env{}
	}
	return env.Resource(resourceKey, func() any { return NewEngine(Options{}) }).(*Engine)
}

// Install puts an engine with options o into env, unless env already has
// one, and returns env's engine. A gateway (or a test) calls it before
// compiling to configure the policy.
func Install(env *assembly.Env, o Options) *Engine {
	return env.Resource(resourceKey, func() any { return NewEngine(o) }).(*Engine)
}

// GatewayScript compiles a gatewayscript policy (API Gateway 2.0.0):
//
//	source: |          the JavaScript
//	  context.set('my.var', 1);
//	timeout: 500ms     Portico extension: a duration or seconds; default 2s
func GatewayScript(b *assembly.Builder, n apidef.Node) assembly.Policy {
	return EngineFor(b.Env).Compile(b, n, "gatewayscript")
}

// JavaScript compiles the v5 javascript policy: the same engine and
// programming model, under its own name.
func JavaScript(b *assembly.Builder, n apidef.Node) assembly.Policy {
	return EngineFor(b.Env).Compile(b, n, "javascript")
}

// Compile compiles one policy's settings. kind names the policy in
// messages. Problems go to b; nil means the policy is unusable.
func (e *Engine) Compile(b *assembly.Builder, n apidef.Node, kind string) assembly.Policy {
	sn := n.Get("source")
	if !sn.IsNull() && !sn.IsScalar() {
		b.Report(sn.Problem("source must be the script's text", "write `source: |` followed by the script, indented"))
		return nil
	}
	if strings.TrimSpace(sn.Str()) == "" {
		// API Connect saves an empty script and runs it as a no-op.
		return func(*assembly.Context) error { return nil }
	}
	timeout, ok := policyTimeout(b, n.Get("timeout"), e.opts.Timeout)
	if !ok {
		return nil
	}
	p, ok := e.compileProgram(b, sn, kind)
	if !ok {
		return nil
	}
	p.timeout = timeout
	return p.run
}

// policyTimeout reads the timeout field: a Go duration ("500ms", "3s") or a
// number of seconds. At most a minute: a script holds a request and a
// goroutine while it runs.
func policyTimeout(b *assembly.Builder, n apidef.Node, def time.Duration) (time.Duration, bool) {
	if n.IsNull() {
		return def, true
	}
	s := strings.TrimSpace(n.Str())
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			d = -1
		} else {
			d = time.Duration(secs * float64(time.Second))
		}
	}
	if d <= 0 || d > time.Minute {
		b.Report(n.Problem(fmt.Sprintf("timeout %q is not a duration between 1ms and 1m", s),
			"write e.g. `timeout: 500ms` or `timeout: 2` (seconds)"))
		return 0, false
	}
	return d, true
}
