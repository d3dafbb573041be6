package cli

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/monitor"
	"github.com/portico-api/portico/internal/policy"
)

func newUpCmd() *cobra.Command {
	var home, managerListen, gatewayListen, adminListen, logFormat, logLevel string
	var graphiteOut *graphiteFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on one machine: the manager and a gateway, SQLite storage",
		Long: `Run the manager (REST API under /api) and a gateway in one process, with
SQLite storage in the home folder (default .portico, or $PORTICO_HOME). The
first start creates an admin user and writes its API key to HOME/admin.apikey.
What is published in any catalog is served by the gateway at
/{org}/{catalog}{basePath}{path} within a second; retiring a product stops it.`,
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
			st, m, err := openManager(ctx, home, "", managerListen, log)
			if err != nil {
				return err
			}
			defer st.Close()
			metrics := monitor.NewGatewayMetrics()
			if err := graphiteOut.start(ctx, gatewayGatherer(metrics), log); err != nil {
				return err
			}
			gw := gateway.New(gateway.Options{Logger: log, Observer: metrics})
			dir := &manager.Director{Store: st, Gateway: gw, Registry: policy.Builtins(), Env: &assembly.Env{Logger: log}, Log: log}
			go dir.Run(ctx, 250*time.Millisecond)
			go func() {
				if err := serve(ctx, "manager", managerListen, m.Handler(), log.Info); err != nil {
					log.Error("manager stopped", "error", err)
					stop()
				}
			}()
			if adminListen != "" {
				go serve(ctx, "admin", adminListen, monitor.AdminHandler(metrics, func() error { return nil }), log.Info)
			}
			return serve(ctx, "gateway", gatewayListen, inFlight(gw, metrics.InFlight()), log.Info)
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", "", "folder for the database and keys (default $PORTICO_HOME or .portico)")
	f.StringVar(&managerListen, "manager-listen", "127.0.0.1:9090", "address of the manager's REST API")
	f.StringVar(&gatewayListen, "gateway-listen", "127.0.0.1:8081", "address for API traffic")
	f.StringVar(&adminListen, "admin-listen", "127.0.0.1:8082", `address for the gateway's /metrics ("" to turn off)`)
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	graphiteOut = addGraphiteFlags(f)
	return cmd
}
