package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite connection settings. WAL lets readers run beside the writer;
// busy_timeout makes a second process wait for the write lock instead of
// failing; BEGIN IMMEDIATE takes that lock at the start of a transaction,
// where waiting is safe, instead of at its first write.
const (
	sqliteParams   = "_busy_timeout=10000&_foreign_keys=1&_txlock=immediate"
	sqliteFileOnly = "&_journal_mode=WAL&_synchronous=NORMAL"
	sqliteReaders  = 4
)

// openSQLite opens path (or ":memory:") with one writer connection and,
// for a file, a pool of read-only connections.
func openSQLite(ctx context.Context, path string) (write, read *sql.DB, err error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, nil, fmt.Errorf(`store: SQLite path %q: give a file path without ? or # ("sqlite:/var/lib/portico/portico.db") or ":memory:": %w`, path, ErrInvalid)
	}
	if path == ":memory:" {
		return openSQLiteMemory(ctx)
	}
	write, err = sqliteDB(ctx, path+"?"+sqliteParams+sqliteFileOnly, 1)
	if err != nil {
		return nil, nil, err
	}
	read, err = sqliteDB(ctx, path+"?"+sqliteParams+sqliteFileOnly+"&_query_only=1", sqliteReaders)
	if err != nil {
		write.Close()
		return nil, nil, err
	}
	return write, read, nil
}

// openSQLiteMemory opens a private in-memory database. Each connection to
// ":memory:" is a database of its own, so the store uses exactly one, and
// keeps it open for good.
func openSQLiteMemory(ctx context.Context) (write, read *sql.DB, err error) {
	db, err := sqliteDB(ctx, ":memory:?"+sqliteParams, 1)
	if err != nil {
		return nil, nil, err
	}
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, db, nil
}

// sqliteDB opens a pool of at most conns connections and checks it works.
func sqliteDB(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open SQLite database %s: %w (check that its directory exists and is writable)", strings.SplitN(dsn, "?", 2)[0], err)
	}
	return db, nil
}

// sqliteEngine is SQLite's dialect.
type sqliteEngine struct{}

func (sqliteEngine) name() string { return "sqlite" }

// rebind is the identity: SQLite takes ? placeholders.
func (sqliteEngine) rebind(q string) string { return q }

func (sqliteEngine) classify(err error) (errKind, []string) {
	var e *sqlite.Error
	if err == nil || !errors.As(err, &e) {
		return errOther, nil
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique, sqliteColumns(e.Error())
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey, nil
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return errCheck, nil
	}
	// SQLITE_BUSY is not transient here: it comes after busy_timeout has
	// already waited, and retrying would only wait again.
	return errOther, nil
}

// sqliteColumns returns the bare column names of a unique violation from
// its message, "… UNIQUE constraint failed: t.a, t.b (2067)".
func sqliteColumns(msg string) []string {
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return nil
	}
	list, _, _ := strings.Cut(msg[i+len(marker):], " (")
	var cols []string
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		cols = append(cols, c[strings.LastIndex(c, ".")+1:])
	}
	return cols
}
