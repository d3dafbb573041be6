package analytics

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Sink receives batches of events from a Queue. Write is called from the
// Queue's single Run goroutine, one batch at a time; it should give up when
// ctx ends, because the Queue uses ctx to bound shutdown. The batch is the
// sink's to keep: the Queue does not reuse it.
type Sink interface {
	Write(ctx context.Context, batch []*Event) error
}

// drainTimeout bounds how long Run keeps sending queued events after its
// context ends, so that a dead sink cannot hold up the gateway's shutdown.
const drainTimeout = 5 * time.Second

// Defaults used by NewQueue for arguments that are not positive.
const (
	defaultQueueSize  = 10000
	defaultBatchSize  = 100
	defaultFlushEvery = time.Second
)

// Queue decouples the gateway's request goroutines from analytics sinks: a
// slow or failing sink must never add latency to API calls, so Observe drops
// (and counts) events instead of waiting when the queue is full.
type Queue struct {
	events     chan *Event
	batchSize  int
	flushEvery time.Duration
	sink       Sink
	onErr      func(error)

	running atomic.Bool
	stopped atomic.Bool
	sent    atomic.Uint64
	dropped atomic.Uint64
}

// NewQueue returns a queue holding up to size events, which Run hands to
// sink in batches of up to batchSize, or sooner when the oldest event in a
// batch has waited flushEvery. Arguments that are not positive get defaults
// (10000, 100, 1s). onErr, when not nil, hears every failed batch; it is
// called on Run's goroutine and should not block.
func NewQueue(size, batchSize int, flushEvery time.Duration, sink Sink, onErr func(error)) *Queue {
	if sink == nil {
		panic("analytics: NewQueue needs a Sink; pass a FileSink or an HTTPSink")
	}
	if size <= 0 {
		size = defaultQueueSize
	}
	if batchSize <= 0 {
		batchSize = defaultBatchSize
	}
	if flushEvery <= 0 {
		flushEvery = defaultFlushEvery
	}
	if onErr == nil {
		onErr = func(error) {}
	}
	return &Queue{
		events:     make(chan *Event, size),
		batchSize:  batchSize,
		flushEvery: flushEvery,
		sink:       sink,
		onErr:      onErr,
	}
}

// Observe implements Observer. It never blocks: when the queue is full, or
// Run has finished, the event is dropped and counted. The event must not be
// changed after it is observed.
func (q *Queue) Observe(e *Event) {
	if e == nil {
		return
	}
	if q.stopped.Load() {
		q.dropped.Add(1)
		return
	}
	select {
	case q.events <- e:
	default:
		q.dropped.Add(1)
	}
}

// Sent is the number of events the sink accepted.
func (q *Queue) Sent() uint64 { return q.sent.Load() }

// Dropped is the number of events lost: queue full, failed batches, and
// events left over when Run stopped.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Pending is the number of events waiting in the queue, for a gauge.
func (q *Queue) Pending() int { return len(q.events) }

// Run moves events to the sink until ctx ends, then sends what is still
// queued within a short deadline (5s) and returns. A batch whose write was
// cut short by ctx is tried again in that drain, so a receiver may see it
// twice: for analytics a rare duplicate beats a lost batch. Call Run once,
// on its own goroutine; a second call reports an error through onErr.
func (q *Queue) Run(ctx context.Context) {
	if !q.running.CompareAndSwap(false, true) {
		q.onErr(errors.New("analytics: Queue.Run called twice; start one Run per Queue"))
		return
	}
	pending := q.loop(ctx)
	q.drain(ctx, pending)
}

// loop batches events until ctx ends. It returns the batch it was holding
// then, including one whose write ctx interrupted, so drain can retry it.
func (q *Queue) loop(ctx context.Context) []*Event {
	timer := time.NewTimer(q.flushEvery)
	timer.Stop()
	defer timer.Stop()
	var batch []*Event
	for {
		select {
		case <-ctx.Done():
			return batch
		case e := <-q.events:
			if len(batch) == 0 {
				timer.Reset(q.flushEvery)
			}
			batch = append(batch, e)
			if len(batch) < q.batchSize {
				continue
			}
		case <-timer.C:
		}
		timer.Stop()
		if !q.send(ctx, batch) {
			return batch
		}
		batch = nil
	}
}

// send writes one batch. It returns false when the write failed because ctx
// ended; the caller still owns the batch then.
func (q *Queue) send(ctx context.Context, batch []*Event) bool {
	if len(batch) == 0 {
		return true
	}
	err := q.sink.Write(ctx, batch)
	if err != nil && ctx.Err() != nil {
		return false
	}
	q.account(batch, err)
	return true
}

// account counts a finished batch and reports a failed one.
func (q *Queue) account(batch []*Event, err error) {
	if err == nil {
		q.sent.Add(uint64(len(batch)))
		return
	}
	q.dropped.Add(uint64(len(batch)))
	q.onErr(fmt.Errorf("analytics: dropped a batch of %d events: %w", len(batch), err))
}

// drain sends pending and whatever is queued under a fresh deadline, since
// ctx has already ended. What cannot be sent in time is counted as dropped.
func (q *Queue) drain(ctx context.Context, pending []*Event) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	q.stopped.Store(true)
	batch := q.fill(pending)
	for len(batch) > 0 && dctx.Err() == nil {
		q.account(batch, q.sink.Write(dctx, batch))
		batch = q.fill(nil)
	}
	left := len(batch)
	for range len(q.events) {
		<-q.events
		left++
	}
	if left > 0 {
		q.dropped.Add(uint64(left))
		q.onErr(fmt.Errorf("analytics: %d events not sent within the %s shutdown deadline; check that the sink is reachable", left, drainTimeout))
	}
}

// fill tops batch up to batchSize from the queue without waiting.
func (q *Queue) fill(batch []*Event) []*Event {
	for len(batch) < q.batchSize {
		select {
		case e := <-q.events:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}
