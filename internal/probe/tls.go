package probe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portico-api/portico/internal/apidef"
)

// TLSSettings is a check's tls: block, read and loaded once.
type TLSSettings struct {
	InsecureSkipVerify bool
	ServerName         string
	roots              *x509.CertPool   // nil: the system's
	cert               *tls.Certificate // client certificate, if any
}

// Config makes the client TLS configuration; a nil s means defaults.
func (s *TLSSettings) Config() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s == nil {
		return cfg
	}
	cfg.InsecureSkipVerify = s.InsecureSkipVerify
	cfg.ServerName = s.ServerName
	cfg.RootCAs = s.roots
	if s.cert != nil {
		cfg.Certificates = []tls.Certificate{*s.cert}
	}
	return cfg
}

func (p *parser) tls(n apidef.Node) *TLSSettings {
	if !n.IsMap() {
		p.add(n, "tls must be a mapping", "write tls: {insecure_skip_verify: true} or tls: {ca_file: ca.pem}")
		return nil
	}
	p.known(n, "insecure_skip_verify", "ca_file", "cert_file", "key_file", "server_name")
	s := &TLSSettings{ServerName: n.String("server_name", "")}
	skip, prob := n.Bool("insecure_skip_verify", false)
	if prob != nil {
		p.problems = append(p.problems, *prob)
	}
	s.InsecureSkipVerify = skip
	if ca := n.Get("ca_file"); !ca.IsNull() {
		data, err := os.ReadFile(p.path(ca.Str()))
		if err != nil {
			p.add(ca, err.Error(), "give a PEM file of the CA certificates to trust; a relative path is from the config file's folder")
		} else {
			s.roots = x509.NewCertPool()
			if !s.roots.AppendCertsFromPEM(data) {
				p.add(ca, fmt.Sprintf("%s holds no PEM certificate", ca.Str()), "give a file with -----BEGIN CERTIFICATE----- blocks")
			}
		}
	}
	certN, keyN := n.Get("cert_file"), n.Get("key_file")
	switch {
	case certN.IsNull() && keyN.IsNull():
	case certN.IsNull() || keyN.IsNull():
		at := certN
		if at.IsNull() {
			at = keyN
		}
		p.add(at, "cert_file and key_file go together", "give both to present a client certificate")
	default:
		cert, err := tls.LoadX509KeyPair(p.path(certN.Str()), p.path(keyN.Str()))
		if err != nil {
			p.add(certN, err.Error(), "give PEM files of the client certificate and its private key")
		} else {
			s.cert = &cert
		}
	}
	return s
}

// path makes a relative path relative to the configuration file.
func (p *parser) path(file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(p.dir, file)
}
