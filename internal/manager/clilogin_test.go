package manager_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/store"
)

// browser is a real HTTP client with cookies, as a browser would post the
// CLI sign-in form.
type browser struct {
	t  *testing.T
	hc *http.Client
	e  *env
}

func newBrowser(e *env) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, hc: &http.Client{Jar: jar}, e: e}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// open loads the form and returns its CSRF value.
func (b *browser) open() string {
	b.t.Helper()
	resp, err := b.hc.Get(b.e.srv.URL + "/auth/cli")
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<form method="post" action="/auth/cli">`) {
		b.t.Fatalf("GET /auth/cli: %d\n%s", resp.StatusCode, body)
	}
	m := csrfField.FindStringSubmatch(string(body))
	if m == nil {
		b.t.Fatalf("no csrf field:\n%s", body)
	}
	return m[1]
}

func (b *browser) post(form url.Values, headers map[string]string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+"/auth/cli", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var keyOnPage = regexp.MustCompile(`<code id="key">([0-9a-f]{64})</code>`)

func TestCLILoginPage(t *testing.T) {
	e := newEnv(t)
	e.addUser("rita", "s3cret-pw")
	b := newBrowser(e)

	resp, err := b.hc.Get(e.srv.URL + "/auth/cli")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Type": "text/html; charset=utf-8"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/auth/cli") {
		t.Errorf("the CSRF cookie: %q", c)
	}

	csrf := b.open()
	good := url.Values{"csrf": {csrf}, "username": {"rita"}, "password": {"s3cret-pw"}}

	// Cross-site posts are refused, whatever the credentials.
	for name, c := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"no csrf":        {url.Values{"username": {"rita"}, "password": {"s3cret-pw"}}, nil},
		"wrong csrf":     {url.Values{"csrf": {strings.Repeat("0", 64)}, "username": {"rita"}, "password": {"s3cret-pw"}}, nil},
		"other origin":   {good, map[string]string{"Origin": "https://evil.example"}},
		"cross-site":     {good, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"no cookie sent": {good, map[string]string{"Cookie": ""}},
	} {
		hc := b.hc
		if name == "no cookie sent" {
			b.hc = &http.Client{}
		}
		code, body := b.post(c.form, c.headers)
		b.hc = hc
		if code != 403 || keyOnPage.MatchString(body) || !strings.Contains(body, "reload the page") {
			t.Errorf("%s: %d\n%s", name, code, body)
		}
	}

	// A wrong password: 401, the form again, the password not echoed.
	code, body := b.post(url.Values{"csrf": {csrf}, "username": {"rita"}, "password": {"wrong-pw"}}, nil)
	if code != 401 || !strings.Contains(body, "not right") || strings.Contains(body, "wrong-pw") || !strings.Contains(body, `value="rita"`) {
		t.Fatalf("wrong password: %d\n%s", code, body)
	}

	// The right one, same-origin: a one-time key.
	code, body = b.post(good, map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	m := keyOnPage.FindStringSubmatch(body)
	if code != 200 || m == nil || !strings.Contains(body, "rita") {
		t.Fatalf("sign in: %d\n%s", code, body)
	}
	key := m[1]
	if code, _ := e.do("GET", "/api/me", key, nil); code != 401 {
		t.Fatalf("the one-time key as a bearer token: %d", code)
	}
	out := e.tokens(map[string]any{"grant_type": "api_key", "api_key": key})
	if code, me := e.do("GET", "/api/me", out["access_token"].(string), nil); code != 200 || me["name"] != "rita" {
		t.Fatalf("the key's token: %d %v", code, me)
	}
	if out["refresh_token"] == nil {
		t.Errorf("a CLI login gets a refresh token: %v", out)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": key}); code != 401 {
		t.Fatalf("the key used twice: %d", code)
	}
	if strings.Contains(e.logs.String(), "s3cret-pw") || strings.Contains(e.logs.String(), key) {
		t.Fatalf("a secret was logged:\n%s", e.logs)
	}
}

func TestCLILoginKeyExpires(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("rita", "pw")
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateToken(context.Background(), store.Token{ID: storedID("cli-login:", "stale-key"), UserID: u.ID, ExpiresAt: time.Now().Add(-time.Second)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": "stale-key"}); code != 401 {
		t.Fatalf("an expired one-time key: %d", code)
	}
}
