package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
	"github.com/portico-api/portico/internal/store/storetest"
)

// testKey is the secret key the tests open stores with.
func testKey() []byte { return []byte("0123456789abcdef0123456789abcdef") }

func openSQLite(t *testing.T, path string, key []byte) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), "sqlite:"+path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSQLite runs the conformance suite on SQLite files.
func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "portico.db"), testKey())
	})
}

// TestSQLiteMemory runs the suite on the in-memory database.
func TestSQLiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t, ":memory:", testKey()) })
}

// TestPostgres runs the suite on PostgreSQL, each store in a schema of its
// own that is dropped afterwards, so that runs never see each other.
func TestPostgres(t *testing.T) {
	dsn := os.Getenv("PORTICO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PORTICO_TEST_POSTGRES_DSN is not set; .ci/run sets it")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t, dsn) })
}

// openPostgres opens a store in a new schema.
func openPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	schemaDSN := storetest.PostgresSchema(t, dsn)
	s, err := store.Open(t.Context(), schemaDSN, testKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestReopen: opening a migrated database again migrates nothing and keeps
// the data; another secret key cannot read the sealed column.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portico.db")
	s := openSQLite(t, path, testKey())
	var gwID string
	err := s.Tx(t.Context(), func(tx store.Tx) error {
		u, err := tx.CreateUser(t.Context(), store.User{Name: "ada"})
		if err != nil {
			return err
		}
		o, err := tx.CreateProviderOrg(t.Context(), store.ProviderOrg{Name: "acme", OwnerID: u.ID})
		if err != nil {
			return err
		}
		g, err := tx.CreateGatewayService(t.Context(), store.GatewayService{OrgID: o.ID, Name: "gw",
			EndpointURL: "https://gw:3000", APIEndpointBase: "https://api", ClientKeyPEM: []byte("KEY")})
		gwID = g.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	again := openSQLite(t, path, testKey())
	if v, err := again.SchemaVersion(t.Context()); err != nil || v != store.LatestSchemaVersion() {
		t.Fatalf("SchemaVersion after reopen = %d, %v", v, err)
	}
	if g, err := again.GetGatewayService(t.Context(), gwID); err != nil || string(g.ClientKeyPEM) != "KEY" {
		t.Fatalf("gateway after reopen = %+v, %v", g, err)
	}
	again.Close()

	otherKey := []byte(strings.Repeat("k", store.SecretKeySize))
	_, err = openSQLite(t, path, otherKey).GetGatewayService(t.Context(), gwID)
	if err == nil || !strings.Contains(err.Error(), "another secret key") {
		t.Fatalf("reading with another key: %v, want a decryption error that names the key", err)
	}
}

// TestPostgresReopen: a second Open of a migrated schema is a no-op.
func TestPostgresReopen(t *testing.T) {
	dsn := os.Getenv("PORTICO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PORTICO_TEST_POSTGRES_DSN is not set; .ci/run sets it")
	}
	schemaDSN := storetest.PostgresSchema(t, dsn)
	for range 2 {
		s, err := store.Open(t.Context(), schemaDSN, testKey())
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(t.Context())
		s.Close()
		if err != nil || v != store.LatestSchemaVersion() {
			t.Fatalf("SchemaVersion = %d, %v, want %d", v, err, store.LatestSchemaVersion())
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		key  []byte
		want error
		msg  string
	}{
		{"sqlite::memory:", []byte("short"), store.ErrInvalid, "32 bytes"},
		{"mysql://root:hunter2@db/portico", testKey(), store.ErrInvalid, "sqlite:"},
		{"sqlite:", testKey(), store.ErrInvalid, "file path"},
		{"sqlite:/tmp/x.db?mode=ro", testKey(), store.ErrInvalid, "without ?"},
		{"postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=x", testKey(), store.ErrInvalid, "DSN"},
	} {
		_, err := store.Open(t.Context(), tc.dsn, tc.key)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %v, want %v mentioning %q and no password", tc.dsn, err, tc.want, tc.msg)
		}
	}
	_, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "missing", "dir", "x.db"), testKey())
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open in a missing directory = %v, want advice about the directory", err)
	}
}
