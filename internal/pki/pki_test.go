package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type bundle struct {
	ca              *CA
	srvCert, srvKey []byte
	cliCert, cliKey []byte
}

func newBundle(t *testing.T, hosts ...string) bundle {
	t.Helper()
	ca, err := NewCA("test CA", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	b := bundle{ca: ca}
	if b.srvCert, b.srvKey, err = ca.IssueServer("gw", hosts, time.Hour); err != nil {
		t.Fatal(err)
	}
	if b.cliCert, b.cliKey, err = ca.IssueClient("manager", time.Hour); err != nil {
		t.Fatal(err)
	}
	return b
}

// startServer runs an HTTPS server with ServerTLS that echoes the client
// certificate's common name.
func startServer(t *testing.T, b bundle, clientCA []byte) *httptest.Server {
	t.Helper()
	cfg, err := ServerTLS(b.srvCert, b.srvKey, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refusals are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func clientFor(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// hostURL swaps the 127.0.0.1 of a test server's URL for host.
func hostURL(srv *httptest.Server, host string) string {
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "https://" + net.JoinHostPort(host, port) + "/"
}

func TestMutualTLSAccepts(t *testing.T) {
	b := newBundle(t)
	srv := startServer(t, b, b.ca.CertPEM())
	cfg, err := ClientTLS(b.cliCert, b.cliKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	c := clientFor(t, cfg)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		body, err := get(c, hostURL(srv, host))
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if body != "hello manager" {
			t.Fatalf("%s: body %q", host, body)
		}
	}
}

func TestServerTLSSettings(t *testing.T) {
	b := newBundle(t)
	cfg, err := ServerTLS(b.srvCert, b.srvKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("ClientAuth %v MinVersion %x", cfg.ClientAuth, cfg.MinVersion)
	}
}

func TestServerRefusesClientWithoutCert(t *testing.T) {
	b := newBundle(t)
	srv := startServer(t, b, b.ca.CertPEM())
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b.ca.CertPEM())
	c := clientFor(t, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if body, err := get(c, hostURL(srv, "127.0.0.1")); err == nil {
		t.Fatalf("request without client certificate succeeded: %q", body)
	}
	// Raw handshake as well: it must fail.
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err == nil {
		defer conn.Close()
		// TLS 1.3: the client finishes first; the server's refusal arrives on read.
		if _, err = conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("handshake without client certificate succeeded")
		}
	}
}

func TestServerRefusesClientFromOtherCA(t *testing.T) {
	b := newBundle(t)
	other := newBundle(t)
	srv := startServer(t, b, b.ca.CertPEM())
	// Trusts the right server CA but presents a client cert from another CA.
	cfg, err := ClientTLS(other.cliCert, other.cliKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(clientFor(t, cfg), hostURL(srv, "127.0.0.1")); err == nil {
		t.Fatalf("client from another CA accepted: %q", body)
	}
}

func TestServerRefusesServerCertAsClient(t *testing.T) {
	b := newBundle(t)
	srv := startServer(t, b, b.ca.CertPEM())
	// A server certificate lacks ExtKeyUsageClientAuth.
	cfg, err := ClientTLS(b.srvCert, b.srvKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(clientFor(t, cfg), hostURL(srv, "127.0.0.1")); err == nil {
		t.Fatal("server certificate accepted as a client certificate")
	}
}

func TestClientRefusesServerFromOtherCA(t *testing.T) {
	b := newBundle(t)
	other := newBundle(t)
	// The server trusts b's clients but presents other's server cert.
	srv := startServer(t, bundle{ca: b.ca, srvCert: other.srvCert, srvKey: other.srvKey}, b.ca.CertPEM())
	cfg, err := ClientTLS(b.cliCert, b.cliKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(clientFor(t, cfg), hostURL(srv, "127.0.0.1"))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v, want an unknown authority error", err)
	}
}

func TestHostNameVerification(t *testing.T) {
	b := newBundle(t, "gw.example.internal") // no loopback names
	srv := startServer(t, b, b.ca.CertPEM())
	cfg, err := ClientTLS(b.cliCert, b.cliKey, b.ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	c := clientFor(t, cfg)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, err := get(c, hostURL(srv, host))
		var hostErr x509.HostnameError
		if !errors.As(err, &hostErr) {
			t.Fatalf("%s: err = %v, want a host name error", host, err)
		}
	}
	// Same host name through ServerName works.
	cfg2 := cfg.Clone()
	cfg2.ServerName = "gw.example.internal"
	if body, err := get(clientFor(t, cfg2), hostURL(srv, "127.0.0.1")); err != nil || body != "hello manager" {
		t.Fatalf("with ServerName: %q, %v", body, err)
	}
}

func TestSANs(t *testing.T) {
	b := newBundle(t, "localhost", "127.0.0.1", "::1", "gw.internal")
	cert, err := parseCert(b.srvCert)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "gw.internal"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%s): %v", h, err)
		}
	}
	if len(cert.IPAddresses) != 2 || len(cert.DNSNames) != 2 {
		t.Errorf("IPs %v DNS %v", cert.IPAddresses, cert.DNSNames)
	}
	if cert.NotAfter.After(time.Now().Add(2 * time.Hour)) {
		t.Errorf("NotAfter %v, want about an hour", cert.NotAfter)
	}
}

func TestLoadCARoundTrip(t *testing.T) {
	ca, err := NewCA("round trip", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Before(time.Now().Add(CAValidity-time.Hour)) {
		t.Fatalf("IsCA %v NotAfter %v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// Certificates issued by the loaded CA chain to the original.
	srvCert, srvKey, err := loaded.IssueServer("", []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := loaded.IssueClient("m", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bundle{ca: ca, srvCert: srvCert, srvKey: srvKey}, ca.CertPEM())
	cfg, err := ClientTLS(cliCert, cliKey, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(clientFor(t, cfg), hostURL(srv, "127.0.0.1")); err != nil || body != "hello m" {
		t.Fatalf("%q, %v", body, err)
	}

	other, _ := NewCA("other", 0)
	otherKey, _ := other.KeyPEM()
	if _, err := LoadCA(ca.CertPEM(), otherKey); err == nil {
		t.Error("LoadCA accepted a key that does not match")
	}
	if _, err := LoadCA(srvCert, srvKey); err == nil {
		t.Error("LoadCA accepted a leaf certificate")
	}
	if _, err := LoadCA([]byte("junk"), keyPEM); err == nil || !strings.Contains(err.Error(), "CERTIFICATE") {
		t.Errorf("junk cert: %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := NewCA("", 0); err == nil {
		t.Error("NewCA with empty name")
	}
	ca, _ := NewCA("x", 0)
	if _, _, err := ca.IssueServer("s", nil, 0); err == nil {
		t.Error("IssueServer without hosts")
	}
	if _, _, err := ca.IssueClient("", 0); err == nil {
		t.Error("IssueClient without name")
	}
	if _, err := ServerTLS([]byte("x"), []byte("y"), ca.CertPEM()); err == nil {
		t.Error("ServerTLS with junk key pair")
	}
	c, k, _ := ca.IssueClient("c", 0)
	if _, err := ClientTLS(c, k, []byte("no pem")); err == nil {
		t.Error("ClientTLS with junk CA")
	}
}
