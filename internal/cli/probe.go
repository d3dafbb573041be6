package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/graphite"
	"github.com/portico-api/portico/internal/probe"
)

// probeFlags are the settings of `portico probe`.
type probeFlags struct {
	config, listen      string
	once                bool
	logFormat, logLevel string
	// Graphite gets each round's results as they come, so there is no
	// --graphite-interval.
	graphiteAddr, graphitePrefix string
}

func newProbeCmd() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe --config FILE",
		Short: "Check HTTP(S) endpoints on an interval; results as Prometheus metrics and Graphite lines",
		Long: `Run the checks of a configuration file: each requests a URL (or a path on a
static list of hosts, or on every address a DNS name resolves to) with the
method, headers and body it gives, and judges the status, the body and the
TLS certificate. The results are served as Prometheus metrics on --listen
(/metrics: probe_success, probe_duration_seconds, probe_http_status_code,
probe_ssl_earliest_cert_expiry, probe_failure{reason} ...) and, with
--graphite, written as prefix.check.host.metric lines.

A failure has one reason: dns, refused, timeout, tls, status, body or other.

--once runs every check once, prints a summary, writes the Graphite lines,
and exits 0 if every probe succeeded, 1 otherwise.`,
		Example: `  portico probe --config examples/probe/probe.yaml
  portico probe --config probe.yaml --once --graphite graphite:2003
  curl http://127.0.0.1:8083/metrics`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			cfg, err := probe.Load(f.config)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
				return fmt.Errorf("%s has problems; fix them and start again", f.config)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f.once {
				return probeOnce(ctx, f, cfg, cmd.OutOrStdout(), log)
			}
			return probeServe(ctx, f, cfg, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML file of the checks (see docs/monitoring.md)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8083", "address for /metrics and /healthz")
	fl.BoolVar(&f.once, "once", false, "run every check once, print a summary and exit 0 if all succeeded, else 1")
	fl.StringVar(&f.graphiteAddr, "graphite", "", "also write results to Graphite (carbon plaintext, host:port)")
	fl.StringVar(&f.graphitePrefix, "graphite-prefix", "portico.probe", "first components of every Graphite path")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func (f *probeFlags) check(cmd *cobra.Command) error {
	if f.config == "" {
		return usageError{errors.New("--config FILE is required: the checks to run")}
	}
	if f.once && cmd.Flags().Changed("listen") {
		return usageError{errors.New("--listen and --once are exclusive: --once serves no metrics, it prints them")}
	}
	if f.graphiteAddr != "" {
		return checkGraphite(f.graphiteAddr, f.graphitePrefix)
	}
	return nil
}

// probeOnce runs every check once and reports through the exit status.
func probeOnce(ctx context.Context, f probeFlags, cfg *probe.Config, out io.Writer, log *slog.Logger) error {
	rs := (&probe.Runner{Checks: cfg.Checks}).Once(ctx)
	failed := printSummary(out, rs)
	if f.graphiteAddr != "" {
		w := newGraphiteWriter(f.graphiteAddr, log)
		w.Write(probe.Points(f.graphitePrefix, rs)...)
		// A stopped writer still writes what is queued, within its flush
		// timeout, and returns.
		done, cancel := context.WithCancel(ctx)
		cancel()
		w.Run(done)
		if d := w.Dropped(); d > 0 {
			log.Warn("some results did not reach graphite", "dropped", d, "sent", w.Sent())
		}
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

// printSummary writes one line per probe and returns how many failed.
func printSummary(out io.Writer, rs []probe.Result) int {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tHOST\tSTATUS\tTIME\tREASON\tDETAIL")
	failed := 0
	for _, r := range rs {
		result := "ok"
		if !r.Success {
			result = "FAIL"
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1fms\t%s\t%s\n", result, r.Check, r.Host, r.StatusCode,
			float64(r.Duration)/float64(time.Millisecond), r.Reason, r.Detail)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d of %d probes failed\n", failed, len(rs))
	return failed
}

// probeServe runs the checks on their intervals and serves the metrics.
func probeServe(ctx context.Context, f probeFlags, cfg *probe.Config, log *slog.Logger) error {
	metrics := probe.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	var w *graphite.Writer
	if f.graphiteAddr != "" {
		w = newGraphiteWriter(f.graphiteAddr, log)
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portico_probe_graphite_sent_total",
				Help: "Datapoints written to Graphite."}, func() float64 { return float64(w.Sent()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portico_probe_graphite_dropped_total",
				Help: "Datapoints lost: queue full or Graphite unreachable."}, func() float64 { return float64(w.Dropped()) }))
		written := make(chan struct{})
		go func() { w.Run(ctx); close(written) }()
		defer func() { <-written }() // Run flushes, bounded, once ctx ends
	}
	changes := &stateLog{log: log, last: map[string]probe.Reason{}}
	runner := &probe.Runner{Checks: cfg.Checks, Report: func(c *probe.Check, rs []probe.Result) {
		metrics.Set(c.Name, rs)
		if w != nil {
			w.Write(probe.Points(f.graphitePrefix, rs)...)
		}
		changes.report(rs)
	}}
	go runner.Run(ctx)
	log.Info("probing", "config", cfg.File, "checks", len(cfg.Checks))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return serve(ctx, "probe", f.listen, mux, log.Info)
}

// stateLog logs when a target starts failing, fails differently, or
// recovers, rather than every round.
type stateLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]probe.Reason
}

func (s *stateLog) report(rs []probe.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		key := r.Check + " " + r.Host
		prev, seen := s.last[key]
		s.last[key] = r.Reason
		switch {
		case r.Success && seen && prev != "":
			s.log.Info("probe recovered", "check", r.Check, "host", r.Host, "status", r.StatusCode)
		case !r.Success && (!seen || prev != r.Reason):
			s.log.Warn("probe failed", "check", r.Check, "host", r.Host, "reason", r.Reason, "status", r.StatusCode, "detail", r.Detail)
		}
		s.log.Debug("probe", "check", r.Check, "host", r.Host, "success", r.Success, "duration", r.Duration)
	}
}
