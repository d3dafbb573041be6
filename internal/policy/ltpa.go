package policy

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// ltpaGenerator is a compiled ltpa-generate.
type ltpaGenerator struct {
	version  string // WebSphereVersion1, WebSphereVersion2 or WebSphereVersion70
	expiry   time.Duration
	output   string             // in-cookie-header or in-wssec-header
	user     *assembly.Template // nil: the basic-auth user, then client.app.name
	realm    string             // "": the keys file's realm, then defaultRealm
	keysProp string             // property holding the WebSphere keys file text
	passProp string             // property holding the keys password
	cache    ltpaKeyCache
}

const (
	ltpaV1  = "WebSphereVersion1"
	ltpaV2  = "WebSphereVersion2"
	ltpaV70 = "WebSphereVersion70"

	ltpaInCookie = "in-cookie-header"
	ltpaInWSSec  = "in-wssec-header"

	// ltpaWSSecHeader carries the token for tokenOutput: in-wssec-header;
	// Portico builds no WS-Security envelope.
	ltpaWSSecHeader  = "X-LTPA-Token"
	ltpaDefaultRealm = "defaultRealm"
)

// LTPAGenerate compiles the v5 ltpa-generate policy:
//
//	tokenVersion: WebSphereVersion2   WebSphereVersion1 | WebSphereVersion2 | WebSphereVersion70
//	tokenExpiry: 600                  seconds the token is valid for
//	tokenOutput: in-cookie-header     in-cookie-header | in-wssec-header
//	user: $(…)                        Portico: who the token is for (default: the
//	                                  HTTP basic user, then client.app.name)
//	realm: defaultRealm               Portico: the realm (default: the keys file's)
//	ltpa-keys: ltpa-keys              Portico: property holding the keys file export
//	ltpa-password: ltpa-password      Portico: property holding the keys password
func LTPAGenerate(b *assembly.Builder, n apidef.Node) assembly.Policy {
	g := &ltpaGenerator{}
	ok := true

	g.version = strings.TrimSpace(n.String("tokenVersion", ltpaV2))
	switch g.version {
	case "":
		g.version = ltpaV2
	case ltpaV2, ltpaV70:
	case ltpaV1:
		b.Report(n.Get("tokenVersion").Warning("LTPA version 1 tokens are not supported: the policy fails when it runs",
			"use tokenVersion: WebSphereVersion2"))
	default:
		b.Report(n.Get("tokenVersion").Problem(fmt.Sprintf("tokenVersion %q is not known", g.version),
			"use WebSphereVersion1, WebSphereVersion2 or WebSphereVersion70"))
		ok = false
	}

	secs, p := n.Int("tokenExpiry", 600)
	if p != nil {
		b.Report(*p)
		ok = false
	} else if secs <= 0 {
		b.Report(n.Get("tokenExpiry").Problem(fmt.Sprintf("tokenExpiry %d is not positive", secs),
			"give the number of seconds the token is valid for, e.g. 600"))
		ok = false
	}
	g.expiry = time.Duration(secs) * time.Second

	g.output = strings.TrimSpace(n.String("tokenOutput", ltpaInCookie))
	switch g.output {
	case "":
		g.output = ltpaInCookie
	case ltpaInCookie, ltpaInWSSec:
	default:
		b.Report(n.Get("tokenOutput").Problem(fmt.Sprintf("tokenOutput %q is not known", g.output),
			"use in-cookie-header or in-wssec-header"))
		ok = false
	}

	if un := n.Get("user"); strings.TrimSpace(un.Str()) != "" {
		g.user = b.Template(un)
	}
	g.realm = strings.TrimSpace(n.String("realm", ""))
	g.keysProp = strings.TrimSpace(n.String("ltpa-keys", "ltpa-keys"))
	g.passProp = strings.TrimSpace(n.String("ltpa-password", "ltpa-password"))
	if g.keysProp == "" {
		g.keysProp = "ltpa-keys"
	}
	if g.passProp == "" {
		g.passProp = "ltpa-password"
	}
	if !ok {
		return nil
	}
	if !ltpaHasProperty(b, g.keysProp) || !ltpaHasProperty(b, g.passProp) {
		b.Report(n.Warning(fmt.Sprintf("no LTPA keys: set the %s and %s properties (API or catalog); the policy fails when it runs without them", g.keysProp, g.passProp),
			"set "+g.keysProp+" to the text of the WebSphere LTPA keys file export and "+g.passProp+" to its password"))
	}
	return g.run
}

// ltpaHasProperty reports whether the property is known at load: in the
// API as the gateway runs it, or (with no catalog) in the API definition.
func ltpaHasProperty(b *assembly.Builder, name string) bool {
	if b.Info != nil {
		_, ok := b.Info.Properties[name]
		return ok
	}
	return jwtAPIHasProperty(b.API, name)
}

func (g *ltpaGenerator) run(c *assembly.Context) error {
	if g.version == ltpaV1 {
		return ltpaFail(errors.New("LTPA version 1 is not supported; use tokenVersion: WebSphereVersion2"))
	}
	keys, err := g.keys(c)
	if err != nil {
		return ltpaFail(err)
	}
	user := g.userName(c)
	if user == "" {
		return ltpaFail(errors.New("no user to issue the token for: the request has no HTTP basic user and no client app; set user"))
	}
	realm := g.realm
	if realm == "" {
		realm = keys.realm
	}
	if realm == "" {
		realm = ltpaDefaultRealm
	}
	token, err := ltpaToken2(keys, user, realm, time.Now().Add(g.expiry))
	if err != nil {
		return ltpaFail(err)
	}
	if g.output == ltpaInWSSec {
		c.Message.Headers.Set(ltpaWSSecHeader, token)
		return nil
	}
	if c.MessageIsRequest() {
		// Before an invoke the message is the request: the token goes to
		// the back end as a cookie.
		c.Message.Headers.Add("Cookie", "LtpaToken2="+token)
		return nil
	}
	// After it, the message is the response: the client gets the cookie.
	c.Message.Headers.Add("Set-Cookie", "LtpaToken2="+token+"; Path=/; Secure; HttpOnly")
	return nil
}

func ltpaFail(err error) *assembly.Error {
	return jwtMisconfigured("ltpa-generate", err)
}

// userName is who the token is for.
func (g *ltpaGenerator) userName(c *assembly.Context) string {
	if g.user != nil {
		return strings.TrimSpace(g.user.Render(c))
	}
	if c.Request != nil {
		if u := ltpaBasicUser(c.Request.Headers.Get("Authorization")); u != "" {
			return u
		}
	}
	if c.Identity != nil {
		return c.Identity.AppName
	}
	return ""
}

// ltpaBasicUser is the user name of an HTTP Basic Authorization header.
func ltpaBasicUser(h string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, _, _ := strings.Cut(string(raw), ":")
	return user
}

// ltpaKeys are the decrypted keys of a WebSphere keys file.
type ltpaKeys struct {
	shared  []byte // the decrypted 3DES key; LTPA2 uses its first 16 bytes as the AES key
	private *rsa.PrivateKey
	realm   string
}

// ltpaKeyCache keeps decrypted keys by a digest of the keys text and
// password, so a keys file is decrypted once.
type ltpaKeyCache struct {
	mu   sync.Mutex
	keys map[[32]byte]*ltpaKeys
}

func (g *ltpaGenerator) keys(c *assembly.Context) (*ltpaKeys, error) {
	text, ok := jwtProperty(c, g.keysProp)
	if !ok {
		return nil, fmt.Errorf("no LTPA keys: set the %s property to the WebSphere LTPA keys file export", g.keysProp)
	}
	pass, ok := jwtProperty(c, g.passProp)
	if !ok {
		return nil, fmt.Errorf("no LTPA keys password: set the %s property", g.passProp)
	}
	keysText, password := text.Render(c), pass.Render(c)
	h := sha256.New()
	h.Write([]byte(keysText))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var sum [32]byte
	h.Sum(sum[:0])

	g.cache.mu.Lock()
	k := g.cache.keys[sum]
	g.cache.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := parseLTPAKeys(keysText, password)
	if err != nil {
		return nil, fmt.Errorf("property %s: %v", g.keysProp, err)
	}
	g.cache.mu.Lock()
	if g.cache.keys == nil || len(g.cache.keys) >= 16 {
		g.cache.keys = map[[32]byte]*ltpaKeys{}
	}
	g.cache.keys[sum] = k
	g.cache.mu.Unlock()
	return k, nil
}

// parseLTPAKeys reads a WebSphere LTPA keys file export (Java properties)
// and decrypts its shared and private keys with the keys password.
func parseLTPAKeys(text, password string) (*ltpaKeys, error) {
	props := parseJavaProperties(text)
	shared, err := ltpaDecryptProp(props, "com.ibm.websphere.ltpa.3DESKey", password)
	if err != nil {
		return nil, err
	}
	if len(shared) < 16 {
		return nil, fmt.Errorf("the decrypted 3DES key has %d bytes, want 24", len(shared))
	}
	blob, err := ltpaDecryptProp(props, "com.ibm.websphere.ltpa.PrivateKey", password)
	if err != nil {
		return nil, err
	}
	priv, err := ltpaPrivateKey(blob)
	if err != nil {
		return nil, fmt.Errorf("com.ibm.websphere.ltpa.PrivateKey: %v", err)
	}
	return &ltpaKeys{shared: shared, private: priv, realm: props["com.ibm.websphere.ltpa.Realm"]}, nil
}

func ltpaDecryptProp(props map[string]string, name, password string) ([]byte, error) {
	v, ok := props[name]
	if !ok || v == "" {
		return nil, fmt.Errorf("%s is missing: is this a WebSphere LTPA keys file?", name)
	}
	enc, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil {
		return nil, fmt.Errorf("%s is not base64: %v", name, err)
	}
	out, err := ltpaKeysDecrypt(enc, password)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be decrypted (is the password right?): %v", name, err)
	}
	return out, nil
}

// ltpaPasswordKey is the key that encrypts the keys of a keys file: the
// SHA-1 of the password padded with zeros to 24 bytes, for DES-EDE3.
func ltpaPasswordKey(password string) []byte {
	sum := sha1.Sum([]byte(password))
	key := make([]byte, 24)
	copy(key, sum[:])
	return key
}

// ltpaKeysDecrypt undoes DES-EDE3/ECB/PKCS5Padding with the password key.
func ltpaKeysDecrypt(enc []byte, password string) ([]byte, error) {
	blk, err := des.NewTripleDESCipher(ltpaPasswordKey(password))
	if err != nil {
		return nil, err
	}
	bs := blk.BlockSize()
	if len(enc) == 0 || len(enc)%bs != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of blocks", len(enc))
	}
	out := make([]byte, len(enc))
	for i := 0; i < len(enc); i += bs {
		blk.Decrypt(out[i:i+bs], enc[i:i+bs])
	}
	return pkcs5Unpad(out, bs)
}

func pkcs5Pad(b []byte, bs int) []byte {
	n := bs - len(b)%bs
	return append(append([]byte(nil), b...), bytes.Repeat([]byte{byte(n)}, n)...)
}

func pkcs5Unpad(b []byte, bs int) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > bs || n > len(b) {
		return nil, errors.New("bad padding")
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errors.New("bad padding")
		}
	}
	return b[:len(b)-n], nil
}

// ltpaPrivateKey decodes WebSphere's private key blob: a 4-byte big-endian
// length, the private exponent d, the public exponent e (3 bytes), then the
// primes p and q, of equal length.
func ltpaPrivateKey(blob []byte) (*rsa.PrivateKey, error) {
	const eLen = 3
	if len(blob) < 4 {
		return nil, errors.New("too short")
	}
	dLen := int(uint32(blob[0])<<24 | uint32(blob[1])<<16 | uint32(blob[2])<<8 | uint32(blob[3]))
	rest := len(blob) - 4 - dLen - eLen
	if dLen <= 0 || rest <= 0 || rest%2 != 0 {
		return nil, errors.New("not a WebSphere RSA private key")
	}
	d := new(big.Int).SetBytes(blob[4 : 4+dLen])
	e := new(big.Int).SetBytes(blob[4+dLen : 4+dLen+eLen])
	pq := blob[4+dLen+eLen:]
	p := new(big.Int).SetBytes(pq[:rest/2])
	q := new(big.Int).SetBytes(pq[rest/2:])
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errors.New("unusable public exponent")
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e.Int64())},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	k.Precompute()
	return k, nil
}

// ltpaToken2 makes an LtpaToken2 for user in realm, valid until exp.
//
// The user data is `expire:<ms>$u:user\:<realm>/<user>`; it is signed
// as WebSphere does, SHA1withRSA (PKCS #1 v1.5) over the SHA-1 digest of
// the user data; the token is `<user data>%<ms>%<base64 signature>`,
// encrypted with AES-128-CBC (key and IV: the first 16 bytes of the shared
// key, PKCS #5 padding), in base64.
func ltpaToken2(k *ltpaKeys, user, realm string, exp time.Time) (string, error) {
	ms := strconv.FormatInt(exp.UnixMilli(), 10)
	userData := "expire:" + ms + "$u:" + ltpaEscape("user:"+realm+"/"+user)
	digest := sha1.Sum([]byte(userData))
	h := sha1.Sum(digest[:])
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.private, crypto.SHA1, h[:])
	if err != nil {
		return "", fmt.Errorf("signing the token failed: %v", err)
	}
	plain := userData + "%" + ms + "%" + base64.StdEncoding.EncodeToString(sig)
	key := k.shared[:16]
	blk, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	data := pkcs5Pad([]byte(plain), aes.BlockSize)
	cipher.NewCBCEncrypter(blk, key).CryptBlocks(data, data)
	return base64.StdEncoding.EncodeToString(data), nil
}

// ltpaEscape escapes the characters that delimit LTPA user data.
func ltpaEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case ':', '$', '%', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseJavaProperties reads the Java properties format the keys file is
// written in: key=value or key:value lines, # and ! comments, backslash
// continuations and escapes (the file writes base64 '=' as '\=').
func parseJavaProperties(text string) map[string]string {
	props := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var logical strings.Builder
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if ltpaContinued(line) {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v := ltpaSplitProperty(logical.String())
		props[k] = v
		logical.Reset()
	}
	if logical.Len() > 0 {
		k, v := ltpaSplitProperty(logical.String())
		props[k] = v
	}
	return props
}

// ltpaContinued reports whether a line ends with an odd number of backslashes.
func ltpaContinued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func ltpaSplitProperty(line string) (string, string) {
	var key strings.Builder
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) {
			i++
			key.WriteByte(ltpaUnescape(line[i]))
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' {
			break
		}
		key.WriteByte(c)
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var val strings.Builder
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' && j+1 < len(rest) {
			j++
			val.WriteByte(ltpaUnescape(rest[j]))
			continue
		}
		val.WriteByte(rest[j])
	}
	return key.String(), val.String()
}

func ltpaUnescape(c byte) byte {
	switch c {
	case 't':
		return '\t'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 'f':
		return '\f'
	}
	return c
}
