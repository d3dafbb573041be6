package analytics

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sampleEvent(id string) *Event {
	return &Event{
		Datetime:           time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC),
		TransactionID:      id,
		OrgName:            "acme",
		CatalogName:        "sandbox",
		APIName:            "pets",
		APIVersion:         "1.0.0",
		OperationPath:      "/pets/{id}",
		RequestMethod:      "GET",
		URIPath:            "/acme/sandbox/pets/42",
		StatusCode:         "200 OK",
		Status:             200,
		TimeToServeRequest: 42,
		Duration:           42 * time.Millisecond,
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestFileSinkWritesJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), []*Event{sampleEvent("t1"), sampleEvent("t2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), []*Event{sampleEvent("t3")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	first := lines[0]
	want := map[string]any{
		"transaction_id":        "t1",
		"status_code":           "200 OK",
		"time_to_serve_request": 42.0,
		"api_name":              "pets",
		"operation_path":        "/pets/{id}",
		"datetime":              "2026-11-22T03:04:05Z",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v", k, first[k], v)
		}
	}
	for _, k := range []string{"Status", "Duration", "BackendDuration", "backend_url"} {
		if _, ok := first[k]; ok {
			t.Errorf("field %s should not be written", k)
		}
	}
	if lines[2]["transaction_id"] != "t3" {
		t.Errorf("third line is %v, want t3", lines[2]["transaction_id"])
	}
}

func TestFileSinkCreatesPrivateFileAndAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	for _, id := range []string{"a", "b"} {
		s, err := NewFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(t.Context(), []*Event{sampleEvent(id)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %v, want 0600", perm)
	}
	if n := len(readLines(t, path)); n != 2 {
		t.Errorf("%d lines after reopening, want 2 (append)", n)
	}
}

func TestFileSinkErrors(t *testing.T) {
	if _, err := NewFileSink(filepath.Join(t.TempDir(), "missing", "events.jsonl")); err == nil {
		t.Error("NewFileSink in a missing folder: no error")
	}
	s, err := NewFileSink(filepath.Join(t.TempDir(), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Write(ctx, []*Event{sampleEvent("x")}); err == nil {
		t.Error("Write with an ended context: no error")
	}
	s.Close()
	if err := s.Write(t.Context(), []*Event{sampleEvent("x")}); err == nil {
		t.Error("Write after Close: no error")
	}
	if err := s.Close(); err == nil {
		t.Error("second Close: no error")
	}
}
