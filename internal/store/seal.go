package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SecretKeySize is the length of the key Open takes.
const SecretKeySize = 32

// sealVersion prefixes every sealed value, so that a later key rotation or
// algorithm change can tell old values from new.
const sealVersion = 1

// sealer encrypts secret columns with AES-256-GCM. Each value gets a fresh
// random nonce, and the row's table, column and ID are authenticated with
// it, so a sealed value copied into another row does not decrypt.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("store: the secret key must be %d bytes, got %d; generate one with `head -c 32 /dev/urandom | base64` and keep it outside the database: %w",
			SecretKeySize, len(key), ErrInvalid)
	}
	block, err := aes.NewCipher(key) // copies the key
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plain for the column named by aad; nil stays nil.
func (s *sealer) seal(plain []byte, aad string) []byte {
	if plain == nil {
		return nil
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails
	return s.aead.Seal(out, out[1:], plain, []byte(aad))
}

// errUnseal says why a sealed value cannot be read.
var errUnseal = errors.New("cannot decrypt: the store was opened with another secret key than the one this value was written with, or the value was altered")

// open decrypts a value seal made; nil stays nil.
func (s *sealer) open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	n := 1 + s.aead.NonceSize()
	if sealed[0] != sealVersion || len(sealed) < n+s.aead.Overhead() {
		return nil, errUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
