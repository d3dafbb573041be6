package lambda

import (
	"context"
	"crypto/sha256"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/portico-api/portico/internal/assembly"
)

// PoolKey is the assembly.Env resource under which the gateway's pool of
// Lambda clients lives. Tests may store a pool with their own Options there
// before compiling.
const PoolKey = "policy.aws-lambda.pool"

// Options tune a Pool. The zero value is what the gateway uses.
type Options struct {
	// LoadOptions go to config.LoadDefaultConfig, which builds the
	// gateway's own AWS configuration: the standard credential chain,
	// shared config files, and the AWS_ENDPOINT_URL* variables.
	LoadOptions []func(*config.LoadOptions) error
	// SessionDuration of assumed-role credentials; default 15 minutes,
	// the least AWS allows, so a revoked trust takes effect soon.
	SessionDuration time.Duration
	// ExpiryWindow: assumed-role credentials are refreshed this long before
	// they expire, so no call is signed with credentials about to lapse.
	// Default 1 minute.
	ExpiryWindow time.Duration
	// FailureTTL: after STS refuses, requests get the same answer for this
	// long instead of each asking STS again. Default 5 seconds.
	FailureTTL time.Duration
	// MaxClients bounds the pool, since a role or key may be a $(…)
	// reference that varies by request. Default 256.
	MaxClients int
}

func (o Options) withDefaults() Options {
	if o.SessionDuration <= 0 {
		o.SessionDuration = stscreds.DefaultDuration
	}
	if o.ExpiryWindow <= 0 {
		o.ExpiryWindow = time.Minute
	}
	if o.FailureTTL <= 0 {
		o.FailureTTL = 5 * time.Second
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 256
	}
	return o
}

// Pool holds the long-lived Lambda clients and their credential caches,
// one per (region, role, external ID, access key, endpoints). It lives in
// the gateway's assembly.Env so that a configuration reload keeps the
// clients, their connections and their cached credentials. It is safe for
// concurrent use.
type Pool struct {
	opts Options

	baseMu sync.Mutex
	base   *aws.Config // loaded on first use; nil until it loads

	mu      sync.RWMutex
	clients map[clientKey]*client
}

// NewPool returns an empty pool.
func NewPool(o Options) *Pool {
	return &Pool{opts: o.withDefaults(), clients: map[clientKey]*client{}}
}

// PoolFor returns the pool kept in env, creating it once.
func PoolFor(env *assembly.Env) *Pool {
	return env.Resource(PoolKey, func() any { return NewPool(Options{}) }).(*Pool)
}

// clientKey identifies one client. The secret key is kept as a digest so
// the pool's keys never hold it in clear.
type clientKey struct {
	region         string
	roleARN        string
	externalID     string
	accessKeyID    string
	secretSum      [sha256.Size]byte
	stsEndpoint    string
	lambdaEndpoint string
}

// client is one Lambda client with the credentials it signs with.
type client struct {
	// source signs the AssumeRole call (role mode) or the Lambda call
	// itself; checked first so that its failures are told apart from STS's.
	source aws.CredentialsProvider
	// creds sign the Lambda call: source itself, or the assumed role's
	// cached, self-refreshing credentials.
	creds  aws.CredentialsProvider
	lambda *lambdasvc.Client
}

// get returns the client for k, creating it on first use.
func (p *Pool) get(ctx context.Context, k clientKey, secret string) (*client, error) {
	p.mu.RLock()
	cl := p.clients[k]
	p.mu.RUnlock()
	if cl != nil {
		return cl, nil
	}
	base, err := p.baseConfig(ctx)
	if err != nil {
		return nil, err
	}
	cl = p.newClient(base, k, secret)
	p.mu.Lock()
	defer p.mu.Unlock()
	if prior := p.clients[k]; prior != nil {
		return prior, nil
	}
	if len(p.clients) >= p.opts.MaxClients {
		for old := range p.clients {
			delete(p.clients, old) // any one: a full pool is already unusual
			break
		}
	}
	p.clients[k] = cl
	return cl, nil
}

// baseConfig loads the gateway's own AWS configuration once. A failure is
// not kept, so fixing the environment or shared config needs no restart.
func (p *Pool) baseConfig(ctx context.Context) (aws.Config, error) {
	p.baseMu.Lock()
	defer p.baseMu.Unlock()
	if p.base != nil {
		return *p.base, nil
	}
	opts := append([]func(*config.LoadOptions) error{config.WithHTTPClient(gatewayHTTPClient())}, p.opts.LoadOptions...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, credentialsError(err)
	}
	p.base = &cfg
	return cfg, nil
}

// gatewayHTTPClient is the SDK's client with room for a gateway's
// concurrency: the SDK keeps only 10 idle connections per host, which under
// load would mean a new TLS handshake for most calls.
func gatewayHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 1000
		t.MaxIdleConnsPerHost = 256
	})
}

// newClient builds a client: static keys or the gateway's chain as the
// source identity, then, with a role, STS AssumeRole behind a credentials
// cache that refreshes before expiry and is shared by every request.
func (p *Pool) newClient(base aws.Config, k clientKey, secret string) *client {
	cfg := base.Copy()
	cfg.Region = k.region
	if k.accessKeyID != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(k.accessKeyID, secret, "")
	}
	cl := &client{source: cfg.Credentials, creds: cfg.Credentials}
	if k.roleARN != "" {
		cl.creds = p.assumeRole(cfg, k)
		cfg.Credentials = cl.creds
	}
	cl.lambda = lambdasvc.NewFromConfig(cfg, func(o *lambdasvc.Options) {
		if k.lambdaEndpoint != "" {
			o.BaseEndpoint = aws.String(k.lambdaEndpoint)
		}
		// No retries: an invocation may not be idempotent, and a throttled
		// function is best told to the API's client (429) than hammered.
		o.RetryMaxAttempts = 1
	})
	return cl
}

func (p *Pool) assumeRole(cfg aws.Config, k clientKey) aws.CredentialsProvider {
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if k.stsEndpoint != "" {
			o.BaseEndpoint = aws.String(k.stsEndpoint)
		}
	})
	prov := stscreds.NewAssumeRoleProvider(stsClient, k.roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName(k.externalID)
		o.Duration = p.opts.SessionDuration
		if k.externalID != "" {
			o.ExternalID = aws.String(k.externalID)
		}
	})
	memo := &failureMemo{provider: prov, ttl: p.opts.FailureTTL}
	return aws.NewCredentialsCache(memo, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = p.opts.ExpiryWindow
		o.ExpiryWindowJitterFrac = 0.2 // gateways sharing a role do not refresh in step
	})
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// sessionName names the role session after the provider org, so CloudTrail
// shows which catalog's org called. AWS allows 2–64 characters of
// [\w+=,.@-].
func sessionName(externalID string) string {
	name := "portico-" + sessionUnsafe.ReplaceAllString(externalID, "-")
	if externalID == "" {
		name = "portico-gateway"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// failureMemo remembers a failed credential fetch for a short while, so a
// misconfigured role costs one STS call per TTL rather than one per
// request. Calls reach it one at a time (the credentials cache
// single-flights them), but it locks anyway.
type failureMemo struct {
	provider aws.CredentialsProvider
	ttl      time.Duration

	mu  sync.Mutex
	err error
	at  time.Time
}

func (f *failureMemo) Retrieve(ctx context.Context) (aws.Credentials, error) {
	f.mu.Lock()
	if f.err != nil && time.Since(f.at) < f.ttl {
		err := f.err
		f.mu.Unlock()
		return aws.Credentials{}, err
	}
	f.mu.Unlock()
	creds, err := f.provider.Retrieve(ctx)
	f.mu.Lock()
	f.err, f.at = err, time.Now()
	f.mu.Unlock()
	return creds, err
}
