package gateway_test

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/policy"
)

// invoke reaches an https back end whose certificate a CA file in the bundle
// vouches for, through a TLS profile; without the profile the system roots
// do not know that CA and the call fails with ConnectionError.
func TestInvokeHTTPSWithBundleCA(t *testing.T) {
	be := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("secure hello"))
	}))
	defer be.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: be.Certificate().Raw})
	api := func(profile string) string {
		return `swagger: '2.0'
info: {title: S, x-ibm-name: s` + profile + `, version: 1.0.0}
basePath: /s` + profile + `
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - invoke:
          version: 2.0.0
          target-url: '` + be.URL + `/'
          tls-profile: '` + profile + `'
    catch:
      - errors: [ConnectionError]
        execute:
          - set-variable:
              version: 2.0.0
              actions: [{set: message.body, value: 'ConnectionError: $(error.message)', type: string}]
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`
	}
	srv := gatewaytest.ServeFiles(t, map[string]string{
		"catalog.yaml": "tls-profiles:\n  backend-ca:\n    ca-file: ca.pem\n",
		"ca.pem":       string(ca),
		"with.yaml":    api("backend-ca"),
		"without.yaml": api(""),
	}, policy.Builtins(), &assembly.Env{}, gateway.Options{})

	r := gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/sbackend-ca/", "")
	if r.Status != 200 || r.Body != "secure hello" {
		t.Fatalf("with the bundle's CA: %d %s", r.Status, r.Body)
	}
	r = gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/s/", "")
	if !strings.HasPrefix(r.Body, "ConnectionError") || !strings.Contains(r.Body, "TLS") {
		t.Fatalf("without it, the certificate must be refused: %d %s", r.Status, r.Body)
	}
}
