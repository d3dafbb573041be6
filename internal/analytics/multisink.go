package analytics

import (
	"context"
	"errors"
)

// MultiSink writes each batch to every sink; a failing sink does not stop
// the others, and the errors are joined.
type MultiSink []Sink

// Write implements Sink.
func (m MultiSink) Write(ctx context.Context, batch []*Event) error {
	var errs []error
	for _, s := range m {
		if err := s.Write(ctx, batch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
