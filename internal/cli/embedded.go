package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/store"
)

// EmbeddedGatewayName is the gateway service portico up registers for its
// own gateway.
const EmbeddedGatewayName = "embedded-gateway"

// embeddedGateway runs portico up's gateway as a managed gateway, with its
// management endpoint on a loopback port and mutual TLS, and registers it
// with the manager as a catalog-default gateway service: the manager
// reaches it by the same push path as a remote gateway.
func embeddedGateway(ctx context.Context, home, apiBase string, gw *gateway.Gateway, buffer *analytics.Buffer,
	onLoad func(int64, apidef.Problems), m *manager.Manager, log *slog.Logger) error {
	certs, err := loopbackCerts(filepath.Join(home, "pki"))
	if err != nil {
		return err
	}
	src := &gateway.ManagedSource{Data: &gateway.DataDir{Dir: filepath.Join(home, "gateway-data")}, Gateway: gw,
		Registry: policy.Builtins(), Env: &assembly.Env{Logger: log}, Log: log, OnLoad: onLoad, Analytics: buffer}
	if err := src.Start(ctx); err != nil {
		return err
	}
	tlsCfg, err := pki.ServerTLS(certs["gateway.pem"], certs["gateway-key.pem"], certs["ca.pem"])
	if err != nil {
		return err
	}
	addr, err := listenManagement(ctx, "127.0.0.1:0", tlsCfg, src.Handler(), log)
	if err != nil {
		return err
	}
	_, err = m.EnsureGatewayService(ctx, store.GatewayService{Name: EmbeddedGatewayName, Title: "The gateway of portico up",
		EndpointURL: "https://" + addr.String(), APIEndpointBase: apiBase, CatalogDefault: true,
		ClientCertPEM: certs["manager.pem"], ClientKeyPEM: certs["manager-key.pem"], CABundlePEM: certs["ca.pem"]})
	if err != nil {
		return fmt.Errorf("registering the embedded gateway: %w", err)
	}
	return nil
}

// loopbackCerts reads the certificates of portico up's loopback mutual
// TLS from dir, making them on the first start.
func loopbackCerts(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	names := []string{"ca.pem", "gateway.pem", "gateway-key.pem", "manager.pem", "manager-key.pem"}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); errors.Is(err, fs.ErrNotExist) {
		files, err := makeCerts([]string{"127.0.0.1", "localhost"}, "portico-up-manager")
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeCertFiles(dir, files); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("%w; remove %s to make new certificates", err, dir)
		}
		out[n] = data
	}
	return out, nil
}
