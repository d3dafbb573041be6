package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A policy after an invoke that reads the original request body must find
// it: invoke may stream the body only when nothing reads it later.
func TestRequestBodyReadableAfterInvoke(t *testing.T) {
	be := newBackend(t)
	cases := map[string]string{
		"parse of the request": `
      - parse: {version: 2.0.0, input: request, output: original}
      - set-variable:
          version: 2.0.0
          actions: [{set: message.headers.x-item, value: $(original.body.item)}]`,
		"a template naming request.body": `
      - set-variable:
          version: 2.0.0
          actions: [{set: message.headers.x-item, value: $(request.body)}]`,
	}
	for name, after := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			api := `swagger: '2.0'
info: {title: B, x-ibm-name: b, version: 1.0.0}
basePath: /b
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - invoke: {version: 2.0.0, target-url: '` + be.URL + `/echo'}` + after + `
paths:
  /:
    post:
      responses: {'200': {description: ok}}
`
			os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(api), 0o644)
			gw := serve(t, dir)
			r := call(t, "POST", gw.URL+"/local/sandbox/b/", `{"item":"tea"}`, map[string]string{"Content-Type": "application/json"})
			if r.Status != 200 || !strings.Contains(r.Header.Get("X-Item"), "tea") {
				t.Fatalf("got %d, x-item %q", r.Status, r.Header.Get("X-Item"))
			}
			if _, body := be.last(t); body != `{"item":"tea"}` {
				t.Fatalf("the back end got %q", body)
			}
		})
	}
}
