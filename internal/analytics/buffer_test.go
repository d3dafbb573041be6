package analytics

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func seqs(b Batch) []uint64 {
	out := make([]uint64, len(b.Events))
	for i, e := range b.Events {
		out[i] = e.Seq
	}
	return out
}

func TestBufferSinceAcknowledges(t *testing.T) {
	b := NewBuffer(10)
	for i := 0; i < 5; i++ {
		b.Observe(&Event{TransactionID: string(rune('a' + i))})
	}
	first := b.Since("", 0, 3)
	if got := seqs(first); len(got) != 3 || got[0] != 1 || got[2] != 3 || first.Pending != 5 {
		t.Fatalf("first batch = %v pending %d, want [1 2 3] pending 5", got, first.Pending)
	}
	if first.Events[0].Event.TransactionID != "a" {
		t.Fatalf("first event = %+v", first.Events[0].Event)
	}
	second := b.Since(first.Boot, 3, 10)
	if got := seqs(second); len(got) != 2 || got[0] != 4 || second.Pending != 2 {
		t.Fatalf("second batch = %v pending %d, want [4 5] pending 2", got, second.Pending)
	}
	// Asking again after the same cursor repeats what was not acknowledged.
	if again := b.Since(first.Boot, 3, 10); len(again.Events) != 2 {
		t.Fatalf("repeat = %v", seqs(again))
	}
	if done := b.Since(first.Boot, 5, 10); len(done.Events) != 0 || b.Len() != 0 {
		t.Fatalf("after acknowledging all: %v, %d held", seqs(done), b.Len())
	}
}

func TestBufferOtherBootStartsOver(t *testing.T) {
	b := NewBuffer(10)
	b.Observe(&Event{})
	b.Observe(&Event{})
	// A cursor from an earlier run of the gateway must not skip this run's events.
	got := b.Since("an-earlier-boot", 2, 10)
	if len(got.Events) != 2 || got.Boot == "an-earlier-boot" {
		t.Fatalf("batch = %v boot %q", seqs(got), got.Boot)
	}
}

func TestBufferDropsOldestWhenFull(t *testing.T) {
	b := NewBuffer(3)
	for i := 0; i < 5; i++ {
		b.Observe(&Event{})
	}
	got := b.Since("", 0, 10)
	if s := seqs(got); len(s) != 3 || s[0] != 3 || s[2] != 5 || got.Dropped != 2 || b.Dropped() != 2 {
		t.Fatalf("full buffer = %v dropped %d, want [3 4 5] dropped 2", s, got.Dropped)
	}
}

func TestBufferConcurrent(t *testing.T) {
	b := NewBuffer(100000)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				b.Observe(&Event{})
			}
		}()
	}
	var seen uint64
	boot := ""
	for seen < 8000 {
		batch := b.Since(boot, seen, 500)
		boot = batch.Boot
		for _, e := range batch.Events {
			if e.Seq != seen+1 {
				t.Fatalf("sequence jumped from %d to %d", seen, e.Seq)
			}
			seen = e.Seq
		}
	}
	wg.Wait()
}

func TestBufferSaveRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pending.jsonl")
	b := NewBuffer(10)
	b.Observe(&Event{TransactionID: "t1", Status: 200, Duration: 3 * time.Millisecond})
	b.Observe(&Event{TransactionID: "t2", Status: 503})
	b.Observe(&Event{TransactionID: "t3"})
	first := b.Since("", 0, 1)
	b.Since(first.Boot, 1, 0) // the manager stored t1
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v %v", info, err)
	}

	next := NewBuffer(10)
	if n, err := next.Restore(path); n != 2 || err != nil {
		t.Fatalf("Restore = %d, %v; want 2 events", n, err)
	}
	got := next.Since("", 0, 10)
	if len(got.Events) != 2 || got.Events[0].Event.TransactionID != "t2" || got.Events[0].Event.Status != 503 || got.Events[1].Seq != 2 {
		t.Fatalf("restored = %+v", got.Events)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file is still there after Restore: %v", err)
	}
	if n, err := next.Restore(path); n != 0 || err != nil {
		t.Fatalf("Restore of a missing file = %d, %v", n, err)
	}
	if err := NewBuffer(10).Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("an empty buffer wrote a file")
	}
	os.WriteFile(path, []byte("{\"transaction_id\":\"t9\"}\nnot json\n"), 0o600)
	if n, err := NewBuffer(10).Restore(path); n != 1 || err == nil || !strings.Contains(err.Error(), "1 line(s)") {
		t.Fatalf("Restore with a bad line = %d, %v", n, err)
	}
}
