package analytics

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// chanSink hands every batch to the test through a channel, so the test
// synchronises on what the sink received rather than on time.
type chanSink struct {
	batches chan []*Event
	err     error
}

func newChanSink() *chanSink { return &chanSink{batches: make(chan []*Event, 100)} }

func (s *chanSink) Write(ctx context.Context, batch []*Event) error {
	s.batches <- batch
	return s.err
}

// blockingSink signals each Write on entered, then blocks until ctx ends.
type blockingSink struct{ entered chan struct{} }

func (s *blockingSink) Write(ctx context.Context, batch []*Event) error {
	s.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func events(n int) []*Event {
	es := make([]*Event, n)
	for i := range es {
		es[i] = &Event{TransactionID: strconv.Itoa(i)}
	}
	return es
}

func ids(batch []*Event) string {
	s := ""
	for _, e := range batch {
		s += e.TransactionID + ","
	}
	return s
}

// start runs q until the returned stop is called; stop waits for Run.
func start(q *Queue) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func TestQueueObserveNeverBlocksWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &blockingSink{entered: make(chan struct{}, 1)}
		q := NewQueue(3, 1, time.Hour, sink, nil)
		stop := start(q)
		q.Observe(&Event{}) // taken by Run, which now blocks in the sink
		<-sink.entered
		for _, e := range events(10) {
			q.Observe(e) // three fit, seven are dropped; none may block
		}
		if got := q.Dropped(); got != 7 {
			t.Errorf("Dropped() = %d, want 7", got)
		}
		if got := q.Pending(); got != 3 {
			t.Errorf("Pending() = %d, want 3", got)
		}
		stop() // the sink never returns: the drain deadline ends Run
		if got := q.Dropped(); got != 11 {
			t.Errorf("after stop, Dropped() = %d, want all 11", got)
		}
	})
}

func TestQueueBatchesBySize(t *testing.T) {
	sink := newChanSink()
	q := NewQueue(100, 3, time.Hour, sink, nil)
	stop := start(q)
	for _, e := range events(7) {
		q.Observe(e)
	}
	if got := ids(<-sink.batches); got != "0,1,2," {
		t.Errorf("first batch %s, want 0,1,2,", got)
	}
	if got := ids(<-sink.batches); got != "3,4,5," {
		t.Errorf("second batch %s, want 3,4,5,", got)
	}
	stop() // event 6 is below the batch size and an hour early: the drain sends it
	if got := ids(<-sink.batches); got != "6," {
		t.Errorf("drained batch %s, want 6,", got)
	}
	if q.Sent() != 7 || q.Dropped() != 0 {
		t.Errorf("Sent, Dropped = %d, %d; want 7, 0", q.Sent(), q.Dropped())
	}
}

func TestQueueFlushesAfterFlushEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newChanSink()
		q := NewQueue(100, 50, time.Second, sink, nil)
		stop := start(q)
		defer stop()
		t0 := time.Now()
		q.Observe(&Event{TransactionID: "a"})
		q.Observe(&Event{TransactionID: "b"})
		synctest.Wait()
		if len(sink.batches) != 0 {
			t.Fatal("a batch went out before flushEvery")
		}
		batch := <-sink.batches // fake time jumps to the flush
		if got := ids(batch); got != "a,b," {
			t.Errorf("batch %s, want a,b,", got)
		}
		if d := time.Since(t0); d != time.Second {
			t.Errorf("flushed after %v, want 1s", d)
		}
	})
}

func TestQueueFlushTimerStartsWithBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newChanSink()
		q := NewQueue(100, 50, time.Second, sink, nil)
		stop := start(q)
		defer stop()
		time.Sleep(10 * time.Second) // idle: nothing to flush
		t0 := time.Now()
		q.Observe(&Event{TransactionID: "late"})
		<-sink.batches
		if d := time.Since(t0); d != time.Second {
			t.Errorf("flushed %v after the event, want 1s", d)
		}
	})
}

func TestQueueCountsFailedBatches(t *testing.T) {
	sink := newChanSink()
	sink.err = errors.New("boom")
	var mu sync.Mutex
	var reported []error
	q := NewQueue(100, 2, time.Hour, sink, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})
	stop := start(q)
	for _, e := range events(2) {
		q.Observe(e)
	}
	<-sink.batches
	stop()
	if q.Dropped() != 2 || q.Sent() != 0 {
		t.Errorf("Sent, Dropped = %d, %d; want 0, 2", q.Sent(), q.Dropped())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], sink.err) {
		t.Errorf("onErr got %v, want one error wrapping boom", reported)
	}
}

func TestQueueDrainsOnCancel(t *testing.T) {
	sink := newChanSink()
	q := NewQueue(100, 4, time.Hour, sink, nil)
	for _, e := range events(10) {
		q.Observe(e) // queued before Run starts
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q.Run(ctx)
	total := 0
	for len(sink.batches) > 0 {
		b := <-sink.batches
		if len(b) > 4 {
			t.Errorf("drained batch of %d, want at most batchSize 4", len(b))
		}
		total += len(b)
	}
	if total != 10 || q.Sent() != 10 {
		t.Errorf("drained %d events, Sent() = %d; want 10", total, q.Sent())
	}
}

func TestQueueRetriesInterruptedBatchInDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &interruptedOnce{entered: make(chan struct{}, 1)}
		q := NewQueue(100, 1, time.Hour, sink, nil)
		stop := start(q)
		q.Observe(&Event{TransactionID: "x"})
		<-sink.entered
		stop()
		if q.Sent() != 1 || q.Dropped() != 0 {
			t.Errorf("Sent, Dropped = %d, %d; want 1, 0", q.Sent(), q.Dropped())
		}
	})
}

// interruptedOnce blocks its first Write until ctx ends, then accepts.
type interruptedOnce struct {
	entered chan struct{}
	calls   int
}

func (s *interruptedOnce) Write(ctx context.Context, batch []*Event) error {
	s.calls++
	if s.calls > 1 {
		return nil
	}
	s.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func TestQueueObserveAfterRunIsDropped(t *testing.T) {
	q := NewQueue(10, 1, time.Hour, newChanSink(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q.Run(ctx)
	q.Observe(&Event{})
	if q.Dropped() != 1 || q.Pending() != 0 {
		t.Errorf("Dropped, Pending = %d, %d; want 1, 0", q.Dropped(), q.Pending())
	}
}

func TestQueueRunTwiceReports(t *testing.T) {
	var got error
	q := NewQueue(10, 1, time.Hour, newChanSink(), func(err error) { got = err })
	q.running.Store(true) // as if another Run were going
	q.Run(context.Background())
	if got == nil {
		t.Error("second Run did not report an error")
	}
}

// BenchmarkQueueObserve is the analytics cost added to every API call,
// with Run keeping up.
func BenchmarkQueueObserve(b *testing.B) {
	q := NewQueue(10000, 100, time.Second, discardSink{}, nil)
	stop := start(q)
	defer stop()
	e := &Event{}
	b.ReportAllocs()
	for b.Loop() {
		q.Observe(e)
	}
}

type discardSink struct{}

func (discardSink) Write(context.Context, []*Event) error { return nil }
