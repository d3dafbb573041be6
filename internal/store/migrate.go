package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds one directory of numbered SQL files per engine,
// migrations/<engine>/NNNN_what.sql. Both directories hold the same
// numbers: a change to the schema adds a file to each (a test checks).
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads an engine's migrations in version order.
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: no migrations for %s: %w", engine, err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s: name it NNNN_what.sql", dir, e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// LatestSchemaVersion is the schema version this build migrates databases
// to (the same for both engines).
func LatestSchemaVersion() int {
	ms, err := loadMigrations("sqlite")
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database to the latest version in one transaction,
// so a failed migration leaves the schema as it was. Managers starting
// together take turns: SQLite's BEGIN IMMEDIATE and a PostgreSQL advisory
// lock serialise them, and the second finds nothing left to do.
func migrate(ctx context.Context, db *sql.DB, eng engine) error {
	ms, err := loadMigrations(eng.name())
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := lockMigrations(ctx, tx, eng); err != nil {
		return err
	}
	current, err := currentVersion(ctx, tx)
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("store: the database schema is at version %d but this portico knows versions up to %d; run a newer portico", current, latest)
	}
	for _, m := range ms {
		if m.version > current {
			if err := apply(ctx, tx, eng, m); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// lockMigrations creates the version table, under PostgreSQL's advisory
// lock for this schema so that concurrent creates do not collide.
func lockMigrations(ctx context.Context, tx *sql.Tx, eng engine) error {
	if eng.name() == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('portico-migrate:' || current_schema()))`); err != nil {
			return fmt.Errorf("store: lock migrations: %w", err)
		}
	}
	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	if err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	return nil
}

func currentVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

// apply runs one migration file and records it.
func apply(ctx context.Context, tx *sql.Tx, eng engine, m migration) error {
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %s/%s failed, nothing was changed: %w", eng.name(), m.name, err)
	}
	_, err := tx.ExecContext(ctx, eng.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, tsValue(now()))
	if err != nil {
		return fmt.Errorf("store: record migration %s: %w", m.name, err)
	}
	return nil
}
