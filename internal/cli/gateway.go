package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/policy"
)

func newGatewayCmd() *cobra.Command {
	var (
		bundleDir, listen   string
		logFormat, logLevel string
		noWatch             bool
	)
	cmd := &cobra.Command{
		Use:   "gateway --bundle DIR",
		Short: "Serve the APIs of a bundle folder",
		Long: `Serve every API found under a folder (OpenAPI 2 or 3 with x-ibm-configuration,
.yaml, .yml or .json, searched recursively) at /{org}/{catalog}{basePath}{path}.
An optional catalog.yaml in the folder names the org and catalog (default local
and sandbox), catalog-wide properties and TLS client profiles.

A change under the folder, or SIGHUP, reloads the configuration. A change with
problems is rejected and logged with file:line; the previous configuration
keeps serving.`,
		Example: `  portico gateway --bundle examples/quickstart
  curl http://127.0.0.1:8081/local/sandbox/quickstart/hello`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bundleDir == "" {
				return usageError{errors.New("--bundle DIR is required")}
			}
			log, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return err
			}
			gw := gateway.New(gateway.Options{Logger: log})
			src := &gateway.DirSource{Dir: bundleDir, Gateway: gw, Registry: policy.Builtins(), Env: &assembly.Env{Logger: log}, Log: log}
			if ps := src.Load(); len(ps) > 0 { // Load returns errors only
				fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", ps)
				return fmt.Errorf("the bundle in %s has %d problem(s); fix them and start again", bundleDir, len(ps))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !noWatch {
				go func() {
					if err := src.Watch(ctx); err != nil {
						log.Warn("not watching the bundle folder; send SIGHUP to reload", "error", err)
					}
				}()
			}
			go reloadOnHangup(ctx, src)
			return serve(ctx, listen, gw, log.Info)
		},
	}
	f := cmd.Flags()
	f.StringVar(&bundleDir, "bundle", "", "folder of API and catalog files to serve")
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address for API traffic")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.BoolVar(&noWatch, "no-watch", false, "do not watch the folder; reload on SIGHUP only")
	return cmd
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
func serve(ctx context.Context, addr string, h http.Handler, info func(string, ...any)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	info("gateway listening", "url", "http://"+ln.Addr().String())
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
