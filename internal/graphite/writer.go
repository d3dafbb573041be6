package graphite

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Options tune a Writer. The zero value is usable.
type Options struct {
	// QueueSize bounds the datapoints waiting to be written (default 10000).
	QueueSize int
	// DialTimeout and WriteTimeout bound one connection attempt and one
	// write (default 5s each), so a carbon that stops reading cannot wedge
	// the writer: the queue fills and further datapoints are dropped.
	DialTimeout, WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts, which doubles after each failure (default 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// FlushTimeout bounds the last write when Run's context ends (default 2s).
	FlushTimeout time.Duration
	// OnError, if set, is told why a connection failed or was lost. It is
	// called from Run's goroutine; failed attempts are spaced by the backoff.
	OnError func(error)
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	def(&o.DialTimeout, 5*time.Second)
	def(&o.WriteTimeout, 5*time.Second)
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.FlushTimeout, 2*time.Second)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
}

// maxBatch is how many queued datapoints go out in one write.
const maxBatch = 500

// Writer sends datapoints to one carbon address over TCP. Write never
// blocks; Run does the network work. Counts are safe to read at any time.
type Writer struct {
	addr  string
	o     Options
	queue chan Point

	sent, dropped atomic.Uint64
}

// NewWriter makes a writer to addr (host:port). Nothing is sent until Run
// is started.
func NewWriter(addr string, o Options) *Writer {
	o.defaults()
	return &Writer{addr: addr, o: o, queue: make(chan Point, o.QueueSize)}
}

// Write queues ps without waiting. Datapoints that do not fit, and values
// carbon cannot store (NaN, ±Inf), are dropped and counted.
func (w *Writer) Write(ps ...Point) {
	for _, p := range ps {
		if !finite(p.Value) {
			w.dropped.Add(1)
			continue
		}
		select {
		case w.queue <- p:
		default:
			w.dropped.Add(1)
		}
	}
}

// Sent is the number of datapoints written to carbon.
func (w *Writer) Sent() uint64 { return w.sent.Load() }

// Dropped is the number of datapoints lost: queue full, a failed write,
// an unstorable value, or still queued when Run stopped.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Pending is the number of datapoints waiting in the queue.
func (w *Writer) Pending() int { return len(w.queue) }

// Run connects to carbon and writes queued datapoints until ctx ends,
// reconnecting with backoff whenever the connection fails or the peer
// closes it. When ctx ends it writes what is still queued, within
// FlushTimeout, and returns. Run must be called once.
func (w *Writer) Run(ctx context.Context) {
	var c *conn
	backoff := w.o.MinBackoff
	for {
		if c == nil {
			var err error
			if c, err = w.dial(ctx); err != nil {
				if ctx.Err() != nil {
					w.flush(nil)
					return
				}
				w.o.OnError(err)
				if !wait(ctx, backoff) {
					w.flush(nil)
					return
				}
				backoff = min(2*backoff, w.o.MaxBackoff)
				continue
			}
			backoff = w.o.MinBackoff
		}
		select {
		case <-ctx.Done():
			w.flush(c)
			return
		case <-c.gone:
			c.Close()
			c = nil
			w.o.OnError(fmt.Errorf("graphite %s closed the connection; reconnecting", w.addr))
		case p := <-w.queue:
			if err := w.send(c, w.batch(p)); err != nil {
				c.Close()
				c = nil
				w.o.OnError(err)
			}
		}
	}
}

// batch takes first and whatever else is queued, up to maxBatch.
func (w *Writer) batch(first Point) []Point {
	ps := []Point{first}
	for len(ps) < maxBatch {
		select {
		case p := <-w.queue:
			ps = append(ps, p)
		default:
			return ps
		}
	}
	return ps
}

// send writes ps in one write. On failure they count as dropped: carbon
// may have stored some of them, and a resend could store them twice.
func (w *Writer) send(c *conn, ps []Point) error {
	var buf []byte
	for _, p := range ps {
		buf = p.appendLine(buf)
	}
	c.SetWriteDeadline(time.Now().Add(w.o.WriteTimeout))
	if _, err := c.Write(buf); err != nil {
		w.dropped.Add(uint64(len(ps)))
		return fmt.Errorf("graphite %s: writing: %w", w.addr, err)
	}
	w.sent.Add(uint64(len(ps)))
	return nil
}

// flush writes what is queued now, within FlushTimeout, on c or on a new
// connection; what cannot be written is dropped.
func (w *Writer) flush(c *conn) {
	deadline := time.Now().Add(w.o.FlushTimeout)
	if c == nil && len(w.queue) > 0 {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		var err error
		if c, err = w.dial(ctx); err != nil {
			w.o.OnError(err)
		}
	}
	if c != nil {
		defer c.Close()
	}
	for len(w.queue) > 0 {
		ps := w.batch(<-w.queue)
		if c == nil || time.Now().After(deadline) {
			w.dropped.Add(uint64(len(ps)))
			continue
		}
		if err := w.send(c, ps); err != nil {
			w.o.OnError(err)
			c.Close()
			c = nil
		}
	}
}

// conn is a connection whose gone channel closes when the peer closes it:
// carbon never sends anything, so a read returning means the connection
// is over, and the writer reconnects before losing the next batch to it.
type conn struct {
	net.Conn
	gone chan struct{}
}

func (w *Writer) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: w.o.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return nil, fmt.Errorf("graphite: %w", err)
	}
	c := &conn{Conn: nc, gone: make(chan struct{})}
	go func() {
		_, _ = io.Copy(io.Discard, nc)
		close(c.gone)
	}()
	return c, nil
}

// wait sleeps for d unless ctx ends first; it reports whether ctx is live.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
