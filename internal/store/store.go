// Package store is the manager's storage: provider orgs, catalogs, drafts,
// published products, consumer orgs, apps, credentials, subscriptions,
// users, gateway services and the audit trail.
//
// Two engines sit behind one interface: SQLite (embedded, the default of
// "portico up") and PostgreSQL (for several manager replicas). Both run the
// same queries through database/sql; the differences between them (schema
// dialect, placeholders, error codes) live in sqlite.go, postgres.go and the
// per-engine migrations, and the conformance suite in storetest holds them
// to the same behaviour.
//
// Reads may run outside a transaction; every write runs inside Store.Tx, so
// that a change, the CatalogVersion bump it causes and its audit entry
// commit or roll back together.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Store is an open database.
type Store interface {
	// Close releases the database connections. Calls in flight fail.
	Close() error
	// Tx runs fn in one transaction: fn's error (or panic) rolls it back,
	// nil commits. A write that fails leaves the transaction unusable on
	// both engines (PostgreSQL aborts it), so fn must return that error.
	//
	// When PostgreSQL reports a transient conflict (a deadlock, say
	// between two transactions that touch the same catalogs in opposite
	// orders, or a serialization failure), Tx runs fn again, up to three
	// times in all: fn must have no effects outside tx. SQLite waits up to
	// its busy timeout (10s) for another process's write lock instead.
	//
	// Inside fn, read through tx, not through the Store: an in-memory
	// SQLite store has one connection, which the transaction holds.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// SchemaVersion is the migration version the database is at; it equals
	// LatestSchemaVersion once Open has returned.
	SchemaVersion(ctx context.Context) (int, error)
	Reader
	Analytics // gateways' events, outside Tx (analytics.go)
}

// Tx is a transaction: it reads its own writes.
type Tx interface {
	Reader
	Writer
}

// RawDB is implemented by the stores Open returns. It exists for the
// conformance suite (to check what is really in a column) and for
// diagnostics; application code must not write through it, because the
// store's invariants (encryption, catalog versions) would be bypassed.
type RawDB interface {
	RawDB() *sql.DB
}

// Open opens (creating when needed) the database that dsn names and
// migrates it to LatestSchemaVersion:
//
//	sqlite:/var/lib/portico/portico.db   a file (WAL, one writer connection)
//	sqlite::memory:                      a private in-memory database
//	postgres://user@host:5432/db?sslmode=disable   (or postgresql://)
//
// secretKey must be 32 bytes: it encrypts secrets at rest (gateway client
// keys) with AES-256-GCM. Keep it outside the database; without it those
// columns cannot be read back.
func Open(ctx context.Context, dsn string, secretKey []byte) (Store, error) {
	seal, err := newSealer(secretKey)
	if err != nil {
		return nil, err
	}
	var (
		eng         engine
		write, read *sql.DB
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		eng = sqliteEngine{}
		write, read, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		eng = postgresEngine{}
		write, err = openPostgres(ctx, dsn)
		read = write
	default:
		return nil, fmt.Errorf(`store: unknown database %q: use "sqlite:/path/file.db", "sqlite::memory:" or "postgres://user@host/db": %w`,
			dsnScheme(dsn), ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	s := newSQLStore(eng, write, read, seal)
	if err := migrate(ctx, write, eng); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsnScheme returns the part of dsn before "://" or ":" so that an error
// message never echoes a password.
func dsnScheme(dsn string) string {
	if i := strings.Index(dsn, ":"); i >= 0 {
		return dsn[:i] + ":…"
	}
	if len(dsn) > 12 {
		return dsn[:12] + "…"
	}
	return dsn
}
