package fakeaws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 verification, written from AWS's specification rather than with
// the SDK's signer, so that it checks the SDK instead of agreeing with it
// by construction.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDate      = "20060102T150405Z"
	// maxSkew is how far X-Amz-Date may be from the server's clock.
	maxSkew = 15 * time.Minute
)

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd, from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, sigAlgorithm+" ")
	if !ok {
		return a, errors.New("the Authorization header is not AWS4-HMAC-SHA256")
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, fmt.Errorf("malformed credential scope %q", v)
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, errors.New("the Authorization header lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

// Verify recomputes the signature of r (whose body is body) with secret
// and compares it with the one in a. It also checks the time stamp and
// that the headers that must be signed are.
func Verify(r *http.Request, body []byte, a Authorization, secret string, now time.Time) error {
	stamp := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDate, stamp)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q is not a SigV4 time stamp", stamp)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("X-Amz-Date %s is more than %s from the server's time", stamp, maxSkew)
	}
	if stamp[:8] != a.Date {
		return fmt.Errorf("the credential scope's date %s is not X-Amz-Date's", a.Date)
	}
	if err := requireSigned(r, a.SignedHeaders); err != nil {
		return err
	}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hexSHA256(body) {
		return errors.New("X-Amz-Content-Sha256 does not match the body")
	}
	canonical := CanonicalRequest(r, body, a.SignedHeaders)
	scope := strings.Join([]string{a.Date, a.Region, a.Service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigAlgorithm, stamp, scope, hexSHA256([]byte(canonical))}, "\n")
	want := hex.EncodeToString(hmacSHA256(SigningKey(secret, a.Date, a.Region, a.Service), toSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return errors.New("the request signature we calculated does not match the signature provided")
	}
	return nil
}

// requireSigned checks that host, x-amz-date and, when sent, the session
// token are covered by the signature.
func requireSigned(r *http.Request, signed []string) error {
	need := []string{"host", "x-amz-date"}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		need = append(need, "x-amz-security-token")
	}
	for _, n := range need {
		if !contains(signed, n) {
			return fmt.Errorf("header %s is not signed", n)
		}
	}
	if !sort.StringsAreSorted(signed) {
		return errors.New("SignedHeaders are not sorted")
	}
	return nil
}

// CanonicalRequest is SigV4's canonical form of r: method, URI (escaped
// twice, as for every service but S3), query, signed headers and the body's
// hash.
func CanonicalRequest(r *http.Request, body []byte, signed []string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range signed {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	b.WriteString(hexSHA256(body))
	return b.String()
}

// canonicalURI escapes the path as it came on the wire once more.
func canonicalURI(r *http.Request) string {
	raw := r.RequestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	if raw == "" {
		return "/"
	}
	return uriEncode(raw, false)
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var pairs []string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// headerValue is a signed header's canonical value: values trimmed, inner
// runs of spaces collapsed, joined by commas.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vs := r.Header.Values(name)
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// uriEncode is SigV4's URI encoding: unreserved characters kept, all else
// %XX in upper case; '/' kept unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// SigningKey derives the SigV4 key: HMAC chain "AWS4"+secret → date →
// region → service → "aws4_request".
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
