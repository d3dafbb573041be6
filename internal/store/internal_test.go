package store

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestMigrationsInSync: both engines have the same numbered migrations, so
// they reach the same schema version.
func TestMigrationsInSync(t *testing.T) {
	names := func(engine string) []string {
		ms, err := loadMigrations(engine)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, m := range ms {
			if m.version != i+1 {
				t.Errorf("%s migration %s: version %d, want %d (no gaps)", engine, m.name, m.version, i+1)
			}
			out = append(out, m.name)
		}
		return out
	}
	sqlite, postgres := names("sqlite"), names("postgres")
	if !reflect.DeepEqual(sqlite, postgres) {
		t.Fatalf("migrations differ:\nsqlite   %v\npostgres %v\nadd each change to both", sqlite, postgres)
	}
	if LatestSchemaVersion() != len(sqlite) {
		t.Fatalf("LatestSchemaVersion = %d, want %d", LatestSchemaVersion(), len(sqlite))
	}
}

// TestMigrationsSameTables: both dialects create the same tables and
// columns (a cheap guard against editing one file only).
func TestMigrationsSameTables(t *testing.T) {
	cols := func(engine string) map[string]bool {
		ms, _ := loadMigrations(engine)
		seen := map[string]bool{}
		for _, m := range ms {
			table := ""
			for _, line := range strings.Split(m.sql, "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) >= 3 && f[0] == "CREATE" && f[1] == "TABLE":
					table = f[2]
				case len(f) > 0 && strings.HasPrefix(f[0], ")"):
					table = ""
				case table != "" && len(f) >= 2 && f[0] != "UNIQUE" && f[0] != "PRIMARY":
					seen[table+"."+f[0]] = true
				}
			}
		}
		return seen
	}
	if s, p := cols("sqlite"), cols("postgres"); !reflect.DeepEqual(s, p) || len(s) < 50 {
		t.Fatalf("the dialects' columns differ (or were not found):\nsqlite   %v\npostgres %v", s, p)
	}
}

func TestRebind(t *testing.T) {
	got := postgresEngine{}.rebind("SELECT a FROM t WHERE b = ? AND c IN (?, ?) LIMIT ?")
	if want := "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) LIMIT $4"; got != want {
		t.Fatalf("rebind = %q, want %q", got, want)
	}
}

func TestUniqueColumns(t *testing.T) {
	got := sqliteColumns("constraint failed: UNIQUE constraint failed: credentials.catalog_id, credentials.client_id (2067)")
	if want := []string{"catalog_id", "client_id"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sqliteColumns = %v, want %v", got, want)
	}
	got = pgColumns("Key (catalog_id, client_id)=(x, y) already exists.")
	if want := []string{"catalog_id", "client_id"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pgColumns = %v, want %v", got, want)
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{7}, SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("-----BEGIN PRIVATE KEY-----")
	sealed := s.seal(plain, "row-1")
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value holds the plain text")
	}
	if got, err := s.open(sealed, "row-1"); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open(sealed, "row-2"); err == nil {
		t.Fatal("a value sealed for one row opened for another")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.open(tampered, "row-1"); err == nil {
		t.Fatal("a tampered value opened")
	}
	if s.seal(nil, "x") != nil {
		t.Fatal("nil should stay nil")
	}
}

func TestNewID(t *testing.T) {
	a, b := newID(), newID()
	if a == b || len(a) != 36 || a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Fatalf("newID = %q, %q: want distinct version-4 UUIDs", a, b)
	}
}
