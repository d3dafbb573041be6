// Package fakeaws is a local stand-in for the parts of AWS the aws-lambda
// policy talks to: STS AssumeRole (the query protocol, XML answers) and
// Lambda Invoke (POST /2015-03-31/functions/{name}/invocations). Both check
// SigV4 signatures for real, recomputing them with the caller's secret, and
// record what they were asked, so tests can assert that the external ID was
// sent and that Lambda was called with the session token STS issued.
//
// It is for tests only: an Account is one AWS account with users, roles and
// functions, served by two httptest servers.
package fakeaws

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Account is a fake AWS account. Configure it with AddUser, AddRole and
// AddFunction before serving; all methods are safe for concurrent use.
type Account struct {
	ID     string // 12 digits
	Region string
	// TokenTTL is how long assumed-role credentials last; default 1 hour.
	TokenTTL time.Duration

	mu          sync.Mutex
	users       map[string]Identity // access key ID → identity
	sessions    map[string]Session  // access key ID → issued session
	roles       map[string]Role
	functions   map[string]Function
	assumeCalls []AssumeRoleCall
	invocations []Invocation
	rejections  []string
}

// New returns an empty account.
func New(id, region string) *Account {
	return &Account{ID: id, Region: region, users: map[string]Identity{}, sessions: map[string]Session{},
		roles: map[string]Role{}, functions: map[string]Function{}}
}

// Identity is who signed a request.
type Identity struct {
	ARN             string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // set for assumed-role sessions
	RoleARN         string // the role of an assumed-role session
}

// Session is a set of temporary credentials STS issued.
type Session struct {
	Identity
	Expires time.Time
}

// Role is an IAM role: who may assume it and with which external ID.
type Role struct {
	// TrustedARNs are the principals the trust policy names; empty means
	// any user of the account.
	TrustedARNs []string
	// ExternalID, when set, is the trust policy's sts:ExternalId condition.
	ExternalID string
}

// Function is a Lambda function.
type Function struct {
	// Handler computes the result from the event; a non-nil failure is a
	// function error. Nil echoes the event.
	Handler func(inv Invocation) ([]byte, *Failure)
	// Qualifiers are the versions and aliases besides $LATEST.
	Qualifiers []string
	// Callers are the user or role ARNs allowed lambda:InvokeFunction;
	// empty allows anyone in the account.
	Callers []string
	// Throttled makes every call fail with TooManyRequestsException.
	Throttled bool
}

// Failure is a function error, as a runtime reports it.
type Failure struct {
	Type, Message string
	Unhandled     bool
}

// AssumeRoleCall records one AssumeRole request that passed SigV4.
type AssumeRoleCall struct {
	Caller          Identity
	RoleARN         string
	ExternalID      string
	SessionName     string
	DurationSeconds string
}

// Invocation records one Invoke request that passed SigV4.
type Invocation struct {
	Caller         Identity
	Function       string
	Qualifier      string
	InvocationType string
	Payload        []byte
	Header         http.Header
}

// AddUser adds an IAM user with an access key.
func (a *Account) AddUser(name, accessKeyID, secret string) Identity {
	id := Identity{ARN: fmt.Sprintf("arn:aws:iam::%s:user/%s", a.ID, name), AccessKeyID: accessKeyID, SecretAccessKey: secret}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[accessKeyID] = id
	return id
}

// AddRole adds a role and returns its ARN.
func (a *Account) AddRole(name string, r Role) string {
	arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", a.ID, name)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roles[arn] = r
	return arn
}

// AddFunction adds (or replaces) a function.
func (a *Account) AddFunction(name string, f Function) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.functions[name] = f
}

// FunctionARN is the ARN of a function of the account.
func (a *Account) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", a.Region, a.ID, name)
}

// AssumeRoleCalls returns the AssumeRole requests so far.
func (a *Account) AssumeRoleCalls() []AssumeRoleCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AssumeRoleCall(nil), a.assumeCalls...)
}

// Invocations returns the Invoke requests so far.
func (a *Account) Invocations() []Invocation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Invocation(nil), a.invocations...)
}

// Rejections returns why requests were refused for their signature or
// credentials, for test failure messages.
func (a *Account) Rejections() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.rejections...)
}

// Issued reports whether STS issued this session token.
func (a *Account) Issued(token string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.sessions {
		if s.SessionToken == token {
			return true
		}
	}
	return false
}

// Servers are the account's running STS and Lambda endpoints.
type Servers struct {
	STS, Lambda *httptest.Server
}

// Close stops both servers.
func (s *Servers) Close() {
	s.STS.Close()
	s.Lambda.Close()
}

// Serve starts the STS and Lambda endpoints on loopback.
func (a *Account) Serve() *Servers {
	return &Servers{STS: httptest.NewServer(a.STSHandler()), Lambda: httptest.NewServer(a.LambdaHandler())}
}

// authFailure is why a request's credentials were refused: the error
// code each service uses, and a message.
type authFailure struct {
	unknownKey bool
	expired    bool
	msg        string
}

// authenticate checks r's SigV4 signature for service and returns who
// signed it. Sessions must carry the token STS issued with them.
func (a *Account) authenticate(r *http.Request, body []byte, service string) (Identity, *authFailure) {
	auth, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return Identity{}, a.reject(&authFailure{msg: err.Error()})
	}
	if auth.Service != service || auth.Region != a.Region {
		return Identity{}, a.reject(&authFailure{msg: fmt.Sprintf("credential scope is %s/%s, want %s/%s",
			auth.Region, auth.Service, a.Region, service)})
	}
	id, f := a.lookupKey(auth.AccessKeyID, r.Header.Get("X-Amz-Security-Token"))
	if f != nil {
		return Identity{}, a.reject(f)
	}
	if err := Verify(r, body, auth, id.SecretAccessKey, time.Now()); err != nil {
		return Identity{}, a.reject(&authFailure{msg: err.Error()})
	}
	return id, nil
}

func (a *Account) lookupKey(keyID, token string) (Identity, *authFailure) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.users[keyID]; ok {
		if token != "" {
			return Identity{}, &authFailure{unknownKey: true, msg: "a user's long-term key was sent with a session token"}
		}
		return id, nil
	}
	s, ok := a.sessions[keyID]
	switch {
	case !ok:
		return Identity{}, &authFailure{unknownKey: true, msg: "the security token included in the request is invalid: unknown access key " + keyID}
	case token != s.SessionToken:
		return Identity{}, &authFailure{unknownKey: true, msg: "the session token does not belong to access key " + keyID}
	case time.Now().After(s.Expires):
		return Identity{}, &authFailure{expired: true, msg: "the security token included in the request is expired"}
	}
	return s.Identity, nil
}

func (a *Account) reject(f *authFailure) *authFailure {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rejections = append(a.rejections, f.msg)
	return f
}

// issue makes a session for role, as AssumeRole does.
func (a *Account) issue(roleARN, sessionName string) Session {
	ttl := a.TokenTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	roleName := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	s := Session{Expires: time.Now().Add(ttl).UTC(), Identity: Identity{
		ARN:         fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", a.ID, roleName, sessionName),
		AccessKeyID: "ASIA" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20),
		SessionToken: "session-" + randomHex(16), RoleARN: roleARN,
	}}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sessions[s.AccessKeyID] = s
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
