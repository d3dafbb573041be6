package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// engine is what differs between SQLite and PostgreSQL at run time.
type engine interface {
	// name is "sqlite" or "postgres", also the migrations directory.
	name() string
	// rebind rewrites the ? placeholders the queries are written with.
	rebind(query string) string
	// classify maps a driver error to an errKind and, for unique
	// violations, the columns of the violated constraint.
	classify(err error) (errKind, []string)
}

// sqlStore is the Store for both engines. On SQLite, write is a single
// connection (SQLite has one writer anyway, and queueing in the pool is
// cheaper than retrying on SQLITE_BUSY) and read a pool beside it; on
// PostgreSQL both are the same pool.
type sqlStore struct {
	queries // Reader, on read
	eng     engine
	write   *sql.DB
	read    *sql.DB
	seal    *sealer
}

func newSQLStore(eng engine, write, read *sql.DB, seal *sealer) *sqlStore {
	return &sqlStore{queries: queries{db: read, eng: eng, seal: seal}, eng: eng, write: write, read: read, seal: seal}
}

func (s *sqlStore) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

func (s *sqlStore) RawDB() *sql.DB { return s.write }

func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	return currentVersion(ctx, s.read)
}

// maxTxAttempts bounds how often Tx runs fn after transient conflicts.
const maxTxAttempts = 3

func (s *sqlStore) Tx(ctx context.Context, fn func(Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.runTx(ctx, fn)
		if kind, _ := s.eng.classify(err); kind != errTransient || attempt == maxTxAttempts {
			return err
		}
		select { // back off a little: the other transaction is finishing
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// runTx runs fn once in a transaction. The deferred rollback also covers
// a panic or runtime.Goexit (t.Fatal) in fn; after a commit it is a no-op.
func (s *sqlStore) runTx(ctx context.Context, fn func(Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	defer sqlTx.Rollback()
	t := &tx{queries: queries{db: sqlTx, eng: s.eng, seal: s.seal, state: &txState{}}}
	if err := fn(t); err != nil {
		return err
	}
	if failed := t.state.failed; failed != nil {
		return fmt.Errorf("store: transaction rolled back because a statement in it failed (%w); return such errors from the Tx function", failed)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txState is what a transaction remembers between calls.
type txState struct {
	// failed is the first statement error. PostgreSQL refuses every later
	// statement of such a transaction; the store makes SQLite do the same
	// so that callers see one behaviour.
	failed error
	// bumped holds the catalogs whose version this transaction has
	// already incremented, with the new version.
	bumped map[string]int64
}

// queries runs statements on a database or transaction; it implements
// Reader.
type queries struct {
	db    querier
	eng   engine
	seal  *sealer
	state *txState // nil outside a transaction
}

// tx implements Tx.
type tx struct {
	queries
}

// usable refuses work on a transaction that already failed.
func (q *queries) usable() error {
	if q.state != nil && q.state.failed != nil {
		return errTxAborted
	}
	return nil
}

// note records a statement error that aborts the transaction.
func (q *queries) note(err error) error {
	if err != nil && q.state != nil && q.state.failed == nil && !errors.Is(err, sql.ErrNoRows) {
		q.state.failed = err
	}
	return err
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	res, err := q.db.ExecContext(ctx, q.eng.rebind(query), args...)
	return res, q.note(err)
}

// execCount runs a statement and returns the rows it affected.
func (q *queries) execCount(ctx context.Context, query string, args ...any) (int, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// scanner is a row being read.
type scanner interface {
	Scan(dest ...any) error
}

// one runs a query expected to return one row and scans it with scan;
// sql.ErrNoRows comes back unchanged.
func one[T any](ctx context.Context, q *queries, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	var zero T
	if err := q.usable(); err != nil {
		return zero, err
	}
	v, err := scan(q.db.QueryRowContext(ctx, q.eng.rebind(query), args...))
	if err != nil {
		return zero, q.note(err)
	}
	return v, nil
}

// all runs a query and scans every row.
func all[T any](ctx context.Context, q *queries, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	rows, err := q.db.QueryContext(ctx, q.eng.rebind(query), args...)
	if err != nil {
		return nil, q.note(err)
	}
	defer rows.Close()
	items := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, q.note(err)
		}
		items = append(items, v)
	}
	return items, q.note(rows.Err())
}

// get reads one object and maps "no rows" to ErrNotFound.
func get[T any](ctx context.Context, q *queries, kind, key string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := one(ctx, q, scan, query, args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, notFound(kind, key)
	case err != nil:
		return v, opErr(kind, key, err)
	}
	return v, nil
}

// listing describes a paged list query.
type listing struct {
	kind  string // for errors
	cols  string // the selected columns
	from  string // "FROM … WHERE …", shared by the count
	order string // "ORDER BY …"
}

// page reads one page of a list and the list's total.
func page[T any](ctx context.Context, q *queries, l listing, scan func(scanner) (T, error), opts ListOptions, args ...any) (Page[T], error) {
	if opts.Limit < 0 || opts.Offset < 0 {
		return Page[T]{}, invalid(l.kind+" list", "limit and offset must not be negative (got %d, %d)", opts.Limit, opts.Offset)
	}
	total, err := one(ctx, q, scanInt, "SELECT COUNT(*) "+l.from, args...)
	if err != nil {
		return Page[T]{}, opErr(l.kind, "list", err)
	}
	limit := int64(opts.Limit)
	if limit == 0 {
		limit = 1<<63 - 1
	}
	query := "SELECT " + l.cols + " " + l.from + " " + l.order + " LIMIT ? OFFSET ?"
	items, err := all(ctx, q, scan, query, append(args, limit, int64(opts.Offset))...)
	if err != nil {
		return Page[T]{}, opErr(l.kind, "list", err)
	}
	return Page[T]{Items: items, Total: total}, nil
}

func scanInt(s scanner) (int, error) {
	var n int
	err := s.Scan(&n)
	return n, err
}

func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// childCheck is one kind of object that blocks a delete.
type childCheck struct {
	query string // counts the children; one ? for the parent's ID
	what  string // "products"
	hint  string // what the caller should do
}

// refuseChildren returns ErrConflict when any check finds children.
func (t *tx) refuseChildren(ctx context.Context, kind, id string, checks ...childCheck) error {
	for _, c := range checks {
		n, err := one(ctx, &t.queries, scanInt, c.query, id)
		if err != nil {
			return opErr(kind, id, err)
		}
		if n > 0 {
			return refused(kind, id, n, c.what, c.hint)
		}
	}
	return nil
}

// deleteByID deletes one row and maps "nothing deleted" to ErrNotFound.
func (t *tx) deleteByID(ctx context.Context, kind, table, id string) error {
	n, err := t.execCount(ctx, "DELETE FROM "+table+" WHERE id = ?", id)
	if err != nil {
		return deleteErr(t.eng, kind, id, err)
	}
	if n == 0 {
		return notFound(kind, id)
	}
	return nil
}

// update runs an UPDATE … RETURNING for one object by ID and maps "no
// row" to ErrNotFound and constraint errors through sub.
func update[T any](ctx context.Context, t *tx, sub subject, id string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := one(ctx, &t.queries, scan, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound(sub.kind, id)
	}
	return v, sub.writeErr(t.eng, err)
}

// updateOne runs a statement that changes one row by ID and maps "no row"
// to ErrNotFound.
func (t *tx) updateOne(ctx context.Context, kind, id, query string, args ...any) error {
	n, err := t.execCount(ctx, query, args...)
	if err != nil {
		return opErr(kind, id, err)
	}
	if n == 0 {
		return notFound(kind, id)
	}
	return nil
}
