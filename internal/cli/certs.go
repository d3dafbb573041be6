package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/pki"
)

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "certs",
		Short:   "Make certificates for mutual TLS between the manager and remote gateways",
		Example: "  portico certs init certs/ --gateway-host gw1.internal",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("name a subcommand: init")}
		},
	}
	cmd.AddCommand(newCertsInitCmd())
	return cmd
}

// certFile is one file that certs init writes.
type certFile struct {
	name string
	data []byte
	mode os.FileMode
}

func newCertsInitCmd() *cobra.Command {
	var hosts []string
	var managerName string
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Make a CA, a gateway server certificate and a manager client certificate",
		Long: `Make a private certificate authority and the two certificates that let the
manager and a remote gateway authenticate each other with mutual TLS. DIR
receives:

  ca.pem, ca-key.pem              the CA (keep ca-key.pem offline if you can)
  gateway.pem, gateway-key.pem    the gateway's server certificate for --gateway-host
  manager.pem, manager-key.pem    the manager's client certificate

Keys are written with mode 0600. Existing files are never overwritten.
Certificates are ECDSA P-256; the CA is valid for 10 years, the others for 2.`,
		Example: `  portico certs init ./certs
  portico certs init /etc/portico/tls --gateway-host gw1.internal --gateway-host 10.0.0.7`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if len(hosts) == 0 {
				hosts = []string{"localhost", "127.0.0.1", "::1"}
			}
			for _, h := range hosts {
				if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " \t/") {
					return usageError{fmt.Errorf("--gateway-host %q: give a host name or an IP address", h)}
				}
			}
			if strings.TrimSpace(managerName) == "" {
				return usageError{errors.New("--manager-name must not be empty")}
			}
			files, err := makeCerts(hosts, managerName)
			if err != nil {
				return err
			}
			if err := writeCertFiles(dir, files); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintf(out, "wrote %s (mode %04o)\n", filepath.Join(dir, f.name), f.mode)
			}
			p := func(name string) string { return filepath.Join(dir, name) }
			fmt.Fprintf(out, "\ngateway certificate hosts: %s\n", strings.Join(hosts, ", "))
			fmt.Fprintf(out, "\nOn the gateway:\n  portico gateway --management-listen :9443 --data-dir gateway-data --management-cert %s --management-key %s --management-client-ca %s\n",
				p("gateway.pem"), p("gateway-key.pem"), p("ca.pem"))
			fmt.Fprintf(out, "\nOn the manager, as a cloud administrator, register it (the manager keeps the key encrypted) and choose its catalogs:\n")
			fmt.Fprintf(out, "  portico login --server $MANAGER --apikey \"$(cat .portico/admin.apikey)\"\n")
			fmt.Fprintf(out, "  portico gateway-services:create --name gw1 --endpoint https://%s:9443 --api-endpoint-base http://%s:8081 \\\n", hosts[0], hosts[0])
			fmt.Fprintf(out, "      --client-cert %s --client-key %s --ca-bundle %s\n", p("manager.pem"), p("manager-key.pem"), p("ca.pem"))
			fmt.Fprintf(out, "  portico gateway-services:configure gw1 --org acme --catalog sandbox\n")
			fmt.Fprintf(out, "See docs/remote-gateways.md.\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&hosts, "gateway-host", nil, "host name or IP the manager dials the gateway at (repeatable; default localhost, 127.0.0.1, ::1)")
	f.StringVar(&managerName, "manager-name", "portico-manager", "common name of the manager's client certificate")
	return cmd
}

func makeCerts(hosts []string, managerName string) ([]certFile, error) {
	ca, err := pki.NewCA("Portico gateway CA", pki.CAValidity)
	if err != nil {
		return nil, err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	gwCert, gwKey, err := ca.IssueServer("portico-gateway", hosts, pki.LeafValidity)
	if err != nil {
		return nil, err
	}
	mgrCert, mgrKey, err := ca.IssueClient(managerName, pki.LeafValidity)
	if err != nil {
		return nil, err
	}
	return []certFile{
		{"ca.pem", ca.CertPEM(), 0o644},
		{"ca-key.pem", caKey, 0o600},
		{"gateway.pem", gwCert, 0o644},
		{"gateway-key.pem", gwKey, 0o600},
		{"manager.pem", mgrCert, 0o644},
		{"manager-key.pem", mgrKey, 0o600},
	}, nil
}

// writeCertFiles writes all files or none: it refuses when any exists and
// removes what it wrote if a later write fails.
func writeCertFiles(dir string, files []certFile) error {
	var existing []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if _, err := os.Lstat(path); err == nil {
			existing = append(existing, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(existing) > 0 {
		verb := "exists"
		if len(existing) > 1 {
			verb = "exist"
		}
		return fmt.Errorf("%s already %s; remove them or use another DIR", strings.Join(existing, ", "), verb)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeNew(path, f.data, f.mode); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; remove it or use another DIR", path)
			}
			return err
		}
		written = append(written, path)
	}
	return nil
}

// writeNew creates path with mode, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil { // exact mode whatever the umask
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
