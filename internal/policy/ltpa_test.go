package policy

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// ltpaFixture is a keys file made as WebSphere exports one.
type ltpaFixture struct {
	text     string
	password string
	shared   []byte
	key      *rsa.PrivateKey
}

// javaBytes is a big integer as Java's BigInteger.toByteArray writes it
// (a leading zero when the top bit is set).
func javaBytes(b []byte) []byte {
	if len(b) > 0 && b[0]&0x80 != 0 {
		return append([]byte{0}, b...)
	}
	return b
}

func ltpaEncryptForTest(t *testing.T, plain []byte, password string) string {
	t.Helper()
	blk, err := des.NewTripleDESCipher(ltpaPasswordKey(password))
	if err != nil {
		t.Fatal(err)
	}
	data := pkcs5Pad(plain, blk.BlockSize())
	for i := 0; i < len(data); i += blk.BlockSize() {
		blk.Encrypt(data[i:i+blk.BlockSize()], data[i:i+blk.BlockSize()])
	}
	// Java's properties writer escapes '='.
	return strings.ReplaceAll(base64.StdEncoding.EncodeToString(data), "=", `\=`)
}

func newLTPAFixture(t *testing.T) *ltpaFixture {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	shared := make([]byte, 24)
	_, _ = rand.Read(shared)
	password := "s3cret!"
	d := javaBytes(key.D.Bytes())
	blob := binary.BigEndian.AppendUint32(nil, uint32(len(d)))
	blob = append(blob, d...)
	blob = append(blob, 0x01, 0x00, 0x01) // e = 65537, 3 bytes
	// p and q take 65 bytes each, as WebSphere writes them.
	pq := func(b []byte) []byte {
		return append(make([]byte, 65-len(b)), b...)
	}
	blob = append(blob, pq(key.Primes[0].Bytes())...)
	blob = append(blob, pq(key.Primes[1].Bytes())...)
	pub := append(javaBytes(key.N.Bytes()), 0x01, 0x00, 0x01)
	text := "#IBM WebSphere Application Server key file\n" +
		"#Tue Sep 11 16:15:40 EDT 2007\n" +
		"com.ibm.websphere.CreationDate=Tue Sep 11 16\\:15\\:40 EDT 2007\n" +
		"com.ibm.websphere.ltpa.version=1.0\n" +
		"com.ibm.websphere.ltpa.3DESKey=" + ltpaEncryptForTest(t, shared, password) + "\n" +
		"com.ibm.websphere.CreationHost=localhost\n" +
		"com.ibm.websphere.ltpa.PrivateKey=" + ltpaEncryptForTest(t, blob, password) + "\n" +
		"com.ibm.websphere.ltpa.Realm=FileRealm\n" +
		"com.ibm.websphere.ltpa.PublicKey=" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(pub), "=", `\=`) + "\n"
	return &ltpaFixture{text: text, password: password, shared: shared, key: key}
}

// ltpaDoc is a test API whose properties hold the fixture's keys.
func ltpaDoc(f *ltpaFixture, asm string) string {
	doc := testAPIDoc(apidef.GatewayV5, asm)
	var props strings.Builder
	props.WriteString("    ltpa-keys:\n      value: |\n")
	for _, line := range strings.Split(strings.TrimRight(f.text, "\n"), "\n") {
		props.WriteString("        " + line + "\n")
	}
	props.WriteString("    ltpa-password:\n      value: " + strconv.Quote(f.password) + "\n")
	return strings.Replace(doc, "  properties:\n", "  properties:\n"+props.String(), 1)
}

// openLTPA2 decrypts and verifies a token as a WebSphere server would,
// returning its user data and expiry.
func openLTPA2(t *testing.T, f *ltpaFixture, token string) (string, int64) {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("token is not base64: %v", err)
	}
	blk, _ := aes.NewCipher(f.shared[:16])
	if len(data)%aes.BlockSize != 0 {
		t.Fatalf("token length %d", len(data))
	}
	cipher.NewCBCDecrypter(blk, f.shared[:16]).CryptBlocks(data, data)
	plain, err := pkcs5Unpad(data, aes.BlockSize)
	if err != nil {
		t.Fatalf("padding: %v", err)
	}
	parts := strings.Split(string(plain), "%")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", plain, len(parts))
	}
	sig, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha1.Sum([]byte(parts[0]))
	h := sha1.Sum(digest[:])
	if err := rsa.VerifyPKCS1v15(&f.key.PublicKey, crypto.SHA1, h[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(parts[0], "expire:"+parts[1]+"$") {
		t.Errorf("user data %q does not start with the expiry %s", parts[0], parts[1])
	}
	return parts[0], ms
}

func TestLTPAGenerateCookie(t *testing.T) {
	f := newLTPAFixture(t)
	doc := ltpaDoc(f, `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenVersion: WebSphereVersion2
    tokenExpiry: 600
    tokenOutput: in-cookie-header
`)
	a, api, ps := compileTestDoc(t, doc)
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("al:ice:pw"))
	c := newTestContext(t, api, "GET", "/test/items", "", "Authorization", basic)
	before := time.Now()
	if err := a.Run(c); err != nil {
		t.Fatalf("run: %v", err)
	}
	// The message is still the request: the token goes to the back end as
	// a cookie.
	cookie := c.Message.Headers.Get("Cookie")
	token, ok := strings.CutPrefix(cookie, "LtpaToken2=")
	if !ok || c.Message.Headers.Get("Set-Cookie") != "" {
		t.Fatalf("Cookie = %q, Set-Cookie = %q", cookie, c.Message.Headers.Get("Set-Cookie"))
	}
	userData, ms := openLTPA2(t, f, token)
	if want := `$u:user\:FileRealm/al`; !strings.HasSuffix(userData, want) {
		t.Errorf("user data %q, want it to end %q", userData, want)
	}
	exp := time.UnixMilli(ms)
	if lo, hi := before.Add(600*time.Second), time.Now().Add(600*time.Second); exp.Before(lo.Add(-time.Millisecond)) || exp.After(hi) {
		t.Errorf("expiry %v, want about %v", exp, lo)
	}
}

func TestLTPAGenerateUserRealmWSSec(t *testing.T) {
	f := newLTPAFixture(t)
	doc := ltpaDoc(f, `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenOutput: in-wssec-header
    tokenExpiry: 60
    user: uid=$(request.headers.x-user),o=acme
    realm: my:realm
`)
	a, api, ps := compileTestDoc(t, doc)
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	c := newTestContext(t, api, "GET", "/test/items", "", "X-User", "bob$1")
	if err := a.Run(c); err != nil {
		t.Fatalf("run: %v", err)
	}
	if c.Message.Headers.Get("Set-Cookie") != "" {
		t.Error("Set-Cookie set for in-wssec-header")
	}
	userData, ms := openLTPA2(t, f, c.Message.Headers.Get("X-LTPA-Token"))
	if want := `$u:user\:my\:realm/uid=bob\$1,o=acme`; !strings.HasSuffix(userData, want) {
		t.Errorf("user data %q, want it to end %q", userData, want)
	}
	if d := time.Until(time.UnixMilli(ms)); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("expires in %v, want 60s", d)
	}

	// The client app is the user when there is no basic user.
	c = newTestContext(t, api, "GET", "/test/items", "")
	g := &ltpaGenerator{version: ltpaV2, expiry: time.Minute, output: ltpaInCookie, keysProp: "ltpa-keys", passProp: "ltpa-password"}
	c.Identity = &assembly.Identity{AppName: "my-app"}
	if err := g.run(c); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(c.Message.Headers.Get("Cookie"), "LtpaToken2=")
	if userData, _ := openLTPA2(t, f, token); !strings.HasSuffix(userData, `u:user\:FileRealm/my-app`) {
		t.Errorf("user data %q", userData)
	}

	// After an invoke the message is the response: the client gets a
	// Set-Cookie.
	c = newTestContext(t, api, "GET", "/test/items", "")
	c.Identity = &assembly.Identity{AppName: "my-app"}
	c.Message = &assembly.Message{Headers: http.Header{}}
	if err := g.run(c); err != nil {
		t.Fatal(err)
	}
	set := c.Message.Headers.Get("Set-Cookie")
	token, ok := strings.CutPrefix(set, "LtpaToken2=")
	if !ok || !strings.HasSuffix(token, "; Path=/; Secure; HttpOnly") {
		t.Fatalf("Set-Cookie = %q", set)
	}
	openLTPA2(t, f, strings.TrimSuffix(token, "; Path=/; Secure; HttpOnly"))
}

func TestLTPAGenerateNoKeys(t *testing.T) {
	asm := `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenVersion: WebSphereVersion2
`
	doc := testAPIDoc(apidef.GatewayV5, asm)
	a, api, ps := compileTestDoc(t, doc)
	if len(ps) != 1 || len(ps.Errors()) != 0 || !strings.Contains(ps[0].Msg, "no LTPA keys: set the ltpa-keys and ltpa-password properties") {
		t.Fatalf("want one warning about the keys, got %v", ps)
	}
	c := newTestContext(t, api, "GET", "/test/items", "", "Authorization", "Basic YWw6cHc=")
	e := asmError(t, a.Run(c))
	if e.Name != assembly.RuntimeError || e.StatusCode() != 500 || !strings.Contains(e.Message, "ltpa-keys") {
		t.Errorf("error = %+v", e)
	}

	// A wrong password is a run-time error too.
	f := newLTPAFixture(t)
	f.password = "wrong"
	a, api, ps = compileTestDoc(t, ltpaDoc(f, asm))
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	e = asmError(t, a.Run(newTestContext(t, api, "GET", "/test/items", "", "Authorization", "Basic YWw6cHc=")))
	if e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "password") {
		t.Errorf("error = %+v", e)
	}
}

func TestLTPAGenerateSettings(t *testing.T) {
	doc, ps := problemsOf(t, apidef.GatewayV5, `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenVersion: WebSphereVersion9
`)
	wantProblem(t, doc, ps, "WebSphereVersion9", "tokenVersion")
	doc, ps = problemsOf(t, apidef.GatewayV5, `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenOutput: in-body
`)
	wantProblem(t, doc, ps, "in-body", "tokenOutput")

	f := newLTPAFixture(t)
	a, api, ps := compileTestDoc(t, ltpaDoc(f, `
execute:
- ltpa-generate:
    version: 1.0.0
    tokenVersion: WebSphereVersion1
`))
	if len(ps) != 1 || len(ps.Errors()) != 0 {
		t.Fatalf("want one warning for version 1, got %v", ps)
	}
	e := asmError(t, a.Run(newTestContext(t, api, "GET", "/test/items", "", "Authorization", "Basic YWw6cHc=")))
	if e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "LTPA version 1 is not supported") {
		t.Errorf("error = %+v", e)
	}
}

func TestLTPACorpusFile(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "corpus", "apic", "iamjamilspain__APIConnect-APItranslation__Test__lots.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus file not found: %v", err)
	}
	d, err := apidef.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := apidef.LoadAPI(d)
	_, ps := assembly.CompileAPI(Builtins(), api, nil, filepath.Dir(path))
	if errs := ps.Errors(); len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	found := false
	for _, p := range ps {
		if strings.Contains(p.Field, "ltpa-generate") {
			found = true
			t.Logf("warning: %s", p.Error())
		}
	}
	if !found {
		t.Error("want a warning about the missing LTPA keys")
	}
}
