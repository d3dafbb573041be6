package store

import (
	"errors"
	"fmt"
	"strings"
)

// The store's errors wrap one of these, so that callers (the REST layer
// maps them to 404, 409 and 400) can test with errors.Is. The message
// around them names the object and says what to do.
var (
	// ErrNotFound: the object, or the parent a create names, does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name (client ID, key hash…) is taken, or a
	// delete is refused because other objects still depend on the object.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule the message states.
	ErrInvalid = errors.New("invalid")
)

// errTxAborted is returned by calls on a transaction after a statement in
// it failed.
var errTxAborted = errors.New("store: the transaction was aborted by an earlier failed statement; return that error from the Tx function")

func notFound(kind, key string) error {
	return fmt.Errorf("store: %s %s does not exist; check the id or name: %w", kind, key, ErrNotFound)
}

func invalid(kind, format string, args ...any) error {
	return fmt.Errorf("store: %s: %s: %w", kind, fmt.Sprintf(format, args...), ErrInvalid)
}

// refused reports a delete that other objects block.
func refused(kind, id string, n int, children, hint string) error {
	return fmt.Errorf("store: %s %s still has %s (%d); %s: %w", kind, id, children, n, hint, ErrConflict)
}

// subject names the object a write is about, for error messages.
type subject struct {
	kind string // "catalog"
	key  string // "sandbox" or an ID, as the caller knows it
	// parent describes the parent a foreign key names, for "does not exist".
	parent string
	// taken explains a unique violation, keyed by the violated columns
	// joined with ","; "" is the fallback.
	taken map[string]string
}

// writeErr turns a database error from an insert or update into the
// store's errors.
func (s subject) writeErr(eng engine, err error) error {
	if err == nil {
		return nil
	}
	switch kind, cols := eng.classify(err); kind {
	case errUnique:
		return fmt.Errorf("store: %s %q: %s: %w", s.kind, s.key, s.takenMessage(cols), ErrConflict)
	case errForeignKey:
		return fmt.Errorf("store: %s %q: %s does not exist; create it first or fix the id: %w", s.kind, s.key, s.parent, ErrNotFound)
	case errCheck:
		return fmt.Errorf("store: %s %q: a value is out of range (%v): %w", s.kind, s.key, err, ErrInvalid)
	}
	return fmt.Errorf("store: %s %q: %w", s.kind, s.key, err)
}

func (s subject) takenMessage(cols []string) string {
	if msg, ok := s.taken[strings.Join(cols, ",")]; ok {
		return msg
	}
	if msg, ok := s.taken[""]; ok {
		return msg
	}
	return "already exists; choose another name"
}

// deleteErr turns a database error from a delete into the store's errors.
// A foreign key violation here means a child appeared after the checks.
func deleteErr(eng engine, kind, id string, err error) error {
	if err == nil {
		return nil
	}
	if k, _ := eng.classify(err); k == errForeignKey {
		return fmt.Errorf("store: %s %s is still referenced by other objects; delete them first: %w", kind, id, ErrConflict)
	}
	return fmt.Errorf("store: delete %s %s: %w", kind, id, err)
}

// opErr wraps an unexpected database error.
func opErr(kind, key string, err error) error {
	return fmt.Errorf("store: %s %s: %w", kind, key, err)
}

// errKind classifies engine errors the same way for both engines.
type errKind int

const (
	errOther errKind = iota
	errUnique
	errForeignKey
	errCheck
	errTransient // deadlock or serialization failure: retry the tx
)
