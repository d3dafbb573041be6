package gatewayscript

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// program is one compiled gatewayscript policy.
type program struct {
	eng     *Engine
	kind    string
	prog    *goja.Program
	loc     location
	timeout time.Duration
	pool    sync.Pool // of *jsrt
	// stuck counts abandoned runs still running.
	stuck atomic.Int32
	// broken, when set, is the syntax error that keeps the script from
	// running: every run fails with it.
	broken string
}

// stopReason is what a run was interrupted for.
type stopReason int

const (
	notStopped stopReason = iota
	stopTimeout
	stopCancelled
	stopMemory
	stopAbort // a shim aborted the run; run.fatal says why
)

// run is the state of one execution of a script for one request.
type run struct {
	p     *program
	rt    *jsrt
	c     *assembly.Context
	start time.Time
	limit time.Duration

	// mu guards c against the run's goroutine touching it after the
	// request was answered without it (abandoned).
	mu        sync.Mutex
	abandoned bool
	reason    atomic.Int32 // a stopReason, set once by whoever stops the run first

	pending   *assembly.Error // from context.reject, apim.error, session.reject
	fatal     error           // from an abort: input too large, a guard
	hostErr   *assembly.Error // an error a shim threw into the script
	hostVal   goja.Value      // the JavaScript value that carried hostErr
	statusSet bool            // the script set the message status
	errText   string          // the uncaught exception, rendered by the worker
	timers    []timer
	joining   []*goja.Object // arrays being joined, for cycles
	iterSteps int64          // array iterator steps, for guardIterators
}

// run executes the script for one request: the Policy.
func (p *program) run(c *assembly.Context) error {
	if p.broken != "" {
		return &assembly.Error{Name: assembly.JavaScriptError, Status: http.StatusInternalServerError, Message: p.broken}
	}
	ctx := c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return cancelled(err)
	}
	if n := p.stuck.Load(); int(n) >= p.eng.opts.MaxStuck {
		return &assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf(
			"%s not run: %d earlier runs of this script are still stuck in a JavaScript built-in after their time ran out", p.kind, n)}
	}
	limit := p.timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < limit {
			limit = max(left, time.Millisecond)
		}
	}
	rt := p.get()
	st := &run{p: p, rt: rt, c: c, start: time.Now(), limit: limit}
	rt.cur = st
	p.eng.watch.add(st)
	rt.work <- st
	err, finished, clean := p.wait(ctx, st)
	res := st.result(err, finished)
	if clean {
		p.put(rt)
	}
	return res
}

// wait waits for the run, interrupting it when its time runs out, the
// request is cancelled, or the watchdog stops it. finished reports that
// the run ended (else it was abandoned); clean, that the runtime may be
// reused.
func (p *program) wait(ctx context.Context, st *run) (err error, finished, clean bool) {
	rt := st.rt
	rt.timer.Reset(st.limit)
	defer rt.timer.Stop()
	select {
	case err = <-rt.done:
		return err, true, st.reason.Load() == 0 && !rt.broken
	case <-rt.timer.C:
		st.stop(stopTimeout)
	case <-ctx.Done():
		st.stop(stopCancelled)
	case <-rt.kill:
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case err = <-rt.done:
		return err, true, false
	case <-grace.C:
		// Stuck in a built-in: answer without it. Its goroutine ends
		// when the built-in returns, and touches nothing of the request.
		st.mu.Lock()
		st.abandoned = true
		st.mu.Unlock()
		p.stuck.Add(1)
	}
	return nil, false, false
}

// stop interrupts the run; the first reason wins.
func (st *run) stop(why stopReason) {
	if !st.reason.CompareAndSwap(0, int32(why)) {
		return
	}
	st.rt.vm.Interrupt(why)
	if why == stopMemory {
		select {
		case st.rt.kill <- struct{}{}:
		default:
		}
	}
}

// abort ends the run with err, whatever the script does: the interrupt
// stops it at its next instruction even if it catches the exception thrown
// here to leave the built-in.
func (st *run) abort(err error) {
	// fatal is written before reason is published, and never after, so
	// the request goroutine reads it safely once it sees stopAbort.
	if st.reason.Load() == 0 {
		st.fatal = err
		if st.reason.CompareAndSwap(0, int32(stopAbort)) {
			st.rt.vm.Interrupt(stopAbort)
		}
	}
	panic(st.rt.jsError(st.rt.errorCtor, err.Error()))
}

// exec runs the script on the runtime's worker goroutine and reports on
// rt.done.
func (rt *jsrt) exec(st *run) {
	var err error
	defer func() {
		if r := recover(); r != nil {
			rt.broken = true
			err = fmt.Errorf("the JavaScript engine failed: %v", r)
		}
		st.p.eng.watch.remove(st)
		st.mu.Lock()
		if st.abandoned {
			st.p.stuck.Add(-1)
		}
		st.mu.Unlock()
		rt.done <- err
	}()
	err = rt.call(st)
}

// call runs the compiled function, then the callbacks of setTimeout.
func (rt *jsrt) call(st *run) error {
	if rt.fn == nil {
		v, err := rt.vm.RunProgram(st.p.prog)
		if err != nil {
			return err
		}
		fn, ok := goja.AssertFunction(v)
		if !ok {
			return errors.New("the script did not compile to a function")
		}
		rt.fn = fn
	}
	rt.isolate()
	defer rt.vm.SetGlobalObject(rt.base)
	_, err := rt.fn(goja.Undefined())
	if err == nil {
		err = st.runTimers()
	}
	if err != nil {
		st.errText = rt.describe(err)
	}
	return err
}

// describe renders an uncaught exception while the run still runs: the
// thrown value's toString is the script's code, which may throw or loop,
// so it must be called under the run's time limit, not after.
func (rt *jsrt) describe(err error) (text string) {
	var ex *goja.Exception
	if !errors.As(err, &ex) {
		return err.Error()
	}
	text = "uncaught exception (its message could not be read)"
	defer func() {
		if r := recover(); r != nil {
			text = "uncaught exception (its message could not be read)"
		}
	}()
	_ = rt.vm.Try(func() { text = rt.errorText(ex.Value()) })
	return text
}

// result turns how the run ended into the policy's error. A stop that
// came as a finished run was returning (err nil) does not fail it.
func (st *run) result(err error, finished bool) error {
	p := st.p
	why := stopReason(st.reason.Load())
	if finished && err == nil && why != stopAbort {
		why = notStopped
	}
	switch why {
	case stopAbort:
		return st.fatal
	case stopTimeout:
		return &assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf(
			"%s stopped: it ran longer than its %v time limit (an endless loop?)", p.kind, st.limit)}
	case stopCancelled:
		return cancelled(context.Canceled)
	case stopMemory:
		return &assembly.Error{Name: assembly.JavaScriptError, Message: fmt.Sprintf(
			"%s stopped: the gateway's memory passed its limit while the script was allocating", p.kind)}
	}
	if st.pending != nil {
		return st.finishPending()
	}
	if err == nil {
		return nil
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		if st.hostErr != nil && ex.Value() != nil && ex.Value().SameAs(st.hostVal) {
			return st.hostErr
		}
		var so *goja.StackOverflowError
		msg := st.errText
		if errors.As(err, &so) {
			msg = "RangeError: Maximum call stack size exceeded"
		}
		return &assembly.Error{Name: assembly.JavaScriptError, Cause: err,
			Message: fmt.Sprintf("%s (%s)", msg, p.loc.describe(scriptLine(ex.Stack())))}
	}
	return &assembly.Error{Name: assembly.JavaScriptError, Message: p.kind + ": " + err.Error(), Cause: err}
}

// finishPending completes an error the script raised with context.reject:
// its status is the message status the script set, when that is an
// error status, else 500.
func (st *run) finishPending() error {
	e := st.pending
	if e.Status == 0 && st.statusSet && st.c.Message.Status >= 400 {
		e.Status, e.Reason = st.c.Message.Status, st.c.Message.Reason
	}
	return e
}

func cancelled(err error) error {
	return &assembly.Error{Name: assembly.RuntimeError, Status: 499, Reason: "Client Closed Request",
		Message: "the request was cancelled", Cause: err}
}

// tooLarge is the error for input beyond MaxInput; size is -1 when
// unknown.
func (st *run) tooLarge(what string, size int64) error {
	msg := fmt.Sprintf("%s: %s is larger than the %d bytes a script may read", st.p.kind, what, st.p.eng.opts.MaxInput)
	if size >= 0 {
		msg += fmt.Sprintf(" (%d bytes)", size)
	}
	return &assembly.Error{Name: assembly.RuntimeError, Status: http.StatusRequestEntityTooLarge, Message: msg}
}

// get takes a runtime from the pool, or makes one.
func (p *program) get() *jsrt {
	if rt, ok := p.pool.Get().(*jsrt); ok {
		return rt
	}
	return newRuntime(p.eng)
}

// put returns a runtime that ended cleanly, reset for the next run.
func (p *program) put(rt *jsrt) {
	rt.cur = nil
	rt.vm.ClearInterrupt()
	select {
	case <-rt.kill:
	default:
	}
	p.pool.Put(rt)
}

// checkStop ends a long-running Go loop of a shim or guard once the run
// has been stopped: goja's interrupt only takes effect in JavaScript code.
func (rt *jsrt) checkStop() {
	if st := rt.cur; st != nil && st.reason.Load() != 0 {
		panic(rt.jsError(rt.errorCtor, "stopped"))
	}
}

// lock gives a shim the request's context, or aborts the script when the
// request was answered without it. Shims hold it only while they read or
// write the context, never while JavaScript runs.
func (st *run) lock() *assembly.Context {
	st.mu.Lock()
	if st.abandoned {
		st.mu.Unlock()
		panic(st.rt.jsError(st.rt.errorCtor, "the request was answered without this script"))
	}
	return st.c
}

func (st *run) unlock() { st.mu.Unlock() }
