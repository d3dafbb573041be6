package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/monitor"
	"github.com/portico-api/portico/internal/store"
)

func newManagerCmd() *cobra.Command {
	var home, addr, dsn, logFormat, logLevel string
	var pushMaxBackoff time.Duration
	var graphiteOut *graphiteFlags
	var keep retention
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the manager: API Connect's REST API under /api",
		Long: `Run the control plane. Storage is SQLite in the home folder unless --db
names another database (sqlite:PATH or postgres://…). The first start creates
an admin user and writes its API key to HOME/admin.apikey (mode 0600); get a
token with it:

  curl -X POST http://127.0.0.1:9090/api/token -H 'Content-Type: application/json' \
       -d '{"grant_type":"api_key","api_key":"'$(cat .portico/admin.apikey)'"}'

GET /metrics on the same listener, outside /api and without a token, is
Prometheus's text format: object counts, REST call counts and durations.

Stored secrets are encrypted with a key kept in HOME/secret.key (made on the
first start) or given as 64 hex digits in PORTICO_SECRET_KEY.

Gateway services registered under
/api/orgs/admin/availability-zones/availability-zone-default/gateway-services
receive each catalog that uses them over mutual TLS after every change; the
manager collects their analytics events the same way.`,
		Example: `  portico manager
  portico manager --db postgres://portico@db.internal/portico --listen :9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := listen("manager", addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			st, m, err := openManager(ctx, home, dsn, baseURL(addr, ln.Addr()), log)
			if err != nil {
				return err
			}
			defer st.Close()
			api, metrics := controlPlane(ctx, st, m, keep, pushMaxBackoff, log)
			if err := graphiteOut.start(ctx, metrics, log); err != nil {
				return err
			}
			return serveOn(ctx, "manager", ln, api, log.Info)
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", "", "folder for the database and keys (default $PORTICO_HOME or .portico)")
	f.StringVar(&addr, "listen", "127.0.0.1:9090", "address of the REST API")
	f.DurationVar(&pushMaxBackoff, "push-max-backoff", 10*time.Second, "longest wait before pushing again to a gateway that failed")
	f.StringVar(&dsn, "db", "", "database: sqlite:PATH or postgres://… (default sqlite in the home folder)")
	f.StringVar(&logFormat, "log-format", "json", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	keep.addFlag(cmd)
	graphiteOut = addGraphiteFlags(f)
	return cmd
}

// openManager opens the store (SQLite in home unless dsn says otherwise)
// and makes sure the admin user exists.
func openManager(ctx context.Context, home, dsn, base string, log *slog.Logger) (store.Store, *manager.Manager, error) {
	if home == "" {
		home = defaultHome()
	}
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(home, "portico.db")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, nil, err
	}
	key, err := secretKey(home)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, dsn, key)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the database: %w", err)
	}
	log = log.With(monitor.Dataset(monitor.DatasetManager))
	m := manager.New(st, manager.Options{BaseURL: base, Logger: log})
	keyFile, err := m.Bootstrap(ctx, home)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	log.Info("manager ready", "admin_api_key_file", keyFile, "db", redactDSN(dsn))
	return st, m, nil
}

func defaultHome() string {
	if h := os.Getenv("PORTICO_HOME"); h != "" {
		return h
	}
	return ".portico"
}

// secretKey reads the store's encryption key from PORTICO_SECRET_KEY or
// HOME/secret.key, making the file on the first start.
func secretKey(home string) ([]byte, error) {
	if env := os.Getenv("PORTICO_SECRET_KEY"); env != "" {
		key, err := hex.DecodeString(strings.TrimSpace(env))
		if err != nil || len(key) != store.SecretKeySize {
			return nil, usageError{fmt.Errorf("PORTICO_SECRET_KEY must be %d bytes as hex (%d digits)", store.SecretKeySize, 2*store.SecretKeySize)}
		}
		return key, nil
	}
	path := filepath.Join(home, "secret.key")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, store.SecretKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return key, os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
	}
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != store.SecretKeySize {
		return nil, fmt.Errorf("%s does not hold a %d-byte hex key; restore it from a backup (stored secrets need it)", path, store.SecretKeySize)
	}
	return key, nil
}

// redactDSN hides a password in a database URL for logs.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn[i+3:], "@"); at >= 0 {
			cred := dsn[i+3 : i+3+at]
			if c := strings.Index(cred, ":"); c >= 0 {
				return dsn[:i+3] + cred[:c] + ":***" + dsn[i+3+at:]
			}
		}
	}
	return dsn
}

// controlPlane starts the manager's background work (pushes to gateways,
// analytics collection, retention) and returns its HTTP handler: the REST
// API and /metrics.
func controlPlane(ctx context.Context, st store.Store, m *manager.Manager, keep retention, pushMaxBackoff time.Duration,
	log *slog.Logger) (http.Handler, prometheus.Gatherer) {
	mm := newManagerMetrics(st, pushStatus{m}, log)
	go (&manager.Director{Store: st, Log: log, MaxBackoff: pushMaxBackoff}).Run(ctx)
	go (&manager.Collector{Store: st, Events: st, Log: log, OnStored: mm.AddAnalyticsEvents}).Run(ctx)
	go keep.run(ctx, m)
	return monitor.ManagerHandler(mm, m.Handler()), mm.Gatherer()
}

// baseURL is how clients reach a manager listening at addr (the flag)
// on bound: the flag's host, or localhost when it names every interface,
// and the port really bound (the flag may say 0).
func baseURL(addr string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(bound.String())
	return "http://" + net.JoinHostPort(host, port)
}
