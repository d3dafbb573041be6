package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/pflag"

	"github.com/portico-api/portico/internal/graphite"
)

// graphiteFlags are the settings of a server role's Graphite output.
type graphiteFlags struct {
	addr, prefix string
	interval     time.Duration
}

// addGraphiteFlags adds --graphite, --graphite-prefix and
// --graphite-interval to a server role.
func addGraphiteFlags(fs *pflag.FlagSet) *graphiteFlags {
	g := &graphiteFlags{}
	fs.StringVar(&g.addr, "graphite", "", "also send the metrics to Graphite (carbon plaintext, host:port such as graphite:2003)")
	fs.StringVar(&g.prefix, "graphite-prefix", "portico", "first components of every Graphite path, such as portico.gw1")
	fs.DurationVar(&g.interval, "graphite-interval", 10*time.Second, "how often the metrics go to Graphite")
	return g
}

// check reports a usage error in the flags.
func (g *graphiteFlags) check() error {
	if err := checkGraphite(g.addr, g.prefix); err != nil {
		return err
	}
	if g.interval <= 0 {
		return usageError{fmt.Errorf("--graphite-interval %v: give a positive duration such as 10s", g.interval)}
	}
	return nil
}

// checkGraphite reports a usage error in --graphite or --graphite-prefix.
func checkGraphite(addr, prefix string) error {
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return usageError{fmt.Errorf("--graphite %q: write host:port, such as graphite.internal:2003", addr)}
	}
	if err := graphite.CheckPrefix(prefix); err != nil {
		return usageError{fmt.Errorf("--graphite-prefix: %v", err)}
	}
	return nil
}

// start sends gatherer's metrics to Graphite every interval until ctx
// ends, when --graphite is set. Sending never blocks the server: while
// Graphite is unreachable, datapoints queue up to a bound and are then
// dropped, and the connection is retried with backoff.
func (g *graphiteFlags) start(ctx context.Context, gatherer prometheus.Gatherer, log *slog.Logger) error {
	if g == nil || g.addr == "" {
		return nil
	}
	if err := g.check(); err != nil {
		return err
	}
	w := newGraphiteWriter(g.addr, log)
	e := &graphite.Exporter{Gatherer: warnDrops(gatherer, w, log), Writer: w, Prefix: g.prefix, Interval: g.interval,
		OnError: func(err error) { log.Warn("graphite: some metrics could not be read", "error", err) }}
	go w.Run(ctx)
	go e.Run(ctx)
	log.Info("sending metrics to graphite", "addr", g.addr, "prefix", g.prefix, "interval", g.interval)
	return nil
}

// newGraphiteWriter logs a failing Graphite at most once a minute (with
// the failures since), not at every reconnection attempt. OnError is
// called from the writer's one goroutine, so the closure needs no lock.
func newGraphiteWriter(addr string, log *slog.Logger) *graphite.Writer {
	var last time.Time
	failures := 0
	return graphite.NewWriter(addr, graphite.Options{OnError: func(err error) {
		failures++
		if time.Since(last) < time.Minute {
			return
		}
		log.Warn("graphite unreachable; datapoints wait in a bounded queue, then are dropped", "error", err, "failures", failures)
		last, failures = time.Now(), 0
	}})
}

// warnDrops logs, once per export, that datapoints were dropped since the
// last one: the exporter is the only caller, so no lock is needed.
func warnDrops(gatherer prometheus.Gatherer, w *graphite.Writer, log *slog.Logger) prometheus.Gatherer {
	var reported uint64
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		if d := w.Dropped(); d > reported {
			log.Warn("graphite datapoints dropped", "dropped_since_start", d, "dropped_since_last_report", d-reported)
			reported = d
		}
		return gatherer.Gather()
	})
}
