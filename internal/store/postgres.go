package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL pool bounds: enough for a manager replica, few enough that a
// handful of replicas stay under the server's default max_connections.
const (
	pgMaxConns    = 16
	pgIdleConns   = 4
	pgIdleTimeout = 5 * time.Minute
)

// openPostgres connects through pgx's database/sql adapter. The DSN may set
// any server parameter, search_path included (the tests put each run in a
// schema of its own that way).
func openPostgres(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL DSN: %v (the form is postgres://user:password@host:5432/db?sslmode=disable): %w", redact(err), ErrInvalid)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgIdleConns)
	db.SetConnMaxIdleTime(pgIdleTimeout)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s:%d database %q as %q: %w (check that the server runs and the DSN is right)",
			cfg.Host, cfg.Port, cfg.Database, cfg.User, err)
	}
	return db, nil
}

// redact keeps a DSN parse error from echoing a password: pgx already
// masks it, but the error is also shortened to its first line.
func redact(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// postgresEngine is PostgreSQL's dialect.
type postgresEngine struct{}

func (postgresEngine) name() string { return "postgres" }

// rebind turns ? into $1, $2…; the store's queries have no ? elsewhere.
func (postgresEngine) rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for _, r := range q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// PostgreSQL error codes the store maps.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgCheckViolation      = "23514"
	pgNotNullViolation    = "23502"
	pgSerializationFail   = "40001"
	pgDeadlock            = "40P01"
)

func (postgresEngine) classify(err error) (errKind, []string) {
	var e *pgconn.PgError
	if err == nil || !errors.As(err, &e) {
		return errOther, nil
	}
	switch e.Code {
	case pgUniqueViolation:
		return errUnique, pgColumns(e.Detail)
	case pgForeignKeyViolation:
		return errForeignKey, nil
	case pgCheckViolation, pgNotNullViolation:
		return errCheck, nil
	case pgSerializationFail, pgDeadlock:
		return errTransient, nil
	}
	return errOther, nil
}

// pgColumns reads the columns from a unique violation's detail,
// "Key (catalog_id, client_id)=(…) already exists.".
func pgColumns(detail string) []string {
	rest, ok := strings.CutPrefix(detail, "Key (")
	if !ok {
		return nil
	}
	list, _, _ := strings.Cut(rest, ")=")
	var cols []string
	for _, c := range strings.Split(list, ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	return cols
}
