package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/monitor"
	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/ratelimit"
)

// gatewayFlags are the settings of `portico gateway`.
type gatewayFlags struct {
	bundleDir, listen, adminListen string
	logFormat, logLevel            string
	noWatch, accessLog             bool
	analyticsFile, analyticsURL    string
	redisURL                       string
	failClosed                     bool
	// A managed gateway: the catalogs a manager pushes over mutual TLS.
	mgmtListen, mgmtCert, mgmtKey, mgmtClientCA string
	dataDir                                     string
	analyticsBuffer                             int
	disablePolicies                             []string
	graphite                                    *graphiteFlags
}

// check reports a usage error in the choice of source: a gateway is either
// folder-driven (--bundle) or managed (--management-listen and its files).
func (f gatewayFlags) check() error {
	if f.mgmtListen == "" {
		if f.bundleDir == "" {
			return usageError{errors.New("--bundle DIR (a folder-driven gateway) or --management-listen ADDR (a managed gateway) is required")}
		}
		for _, o := range []struct{ flag, val string }{{"--management-cert", f.mgmtCert}, {"--management-key", f.mgmtKey},
			{"--management-client-ca", f.mgmtClientCA}, {"--data-dir", f.dataDir}} {
			if o.val != "" {
				return usageError{fmt.Errorf("%s needs --management-listen", o.flag)}
			}
		}
		return nil
	}
	if f.bundleDir != "" {
		return usageError{errors.New("--bundle and --management-listen are mutually exclusive: a gateway is either folder-driven or managed")}
	}
	for _, o := range []struct{ flag, val string }{{"--management-cert FILE", f.mgmtCert}, {"--management-key FILE", f.mgmtKey},
		{"--management-client-ca FILE", f.mgmtClientCA}, {"--data-dir DIR", f.dataDir}} {
		if o.val == "" {
			return usageError{fmt.Errorf("%s is required with --management-listen", o.flag)}
		}
	}
	return nil
}

func newGatewayCmd() *cobra.Command {
	var f gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway (--bundle DIR | --management-listen ADDR ...)",
		Short: "Serve the APIs of a bundle folder",
		Long: `Serve every API found under a folder (OpenAPI 2 or 3 with x-ibm-configuration,
.yaml, .yml or .json, searched recursively) at /{org}/{catalog}{basePath}{path}.
An optional catalog.yaml names the org and catalog (default local and sandbox),
catalog-wide properties and TLS client profiles; product files and
consumers.yaml add plans, apps and subscriptions.

A change under the folder, or SIGHUP, reloads the configuration. A change with
problems is rejected and logged with file:line; the previous configuration
keeps serving.

A managed gateway (--management-listen, with --management-cert, --management-key,
--management-client-ca and --data-dir) serves instead the catalogs a manager
pushes to PUT /v1/catalogs/{org}/{catalog} over mutual TLS; GET /v1/status lists
them. Pushed catalogs are kept in --data-dir and served again after a restart.

The admin listener serves /metrics (Prometheus), /healthz and /readyz.
Analytics events go to --analytics-file (JSON lines) and/or --analytics-url
(batches POSTed as JSON; the bearer token is read from PORTICO_ANALYTICS_TOKEN).`,
		Example: `  portico gateway --bundle examples/quickstart
  curl http://127.0.0.1:8081/local/sandbox/quickstart/hello
  portico gateway --bundle apis/ --redis redis://127.0.0.1:6379/0 --analytics-file calls.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runGateway(ctx, f, log, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bundleDir, "bundle", "", "folder of API, product and catalog files to serve")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8081", "address for API traffic")
	fl.StringVar(&f.adminListen, "admin-listen", "127.0.0.1:8082", `address for /metrics, /healthz and /readyz ("" to turn off)`)
	fl.StringVar(&f.logFormat, "log-format", "json", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.BoolVar(&f.noWatch, "no-watch", false, "do not watch the folder; reload on SIGHUP only")
	fl.BoolVar(&f.accessLog, "access-log", true, "log one line per API call (--access-log=false to turn off)")
	fl.StringVar(&f.analyticsFile, "analytics-file", "", "append one JSON line per API call to this file")
	fl.StringVar(&f.analyticsURL, "analytics-url", "", "POST analytics events in batches to this URL")
	fl.StringVar(&f.redisURL, "redis", "", "share rate-limit counters through Redis (redis://host:6379/0); default: in memory")
	fl.BoolVar(&f.failClosed, "ratelimit-fail-closed", false, "refuse calls with rate limits while Redis is unreachable (default: allow them)")
	fl.StringVar(&f.mgmtListen, "management-listen", "", "address of the management endpoint (mutual TLS) a manager pushes catalogs to; instead of --bundle")
	fl.StringVar(&f.mgmtCert, "management-cert", "", "PEM certificate of the management endpoint")
	fl.StringVar(&f.mgmtKey, "management-key", "", "PEM private key of the management endpoint")
	fl.StringVar(&f.mgmtClientCA, "management-client-ca", "", "PEM CA that management clients' certificates must chain to")
	fl.StringVar(&f.dataDir, "data-dir", "", "folder where a managed gateway keeps the pushed catalogs, served again after a restart")
	fl.IntVar(&f.analyticsBuffer, "analytics-buffer", analytics.DefaultBufferSize, "events a managed gateway holds for its manager to collect; when full, the oldest are dropped")
	fl.StringSliceVar(&f.disablePolicies, "disable-policy", nil, "refuse APIs that use these policies, e.g. gatewayscript,xslt (repeatable)")
	f.graphite = addGraphiteFlags(fl)
	return cmd
}

func runGateway(ctx context.Context, f gatewayFlags, log *slog.Logger, stderr interface{ Write([]byte) (int, error) }) error {
	reg, err := policy.Builtins().Without(f.disablePolicies...)
	if err != nil {
		return usageError{fmt.Errorf("--disable-policy: %w", err)}
	}
	log = log.With(monitor.Dataset(monitor.DatasetGateway))
	metrics := monitor.NewGatewayMetrics()
	if err := f.graphite.start(ctx, metrics.Gatherer(), log); err != nil {
		return err
	}
	observers := analytics.Observers{metrics}
	queue, err := analyticsQueue(f, log)
	if err != nil {
		return err
	}
	if queue != nil {
		observers = append(observers, queue)
		if err := metrics.RegisterAnalyticsQueue(queue); err != nil {
			return err
		}
		qctx, stopQueue := context.WithCancel(ctx)
		drained := make(chan struct{})
		go func() { queue.Run(qctx); close(drained) }()
		// On the way out (a signal, or a failed start), stop the queue and
		// wait for it to hand what it holds to its sinks; Run bounds that.
		defer func() { stopQueue(); <-drained }()
	}
	observers, flushAccessLog, err := addAccessLog(ctx, f.accessLog, stderr, f.logFormat, metrics, observers)
	if err != nil {
		return err
	}
	defer flushAccessLog()
	limiter, counter, err := rateLimiter(f, log, metrics)
	if err != nil {
		return err
	}
	var buffer *analytics.Buffer
	if f.mgmtListen != "" { // the manager collects the events
		buffer = analytics.NewBuffer(f.analyticsBuffer)
		observers = append(observers, buffer)
		defer keepEvents(buffer, f.dataDir, log)()
	}
	gw := gateway.New(gateway.Options{Logger: log, Limiter: limiter, Counter: counter, Observer: observers})
	onLoad := func(v int64, errs apidef.Problems) { metrics.ConfigLoaded(v, len(errs) == 0) }
	if f.mgmtListen != "" {
		if err := startManaged(ctx, f, gw, reg, buffer, onLoad, log); err != nil {
			return err
		}
	} else {
		src := &gateway.DirSource{Dir: f.bundleDir, Gateway: gw, Registry: reg, Env: &assembly.Env{Logger: log}, Log: log,
			OnLoad: onLoad}
		if ps := src.Load(); len(ps) > 0 { // Load returns errors only
			fmt.Fprintf(stderr, "%v\n", ps)
			return fmt.Errorf("the bundle in %s has %d problem(s); fix them and start again", f.bundleDir, len(ps))
		}
		if !f.noWatch {
			go func() {
				if err := src.Watch(ctx); err != nil {
					log.Warn("not watching the bundle folder; send SIGHUP to reload", "error", err)
				}
			}()
		}
		go reloadOnHangup(ctx, src)
	}
	if f.adminListen != "" {
		ready := func() error {
			if gw.Config() == nil {
				return errors.New("no configuration loaded")
			}
			return nil
		}
		go func() {
			if err := serve(ctx, "admin", f.adminListen, monitor.AdminHandler(metrics, ready), log.Info); err != nil {
				log.Error("admin listener stopped", "error", err)
			}
		}()
	}
	return serve(ctx, "gateway", f.listen, inFlight(gw, metrics.InFlight()), log.Info)
}

// startManaged serves the catalogs saved in the data dir and starts the
// management endpoint, with mutual TLS, beside the API listener. It
// returns once the endpoint listens.
func startManaged(ctx context.Context, f gatewayFlags, gw *gateway.Gateway, reg *assembly.Registry, buffer *analytics.Buffer, onLoad func(int64, apidef.Problems), log *slog.Logger) error {
	read := func(flag, file string) ([]byte, error) {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return data, nil
	}
	cert, err := read("--management-cert", f.mgmtCert)
	if err != nil {
		return err
	}
	key, err := read("--management-key", f.mgmtKey)
	if err != nil {
		return err
	}
	ca, err := read("--management-client-ca", f.mgmtClientCA)
	if err != nil {
		return err
	}
	tlsCfg, err := pki.ServerTLS(cert, key, ca)
	if err != nil {
		return fmt.Errorf("management TLS: %w", err)
	}
	src := &gateway.ManagedSource{Data: &gateway.DataDir{Dir: f.dataDir}, Gateway: gw, Registry: reg,
		Env: &assembly.Env{Logger: log}, Log: log, OnLoad: onLoad, Analytics: buffer}
	if err := src.Start(ctx); err != nil {
		return err
	}
	_, err = listenManagement(ctx, f.mgmtListen, tlsCfg, src.Handler(), log)
	return err
}

// keepEvents takes back the analytics events a graceful stop left in
// dataDir and returns the function that leaves them there at the next
// stop (after the listeners have drained), for the manager to collect.
func keepEvents(buffer *analytics.Buffer, dataDir string, log *slog.Logger) func() {
	path := filepath.Join(dataDir, "analytics-pending.jsonl")
	if n, err := buffer.Restore(path); err != nil {
		log.Warn("analytics events of the last run not all restored", "error", err, "restored", n)
	} else if n > 0 {
		log.Info("analytics events of the last run restored for the manager", "events", n)
	}
	return func() {
		if err := buffer.Save(path); err != nil {
			log.Error("analytics events not collected by the manager are lost", "events", buffer.Len(), "error", err)
		}
	}
}

// listenManagement serves h with mutual TLS on addr until ctx ends and
// returns the address it listens on.
func listenManagement(ctx context.Context, addr string, tlsCfg *tls.Config, h http.Handler, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("management: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("management listening", "url", "https://"+ln.Addr().String())
	go func() {
		if err := srv.Serve(tls.NewListener(ln, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("management listener stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	return ln.Addr(), nil
}

// analyticsQueue builds the queue to the configured sinks, or nil.
func analyticsQueue(f gatewayFlags, log *slog.Logger) (*analytics.Queue, error) {
	var sinks analytics.MultiSink
	if f.analyticsFile != "" {
		s, err := analytics.NewFileSink(f.analyticsFile)
		if err != nil {
			return nil, fmt.Errorf("--analytics-file: %w", err)
		}
		sinks = append(sinks, s)
	}
	if f.analyticsURL != "" {
		s, err := analytics.NewHTTPSink(analytics.HTTPSinkConfig{URL: f.analyticsURL, Token: os.Getenv("PORTICO_ANALYTICS_TOKEN")})
		if err != nil {
			return nil, fmt.Errorf("--analytics-url: %w", err)
		}
		sinks = append(sinks, s)
	}
	if len(sinks) == 0 {
		return nil, nil
	}
	onErr := func(err error) { log.Warn("analytics events not delivered", "error", err) }
	return analytics.NewQueue(10000, 200, time.Second, sinks, onErr), nil
}

// rateLimiter is in memory, or Redis guarded by the fail-open policy; the
// counter for count limits uses the same store.
func rateLimiter(f gatewayFlags, log *slog.Logger, metrics *monitor.GatewayMetrics) (ratelimit.Limiter, ratelimit.Counter, error) {
	if f.redisURL == "" {
		mem := ratelimit.NewMemory()
		return mem, mem, nil
	}
	opts, err := redis.ParseURL(f.redisURL)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--redis %q: %v (write redis://host:6379/0)", f.redisURL, err)}
	}
	// Fail fast while Redis is down, so calls are not held up: one dial
	// attempt, no command retries, short timeouts.
	opts.DialerRetries, opts.MaxRetries = 1, -1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	report := ratelimit.ReportEvery(10*time.Second, func(err error, dropped uint64) {
		log.Error("rate-limit store unreachable", "error", err, "fail_closed", f.failClosed, "more_errors", dropped)
	})
	store := ratelimit.NewRedis(redis.NewClient(opts))
	g := ratelimit.NewFailOpen(store, f.failClosed, report)
	if err := metrics.RegisterRateLimitStoreErrors(g.Errors); err != nil {
		return nil, nil, err
	}
	return g, store, nil
}

// inFlight counts requests being served.
func inFlight(h http.Handler, g prometheus.Gauge) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Inc()
		defer g.Dec()
		h.ServeHTTP(w, r)
	})
}

func reloadOnHangup(ctx context.Context, src *gateway.DirSource) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			src.Load()
		}
	}
}

// serve runs an HTTP server until ctx ends, then drains it.
func serve(ctx context.Context, name, addr string, h http.Handler, info func(string, ...any)) error {
	ln, err := listen(name, addr)
	if err != nil {
		return err
	}
	return serveOn(ctx, name, ln, h, info)
}

func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listening on %s: %w", name, addr, err)
	}
	return ln, nil
}

// serveOn is serve on a listener already open.
func serveOn(ctx context.Context, name string, ln net.Listener, h http.Handler, info func(string, ...any)) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	info(name+" listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
