package policy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portico-api/portico/internal/assembly"
)

// clientSet holds the HTTP clients invoke uses, one per TLS profile. It
// lives in the gateway's assembly.Env, so back-end connections survive
// configuration reloads.
type clientSet struct {
	mu     sync.Mutex
	byName map[string]*http.Client
}

func clientsFor(env *assembly.Env) *clientSet {
	return env.Resource("policy.invoke.clients", func() any {
		return &clientSet{byName: map[string]*http.Client{}}
	}).(*clientSet)
}

// client returns the client for a TLS profile name. API Connect profile
// names may carry a version (name:1.0.0) or a scope prefix (client:name);
// both are tried. An unknown name uses the default client, which verifies
// servers against the system roots.
func (s *clientSet) client(profiles map[string]*tls.Config, name string, follow bool) *http.Client {
	cfg, key := lookupProfile(profiles, name)
	// The key carries the config's identity: a reload that changes a
	// profile gets a new transport, an unchanged one keeps its connections.
	key = fmt.Sprintf("%s|%p|%t", key, cfg, follow)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.byName[key]; ok {
		return c
	}
	c := newClient(cfg)
	if !follow {
		// Redirects come back as responses instead of being followed.
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	s.byName[key] = c
	return c
}

func lookupProfile(profiles map[string]*tls.Config, name string) (*tls.Config, string) {
	if name == "" || profiles == nil {
		return nil, ""
	}
	candidates := []string{name}
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		candidates = append(candidates, name[:i], name[i+1:])
	}
	for _, n := range candidates {
		if cfg, ok := profiles[n]; ok {
			return cfg, n
		}
	}
	return nil, ""
}

// newClient makes a client tuned for a gateway: many idle connections per
// back end, no transparent decompression (bodies pass through as sent),
// HTTP/2 where the back end offers it. Redirects are followed by invoke;
// proxy stops them itself.
func newClient(tlsCfg *tls.Config) *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		TLSClientConfig:       tlsCfg,
	}
	return &http.Client{Transport: t}
}
