package auth

import (
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	h, err := HashSecret("s3cret-value")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "s3cret") {
		t.Fatalf("hash = %q", h)
	}
	parsed, err := ParseHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Verify("s3cret-value") || parsed.Verify("s3cret-valuE") || parsed.Verify("") {
		t.Fatal("verify accepts the wrong secret or rejects the right one")
	}
	h2, _ := HashSecret("s3cret-value")
	if h2 == h {
		t.Fatal("two hashes of one secret must differ (salt)")
	}
}

func TestParseHashRejects(t *testing.T) {
	for _, s := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=18$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5"} {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
}
