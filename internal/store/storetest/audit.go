package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/store"
)

func testAudit(t *testing.T, f *fixture) {
	u := f.user("ada")
	at := time.Date(2027, 1, 2, 3, 4, 5, 6000, time.UTC)
	var entries []store.AuditEntry
	for i, e := range []store.AuditEntry{
		{UserID: u.ID, Action: "create", ObjectType: "catalog", ObjectID: "c1", Summary: "created sandbox", At: at},
		{UserID: u.ID, Action: "publish", ObjectType: "product", ObjectID: "p1"},
		{UserID: "someone-else", Action: "update", ObjectType: "catalog", ObjectID: "c1"},
	} {
		got := write(f, func(tx store.Tx) (store.AuditEntry, error) { return tx.AppendAudit(f.ctx, e) })
		if got.At.IsZero() || i > 0 && got.ID <= entries[i-1].ID {
			t.Fatalf("AppendAudit = %+v, want a time and an ID above the previous one", got)
		}
		entries = append(entries, got)
	}
	same(t, "first entry keeps its time", entries[0].At, at)
	all := ok(f.s.ListAudit(f.ctx, store.AuditFilter{}, store.ListOptions{}))
	same(t, "ListAudit, newest first", all.Items, []store.AuditEntry{entries[2], entries[1], entries[0]})
	byObject := ok(f.s.ListAudit(f.ctx, store.AuditFilter{ObjectType: "catalog", ObjectID: "c1"}, store.ListOptions{Limit: 1}))
	if byObject.Total != 2 || len(byObject.Items) != 1 || byObject.Items[0].ID != entries[2].ID {
		t.Fatalf("ListAudit by object = %+v", byObject)
	}
	same(t, "ListAudit by user", ok(f.s.ListAudit(f.ctx, store.AuditFilter{UserID: u.ID}, store.ListOptions{})).Total, 2)
	_, err := try(f, func(tx store.Tx) (store.AuditEntry, error) {
		return tx.AppendAudit(f.ctx, store.AuditEntry{ObjectType: "x"})
	})
	wantErr(t, err, store.ErrInvalid)

	// The trail outlives the user and rolls back with its transaction.
	f.tx(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, u.ID) })
	errBoom := errors.New("boom")
	err = f.txErr(func(tx store.Tx) error {
		if _, err := tx.AppendAudit(f.ctx, store.AuditEntry{Action: "delete", ObjectType: "catalog"}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx = %v, want fn's error", err)
	}
	same(t, "entries after user delete and rollback", ok(f.s.ListAudit(f.ctx, store.AuditFilter{}, store.ListOptions{})).Total, 3)
}

// testAuditAppendOnly: the API has no way to change or remove an entry,
// and the database refuses to as well.
func testAuditAppendOnly(t *testing.T, f *fixture) {
	for _, typ := range []reflect.Type{reflect.TypeFor[store.Tx](), reflect.TypeFor[store.Store]()} {
		for i := range typ.NumMethod() {
			name := typ.Method(i).Name
			if strings.Contains(name, "Audit") && name != "AppendAudit" && name != "ListAudit" {
				t.Errorf("%s has method %s: audit entries must be append-only", typ, name)
			}
		}
	}
	e := write(f, func(tx store.Tx) (store.AuditEntry, error) {
		return tx.AppendAudit(f.ctx, store.AuditEntry{Action: "create", ObjectType: "catalog", Summary: "original"})
	})
	db := f.rawDB().RawDB()
	for _, q := range []string{
		"UPDATE audit_entries SET summary = 'forged'",
		"DELETE FROM audit_entries",
	} {
		if _, err := db.ExecContext(f.ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want the database to refuse (append-only)", q, err)
		}
	}
	same(t, "entry after tampering attempts", ok(f.s.ListAudit(f.ctx, store.AuditFilter{}, store.ListOptions{})).Items, []store.AuditEntry{e})
}
