package manager

import (
	"crypto/subtle"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portico-api/portico/internal/store"
)

// The CLI sign-in page: `portico login --sso` prints its URL; a person
// signs in there with a browser and gets a one-time key to paste into the
// terminal, which the CLI exchanges for tokens (grant_type api_key). The
// key works once, for a few minutes, and is never a bearer token itself.
//
// The page needs no JavaScript. Its form is protected against cross-site
// posts by a double-submit token (a random value in a SameSite=Strict
// cookie and in the form, which must match) and by refusing posts whose
// Origin or Sec-Fetch-Site names another site. Nothing posted is logged.

const (
	cliLoginPath   = "/auth/cli"
	cliLoginCookie = "portico_cli_csrf"
	// oneTimeTTL is how long a key from the page waits to be pasted.
	oneTimeTTL = 5 * time.Minute
)

func (m *Manager) cliLoginRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+cliLoginPath, m.cliLoginForm)
	mux.HandleFunc("POST "+cliLoginPath, m.cliLoginPost)
}

// cliPage is what the template shows: the form (with an error, perhaps)
// or the key.
type cliPage struct {
	CSRF     string
	Error    string
	Username string
	Key      string
	User     string
	Minutes  int
}

var cliLoginTmpl = template.Must(template.New("cli").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portico: sign in for the command line</title>
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}code{display:block;padding:.6rem;background:#eee;word-break:break-all;font-size:1.1rem}
</style></head><body>
<h1>Sign in for the command line</h1>
{{if .Key}}
<p>Signed in as <strong>{{.User}}</strong>. Paste this one-time key into the terminal where
<kbd>portico login --sso</kbd> is waiting:</p>
<code id="key">{{.Key}}</code>
<p>It works once, within {{.Minutes}} minutes. Then close this page.</p>
{{else}}
<p>Sign in to get a one-time key for <kbd>portico login --sso</kbd>.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/auth/cli">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required value="{{.Username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Get a one-time key</button>
</form>
{{end}}
</body></html>
`))

func (m *Manager) cliLoginForm(w http.ResponseWriter, r *http.Request) {
	csrf, err := newSecret()
	if err != nil {
		m.internal(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cliLoginCookie, Value: csrf, Path: cliLoginPath, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	m.cliRender(w, http.StatusOK, cliPage{CSRF: csrf})
}

func (m *Manager) cliLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		m.cliRender(w, http.StatusBadRequest, cliPage{Error: "The form could not be read; reload the page and try again."})
		return
	}
	cookie, err := r.Cookie(cliLoginCookie)
	csrf := r.PostForm.Get("csrf")
	if err != nil || csrf == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(csrf)) != 1 || crossSite(r) {
		m.cliRender(w, http.StatusForbidden, cliPage{Error: "This form expired or came from another site; reload the page and sign in again."})
		return
	}
	username := r.PostForm.Get("username")
	page := cliPage{CSRF: csrf, Username: username}
	keys := loginKeys(r, username)
	if wait, blocked := m.throttle.blocked(r.Context(), keys); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		page.Error = "Too many failed sign-ins; wait a few seconds and try again."
		m.cliRender(w, http.StatusTooManyRequests, page)
		return
	}
	u, err := m.authenticate(r.Context(), tokenRequest{GrantType: "password", Username: username, Password: r.PostForm.Get("password")})
	if err != nil {
		m.throttle.failed(r.Context(), keys)
		page.Error = "The user name or password is not right."
		m.cliRender(w, http.StatusUnauthorized, page)
		return
	}
	key, err := newSecret()
	if err != nil {
		m.internal(w, err)
		return
	}
	err = m.st.Tx(r.Context(), func(tx store.Tx) error {
		t, err := tx.CreateToken(r.Context(), store.Token{ID: hashKey(oneTimePrefix + key), UserID: u.ID, ExpiresAt: time.Now().Add(oneTimeTTL)})
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: u.ID, Action: "create", ObjectType: "cli_login_key",
			ObjectID: t.ID, Summary: "signed in on the CLI page for a one-time key"})
		return err
	})
	if err != nil {
		m.internal(w, err)
		return
	}
	m.cliRender(w, http.StatusOK, cliPage{Key: key, User: u.Name, Minutes: int(oneTimeTTL.Minutes())})
}

// crossSite reports whether the browser says the post came from another
// site: a Sec-Fetch-Site other than same-origin (or none, typed by the
// user), or an Origin whose host is not this one.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err != nil || u.Host != r.Host
	}
	return false
}

func (m *Manager) cliRender(w http.ResponseWriter, status int, p cliPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := cliLoginTmpl.Execute(w, p); err != nil {
		m.log.Error("rendering the CLI sign-in page failed", "error", err)
	}
}
