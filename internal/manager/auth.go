package manager

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
)

// tokenRequest is API Connect's POST /api/token body.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	APIKey       string `json:"api_key"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	Realm        string `json:"realm"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// Refresh tokens and one-time CLI keys are kept as store tokens whose ID
// hashes the secret with a prefix: a refresh token or a one-time key is
// never a valid bearer token, and an access token never refreshes.
const (
	refreshPrefix = "refresh:"
	oneTimePrefix = "cli-login:"
	// refreshTTL bounds how long a CLI stays logged in without its user:
	// each refresh rotates the token and starts a new period.
	refreshTTL = 30 * 24 * time.Hour
)

// token exchanges an API key, a user's password, an API key's ID and key
// (client_credentials) or a refresh token for an access token. Logins by
// key or password, and refreshes, also get a refresh token; a refresh
// token works once (it is rotated).
func (m *Manager) token(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON: {\"grant_type\": \"api_key\", \"api_key\": \"…\"}")
		return
	}
	keys := loginKeys(r, req.Username)
	if wait, blocked := m.throttle.blocked(r.Context(), keys); blocked {
		refuseThrottled(w, wait)
		return
	}
	user, err := m.authenticate(r.Context(), req)
	if err != nil {
		m.throttle.failed(r.Context(), keys)
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	tok, err := newSecret()
	if err != nil {
		m.internal(w, err)
		return
	}
	withRefresh := req.GrantType != "client_credentials"
	var refresh string
	if withRefresh {
		if refresh, err = newSecret(); err != nil {
			m.internal(w, err)
			return
		}
	}
	now := time.Now()
	err = m.st.Tx(r.Context(), func(tx store.Tx) error {
		if _, err := tx.CreateToken(r.Context(), store.Token{ID: hashKey(tok), UserID: user.ID, ExpiresAt: now.Add(m.opts.TokenTTL)}); err != nil {
			return err
		}
		if !withRefresh {
			return nil
		}
		_, err := tx.CreateToken(r.Context(), store.Token{ID: hashKey(refreshPrefix + refresh), UserID: user.ID, ExpiresAt: now.Add(refreshTTL)})
		return err
	})
	if err != nil {
		m.log.Error("storing a token failed", "error", err)
		writeError(w, http.StatusInternalServerError, "could not store the token")
		return
	}
	out := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(m.opts.TokenTTL.Seconds())}
	if withRefresh {
		out["refresh_token"], out["refresh_expires_in"] = refresh, int(refreshTTL.Seconds())
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

var errBadLogin = errors.New("invalid credentials: check the API key, or the user name and password")

func (m *Manager) authenticate(ctx context.Context, req tokenRequest) (store.User, error) {
	switch req.GrantType {
	case "api_key":
		if strings.TrimSpace(req.APIKey) == "" {
			return store.User{}, errBadLogin
		}
		k, err := m.st.GetAPIKeyByHash(ctx, hashKey(req.APIKey))
		if errors.Is(err, store.ErrNotFound) {
			// A one-time key from the CLI sign-in page (clilogin.go).
			return m.redeem(ctx, oneTimePrefix, req.APIKey)
		}
		if err != nil {
			return store.User{}, errBadLogin
		}
		return m.st.GetUser(ctx, k.UserID)
	case "refresh_token":
		return m.redeem(ctx, refreshPrefix, req.RefreshToken)
	case "password":
		u, err := m.st.GetUserByName(ctx, req.Username)
		if err != nil || u.PasswordHash == "" {
			return store.User{}, errBadLogin
		}
		h, err := auth.ParseHash(u.PasswordHash)
		if err != nil || !h.Verify(req.Password) {
			return store.User{}, errBadLogin
		}
		return u, nil
	case "client_credentials":
		// A client is an API key: client_id is the key's ID, client_secret
		// the key. Scripts that hold both use API Connect's grant as is.
		k, err := m.st.GetAPIKey(ctx, req.ClientID)
		if err != nil || req.ClientSecret == "" ||
			subtle.ConstantTimeCompare([]byte(k.KeyHash), []byte(hashKey(req.ClientSecret))) != 1 {
			return store.User{}, errBadLogin
		}
		return m.st.GetUser(ctx, k.UserID)
	}
	return store.User{}, errors.New(`grant_type must be "api_key", "password", "client_credentials" or "refresh_token"`)
}

// redeem uses up a single-use secret kept as a store token under prefix
// (a refresh token or a one-time CLI key): it must be unexpired and not
// yet used; it is revoked in the same transaction, and its user returned.
func (m *Manager) redeem(ctx context.Context, prefix, secret string) (store.User, error) {
	if strings.TrimSpace(secret) == "" {
		return store.User{}, errBadLogin
	}
	id := hashKey(prefix + strings.TrimSpace(secret))
	var u store.User
	err := m.st.Tx(ctx, func(tx store.Tx) error {
		// One statement checks and revokes, so two logins racing with the
		// same secret cannot both get a token.
		t, err := tx.ConsumeToken(ctx, id, time.Now())
		if err != nil {
			return err
		}
		u, err = tx.GetUser(ctx, t.UserID)
		return err
	})
	if errors.Is(err, errBadLogin) || errors.Is(err, store.ErrNotFound) {
		return store.User{}, errBadLogin
	}
	return u, err
}

type ctxKey struct{}

// caller is the authenticated user of a request.
type caller struct {
	user    store.User
	tokenID string
}

func callerOf(r *http.Request) caller { return r.Context().Value(ctxKey{}).(caller) }

// rule decides whether the caller may make the request.
type rule func(m *Manager, r *http.Request, c caller) (allowed bool, err error)

func anyone(*Manager, *http.Request, caller) (bool, error) { return true, nil }

func cloudAdmin(_ *Manager, _ *http.Request, c caller) (bool, error) {
	return c.user.CloudRole == RoleCloudAdmin, nil
}

// orgRank orders org roles: a role includes those below it.
var orgRank = map[string]int{RoleViewer: 1, RoleDeveloper: 2, RoleAdmin: 3, RoleOwner: 4}

// orgRole allows cloud admins and members of the {org} with at least role.
func orgRole(role string) rule {
	return func(m *Manager, r *http.Request, c caller) (bool, error) {
		if c.user.CloudRole == RoleCloudAdmin {
			return true, nil
		}
		org, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			return false, err
		}
		mem, err := m.st.GetMembership(r.Context(), org.ID, c.user.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return orgRank[mem.Role] >= orgRank[role], nil
	}
}

// authed checks the bearer token, then the rule: 401 without a valid
// token, 403 when the rule refuses.
func (m *Manager) authed(allow rule, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := m.bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portico"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required: POST /api/token, then send Authorization: Bearer <token>")
			return
		}
		allowed, err := allow(m, r, c)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, err.Error())
			return
		case err != nil:
			m.internal(w, err)
			return
		case !allowed:
			writeError(w, http.StatusForbidden, "your role does not allow this")
			return
		}
		selectFields(h)(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

func (m *Manager) bearer(r *http.Request) (caller, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") {
		return caller{}, false
	}
	id := hashKey(h[7:])
	tok, err := m.st.GetToken(r.Context(), id)
	if err != nil || !tok.RevokedAt.IsZero() || time.Now().After(tok.ExpiresAt) {
		return caller{}, false
	}
	u, err := m.st.GetUser(r.Context(), tok.UserID)
	if err != nil {
		return caller{}, false
	}
	return caller{user: u, tokenID: id}, true
}

// logout revokes the token the request carries and, when the body names
// one ({"refresh_token": "…"}), the caller's refresh token too.
func (m *Manager) logout(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, `the body must be empty or JSON: {"refresh_token": "…"}`)
		return
	}
	err := m.st.Tx(r.Context(), func(tx store.Tx) error {
		now := time.Now()
		if err := tx.RevokeToken(r.Context(), c.tokenID, now); err != nil {
			return err
		}
		if req.RefreshToken == "" {
			return nil
		}
		id := hashKey(refreshPrefix + req.RefreshToken)
		// Another user's refresh token is left alone, silently: the
		// answer must not tell whether it exists.
		if t, err := tx.GetToken(r.Context(), id); err == nil && t.UserID == c.user.ID {
			return tx.RevokeToken(r.Context(), id, now)
		}
		return nil
	})
	if err != nil {
		m.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) me(w http.ResponseWriter, r *http.Request) {
	u := callerOf(r).user
	writeJSON(w, http.StatusOK, map[string]any{"type": "user", "api_version": apiVersion, "id": u.ID, "name": u.Name,
		"title": u.Title, "email": u.Email, "state": "enabled", "url": m.opts.BaseURL + "/api/me",
		"created_at": u.CreatedAt, "updated_at": u.UpdatedAt})
}
