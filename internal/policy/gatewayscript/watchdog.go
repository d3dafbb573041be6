package gatewayscript

import (
	"runtime/metrics"
	"sync"
	"time"
)

// watchdog stops scripts when the Go heap passes a ceiling. goja allocates
// on the shared heap with no per-runtime accounting, so it cannot tell
// which script is growing; it stops the run that has been running longest
// (a runaway allocator runs long, ordinary scripts take microseconds),
// then waits for a garbage collection before judging again.
//
// It samples only while scripts run: a goroutine starts with the first
// active run and ends when none is left.
type watchdog struct {
	limit  uint64
	period time.Duration

	mu      sync.Mutex
	active  map[*run]struct{}
	running bool
}

const (
	heapMetric   = "/memory/classes/heap/objects:bytes"
	cyclesMetric = "/gc/cycles/total:gc-cycles"
)

func newWatchdog(limit uint64) *watchdog {
	return &watchdog{limit: limit, period: 5 * time.Millisecond, active: map[*run]struct{}{}}
}

func (w *watchdog) add(st *run) {
	w.mu.Lock()
	w.active[st] = struct{}{}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
}

func (w *watchdog) remove(st *run) {
	w.mu.Lock()
	delete(w.active, st)
	w.mu.Unlock()
}

func (w *watchdog) loop() {
	samples := []metrics.Sample{{Name: heapMetric}, {Name: cyclesMetric}}
	tick := time.NewTicker(w.period)
	defer tick.Stop()
	var waitCycle uint64 // after a stop, the GC cycle count to wait past
	for range tick.C {
		w.mu.Lock()
		if len(w.active) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		metrics.Read(samples)
		heap, cycles := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		if heap <= w.limit || cycles < waitCycle {
			continue
		}
		if w.stopOldest() {
			waitCycle = cycles + 1
		}
	}
}

// stopOldest stops the longest-running run not yet stopped.
func (w *watchdog) stopOldest() bool {
	w.mu.Lock()
	var oldest *run
	for st := range w.active {
		if st.reason.Load() == 0 && (oldest == nil || st.start.Before(oldest.start)) {
			oldest = st
		}
	}
	w.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.stop(stopMemory)
	return true
}
