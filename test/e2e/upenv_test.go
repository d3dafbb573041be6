package e2e

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upEnv is a real `portico up` on free ports and an admin token.
type upEnv struct {
	t       *testing.T
	proc    *proc
	home    string
	mgr, gw string // base URLs
	apiKey  string // the admin's, from HOME/admin.apikey
	token   string
}

// startUp runs portico up with extra flags and logs in as the admin.
func startUp(t *testing.T, extra ...string) *upEnv {
	t.Helper()
	u := &upEnv{t: t, home: t.TempDir()}
	args := append([]string{"up", "--home", u.home, "--manager-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", ""}, extra...)
	u.proc = start(t, args...)
	line, _ := u.proc.waitLine(t, 0, managerListening)
	u.mgr = managerListening.FindStringSubmatch(line)[1]
	line, _ = u.proc.waitLine(t, 0, gatewayListening)
	u.gw = gatewayListening.FindStringSubmatch(line)[1]
	key, err := os.ReadFile(filepath.Join(u.home, "admin.apikey"))
	if err != nil {
		t.Fatal(err)
	}
	u.apiKey = strings.TrimSpace(string(key))
	body, _ := json.Marshal(map[string]string{"grant_type": "api_key", "api_key": u.apiKey})
	code, out := rest(t, "POST", u.mgr+"/api/token", "", "application/json", body)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	u.token = out["access_token"].(string)
	return u
}

// must calls the manager and fails the test unless the status is want.
func (u *upEnv) must(method, path, ct string, body []byte, want int) map[string]any {
	u.t.Helper()
	code, out := rest(u.t, method, u.mgr+path, u.token, ct, body)
	if code != want {
		u.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// weatherApp publishes examples/plans' weather product into acme/sandbox
// (acme must exist), makes the consumer org partners with the app mobile
// subscribed to the gold plan, and returns the app's client id and secret.
func (u *upEnv) weatherApp() (id, secret string) {
	u.t.Helper()
	api, _ := os.ReadFile("../../examples/plans/weather_1.0.0.yaml")
	product, _ := os.ReadFile("../../examples/plans/weather-product_1.0.0.yaml")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	pw, _ := mw.CreateFormFile("product", "weather-product_1.0.0.yaml")
	pw.Write(product)
	aw, _ := mw.CreateFormFile("openapi", "weather_1.0.0.yaml")
	aw.Write(api)
	mw.Close()
	u.must("POST", "/api/catalogs/acme/sandbox/publish", mw.FormDataContentType(), buf.Bytes(), 201)
	u.must("POST", "/api/catalogs/acme/sandbox/consumer-orgs", "application/json", []byte(`{"name":"partners"}`), 201)
	app := u.must("POST", "/api/consumer-orgs/acme/sandbox/partners/apps", "application/json", []byte(`{"name":"mobile"}`), 201)
	id, _ = app["client_id"].(string)
	secret, _ = app["client_secret"].(string)
	if id == "" || secret == "" {
		u.t.Fatalf("the new app's credentials: %v", app)
	}
	u.must("POST", "/api/apps/acme/sandbox/partners/mobile/subscriptions", "application/json",
		[]byte(`{"product":"weather-product:1.0.0","plan":"gold"}`), 201)
	return id, secret
}
