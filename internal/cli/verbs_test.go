package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/client/clienttest"
)

// mustJSON runs a command with --format json and decodes its output.
func (e *cliEnv) mustJSON(args ...string) map[string]any {
	e.t.Helper()
	out := e.must(append(args, "--format", "json")...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatalf("portico %s --format json is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// results is a list's results, checking total_results matches.
func results(t *testing.T, list map[string]any) []map[string]any {
	t.Helper()
	rs, ok := list["results"].([]any)
	if !ok || list["total_results"] != float64(len(rs)) {
		t.Fatalf("not a collection: %v", list)
	}
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = r.(map[string]any)
	}
	return out
}

// The publish flow with the CLI alone, in-process, and --format json for
// every list and get verb along the way.
func TestPublishFlowAndJSON(t *testing.T) {
	e := newCLIEnv(t, 0)
	e.login()
	e.must("orgs:create", "acme")
	e.must("config:set", "org=acme", "catalog=sandbox", "server="+e.srv.URL)
	e.must("catalogs:create", "production", "--title", "Production")

	if out := e.must("draft-apis:create", "../../examples/plans/weather_1.0.0.yaml"); !strings.HasPrefix(out, "weather:1.0.0") {
		t.Fatalf("draft-apis:create: %q", out)
	}
	e.must("draft-products:create", "../../examples/plans/weather-product_1.0.0.yaml")
	out := e.must("draft-products:publish", "weather-product:1.0.0")
	if !regexp.MustCompile(`^weather-product:1.0.0\s+\[state: published\]\s+http://manager.test/api/catalogs/\S+/products/\S+\n$`).MatchString(out) {
		t.Fatalf("draft-products:publish: %q", out)
	}

	// A folder, with progress on stderr and the products on stdout.
	sout, serr, code := run(t, "", "products:publish", "../../examples/plans", "--catalog", "production")
	if code != 0 || !strings.Contains(serr, "Publishing 1 product from ../../examples/plans to acme/production") ||
		!regexp.MustCompile(`\[1/1\] weather-product:1.0.0 \(1 API: weather:1.0.0\) ... published \(\d+m?s\)`).MatchString(serr) ||
		!strings.HasPrefix(sout, "weather-product:1.0.0") {
		t.Fatalf("products:publish DIR: %d\n%s\n%s", code, sout, serr)
	}
	// A folder with a broken API stops before anything is sent.
	bad := t.TempDir()
	api, _ := os.ReadFile("../../examples/plans/weather_1.0.0.yaml")
	prod, _ := os.ReadFile("../../examples/plans/weather-product_1.0.0.yaml")
	os.WriteFile(filepath.Join(bad, "weather_1.0.0.yaml"), []byte(strings.Replace(string(api), "basePath: /weather", "basePath: [", 1)), 0o644)
	os.WriteFile(filepath.Join(bad, "weather-product_1.0.0.yaml"), prod, 0o644)
	if _, errs, code := run(t, "", "products:publish", bad); code != 1 || !strings.Contains(errs, filepath.Join(bad, "weather_1.0.0.yaml")+":") || strings.Contains(errs, "Publishing") {
		t.Fatalf("a broken folder: %d %s", code, errs)
	}

	e.must("consumer-orgs:create", "partners")
	e.must("config:set", "consumer-org=partners")
	app := e.mustJSON("apps:create", "mobile")
	if app["client_id"] == "" || app["client_secret"] == "" || app["name"] != "mobile" {
		t.Fatalf("apps:create --format json: %v", app)
	}
	out, errs, _ := run(t, "", "credentials:create", "ci", "--app", "mobile")
	if !regexp.MustCompile(`(?m)^client_secret: \S+$`).MatchString(out) || !strings.Contains(errs, "not shown again") {
		t.Fatalf("credentials:create: %s %s", out, errs)
	}
	sub := e.mustJSON("subscriptions:create", "--product", "weather-product:1.0.0", "--plan", "gold", "--app", "mobile")
	if sub["plan"] != "gold" || sub["state"] != "enabled" {
		t.Fatalf("subscriptions:create: %v", sub)
	}
	secret := app["client_secret"].(string)
	verify := func(s string) int {
		_, _, code := run(t, s, "credentials:verify-client-secret", app["app_credentials"].([]any)[0].(map[string]any)["name"].(string),
			"--client-secret", "-", "--app", "mobile")
		return code
	}
	if verify(secret) != 0 || verify("wrong") != 1 {
		t.Fatal("credentials:verify-client-secret")
	}

	// Every list and get, as JSON.
	appFlags := []string{"--app", "mobile"}
	lists := map[string][]string{
		"orgs":                nil,
		"catalogs":            nil,
		"draft-apis:list":     nil,
		"draft-products:list": nil,
		"products:list":       nil,
		"apis:list":           nil,
		"consumer-orgs:list":  nil,
		"apps:list":           nil,
		"credentials:list":    appFlags,
		"subscriptions:list":  appFlags,
		"products list":       {"--catalog", "production"},
		"orgs list":           {"--my"},
		"draft-apis list":     nil,
		"credentials list":    appFlags,
		"consumer-orgs list":  nil,
		"subscriptions list":  appFlags,
		"apps list":           nil,
		"apis list":           {"--catalog", "production"},
		"catalogs list":       nil,
		"draft-products list": nil,
	}
	for cmd, extra := range lists {
		list := e.mustJSON(append(strings.Fields(cmd), extra...)...)
		if rs := results(t, list); len(rs) == 0 || rs[0]["name"] == "" {
			t.Errorf("%s: %v", cmd, list)
		}
	}
	credName := results(t, e.mustJSON("credentials:list", "--app", "mobile"))[0]["name"].(string)
	subName := sub["name"].(string)
	gets := map[string]string{
		"orgs:get acme":                            "org",
		"catalogs:get production":                  "catalog",
		"draft-apis:get weather:1.0.0":             "draft_api",
		"draft-products:get weather-product:1.0.0": "draft_product",
		"products:get weather-product:1.0.0":       "product",
		"apis:get weather:1.0.0":                   "api",
		"consumer-orgs:get partners":               "consumer_org",
		"apps:get mobile":                          "app",
		"credentials:get " + credName:              "credential",
		"subscriptions:get " + subName:             "subscription",
	}
	for cmd, typ := range gets {
		args := strings.Fields(cmd)
		if strings.HasPrefix(cmd, "credentials:") || strings.HasPrefix(cmd, "subscriptions:") {
			args = append(args, appFlags...)
		}
		obj := e.mustJSON(args...)
		if obj["type"] != typ || obj["name"] == "" {
			t.Errorf("%s: type %v, want %s: %v", cmd, obj["type"], typ, obj)
		}
	}
	if d := e.mustJSON("draft-apis:get", "weather:1.0.0"); d["draft_api"].(map[string]any)["basePath"] != "/weather" {
		t.Fatalf("draft-apis:get carries the document: %v", d)
	}
	// Gets default to YAML.
	var y map[string]any
	if err := yaml.Unmarshal([]byte(e.must("products:get", "weather-product:1.0.0")), &y); err != nil || y["state"] != "published" {
		t.Fatalf("products:get as YAML: %v %v", y, err)
	}
	dir := t.TempDir()
	e.must("draft-apis:get", "weather:1.0.0", "--output", dir)
	if doc, err := os.ReadFile(filepath.Join(dir, "weather_1.0.0.yaml")); err != nil || !strings.Contains(string(doc), "x-ibm-name: weather") {
		t.Fatalf("draft-apis:get --output: %v\n%s", err, doc)
	}

	// Lifecycle: supersede with --plan, then deprecate and retire.
	v2 := t.TempDir()
	os.WriteFile(filepath.Join(v2, "weather_1.0.0.yaml"), api, 0o644)
	os.WriteFile(filepath.Join(v2, "weather-product_2.0.0.yaml"), []byte(strings.Replace(string(prod), "version: 1.0.0", "version: 2.0.0", 1)), 0o644)
	e.must("products:publish", filepath.Join(v2, "weather-product_2.0.0.yaml"), "--stage")
	out = e.must("products:supersede", "weather-product:2.0.0", "--old", "weather-product:1.0.0", "--plan", "gold:gold", "--plan", "free:free")
	if !strings.Contains(out, "[state: published]") {
		t.Fatalf("supersede: %s", out)
	}
	if p := e.mustJSON("products:get", "weather-product:1.0.0"); p["state"] != "deprecated" {
		t.Fatalf("the old product: %v", p["state"])
	}
	if s := e.mustJSON("subscriptions:get", subName, "--app", "mobile"); !strings.HasSuffix(s["product_url"].(string), "/products/"+e.mustJSON("products:get", "weather-product:2.0.0")["id"].(string)) {
		t.Fatalf("the subscription did not move: %v", s)
	}
	e.must("products:set", "weather-product:1.0.0", "--state", "retired")
	_, errs, code = run(t, "", "products:set", "weather-product:1.0.0", "--state", "staged")
	if code != 1 || !strings.Contains(errs, "400 Bad Request") || !strings.Contains(errs, "cannot become staged") {
		t.Fatalf("a forbidden move: %d %s", code, errs)
	}
	apis := results(t, e.mustJSON("apis:list"))
	if len(apis) != 1 || apis[0]["state"] != "online" || len(apis[0]["products"].([]any)) != 2 {
		t.Fatalf("apis:list: %v", apis)
	}

	// Deleting, in both forms, and a 404 with the server's message.
	e.must("subscriptions:delete", subName, "--app", "mobile")
	e.must("credentials", "delete", "ci", "--app", "mobile")
	e.must("apps:delete", "mobile")
	if d := e.mustJSON("consumer-orgs:delete", "partners"); d["deleted"] != "partners" {
		t.Fatalf("consumer-orgs:delete --format json: %v", d)
	}
	_, errs, code = run(t, "", "consumer-orgs:get", "partners")
	if code != 1 || !strings.Contains(errs, "404 Not Found: consumer org partners not found") {
		t.Fatalf("a 404: %d %s", code, errs)
	}
	// weather-product:1.0.0 is retired and, its subscription gone, deletable.
	if d := e.mustJSON("products:delete", "weather-product:1.0.0"); d["deleted"] != "weather-product:1.0.0" {
		t.Fatalf("products:delete --format json: %v", d)
	}
	_, errs, code = run(t, "", "products:delete", "weather-product:2.0.0")
	if code != 1 || !strings.Contains(errs, "409 Conflict") || !strings.Contains(errs, "retire it first") {
		t.Fatalf("deleting a published product: %d %s", code, errs)
	}
	e.must("draft-products:delete", "weather-product:1.0.0")
	e.must("draft-apis", "delete", "weather:1.0.0")
	if out := e.must("draft-apis"); out != "" {
		t.Fatalf("draft-apis after delete: %q", out)
	}
}

// The gateway-services verbs against a server that follows the REST
// contract the manager is getting.
func TestGatewayServiceVerbs(t *testing.T) {
	isolate(t, t.TempDir())
	gs := clienttest.NewGatewayServer(t)
	t.Setenv("PORTICO_SERVER", gs.Server.URL)
	t.Setenv("PORTICO_TOKEN", clienttest.AdminToken)
	e := &cliEnv{t: t}
	pems := t.TempDir()
	for _, f := range []string{"manager.pem", "manager-key.pem", "ca.pem"} {
		os.WriteFile(filepath.Join(pems, f), []byte("-----BEGIN "+f+"-----\n"), 0o600)
	}
	out := e.must("gateway-services:create", "--name", "gw1", "--endpoint", "https://gw1.internal:9443", "--api-endpoint-base", "https://api.example.com",
		"--client-cert", filepath.Join(pems, "manager.pem"), "--client-key", filepath.Join(pems, "manager-key.pem"), "--ca-bundle", filepath.Join(pems, "ca.pem"))
	if !regexp.MustCompile(`^gw1\s+\[state: outstanding\]\s+http://\S+/gateway-services/id-gw1\n$`).MatchString(out) {
		t.Fatalf("gateway-services:create: %q", out)
	}
	if b := gs.Bodies()[0]; b["client_key"] != "-----BEGIN manager-key.pem-----\n" || b["ca_bundle"] != "-----BEGIN ca.pem-----\n" {
		t.Fatalf("the PEM files were not sent: %v", b)
	}
	// From apic's file.
	file := filepath.Join(t.TempDir(), "gw2.yaml")
	os.WriteFile(file, []byte("name: gw2\ntitle: Gateway 2\nendpoint: https://gw2:9443\napi_endpoint_base: https://api2.example.com\n"), 0o644)
	e.must("gateway-services", "create", file)

	if rs := results(t, e.mustJSON("gateway-services:list")); len(rs) != 2 {
		t.Fatalf("gateway-services:list: %v", rs)
	}
	if g := e.mustJSON("gateway-services:get", "gw1"); g["push_status"].(map[string]any)["state"] != "outstanding" || g["type"] != "gateway_service" {
		t.Fatalf("gateway-services:get: %v", g)
	}
	e.must("gateway-services:update", "gw1", "--title", "Renamed", "--catalog-default")
	if b := gs.Bodies()[len(gs.Bodies())-1]; len(b) != 2 || b["title"] != "Renamed" || b["catalog_default"] != true {
		t.Fatalf("update sends only what changed: %v", b)
	}
	e.must("gateway-services:configure", "gw1", "--org", "acme", "--catalog", "sandbox")
	if rs := results(t, e.mustJSON("configured-gateway-services:list", "-o", "acme", "-c", "sandbox")); len(rs) != 1 || rs[0]["pushed_version"] != float64(2) {
		t.Fatalf("configured-gateway-services:list: %v", rs)
	}
	if g := e.mustJSON("configured-gateway-services", "get", "gw1", "-o", "acme", "-c", "sandbox"); g["type"] != "configured_gateway_service" {
		t.Fatalf("configured-gateway-services get: %v", g)
	}
	_, errs, code := run(t, "", "gateway-services:delete", "gw1")
	if code != 1 || !strings.Contains(errs, "409 Conflict: gateway service gw1 is used by catalog acme/sandbox") {
		t.Fatalf("deleting a used gateway service: %d %s", code, errs)
	}
	e.must("gateway-services:unconfigure", "gw1", "-o", "acme", "-c", "sandbox")
	e.must("gateway-services:delete", "gw1")

	t.Setenv("PORTICO_TOKEN", clienttest.ViewerToken)
	_, errs, code = run(t, "", "gateway-services:delete", "gw2")
	if code != 1 || !strings.Contains(errs, "403 Forbidden") {
		t.Fatalf("a viewer deletes: %d %s", code, errs)
	}
	if _, errs, code := run(t, "", "gateway-services:create", "--name", "x"); code != 2 || !strings.Contains(errs, "needs a name, an endpoint") {
		t.Fatalf("create without an endpoint: %d %s", code, errs)
	}
	if _, _, code := run(t, "", "gateway-services:update", "gw2"); code != 2 {
		t.Fatalf("update with nothing: %d", code)
	}
}
