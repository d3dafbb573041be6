package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// testPaging checks limit, offset and totals on a list.
func testPaging(t *testing.T, f *fixture) {
	o := f.org("acme")
	var names []string
	for i := range 5 {
		names = append(names, f.catalog(o.ID, fmt.Sprintf("c%d", i)).Name)
	}
	for _, tc := range []struct {
		limit, offset int
		want          []string
	}{
		{0, 0, names},
		{2, 0, names[:2]},
		{2, 2, names[2:4]},
		{2, 4, names[4:]},
		{2, 5, nil},
		{0, 3, names[3:]},
		{10, 0, names},
	} {
		pg := ok(f.s.ListCatalogs(f.ctx, o.ID, store.ListOptions{Limit: tc.limit, Offset: tc.offset}))
		var got []string
		for _, c := range pg.Items {
			got = append(got, c.Name)
		}
		if pg.Total != 5 || pg.Items == nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("limit %d offset %d: %v (total %d), want %v (total 5, Items not nil)", tc.limit, tc.offset, got, pg.Total, tc.want)
		}
	}
	_, err := f.s.ListCatalogs(f.ctx, o.ID, store.ListOptions{Limit: -1})
	wantErr(t, err, store.ErrInvalid)
	_, err = f.s.ListUsers(f.ctx, store.ListOptions{Offset: -1})
	wantErr(t, err, store.ErrInvalid)
	empty := ok(f.s.ListCatalogs(f.ctx, "00000000-0000-4000-8000-000000000000", store.ListOptions{}))
	if empty.Total != 0 || empty.Items == nil || len(empty.Items) != 0 {
		t.Errorf("list of an unknown parent = %+v, want empty with non-nil Items", empty)
	}
}

// testNames checks the URL-safe name rule on both engines alike.
func testNames(t *testing.T, f *fixture) {
	o := f.org("acme")
	for _, name := range []string{"", "has space", "slash/y", "q?", "percent%20", ".", "..", "ünïcode", strings.Repeat("a", 129)} {
		_, err := try(f, func(tx store.Tx) (store.Catalog, error) {
			return tx.CreateCatalog(f.ctx, store.Catalog{OrgID: o.ID, Name: name})
		})
		wantErr(t, err, store.ErrInvalid)
	}
	for _, name := range []string{"a", "Sandbox", "sandbox", "my-cat_1.0~x", strings.Repeat("a", 128)} {
		f.catalog(o.ID, name) // case-sensitive: "Sandbox" and "sandbox" differ
	}
	_, err := try(f, func(tx store.Tx) (store.Catalog, error) {
		return tx.CreateCatalog(f.ctx, store.Catalog{OrgID: o.ID, Name: "a@b"})
	})
	wantErr(t, err, store.ErrInvalid)
	f.user("ada@example.com") // user names may be e-mail addresses
}

func testTxRollback(t *testing.T, f *fixture) {
	errBoom := errors.New("boom")
	err := f.txErr(func(tx store.Tx) error {
		u, err := tx.CreateUser(f.ctx, store.User{Name: "ghost"})
		if err != nil {
			return err
		}
		if got, err := tx.GetUser(f.ctx, u.ID); err != nil || got.Name != "ghost" {
			t.Errorf("the transaction does not read its own write: %+v, %v", got, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx = %v, want fn's error returned as is", err)
	}
	_, err = f.s.GetUserByName(f.ctx, "ghost")
	wantErr(t, err, store.ErrNotFound)
}

// testTxAborted: after a failed write the transaction refuses further
// work and does not commit, even if fn swallows the error, on both
// engines alike.
func testTxAborted(t *testing.T, f *fixture) {
	f.user("taken")
	err := f.txErr(func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.ctx, store.User{Name: "before"}); err != nil {
			return err
		}
		_, err := tx.CreateUser(f.ctx, store.User{Name: "taken"})
		wantErr(t, err, store.ErrConflict)
		if _, err := tx.CreateUser(f.ctx, store.User{Name: "after"}); err == nil {
			t.Error("a write after a failed one succeeded")
		}
		if _, err := tx.ListUsers(f.ctx, store.ListOptions{}); err == nil {
			t.Error("a read after a failed write succeeded")
		}
		return nil // swallowed
	})
	if err == nil {
		t.Fatal("Tx committed a transaction in which a write failed")
	}
	same(t, "users after the aborted transaction", ok(f.s.ListUsers(f.ctx, store.ListOptions{})).Total, 1)

	// Validation errors happen before any statement: the transaction
	// stays usable.
	f.tx(func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.ctx, store.User{Name: "bad name"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateUser(bad name) = %v, want ErrInvalid", err)
		}
		_, err := tx.CreateUser(f.ctx, store.User{Name: "good-name"})
		return err
	})
	// So are lookups that find nothing.
	f.tx(func(tx store.Tx) error {
		if _, err := tx.GetUserByName(f.ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUserByName(nobody) = %v, want ErrNotFound", err)
		}
		_, err := tx.CreateUser(f.ctx, store.User{Name: "nobody"})
		return err
	})
}

func testTxPanic(t *testing.T, f *fixture) {
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want the panic to pass through Tx", p)
			}
		}()
		f.s.Tx(f.ctx, func(tx store.Tx) error {
			if _, err := tx.CreateUser(f.ctx, store.User{Name: "panicky"}); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	_, err := f.s.GetUserByName(f.ctx, "panicky")
	wantErr(t, err, store.ErrNotFound)
	f.user("after-panic") // the store still works
}
