package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// End-to-end test of examples/ibm-cloud-functions: the example bundle,
// with its catalog properties pointed at fake IBM Cloud IAM and OpenWhisk
// servers, served by the real gateway.

const (
	cfAPIKey    = "test-ibm-cloud-api-key_0123"
	cfNamespace = "0123abcd-namespace-guid"
)

// fakeIBMCloud is IAM's token endpoint and an OpenWhisk controller with one
// action, hello, that greets params.name.
type fakeIBMCloud struct {
	*httptest.Server
	mu       sync.Mutex
	tokens   map[string]bool
	iamCalls int
	problems []string
	seen     []http.Header
}

func newFakeIBMCloud(t *testing.T) *fakeIBMCloud {
	f := &fakeIBMCloud{tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /identity/token", f.token)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/actions/{action}", f.invoke)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIBMCloud) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.mu.Lock()
	f.problems = append(f.problems, msg)
	f.mu.Unlock()
	http.Error(w, msg, status)
}

// token is IAM's API-key grant: a form body, JSON answer.
func (f *fakeIBMCloud) token(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.fail(w, 400, "IAM: Content-Type %q", ct)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ibm:params:oauth:grant-type:apikey" {
		f.fail(w, 400, "IAM: grant_type %q", r.PostForm.Get("grant_type"))
		return
	}
	if r.PostForm.Get("apikey") != cfAPIKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found."}`)
		return
	}
	f.mu.Lock()
	f.iamCalls++
	tok := fmt.Sprintf("iam-token-%d", f.iamCalls)
	f.tokens[tok] = true
	f.seen = append(f.seen, r.Header.Clone())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "refresh_token": "not_supported",
		"token_type": "Bearer", "expires_in": 3600, "expiration": 1893456000, "scope": "ibm openid"})
}

// invoke is OpenWhisk's blocking action invoke with an IAM Bearer token.
func (f *fakeIBMCloud) invoke(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := f.tokens[tok]
	f.seen = append(f.seen, r.Header.Clone())
	f.mu.Unlock()
	switch {
	case !valid:
		f.fail(w, 401, "OpenWhisk: Authorization %q is not a Bearer token IAM issued", r.Header.Get("Authorization"))
		return
	case r.PathValue("ns") != cfNamespace || r.PathValue("action") != "hello" || r.URL.Query().Get("blocking") != "true":
		f.fail(w, 404, "OpenWhisk: %s", r.URL)
		return
	}
	var params struct{ Name string }
	if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
		f.fail(w, 400, "OpenWhisk: params are not JSON: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"activationId": "c7bb1339cb4f40e3a6ccead6c99f804e", "namespace": cfNamespace, "name": "hello",
		"version": "0.0.1", "start": 1493327653767, "end": 1493327653769, "duration": 2,
		"response": map[string]any{"status": "success", "statusCode": 0, "success": true,
			"result": map[string]any{"payload": "Hello " + params.Name}},
		"logs": []string{"2017-04-27T21:14:13.768Z stdout: hello"},
	})
}

// slExampleBundle copies examples/ibm-cloud-functions to a temp folder with
// catalog.yaml's properties pointed at the fakes.
func slExampleBundle(t *testing.T, cloud string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "ibm-cloud-functions")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"iam-url":      cloud + "/identity/token",
		"iam-apikey":   cfAPIKey,
		"function-url": cloud + "/api/v1/namespaces/" + cfNamespace + "/actions/hello?blocking=true",
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == bundle.CatalogFile {
			data = slSetProperties(t, data, props)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// slSetProperties rewrites `  name: value` lines of catalog.yaml.
func slSetProperties(t *testing.T, data []byte, props map[string]string) []byte {
	t.Helper()
	for name, value := range props {
		re := regexp.MustCompile(`(?m)^(  ` + regexp.QuoteMeta(name) + `:) .*$`)
		if !re.Match(data) {
			t.Fatalf("catalog.yaml has no property %s", name)
		}
		data = re.ReplaceAll(data, []byte("${1} "+value))
	}
	return data
}

func TestIBMCloudFunctionsExample(t *testing.T) {
	if _, ok := Builtins().Lookup("map"); !ok {
		t.Skip("the map policy is not registered in Builtins() yet (internal/policy/map.go); " +
			"examples/ibm-cloud-functions ends with a map step, so this test waits for it")
	}
	cloud := newFakeIBMCloud(t)
	gw := slServeDir(t, slExampleBundle(t, cloud.URL), &assembly.Env{})
	r := gatewaytest.Call(t, "POST", gw.URL+"/demo/sandbox/functions/hello?debug=1", `{"name":"John"}`,
		"Content-Type", "application/json", "X-Client-Secret", "do-not-forward")
	if r.Status != 200 {
		t.Fatalf("got %d %s (fake problems %v)", r.Status, r.Body, cloud.problems)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil || len(got) != 1 || got["payload"] != "Hello John" {
		t.Errorf("want the mapped result {\"payload\":\"Hello John\"}, got %s", r.Body)
	}
	if len(cloud.problems) > 0 || cloud.iamCalls != 1 {
		t.Errorf("fake problems %v, IAM calls %d", cloud.problems, cloud.iamCalls)
	}
	for _, h := range cloud.seen {
		if h.Get("X-Client-Secret") != "" {
			t.Errorf("the client's headers were forwarded: %v", h)
		}
	}
}

// TestIBMCloudFunctionsBadAPIKey: IAM refusing the key stops the flow
// before the function is called.
func TestIBMCloudFunctionsBadAPIKey(t *testing.T) {
	if _, ok := Builtins().Lookup("map"); !ok {
		t.Skip("the map policy is not registered in Builtins() yet (internal/policy/map.go)")
	}
	cloud := newFakeIBMCloud(t)
	dir := slExampleBundle(t, cloud.URL)
	cat := filepath.Join(dir, bundle.CatalogFile)
	data, _ := os.ReadFile(cat)
	os.WriteFile(cat, slSetProperties(t, data, map[string]string{"iam-apikey": "wrong"}), 0o644)
	gw := slServeDir(t, dir, &assembly.Env{})
	r := gatewaytest.Call(t, "POST", gw.URL+"/demo/sandbox/functions/hello", `{"name":"John"}`, "Content-Type", "application/json")
	if r.Status != 400 || !strings.Contains(r.Body, "400") || len(cloud.seen) != 0 {
		t.Errorf("got %d %s; the function was called %d times", r.Status, r.Body, len(cloud.seen))
	}
	if strings.Contains(r.Body, "wrong") {
		t.Errorf("the API key was echoed: %s", r.Body)
	}
}
