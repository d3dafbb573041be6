package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	managerListening = regexp.MustCompile(`"manager listening"(?: url=|.*"url":")(http://[^"\s]+)`)
	gatewayListening = regexp.MustCompile(`"gateway listening"(?: url=|.*"url":")(http://[^"\s]+)`)
)

const upAPI = `swagger: '2.0'
info: {title: Hello, x-ibm-name: hello, version: 1.0.0}
basePath: /hello
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - {set: message.body, value: 'hello from $(api.org.name)/$(api.catalog.name)', type: string}
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`

const upProduct = `product: 1.0.0
info: {name: hello-product, title: Hello, version: 1.0.0}
apis:
  hello: {$ref: hello_1.0.0.yaml}
plans:
  default-plan: {title: Default}
`

// rest calls the manager with a bearer token and decodes the JSON answer.
func rest(t *testing.T, method, url, token, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func publishForm(t *testing.T, product, api string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	pw, _ := mw.CreateFormFile("product", "hello-product_1.0.0.yaml")
	pw.Write([]byte(product))
	aw, _ := mw.CreateFormFile("openapi", "hello_1.0.0.yaml")
	aw.Write([]byte(api))
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// waitStatus polls the gateway until url answers want, and returns how
// long that took.
func waitStatus(t *testing.T, url string, want int) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if code, _ := get(t, url); code == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond) // polling the gateway, not synchronising with it
	}
	t.Fatalf("%s did not answer %d within 10s", url, want)
	return 0
}

func TestUpPublishServeRetire(t *testing.T) {
	u := startUp(t)
	mgr, gw, tok := u.mgr, u.gw, u.token
	if code, out := rest(t, "POST", mgr+"/api/orgs", tok, "application/json", []byte(`{"name":"acme"}`)); code != 201 {
		t.Fatalf("create org: %d %v", code, out)
	}

	// A bad API is refused with file:line, and nothing is stored.
	ct, form := publishForm(t, upProduct, strings.Replace(upAPI, "set-variable:", "teleport:", 1))
	code, out := rest(t, "POST", mgr+"/api/catalogs/acme/sandbox/publish", tok, ct, form)
	if code != 400 || !strings.Contains(strings.Join(toStrings(out["message"]), "\n"), `hello_1.0.0.yaml:8:9`) {
		t.Fatalf("bad publish: %d %v", code, out)
	}
	if _, out := rest(t, "GET", mgr+"/api/catalogs/acme/sandbox/products", tok, "", nil); out["total_results"].(float64) != 0 {
		t.Fatalf("a refused publish stored something: %v", out)
	}

	ct, form = publishForm(t, upProduct, upAPI)
	code, out = rest(t, "POST", mgr+"/api/catalogs/acme/sandbox/publish", tok, ct, form)
	if code != 201 || out["state"] != "published" || out["type"] != "product" {
		t.Fatalf("publish: %d %v", code, out)
	}
	took := waitStatus(t, gw+"/acme/sandbox/hello/", 200)
	t.Logf("published to served in %v", took)
	if took > 2*time.Second {
		t.Errorf("a publish took %v to reach the gateway", took)
	}
	if _, body := get(t, gw+"/acme/sandbox/hello/"); body != "hello from acme/sandbox" {
		t.Fatalf("body: %q", body)
	}

	code, out = rest(t, "PATCH", mgr+"/api/catalogs/acme/sandbox/products/hello-product:1.0.0", tok, "application/json", []byte(`{"state":"retired"}`))
	if code != 200 || out["state"] != "retired" {
		t.Fatalf("retire: %d %v", code, out)
	}
	waitStatus(t, gw+"/acme/sandbox/hello/", 404)
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

// TestReadmeFirstCalls runs the README's "First calls" block with bash
// against a real portico up, as a new user would, and checks the answer
// the README shows.
func TestReadmeFirstCalls(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; the README's calls use it")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := codeBlockAfter(t, string(readme), "## First calls")
	want := `{"message":"Hello, Ada!","api":"quickstart"}`
	if !strings.Contains(string(readme), want) {
		t.Fatal("the README no longer shows the answer")
	}
	work := t.TempDir()
	os.MkdirAll(filepath.Join(work, "examples"), 0o755)
	os.MkdirAll(filepath.Join(work, "examples", "quickstart"), 0o755)
	copyDir(t, "../../examples/quickstart", filepath.Join(work, "examples", "quickstart"))
	p := startIn(t, work, "up", "--manager-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", "")
	line, _ := p.waitLine(t, 0, managerListening)
	mgr := managerListening.FindStringSubmatch(line)[1]
	line, _ = p.waitLine(t, 0, gatewayListening)
	gw := gatewayListening.FindStringSubmatch(line)[1]
	script = strings.NewReplacer("http://127.0.0.1:9090", mgr, "http://127.0.0.1:8081", gw).Replace(script)
	// The last call may race the gateway's update; the README's user types
	// it seconds later. Wait until the product is served, then run it.
	lines := strings.Split(strings.TrimSpace(script), "\n")
	last := lines[len(lines)-1]
	setup := strings.Join(lines[:len(lines)-1], "\n")
	run := func(s string) string {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", s)
		cmd.Dir = work
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%v\n%s%s\n--- script:\n%s", err, out, stderr, s)
		}
		return string(out)
	}
	run(setup)
	waitStatus(t, gw+"/acme/sandbox/quickstart/hello", 200)
	if got := strings.TrimSpace(run(last)); got != want {
		t.Fatalf("the README's last call answered %q, want %q", got, want)
	}
}

// codeBlockAfter returns the first fenced code block after heading.
func codeBlockAfter(t *testing.T, text, heading string) string {
	t.Helper()
	i := strings.Index(text, heading)
	if i < 0 {
		t.Fatalf("the README has no %q section", heading)
	}
	rest := text[i:]
	start := strings.Index(rest, "```sh\n")
	if start < 0 {
		t.Fatalf("no sh block after %q", heading)
	}
	rest = rest[start+len("```sh\n"):]
	return rest[:strings.Index(rest, "```")]
}

// The manager's whole flow against a real portico up: org, a draft from a
// real API Connect file, publish a product with plans, consumer org, app,
// subscription, calls through the gateway, then deprecate and retire.
func TestUpConsumerFlow(t *testing.T) {
	u := startUp(t)
	gw, mustREST := u.gw, u.must
	mustREST("POST", "/api/orgs", "application/json", []byte(`{"name":"acme"}`), 201)

	// A draft from a real API Connect file, uploaded as it is.
	if real, err := os.ReadFile("../../../shared/corpus/apic/ibm-apiconnect__quick-check__templates__set-variable.yaml"); err == nil {
		d := mustREST("POST", "/api/orgs/acme/drafts/draft-apis", "application/yaml", real, 201)
		if d["name"] != "publish-test" {
			t.Errorf("draft: %v", d)
		}
	}
	id, secret := u.weatherApp()

	url := gw + "/acme/sandbox/weather/current"
	creds := map[string]string{"X-IBM-Client-Id": id, "X-IBM-Client-Secret": secret}
	waitCall(t, url, creds, 200)
	if code := callWith(t, url, nil); code != 401 {
		t.Fatalf("without a client id: %d", code)
	}
	if _, body := getWith(t, url, creds); !strings.Contains(body, `"app":"mobile"`) || !strings.Contains(body, `"plan":"gold"`) {
		t.Fatalf("the assembly sees the app and plan: %s", body)
	}

	// Deprecated products stay callable; retired ones stop answering.
	mustREST("PATCH", "/api/catalogs/acme/sandbox/products/weather-product:1.0.0", "application/json", []byte(`{"state":"deprecated"}`), 200)
	if code := callWith(t, url, creds); code != 200 {
		t.Fatalf("deprecated: %d", code)
	}
	mustREST("PATCH", "/api/catalogs/acme/sandbox/products/weather-product:1.0.0", "application/json", []byte(`{"state":"retired"}`), 200)
	waitCall(t, url, creds, 404)
}

// waitCall polls the gateway until url answers want with headers.
func waitCall(t *testing.T, url string, headers map[string]string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if callWith(t, url, headers) == want {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the gateway, not synchronising with it
	}
	t.Fatalf("%s did not answer %d within 10s", url, want)
}

func getWith(t *testing.T, url string, headers map[string]string) (int, string) {
	t.Helper()
	code, body, _ := getFull(t, url, headers)
	return code, body
}

// getFull makes a GET with headers and returns the status, body and
// response headers.
func getFull(t *testing.T, url string, headers map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}
