package monitor

import (
	"log/slog"
	"strings"
)

// Redacted replaces the value of a log attribute whose key names a secret.
const Redacted = "[REDACTED]"

// secretKeys are attribute and parameter names, normalised by
// normalizeKey, whose values are secrets wherever they appear.
var secretKeys = map[string]bool{
	"api_key": true, "apikey": true, "secret": true, "client_secret": true,
	"password": true, "passwd": true, "token": true, "access_token": true,
	"refresh_token": true, "id_token": true, "authorization": true,
	"cookie": true, "set_cookie": true, "private_key": true, "client_key": true,
	"secret_key": true, "bearer": true, "credentials": true,
}

// secretSuffixes catch the compound names (x_ibm_client_secret,
// proxy_authorization, admin_password, x_api_key …).
var secretSuffixes = []string{"_secret", "_token", "_password", "_passwd", "_apikey", "_api_key", "_authorization", "_cookie"}

// LooksSecret reports whether a log attribute or query parameter named key
// holds a secret. Matching is by name, so it cannot know every secret:
// it is a guard behind the rule that code never logs one. It does not
// allocate for keys of up to 64 bytes, as it runs for every attribute.
func LooksSecret(key string) bool {
	var buf [64]byte
	k := appendNormalized(buf[:0], key)
	if secretKeys[string(k)] {
		return true
	}
	for _, s := range secretSuffixes {
		if len(k) >= len(s) && string(k[len(k)-len(s):]) == s {
			return true
		}
	}
	return false
}

// normalizeKey lower-cases key and makes '-', '.' and ' ' underscores, so
// that X-IBM-Client-Secret and x_ibm_client_secret match alike.
func normalizeKey(key string) string {
	return string(appendNormalized(nil, key))
}

func appendNormalized(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '-' || c == '.' || c == ' ':
			c = '_'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// RedactAttr is a slog.HandlerOptions.ReplaceAttr: it replaces the value
// of an attribute whose key, or the key of a group it is in, looks secret.
// It also drops the event.dataset attribute (see Dataset), which only the
// ECS handler uses, so that text lines stay as they were.
func RedactAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == datasetKey {
		return slog.Attr{}
	}
	if LooksSecret(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if LooksSecret(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	return a
}

// redactQuery returns a raw query string with the values of parameters
// whose names look secret, or name a client (client_id, key), replaced.
// The rest is kept as sent.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(part, "=")
		if hasValue && secretParam(name) {
			b.WriteString(name)
			b.WriteString("=" + Redacted)
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}

// secretParam also covers the names API Connect takes a client id from:
// alone it is not a secret, but it is half of a credential pair.
func secretParam(name string) bool {
	if LooksSecret(name) {
		return true
	}
	k := normalizeKey(name)
	switch k {
	case "clientid", "key", "sig", "signature", "code":
		return true
	}
	return strings.HasSuffix(k, "client_id")
}
