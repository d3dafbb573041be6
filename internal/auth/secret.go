// Package auth holds Portico's credential handling: hashing and checking
// secrets. Secrets are never stored or logged in clear.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (m=19 MiB, t=2, p=1).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// ErrBadHash is returned for a stored hash Portico cannot read.
var ErrBadHash = errors.New(`not an argon2id hash of the form $argon2id$v=19$m=…,t=…,p=…$salt$hash (make one with "portico hash-secret")`)

// HashSecret returns the argon2id hash of secret in PHC string form.
func HashSecret(secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Hash is a parsed argon2id hash, checked once when configuration loads so
// that a request never parses it.
type Hash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// ParseHash reads a PHC argon2id string.
func ParseHash(s string) (*Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, ErrBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, ErrBadHash
	}
	h := &Hash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return nil, ErrBadHash
	}
	if h.memory == 0 || h.time == 0 || h.threads == 0 || h.memory > 1<<22 {
		return nil, ErrBadHash
	}
	var err1, err2 error
	h.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	h.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 {
		return nil, ErrBadHash
	}
	return h, nil
}

// Verify reports whether secret matches, in constant time.
func (h *Hash) Verify(secret string) bool {
	key := argon2.IDKey([]byte(secret), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
