package manager_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
)

// tokens posts to /api/token and returns the answer, failing unless 200.
func (e *env) tokens(body map[string]any) map[string]any {
	e.t.Helper()
	code, out := e.do("POST", "/api/token", "", body)
	if code != 200 {
		e.t.Fatalf("POST /api/token %v: %d %v", body["grant_type"], code, out)
	}
	return out
}

// addUser makes a user with a password and no role.
func (e *env) addUser(name, password string) store.User {
	e.t.Helper()
	hash, err := auth.HashSecret(password)
	if err != nil {
		e.t.Fatal(err)
	}
	var u store.User
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		u, err = tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// storedID is how the manager keeps a prefixed single-use secret (a
// refresh token, a one-time CLI key): the SHA-256 of prefix+secret. Tests
// use it only to plant expired ones.
func storedID(prefix, secret string) string {
	sum := sha256.Sum256([]byte(prefix + secret))
	return hex.EncodeToString(sum[:])
}

func TestRefreshToken(t *testing.T) {
	e := newEnv(t)
	e.addUser("rita", "pw-rita")
	first := e.tokens(map[string]any{"grant_type": "password", "username": "rita", "password": "pw-rita"})
	refresh, _ := first["refresh_token"].(string)
	if refresh == "" || first["refresh_expires_in"].(float64) < 24*3600 {
		t.Fatalf("a password login gives a refresh token: %v", first)
	}
	if k := e.tokens(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()}); k["refresh_token"] == nil {
		t.Fatalf("an API key login gives a refresh token: %v", k)
	}

	// The refresh token is not a bearer token, and an access token does
	// not refresh.
	if code, _ := e.do("GET", "/api/me", refresh, nil); code != 401 {
		t.Fatalf("a refresh token as bearer: %d", code)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": first["access_token"]}); code != 401 {
		t.Fatalf("an access token as refresh token: %d", code)
	}

	second := e.tokens(map[string]any{"grant_type": "refresh_token", "refresh_token": refresh})
	if second["refresh_token"] == refresh || second["refresh_token"] == "" || second["access_token"] == first["access_token"] {
		t.Fatalf("a refresh rotates both tokens: %v", second)
	}
	if code, me := e.do("GET", "/api/me", second["access_token"].(string), nil); code != 200 || me["name"] != "rita" {
		t.Fatalf("the refreshed token: %d %v", code, me)
	}
	// Rotation: the used refresh token no longer works.
	code, out := e.do("POST", "/api/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh})
	if code != 401 || out["message"].([]any)[0] != "invalid credentials: check the API key, or the user name and password" {
		t.Fatalf("a used refresh token: %d %v", code, out)
	}
	for _, bad := range []string{"", "nonsense"} {
		if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": bad}); code != 401 {
			t.Errorf("refresh token %q: %d", bad, code)
		}
	}

	// An expired refresh token is refused.
	u, _ := e.st.GetUserByName(context.Background(), "rita")
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateToken(context.Background(), store.Token{ID: storedID("refresh:", "old-refresh"), UserID: u.ID, ExpiresAt: time.Now().Add(-time.Minute)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": "old-refresh"}); code != 401 {
		t.Fatalf("an expired refresh token: %d", code)
	}

	// client_credentials gets no refresh token.
	admin := e.tokens(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})["access_token"].(string)
	_, key := e.do("POST", "/api/me/api-keys", admin, map[string]any{"description": "ci"})
	if cc := e.tokens(map[string]any{"grant_type": "client_credentials", "client_id": key["id"], "client_secret": key["api_key"]}); cc["refresh_token"] != nil {
		t.Fatalf("client_credentials: %v", cc)
	}
}

func TestLogoutRevokesTheRefreshToken(t *testing.T) {
	e := newEnv(t)
	e.addUser("rita", "pw-rita")
	e.addUser("sam", "pw-sam")
	rita := e.tokens(map[string]any{"grant_type": "password", "username": "rita", "password": "pw-rita"})
	sam := e.tokens(map[string]any{"grant_type": "password", "username": "sam", "password": "pw-sam"})

	// Naming another user's refresh token revokes only the caller's access
	// token; sam's refresh token still works.
	if code, _ := e.do("DELETE", "/api/token", rita["access_token"].(string), map[string]any{"refresh_token": sam["refresh_token"]}); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := e.do("GET", "/api/me", rita["access_token"].(string), nil); code != 401 {
		t.Fatalf("the access token after logout: %d", code)
	}
	e.tokens(map[string]any{"grant_type": "refresh_token", "refresh_token": rita["refresh_token"]}) // not named: still valid
	sam2 := e.tokens(map[string]any{"grant_type": "refresh_token", "refresh_token": sam["refresh_token"]})

	if code, _ := e.do("DELETE", "/api/token", sam2["access_token"].(string), map[string]any{"refresh_token": sam2["refresh_token"]}); code != 204 {
		t.Fatalf("logout with the refresh token: %d", code)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": sam2["refresh_token"]}); code != 401 {
		t.Fatalf("the refresh token after logout: %d", code)
	}
	// Without a token, logout is 401.
	if code, _ := e.do("DELETE", "/api/token", "", nil); code != 401 {
		t.Fatalf("logout without a token: %d", code)
	}
}
