package store

import (
	"net/url"
	"strings"
)

// maxNameLen bounds names and versions; they end up in URLs and file names.
const maxNameLen = 128

// checkName enforces the rule every object name follows: it appears in
// REST paths, so it is made of RFC 3986 unreserved characters only.
func checkName(kind, field, name string) error {
	return checkNameWith(kind, field, name, "")
}

// checkUserName also allows '@' (legal in a path segment), because user
// names are often e-mail addresses or directory IDs.
func checkUserName(name string) error {
	return checkNameWith("user", "name", name, "@")
}

// checkNameWith is checkName allowing the characters in extra too.
func checkNameWith(kind, field, name, extra string) error {
	switch {
	case name == "":
		return invalid(kind, "%s is required", field)
	case len(name) > maxNameLen:
		return invalid(kind, "%s %q is longer than %d characters", field, name, maxNameLen)
	case name == "." || name == "..":
		return invalid(kind, "%s %q is not allowed", field, name)
	}
	for _, r := range name {
		if !unreserved(r) && !strings.ContainsRune(extra, r) {
			return invalid(kind, "%s %q may use only letters, digits and - . _ ~%s (it appears in URLs)", field, name, extra)
		}
	}
	return nil
}

func unreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// required checks that a field (a parent ID, a role…) is set.
func required(kind, field, value string) error {
	if value == "" {
		return invalid(kind, "%s is required", field)
	}
	return nil
}

// oneOf checks an enumerated value.
func oneOf[S ~string](kind, field string, v S, allowed ...S) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(kind, "%s %q must be one of %v", field, v, allowed)
}

// checkSecretHash refuses anything but an argon2id PHC string, so that a
// clear secret can never land in the database by mistake.
func checkSecretHash(kind, hash string) error {
	if hash != "" && !strings.HasPrefix(hash, "$argon2id$") {
		return invalid(kind, `the secret hash must be an argon2id PHC string ("$argon2id$v=19$…", made by auth.HashSecret), never the secret itself`)
	}
	return nil
}

// checkPasswordHash accepts PHC ($argon2id$…) and bcrypt ($2b$…) strings:
// both start with '$', which a clear password rarely does.
func checkPasswordHash(kind, hash string) error {
	if hash != "" && !strings.HasPrefix(hash, "$") {
		return invalid(kind, "the password hash must be a PHC or bcrypt string; hash the password first, never store it")
	}
	return nil
}

// checkKeyHash requires the lowercase hex SHA-256 of an API key.
func checkKeyHash(kind, hash string) error {
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return invalid(kind, "the key hash must be the lowercase hex SHA-256 of the key (64 characters); hash the key first")
	}
	return nil
}

// checkURL requires an absolute http(s) URL.
func checkURL(kind, field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid(kind, "%s %q must be an absolute https:// (or http://) URL", field, raw)
	}
	return nil
}

// firstErr returns the first non-nil error, so that a create can list its
// checks in one expression.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
