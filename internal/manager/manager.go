// Package manager is Portico's control plane: API Connect's REST API over
// the store. This first slice has token login with API keys and passwords,
// provider orgs and catalogs; drafts, publishing, consumers and gateways
// follow.
package manager

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/ratelimit"
	"github.com/portico-api/portico/internal/store"
)

// Roles. The cloud role is on the user; org roles are memberships.
const (
	RoleCloudAdmin = "admin"
	RoleOwner      = "owner"
	RoleAdmin      = "administrator"
	RoleDeveloper  = "developer"
	RoleViewer     = "viewer"
)

// Options configure a Manager.
type Options struct {
	// BaseURL is how clients reach the manager (for the url fields of
	// objects), e.g. http://127.0.0.1:9090.
	BaseURL  string
	TokenTTL time.Duration // default 8 hours, as API Connect
	Logger   *slog.Logger
}

// Manager serves the REST API.
type Manager struct {
	st       store.Store
	opts     Options
	log      *slog.Logger
	throttle loginThrottle
}

// New returns a Manager over st.
func New(st store.Store, o Options) *Manager {
	if o.TokenTTL <= 0 {
		o.TokenTTL = 8 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Manager{st: st, opts: o, log: o.Logger, throttle: loginThrottle{lim: ratelimit.NewMemory()}}
}

// AdminKeyFile is where the first start writes the admin's API key.
const AdminKeyFile = "admin.apikey"

// Bootstrap makes sure an admin user exists. On the first start it creates
// the user and an API key, and writes the key to home/admin.apikey (mode
// 0600); the key is never logged. It returns the file's path.
func (m *Manager) Bootstrap(ctx context.Context, home string) (string, error) {
	path := filepath.Join(home, AdminKeyFile)
	if u, err := m.st.GetUserByName(ctx, "admin"); err == nil {
		// Databases made before the admin org existed get it now.
		return path, m.st.Tx(ctx, func(tx store.Tx) error {
			_, err := ensureAdminOrg(ctx, tx, u.ID)
			return err
		})
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	key, err := newSecret()
	if err != nil {
		return "", err
	}
	err = m.st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.CreateUser(ctx, store.User{Name: "admin", Title: "Cloud administrator", CloudRole: RoleCloudAdmin})
		if err != nil {
			return err
		}
		if _, err := tx.CreateAPIKey(ctx, store.APIKey{UserID: u.ID, KeyHash: hashKey(key), Description: "created at first start"}); err != nil {
			return err
		}
		_, err = ensureAdminOrg(ctx, tx, u.ID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("creating the admin user: %w", err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the admin API key: %w", err)
	}
	return path, nil
}

// newSecret is 32 random bytes as hex: API keys and access tokens.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// hashKey is how API keys and tokens are stored: their SHA-256. They are
// random and long, so a fast hash is enough (unlike passwords).
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])
}

// Handler is the REST API under /api. Each group of resources installs
// its routes; adding a group is one line here.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	m.authRoutes(mux)
	m.orgRoutes(mux)
	m.draftRoutes(mux)
	m.consumerRoutes(mux)
	m.productRoutes(mux)
	m.userRoutes(mux)
	m.lifecycleRoutes(mux)
	m.gatewayRoutes(mux)
	m.analyticsRoutes(mux)
	m.cliLoginRoutes(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such resource: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func (m *Manager) authRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/token", m.token)
	mux.Handle("DELETE /api/token", m.authed(anyone, m.logout))
	mux.Handle("GET /api/me", m.authed(anyone, m.me))
}

func (m *Manager) orgRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/orgs", m.authed(anyone, m.listOrgs))
	mux.Handle("POST /api/orgs", m.authed(cloudAdmin, m.createOrg))
	mux.Handle("GET /api/orgs/{org}", m.authed(orgRole(RoleViewer), m.getOrg))
	mux.Handle("GET /api/orgs/{org}/catalogs", m.authed(orgRole(RoleViewer), m.listCatalogs))
	mux.Handle("POST /api/orgs/{org}/catalogs", m.authed(orgRole(RoleAdmin), m.createCatalog))
	mux.Handle("GET /api/catalogs/{org}/{catalog}", m.authed(orgRole(RoleViewer), m.getCatalog))
}
