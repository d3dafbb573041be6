package analytics

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
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

// Save writes the events still held to path as JSON lines (atomically,
// mode 0600), so that a gateway stopped gracefully hands them to its
// manager after the restart; no events, no file. Events of a gateway
// that crashes are lost.
func (b *Buffer) Save(path string) error {
	b.mu.Lock()
	events := make([]*Event, 0, len(b.events))
	for _, n := range b.events {
		events = append(events, n.Event)
	}
	b.mu.Unlock()
	if len(events) == 0 {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range events {
		if err := enc.Encode(savedEvent{e, e.Status, e.Duration, e.BackendDuration}); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// savedEvent keeps the fields the wire form leaves out.
type savedEvent struct {
	*Event
	SavedStatus          int           `json:"portico_status,omitempty"`
	SavedDuration        time.Duration `json:"portico_duration_ns,omitempty"`
	SavedBackendDuration time.Duration `json:"portico_backend_duration_ns,omitempty"`
}

// Restore takes back the events Save wrote to path, in order, and removes
// the file. A missing file restores nothing. A line that cannot be read
// is skipped and counted in the error, the rest are restored.
func (b *Buffer) Restore(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	n, bad := 0, 0
	for sc.Scan() {
		s := savedEvent{Event: &Event{}}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			bad++
			continue
		}
		s.Event.Status, s.Event.Duration, s.Event.BackendDuration = s.SavedStatus, s.SavedDuration, s.SavedBackendDuration
		b.Observe(s.Event)
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	f.Close()
	if err := os.Remove(path); err != nil {
		return n, err
	}
	if bad > 0 {
		return n, fmt.Errorf("%s: %d line(s) were not analytics events and were skipped", path, bad)
	}
	return n, nil
}
