package cli

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/monitor"
)

func newUpCmd() *cobra.Command {
	var home, managerListen, gatewayListen, adminListen, logFormat, logLevel string
	var keep retention
	var accessLog bool
	var graphiteOut *graphiteFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on one machine: the manager and a gateway, SQLite storage",
		Long: `Run the manager (REST API under /api) and a gateway in one process, with
SQLite storage in the home folder (default .portico, or $PORTICO_HOME). The
first start creates an admin user and writes its API key to HOME/admin.apikey.
What is published in any catalog is served by the gateway at
/{org}/{catalog}{basePath}{path} within a second; retiring a product stops it.
The manager's listener also serves GET /metrics (Prometheus, no token).`,
		Example: `  portico up
  curl -X POST http://127.0.0.1:9090/api/token -H 'Content-Type: application/json' \
       -d '{"grant_type":"api_key","api_key":"'$(cat .portico/admin.apikey)'"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if home == "" {
				home = defaultHome()
			}
			mln, err := listen("manager", managerListen)
			if err != nil {
				return err
			}
			defer mln.Close()
			st, m, err := openManager(ctx, home, "", baseURL(managerListen, mln.Addr()), log)
			if err != nil {
				return err
			}
			defer st.Close()
			metrics := monitor.NewGatewayMetrics()
			observers, flushAccessLog, err := addAccessLog(ctx, accessLog, cmd.ErrOrStderr(), logFormat, metrics, analytics.Observers{metrics})
			if err != nil {
				return err
			}
			defer flushAccessLog()
			buffer := analytics.NewBuffer(0)
			observers = append(observers, buffer)
			defer keepEvents(buffer, filepath.Join(home, "gateway-data"), log)()
			gw := gateway.New(gateway.Options{Logger: log.With(monitor.Dataset(monitor.DatasetGateway)), Observer: observers})
			onLoad := func(v int64, errs apidef.Problems) { metrics.ConfigLoaded(v, len(errs) == 0) }
			gln, err := listen("gateway", gatewayListen)
			if err != nil {
				return err
			}
			defer gln.Close()
			if err := embeddedGateway(ctx, home, baseURL(gatewayListen, gln.Addr()), gw, buffer, onLoad, m, log); err != nil {
				return err
			}
			api, managerMetrics := controlPlane(ctx, st, m, keep, 0, log)
			if err := graphiteOut.start(ctx, prometheus.Gatherers{metrics.Gatherer(), managerMetrics}, log); err != nil {
				return err
			}
			go func() {
				if err := serveOn(ctx, "manager", mln, api, log.Info); err != nil {
					log.Error("manager stopped", "error", err)
					stop()
				}
			}()
			if adminListen != "" {
				go serve(ctx, "admin", adminListen, monitor.AdminHandler(metrics, func() error { return nil }), log.Info)
			}
			return serveOn(ctx, "gateway", gln, inFlight(gw, metrics.InFlight()), log.Info)
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", "", "folder for the database and keys (default $PORTICO_HOME or .portico)")
	f.StringVar(&managerListen, "manager-listen", "127.0.0.1:9090", "address of the manager's REST API")
	f.StringVar(&gatewayListen, "gateway-listen", "127.0.0.1:8081", "address for API traffic")
	f.StringVar(&adminListen, "admin-listen", "127.0.0.1:8082", `address for the gateway's /metrics ("" to turn off)`)
	f.StringVar(&logFormat, "log-format", "json", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	keep.addFlag(cmd)
	f.BoolVar(&accessLog, "access-log", true, "log one line per API call (--access-log=false to turn off)")
	graphiteOut = addGraphiteFlags(f)
	return cmd
}
