package manager_test

import (
	"net/http"
	"testing"
)

// Ten wrong passwords for one user name within a minute lock that name
// out (even with the right password) with 429 and Retry-After; another
// user from the same address still logs in.
func TestFailedLoginsAreThrottled(t *testing.T) {
	e := newConsumerEnv(t)
	for i := range 10 {
		code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "password", "username": "vera", "password": "guess"})
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, code)
		}
	}
	code, out := e.do("POST", "/api/token", "", map[string]any{"grant_type": "password", "username": "vera", "password": "vera-password"})
	if code != http.StatusTooManyRequests || len(messages(out)) != 1 {
		t.Fatalf("the right password after 10 wrong ones: %d %v, want 429", code, out)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "password", "username": "dave", "password": "dave-password"}); code != http.StatusOK {
		t.Fatalf("another user from the same address: %d, want 200", code)
	}
	// The API key grant counts per address: 30 failures shut the address out.
	for range 19 {
		e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": "not-a-key"})
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": "not-a-key"}); code != http.StatusUnauthorized {
		t.Fatalf("the 30th failure: %d, want 401", code)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": e.adminKey()}); code != http.StatusTooManyRequests {
		t.Fatalf("the right key after 30 failures from one address: %d, want 429", code)
	}
}
