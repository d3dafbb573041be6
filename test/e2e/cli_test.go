package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cliUp starts `portico up` on free ports and returns the manager's and
// the gateway's URLs and the admin's API key.
func cliUp(t *testing.T) (mgr, gw, key string) {
	t.Helper()
	home := t.TempDir()
	p := start(t, "up", "--home", home, "--manager-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", "")
	line, _ := p.waitLine(t, 0, managerListening)
	mgr = managerListening.FindStringSubmatch(line)[1]
	line, _ = p.waitLine(t, 0, gatewayListening)
	gw = gatewayListening.FindStringSubmatch(line)[1]
	data, err := os.ReadFile(filepath.Join(home, "admin.apikey"))
	if err != nil {
		t.Fatal(err)
	}
	return mgr, gw, strings.TrimSpace(string(data))
}

// cliEnv is the environment the CLI runs in: HOME of the test's own, and
// none of the PORTICO_ variables of the machine running the tests.
func cliEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTICO_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "HOME="+home), extra...)
}

// portico runs the CLI binary and returns stdout, stderr and the exit code.
func portico(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errs.String(), code
}

// The headless post's flow: a token is fetched outside the CLI and
// written into the token file by a script, in the documented shape (the
// post's own sed one-liner, keyed by host without a scheme); then
// `portico orgs --my --server` prints apic's lines.
func TestCLIHeadlessTokenFile(t *testing.T) {
	mgr, _, key := cliUp(t)
	body, _ := json.Marshal(map[string]string{"grant_type": "api_key", "api_key": key})
	code, out := rest(t, "POST", mgr+"/api/token", "", "application/json", body)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	tok := out["access_token"].(string)
	for _, org := range []string{"production", "test-porg"} {
		if code, out := rest(t, "POST", mgr+"/api/orgs", tok, "application/json", []byte(`{"name":"`+org+`"}`)); code != 201 {
			t.Fatalf("create org: %d %v", code, out)
		}
	}

	home := t.TempDir()
	host := strings.TrimPrefix(mgr, "http://")
	// The default file, ~/.portico/token: no PORTICO_CONFIG_DIR here.
	env := cliEnv(home)
	if err := os.MkdirAll(filepath.Join(home, ".portico"), 0o700); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(home, ".portico", "token")
	if _, err := exec.LookPath("sed"); err == nil {
		script := `echo "IAM token:  Bearer $TOKEN" | sed 's/IAM token:  Bearer /` + strings.ReplaceAll(host, "/", `\/`) +
			`\/api: |\n  refresh_token: ""\n  access_token: /' > ~/.portico/token`
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(cliEnv(home), "TOKEN="+tok)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the post's one-liner: %v\n%s", err, out)
		}
	} else {
		os.WriteFile(tokenFile, []byte(host+"/api: |\n  refresh_token: \"\"\n  access_token: "+tok+"\n"), 0o600)
	}
	written, _ := os.ReadFile(tokenFile)
	if want := host + "/api: |\n  refresh_token: \"\"\n  access_token: " + tok + "\n"; string(written) != want {
		t.Fatalf("the token file:\n%s\nwant:\n%s", written, want)
	}

	stdout, stderr, code := portico(t, env, "", "orgs", "--my", "--server", mgr)
	if code != 0 {
		t.Fatalf("orgs --my: exit %d\n%s", code, stderr)
	}
	// The URL's port is not checked: with --manager-listen 127.0.0.1:0 the
	// manager's objects still say :0 (openManager's BaseURL).
	line := regexp.MustCompile(`^(\S+)\s+\[state: enabled\]\s+http://127\.0\.0\.1:\d+/api/orgs/[0-9a-f-]{36}$`)
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a `name [state: enabled] url` line: %q\n%s", l, stdout)
		}
		names = append(names, m[1])
	}
	if strings.Join(names, " ") != "production test-porg" && strings.Join(names, " ") != "test-porg production" {
		t.Fatalf("orgs --my: %v", names)
	}
	t.Logf("portico orgs --my --server %s:\n%s", mgr, stdout)

	// The same token with no file at all.
	os.Remove(tokenFile)
	if stdout2, stderr, code := portico(t, cliEnv(home, "PORTICO_TOKEN="+tok), "", "orgs", "--my", "--server", host); code != 0 || stdout2 != stdout {
		t.Fatalf("PORTICO_TOKEN: %d %q %s", code, stdout2, stderr)
	}
	// A wrong flag is a usage error.
	if _, stderr, code := portico(t, env, "", "orgs", "--mine", "--server", mgr); code != 2 || !strings.Contains(stderr, "unknown flag: --mine") {
		t.Fatalf("a wrong flag: %d %s", code, stderr)
	}
}

// The whole publish flow with the CLI alone against a real portico up:
// login, org, draft API and product, publish, consumer org, app,
// subscription; then the API answers through the gateway, a folder
// publishes to a second catalog, and retiring stops the calls.
func TestCLIPublishFlow(t *testing.T) {
	mgr, gw, key := cliUp(t)
	home := t.TempDir()
	env := cliEnv(home, "PORTICO_CONFIG_DIR="+filepath.Join(home, "portico-cli"))
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errs, code := portico(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("portico %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	if out := must(key+"\n", "login", "--server", mgr, "--apikey", "-"); out != "Logged into "+mgr+" successfully\n" {
		t.Fatalf("login: %q", out)
	}
	must("", "orgs:create", "acme")
	must("", "config:set", "org=acme", "catalog=sandbox", "consumer-org=partners")
	must("", "draft-apis:create", "../../examples/plans/weather_1.0.0.yaml")
	must("", "draft-products:create", "../../examples/plans/weather-product_1.0.0.yaml")
	if out := must("", "draft-products:publish", "weather-product:1.0.0"); !strings.Contains(out, "[state: published]") {
		t.Fatalf("publish: %s", out)
	}
	must("", "consumer-orgs:create", "partners")
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(must("", "apps:create", "mobile", "--format", "json")), &app); err != nil || app.ClientSecret == "" {
		t.Fatalf("apps:create: %+v %v", app, err)
	}
	must("", "subscriptions", "create", "--product", "weather-product:1.0.0", "--plan", "gold", "--app", "mobile")

	url := gw + "/acme/sandbox/weather/current"
	creds := map[string]string{"X-IBM-Client-Id": app.ClientID, "X-IBM-Client-Secret": app.ClientSecret}
	waitCall(t, url, creds, 200)
	if _, body := getWith(t, url, creds); !strings.Contains(body, `"app":"mobile"`) || !strings.Contains(body, `"plan":"gold"`) {
		t.Fatalf("through the gateway: %s", body)
	}

	// A folder to a second catalog, progress on stderr.
	must("", "catalogs:create", "production")
	out, errs, code := portico(t, env, "", "products:publish", "../../examples/quickstart", "--catalog", "production")
	if code != 0 || !strings.Contains(errs, "[1/1] hello-product:1.0.0 (1 API: quickstart:1.0.0) ... published") || !strings.HasPrefix(out, "hello-product:1.0.0") {
		t.Fatalf("products:publish DIR: %d\n%s\n%s", code, out, errs)
	}
	waitStatus(t, gw+"/acme/production/quickstart/hello?name=Ada", 200)

	// Lists as JSON, then retire.
	var list struct {
		Total   int              `json:"total_results"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(must("", "apis:list", "--format", "json")), &list); err != nil || list.Total != 1 || list.Results[0]["name"] != "weather" {
		t.Fatalf("apis:list --format json: %+v %v", list, err)
	}
	must("", "products:set", "weather-product:1.0.0", "--state", "retired")
	waitCall(t, url, creds, 404)

	must("", "logout")
	if _, errs, code := portico(t, env, "", "orgs"); code != 2 || !strings.Contains(errs, "no server") {
		// Logged out of the only server, and no server configured.
		t.Fatalf("after logout: %d %s", code, errs)
	}
}

// docs/cli.md's shell pipeline recipe and its apic-style token file lines,
// run with bash against a real portico up.
func TestCLIDocsPipelineRecipe(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the recipe uses it", tool)
		}
	}
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	recipe := codeBlockAfter(t, string(doc), "The same as shell steps")
	tokenFile := codeBlockAfter(t, string(doc), "Scripts written for apic")
	mgr, _, key := cliUp(t)
	work, home := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(work, "products"), 0o755)
	copyDir(t, "../../examples/quickstart", filepath.Join(work, "products"))
	env := cliEnv(home, "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"), "PORTICO_API_KEY="+key)
	body, _ := json.Marshal(map[string]string{"grant_type": "api_key", "api_key": key})
	_, tok := rest(t, "POST", mgr+"/api/token", "", "application/json", body)
	admin := tok["access_token"].(string)
	rest(t, "POST", mgr+"/api/orgs", admin, "application/json", []byte(`{"name":"acme"}`))
	if code, out := rest(t, "POST", mgr+"/api/orgs/acme/catalogs", admin, "application/json", []byte(`{"name":"production"}`)); code != 201 {
		t.Fatalf("catalog: %d %v", code, out)
	}

	bash := func(script string, extra ...string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script, "https://manager.example.com", mgr))
		cmd.Dir, cmd.Env = work, append(env, extra...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s%s\n--- script:\n%s", err, stdout.String(), stderr.String(), script)
		}
		return stdout.String()
	}
	if out := bash(recipe); !regexp.MustCompile(`(?m)^hello-product:1.0.0\s+\[state: published\]`).MatchString(out) {
		t.Fatalf("the recipe's products:list:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, ".portico", "token")); !os.IsNotExist(err) {
		t.Fatalf("the recipe needs no token file, yet one was made: %v", err)
	}

	out := bash(tokenFile, "PORTICO_SERVER="+mgr, "TOKEN="+admin)
	if !regexp.MustCompile(`^acme\s+\[state: enabled\]\s+\S+/api/orgs/\S+\n$`).MatchString(out) {
		t.Fatalf("orgs --my from the hand-written file: %q", out)
	}
}
