package analytics

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
)

// Numbered is an event with its place in a Buffer.
type Numbered struct {
	Seq   uint64 `json:"seq"`
	Event *Event `json:"event"`
}

// Batch is what a collector gets from Buffer.Since.
type Batch struct {
	// Boot names this run of the buffer; sequence numbers restart with it.
	Boot    string     `json:"boot"`
	Events  []Numbered `json:"events"`
	Pending int        `json:"pending"` // events still held, these included
	Dropped uint64     `json:"dropped"` // dropped since start because the buffer was full
}

// Buffer holds a managed gateway's events until its manager collects them:
// the manager pulls over the management endpoint's mutual TLS, so the
// gateway needs no credentials of its own and keeps serving, and keeping
// events, while the manager is away. It is bounded: when full, the oldest
// event goes and is counted. Events live in memory and do not survive a
// gateway restart.
type Buffer struct {
	boot    string
	max     int
	dropped atomic.Uint64

	mu     sync.Mutex
	events []Numbered // in sequence order
	next   uint64     // the sequence number of the next event; the first is 1
}

// DefaultBufferSize is how many events a Buffer holds when NewBuffer is
// given no positive size: at 1 KB an event, about 100 MB.
const DefaultBufferSize = 100000

// NewBuffer returns a buffer holding up to size events.
func NewBuffer(size int) *Buffer {
	if size <= 0 {
		size = DefaultBufferSize
	}
	var b [8]byte
	rand.Read(b[:])
	return &Buffer{boot: hex.EncodeToString(b[:]), max: size, next: 1}
}

// Observe implements Observer. It never blocks for longer than an append.
func (b *Buffer) Observe(e *Event) {
	b.mu.Lock()
	if len(b.events) >= b.max {
		b.events[0] = Numbered{} // let the event be collected
		b.events = b.events[1:]
		b.dropped.Add(1)
	}
	b.events = append(b.events, Numbered{Seq: b.next, Event: e})
	b.next++
	b.mu.Unlock()
}

// Since forgets the events up to and including after, which the caller
// has stored, and returns up to limit of those that follow. A boot that is
// not the buffer's own (the gateway restarted since the caller's last
// batch) means the caller has stored nothing of this run.
func (b *Buffer) Since(boot string, after uint64, limit int) Batch {
	if boot != b.boot {
		after = 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for i < len(b.events) && b.events[i].Seq <= after {
		b.events[i] = Numbered{}
		i++
	}
	b.events = b.events[i:]
	n := min(limit, len(b.events))
	if n < 0 {
		n = 0
	}
	out := make([]Numbered, n)
	copy(out, b.events[:n])
	return Batch{Boot: b.boot, Events: out, Pending: len(b.events), Dropped: b.dropped.Load()}
}

// Len is the number of events held.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

// Dropped is the number of events dropped because the buffer was full.
func (b *Buffer) Dropped() uint64 { return b.dropped.Load() }
