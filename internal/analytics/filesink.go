package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
)

// FileSink appends events to a file as JSON lines, one event per line with
// API Connect's field names, so log shippers and `jq` can read it while the
// gateway writes.
type FileSink struct {
	path string

	mu  sync.Mutex // guards f against a Close during a Write
	f   *os.File
	buf bytes.Buffer
}

// NewFileSink opens path for appending, creating it readable only by the
// gateway's user (0600): events carry client IPs and application ids.
func NewFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("analytics: open the event file: %w; check that its folder exists and is writable", err)
	}
	return &FileSink{path: path, f: f}, nil
}

// Write implements Sink. The batch goes to the file in one write call, so
// with O_APPEND a batch's lines are not interleaved with another writer's.
func (s *FileSink) Write(ctx context.Context, batch []*Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("analytics: event file %s is closed; stop the Queue before closing its sink", s.path)
	}
	if err := s.encode(batch); err != nil {
		return err
	}
	if _, err := s.f.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("analytics: write the event file: %w; check free disk space and permissions", err)
	}
	return nil
}

// encode fills s.buf with one JSON line per event. The buffer is reused
// between batches to avoid growing a new one each time.
func (s *FileSink) encode(batch []*Event) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	for _, e := range batch {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("analytics: encode event %s: %w", e.TransactionID, err)
		}
	}
	return nil
}

// Close closes the file. Stop the Queue (let Run return) first.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("analytics: event file already closed")
	}
	err := s.f.Close()
	s.f = nil
	return err
}
