package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/monitor"
	"github.com/portico-api/portico/internal/store"
)

// TestNewLoggerTakesOverStdLog checks that a line the log package writes
// (as net/http's server does) comes out as an ECS JSON line too.
func TestNewLoggerTakesOverStdLog(t *testing.T) {
	oldDefault, oldFlags := slog.Default(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(oldDefault)
		log.SetOutput(os.Stderr)
		log.SetFlags(oldFlags)
	})
	var buf bytes.Buffer
	lg, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	lg.Info("from slog", "password", "hunter2")
	log.Printf("http: TLS handshake error from 10.0.0.1:5555: EOF")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["ecs.version"] == nil {
			t.Errorf("not an ECS line (%v): %s", err, l)
		}
	}
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(lines[1], "TLS handshake error") {
		t.Errorf("lines:\n%s", buf.String())
	}
}

func TestNewLoggerRefusesBadFlags(t *testing.T) {
	for _, c := range [][2]string{{"xml", "info"}, {"json", "loud"}} {
		_, err := newLogger(&bytes.Buffer{}, c[0], c[1])
		if !errors.As(err, new(usageError)) {
			t.Errorf("--log-format %s --log-level %s: %v, want a usage error", c[0], c[1], err)
		}
	}
}

func TestAddAccessLog(t *testing.T) {
	event := &analytics.Event{GlobalTransactionID: "tx-9", RequestMethod: "GET", URIPath: "/a/b/c", Status: 200, Duration: time.Millisecond}
	for _, c := range []struct {
		format string
		on     bool
		want   string
	}{
		{"json", true, `"transaction.id":"tx-9"`},
		{"text", true, "transaction.id=tx-9"},
		{"json", false, ""},
	} {
		var buf bytes.Buffer
		metrics := monitor.NewGatewayMetrics()
		obs, flush, err := addAccessLog(t.Context(), c.on, &buf, c.format, metrics, analytics.Observers{metrics})
		if err != nil {
			t.Fatal(err)
		}
		obs.Observe(event)
		flush() // writes out what is queued: no waiting needed
		if got := strings.TrimSpace(buf.String()); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s on=%v: %q, want a line with %q", c.format, c.on, got, c.want)
		}
		if c.on && len(obs) != 2 || !c.on && len(obs) != 1 {
			t.Errorf("%s on=%v: %d observers", c.format, c.on, len(obs))
		}
	}
}

// fixedCounts is a store.ObjectCounter with set answers.
type fixedCounts []store.ObjectCount

func (f fixedCounts) CountObjects(context.Context) ([]store.ObjectCount, error) { return f, nil }

func TestObjectCountsLeaveOutTheAdminOrg(t *testing.T) {
	got, err := objectCounts{fixedCounts{
		{Type: "provider_orgs", Count: 3},
		{Type: "catalogs", Org: "acme", Count: 2},
		{Type: "catalogs", Org: "admin", Count: 0},
		{Type: "gateway_services", Org: "admin", Count: 2},
	}}.CountObjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []monitor.ObjectCount{
		{Type: "provider_orgs", Count: 2},
		{Type: "catalogs", Org: "acme", Count: 2},
		{Type: "gateway_services", Org: "admin", Count: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}
