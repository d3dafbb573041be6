package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/client"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/store"
)

// cliEnv is a real manager over SQLite behind a real HTTP server, and a
// config folder of our own, for running the CLI in-process.
type cliEnv struct {
	t   *testing.T
	srv *httptest.Server
	st  store.Store
	key string // the admin's API key
	dir string // PORTICO_CONFIG_DIR
}

func newCLIEnv(t *testing.T, tokenTTL time.Duration) *cliEnv {
	t.Helper()
	home := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(home, "portico.db"), bytes.Repeat([]byte{7}, store.SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := manager.New(st, manager.Options{BaseURL: "http://manager.test", TokenTTL: tokenTTL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := m.Bootstrap(context.Background(), home); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	key, err := os.ReadFile(filepath.Join(home, manager.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, srv: srv, st: st, key: strings.TrimSpace(string(key)), dir: t.TempDir()}
	isolate(t, e.dir)
	return e
}

// isolate points the CLI at a config folder of the test's and clears the
// variables that would change what it does.
func isolate(t *testing.T, dir string) {
	t.Setenv("PORTICO_CONFIG_DIR", dir)
	t.Setenv("HOME", t.TempDir())
	for _, k := range []string{"PORTICO_TOKEN", "PORTICO_SERVER", "PORTICO_ORG", "PORTICO_CATALOG", "PORTICO_CONSUMER_ORG", "PORTICO_APP"} {
		t.Setenv(k, "")
	}
}

// run runs the CLI as the binary would, with stdin as standard input.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString(stdin)
	in.Seek(0, io.SeekStart)
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old; in.Close() }()
	var out, errw bytes.Buffer
	code := Main(args, &out, &errw)
	return out.String(), errw.String(), code
}

// must runs the CLI and fails the test unless it exits 0.
func (e *cliEnv) must(args ...string) string {
	e.t.Helper()
	out, errs, code := run(e.t, "", args...)
	if code != 0 {
		e.t.Fatalf("portico %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (e *cliEnv) login() {
	e.t.Helper()
	out, errs, code := run(e.t, e.key+"\n", "login", "--server", e.srv.URL, "--apikey", "-")
	if code != 0 || out != "Logged into "+e.srv.URL+" successfully\n" {
		e.t.Fatalf("login: %d %q %q", code, out, errs)
	}
}

func (e *cliEnv) tokenFile() string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.dir, "token"))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

func (e *cliEnv) addUser(name, password string) {
	e.t.Helper()
	hash, err := auth.HashSecret(password)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

var orgLine = regexp.MustCompile(`^(\S+)\s+\[state: enabled\]\s+http://manager\.test/api/orgs/[0-9a-f-]+$`)

func orgNames(t *testing.T, out string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		m := orgLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a `name [state: enabled] url` line: %q", l)
		}
		names = append(names, m[1])
	}
	return names
}

func TestLoginTokenFileOrgsMyLogout(t *testing.T) {
	e := newCLIEnv(t, 0)
	e.login()
	shape := regexp.MustCompile(`^` + regexp.QuoteMeta(e.srv.URL) + `/api: \|\n  refresh_token: [0-9a-f]{64}\n  access_token: [0-9a-f]{64}\n$`)
	if tf := e.tokenFile(); !shape.MatchString(tf) {
		t.Fatalf("the token file is not in apic's shape:\n%s", tf)
	}
	if info, _ := os.Stat(filepath.Join(e.dir, "token")); info.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", info.Mode())
	}

	e.must("orgs:create", "acme", "--title", "ACME")
	// An org the admin is not a member of: listed, but not with --my.
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		u, err := tx.GetUserByName(context.Background(), "admin")
		if err != nil {
			return err
		}
		_, err = tx.CreateProviderOrg(context.Background(), store.ProviderOrg{Name: "solo", Title: "Solo", OwnerID: u.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A cloud admin also sees the admin org, which holds gateway services.
	if got := orgNames(t, e.must("orgs")); strings.Join(got, ",") != "acme,admin,solo" {
		t.Fatalf("orgs: %v", got)
	}
	// No --server: the one server logged in to.
	my := e.must("orgs", "--my")
	if got := orgNames(t, my); len(got) != 1 || got[0] != "acme" {
		t.Fatalf("orgs --my: %v", got)
	}
	if spaced := e.must("orgs", "list", "--my"); spaced != my || e.must("orgs:list", "--my", "--server", e.srv.URL) != my {
		t.Fatalf("the colon and spaced forms differ:\n%s\n%s", my, spaced)
	}

	out := e.must("logout")
	if out != "Logged out of server "+e.srv.URL+"\n" {
		t.Fatalf("logout: %q", out)
	}
	if strings.Contains(e.tokenFile(), "access_token") {
		t.Fatalf("the entry is still there:\n%s", e.tokenFile())
	}
	_, errs, code := run(t, "", "orgs", "--server", e.srv.URL)
	if code != 1 || !strings.Contains(errs, "not logged in to "+e.srv.URL) || !strings.Contains(errs, "portico login --server "+e.srv.URL) {
		t.Fatalf("after logout: %d %s", code, errs)
	}
}

// The headless post's way: a token fetched elsewhere, written into the
// token file by a script, keyed without a scheme, refresh_token "".
func TestHandWrittenTokenFile(t *testing.T) {
	e := newCLIEnv(t, 0)
	c := client.New(e.srv.URL)
	if err := c.LoginAPIKey(context.Background(), e.key); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOrg(context.Background(), client.CreateRequest{Name: "production"}); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	file := host + "/api: |\n  refresh_token: \"\"\n  access_token: " + c.CurrentToken() + "\n"
	if err := os.WriteFile(filepath.Join(e.dir, "token"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := orgNames(t, e.must("orgs", "--my", "--server", host)); len(got) != 1 || got[0] != "production" {
		t.Fatalf("orgs --my: %v", got)
	}

	// A file that is not the shape names itself and its line.
	os.WriteFile(filepath.Join(e.dir, "token"), []byte(host+"/api:\n  access_token: x\n"), 0o600)
	_, errs, code := run(t, "", "orgs", "--server", host)
	if code != 1 || !strings.Contains(errs, filepath.Join(e.dir, "token")+":2:") {
		t.Fatalf("a bad token file: %d %s", code, errs)
	}
}

func TestExpiredTokenSaysHowToLogIn(t *testing.T) {
	e := newCLIEnv(t, time.Nanosecond) // every access token is expired at once
	e.login()
	_, errs, code := run(t, "", "orgs")
	if code != 1 || !strings.Contains(errs, "was refused: it expired or was revoked") ||
		!strings.Contains(errs, "portico login --server "+e.srv.URL+" --apikey <API key>") {
		t.Fatalf("an expired token: %d %s", code, errs)
	}
}

func TestRefreshKeepsTheLoginAlive(t *testing.T) {
	e := newCLIEnv(t, 0)
	e.login()
	before := e.tokenFile()
	access := regexp.MustCompile(`access_token: (\S+)`).FindStringSubmatch(before)[1]
	// The manager refuses the stored access token from now on.
	if err := client.New(e.srv.URL, client.WithToken(access)).Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.must("orgs")
	after := e.tokenFile()
	if after == before || strings.Contains(after, access) {
		t.Fatalf("the refreshed tokens were not saved:\n%s", after)
	}
	e.must("orgs") // the saved token works
}

func TestPorticoTokenWithoutAFile(t *testing.T) {
	e := newCLIEnv(t, 0)
	c := client.New(e.srv.URL)
	if err := c.LoginAPIKey(context.Background(), e.key); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTICO_TOKEN", c.CurrentToken())
	t.Setenv("PORTICO_SERVER", e.srv.URL)
	e.must("orgs:create", "acme")
	if got := orgNames(t, e.must("orgs")); strings.Join(got, ",") != "acme,admin" {
		t.Fatalf("orgs: %v", got)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "token")); !os.IsNotExist(err) {
		t.Fatalf("a token file was made: %v", err)
	}
	t.Setenv("PORTICO_TOKEN", "not-a-token")
	_, errs, code := run(t, "", "orgs")
	if code != 1 || !strings.Contains(errs, "(from PORTICO_TOKEN) was refused") {
		t.Fatalf("a bad PORTICO_TOKEN: %d %s", code, errs)
	}
}

func TestSSOLogin(t *testing.T) {
	e := newCLIEnv(t, 0)
	e.addUser("rita", "rita-pw")
	// The browser's part: the sign-in page gives a one-time key.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(e.srv.URL + "/auth/cli")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(page))[1]
	resp, err = hc.PostForm(e.srv.URL+"/auth/cli", url.Values{"csrf": {csrf}, "username": {"rita"}, "password": {"rita-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	key := regexp.MustCompile(`<code id="key">([0-9a-f]+)</code>`).FindStringSubmatch(string(page))[1]

	out, errs, code := run(t, key+"\n", "login", "--server", e.srv.URL, "--sso")
	if code != 0 || !strings.Contains(errs, e.srv.URL+"/auth/cli") || !strings.Contains(out, "successfully") {
		t.Fatalf("login --sso: %d %q %q", code, out, errs)
	}
	if out := e.must("orgs", "--my"); out != "" {
		t.Fatalf("rita has no orgs: %q", out)
	}
	_, errs, code = run(t, "", "orgs:create", "mine")
	if code != 1 || !strings.Contains(errs, "403 Forbidden: your role does not allow this") {
		t.Fatalf("the server's message: %d %s", code, errs)
	}
	// The key worked once.
	_, errs, code = run(t, key+"\n", "login", "--server", e.srv.URL, "--sso")
	if code != 1 || !strings.Contains(errs, "401 Unauthorized") {
		t.Fatalf("the key again: %d %s", code, errs)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	e := newCLIEnv(t, 0)
	e.login()
	for _, args := range [][]string{
		{"orgs", "--no-such-flag"},
		{"products:list", "--nope"},
		{"products", "list", "--org", "acme"}, // no catalog
		{"products:get"},
		{"draft-apis:create", "--org", "acme"},
		{"orgs", "extra"},
		{"orgs", "--format", "xml"},
		{"login", "--server", e.srv.URL},
		{"login", "--server", e.srv.URL, "--apikey", "k", "--sso"},
		{"login", "--server", e.srv.URL, "--username", "u"},
		{"config:set", "colour=blue"},
		{"products:set", "p:1.0.0", "--org", "acme", "--catalog", "sandbox"},
		{"subscriptions:create", "--org", "a", "--catalog", "b", "--consumer-org", "c", "--app", "d"},
	} {
		if _, errs, code := run(t, "", args...); code != 2 || !strings.Contains(errs, "Error: ") {
			t.Errorf("portico %s: exit %d, want 2\n%s", strings.Join(args, " "), code, errs)
		}
	}
}

func TestConfigSetGet(t *testing.T) {
	isolate(t, t.TempDir())
	out, errs, code := run(t, "", "config:set", "catalog=https://manager.example.com/api/catalogs/acme/sandbox", "app=mobile")
	if code != 0 || out != "server: https://manager.example.com\norg: acme\ncatalog: sandbox\napp: mobile\n" {
		t.Fatalf("config:set: %d %q %s", code, out, errs)
	}
	t.Setenv("PORTICO_CATALOG", "production")
	if out, _, _ := run(t, "", "config", "get", "catalog", "org"); out != "catalog: production (from PORTICO_CATALOG)\norg: acme\n" {
		t.Fatalf("config get: %q", out)
	}
	if out, _, _ := run(t, "", "config:get", "--format", "json", "org"); strings.TrimSpace(out) != "{\n  \"org\": \"acme\"\n}" {
		t.Fatalf("config:get --format json: %q", out)
	}
	if out, _, code := run(t, "", "config:delete", "app"); code != 0 || strings.Contains(out, "app:") {
		t.Fatalf("config:delete: %q", out)
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRoot(io.Discard, io.Discard)
	var missing []string
	var visit func(prefix string, cmds []*cobra.Command)
	visit = func(prefix string, cmds []*cobra.Command) {
		for _, c := range cmds {
			if c.Name() == "help" || c.Name() == "completion" {
				continue
			}
			if strings.TrimSpace(c.Example) == "" {
				missing = append(missing, prefix+c.Name())
			}
			visit(prefix+c.Name()+" ", c.Commands())
		}
	}
	visit("", root.Commands())
	if len(missing) > 0 {
		t.Fatalf("commands without an example in --help: %v", missing)
	}
}

func TestCompletion(t *testing.T) {
	isolate(t, t.TempDir())
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errs, code := run(t, "", "completion", shell)
		if code != 0 || !strings.Contains(out, "portico") {
			t.Fatalf("completion %s: %d %s", shell, code, errs)
		}
	}
	// Commands and flag values complete.
	out, _, _ := run(t, "", "__complete", "products", "")
	if !strings.Contains(out, "publish") || !strings.Contains(out, "supersede") {
		t.Fatalf("completing products: %s", out)
	}
	out, _, _ = run(t, "", "__complete", "orgs", "--format", "")
	if !strings.Contains(out, "json") || !strings.Contains(out, "yaml") {
		t.Fatalf("completing --format: %s", out)
	}
}
