package store

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"time"
)

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// now is the current time at the precision both engines keep, so that what
// Create returns equals what Get reads back.
func now() time.Time { return norm(time.Now()) }

// norm brings a caller's time to the stored precision and zone.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// tsLayout is how times are written: fixed width, so that SQLite, which
// stores them as text, compares and sorts them correctly; PostgreSQL
// parses it into timestamptz.
const tsLayout = "2006-01-02T15:04:05.000000Z"

// ts is a time as a query argument; the zero time is NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return tsValue(norm(t))
}

// tsValue writes a time in tsLayout.
type tsValue time.Time

func (v tsValue) Value() (driver.Value, error) { return time.Time(v).Format(tsLayout), nil }

// tsScan reads a time column: text from SQLite, time.Time from PostgreSQL,
// NULL as the zero time.
type tsScan time.Time

func (s *tsScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s = tsScan{}
	case time.Time:
		*s = tsScan(norm(v))
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("store: cannot read %T as a time", src)
	}
	return nil
}

func (s *tsScan) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("store: stored time %q: %w", v, err)
	}
	*s = tsScan(norm(t))
	return nil
}

// tsp is a scan destination for a time field.
func tsp(t *time.Time) *tsScan { return (*tsScan)(t) }

// blob keeps an empty document as an empty, non-NULL value.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
