package storetest

import (
	"testing"

	"github.com/portico-api/portico/internal/store"
)

func testUsers(t *testing.T, f *fixture) {
	u := write(f, func(tx store.Tx) (store.User, error) {
		return tx.CreateUser(f.ctx, store.User{Name: "ada", Title: "Ada", Email: "ada@example.com", PasswordHash: argonHash, CloudRole: "admin"})
	})
	if u.ID == "" || u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("created user lacks ID or times: %+v", u)
	}
	same(t, "GetUser", ok(f.s.GetUser(f.ctx, u.ID)), u)
	same(t, "GetUserByName", ok(f.s.GetUserByName(f.ctx, "ada")), u)

	_, err := try(f, func(tx store.Tx) (store.User, error) { return tx.CreateUser(f.ctx, store.User{Name: "ada"}) })
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.User, error) {
		return tx.CreateUser(f.ctx, store.User{Name: "bob", PasswordHash: "hunter2"})
	})
	wantErr(t, err, store.ErrInvalid)

	u.Title, u.Email, u.CloudRole, u.PasswordHash = "Ada L.", "ada@lovelace.org", "member", argonHash2
	up := write(f, func(tx store.Tx) (store.User, error) { return tx.UpdateUser(f.ctx, u) })
	if up.Title != "Ada L." || up.Email != "ada@lovelace.org" || up.PasswordHash != argonHash2 || !up.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("UpdateUser = %+v", up)
	}
	same(t, "GetUser after update", ok(f.s.GetUser(f.ctx, u.ID)), up)

	f.user("bob")
	same(t, "ListUsers total", ok(f.s.ListUsers(f.ctx, store.ListOptions{})).Total, 2)
	f.tx(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, u.ID) })
	_, err = f.s.GetUser(f.ctx, u.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetUserByName(f.ctx, "ada")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, u.ID) }), store.ErrNotFound)
	_, err = try(f, func(tx store.Tx) (store.User, error) { return tx.UpdateUser(f.ctx, u) })
	wantErr(t, err, store.ErrNotFound)
}

// try runs one write in its own transaction and returns its error.
func try[T any](f *fixture, fn func(tx store.Tx) (T, error)) (T, error) {
	var v T
	err := f.txErr(func(tx store.Tx) (err error) {
		v, err = fn(tx)
		return err
	})
	return v, err
}

// testUserRefusals: a user who owns orgs cannot be deleted; their
// memberships, API keys and tokens go with them.
func testUserRefusals(t *testing.T, f *fixture) {
	w := f.world()
	owner := ok(f.s.GetUser(f.ctx, w.org.OwnerID))
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, owner.ID) }), store.ErrConflict)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, w.corg.OwnerID) }), store.ErrConflict)

	u := f.user("leaver")
	f.tx(func(tx store.Tx) error {
		_, err := tx.SetMembership(f.ctx, store.Membership{OrgID: w.org.ID, UserID: u.ID, Role: "developer"})
		return err
	})
	key := write(f, func(tx store.Tx) (store.APIKey, error) {
		return tx.CreateAPIKey(f.ctx, store.APIKey{UserID: u.ID, KeyHash: keyHash(1)})
	})
	tok := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{UserID: u.ID, ExpiresAt: u.CreatedAt.Add(3600e9)})
	})
	f.tx(func(tx store.Tx) error { return tx.DeleteUser(f.ctx, u.ID) })
	_, err := f.s.GetMembership(f.ctx, w.org.ID, u.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetAPIKey(f.ctx, key.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetToken(f.ctx, tok.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testProviderOrgs(t *testing.T, f *fixture) {
	o := f.org("acme")
	same(t, "GetProviderOrg", ok(f.s.GetProviderOrg(f.ctx, o.ID)), o)
	same(t, "GetProviderOrgByName", ok(f.s.GetProviderOrgByName(f.ctx, "acme")), o)

	other := f.user("other")
	_, err := try(f, func(tx store.Tx) (store.ProviderOrg, error) {
		return tx.CreateProviderOrg(f.ctx, store.ProviderOrg{Name: "acme", OwnerID: other.ID})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.ProviderOrg, error) {
		return tx.CreateProviderOrg(f.ctx, store.ProviderOrg{Name: "ghost-owned", OwnerID: "00000000-0000-4000-8000-000000000000"})
	})
	wantErr(t, err, store.ErrNotFound)
	_, err = try(f, func(tx store.Tx) (store.ProviderOrg, error) {
		return tx.CreateProviderOrg(f.ctx, store.ProviderOrg{Name: "ownerless"})
	})
	wantErr(t, err, store.ErrInvalid)

	o.Title, o.Summary, o.OwnerID = "ACME Corp", "Makes everything", other.ID
	up := write(f, func(tx store.Tx) (store.ProviderOrg, error) { return tx.UpdateProviderOrg(f.ctx, o) })
	if up.Title != "ACME Corp" || up.OwnerID != other.ID || up.UpdatedAt.Before(o.UpdatedAt) {
		t.Fatalf("UpdateProviderOrg = %+v", up)
	}
	f.org("beta")
	pg := ok(f.s.ListProviderOrgs(f.ctx, store.ListOptions{}))
	if pg.Total != 2 || pg.Items[0].Name != "acme" || pg.Items[1].Name != "beta" {
		t.Fatalf("ListProviderOrgs = %+v", pg)
	}
}

// testProviderOrgDelete: refused while catalogs or gateway services exist;
// drafts and memberships are deleted with the org.
func testProviderOrgDelete(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteProviderOrg(f.ctx, o.ID) }), store.ErrConflict)
	f.tx(func(tx store.Tx) error { return tx.DeleteCatalog(f.ctx, c.ID) })

	g := write(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(o.ID, "gw"))
	})
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteProviderOrg(f.ctx, o.ID) }), store.ErrConflict)
	f.tx(func(tx store.Tx) error { return tx.DeleteGatewayService(f.ctx, g.ID) })

	d := write(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: o.ID, Name: "weather", Version: "1.0.0", Document: []byte("x")})
	})
	f.tx(func(tx store.Tx) error {
		_, err := tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: o.OwnerID, Role: "owner"})
		return err
	})
	f.tx(func(tx store.Tx) error { return tx.DeleteProviderOrg(f.ctx, o.ID) })
	_, err := f.s.GetDraftAPI(f.ctx, d.ID)
	wantErr(t, err, store.ErrNotFound)
	same(t, "memberships of deleted org", ok(f.s.ListUserMemberships(f.ctx, o.OwnerID, store.ListOptions{})).Total, 0)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteProviderOrg(f.ctx, o.ID) }), store.ErrNotFound)
}

func testMemberships(t *testing.T, f *fixture) {
	o := f.org("acme")
	u := f.user("dev")
	m := write(f, func(tx store.Tx) (store.Membership, error) {
		return tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: u.ID, Role: "developer"})
	})
	same(t, "GetMembership", ok(f.s.GetMembership(f.ctx, o.ID, u.ID)), m)
	m2 := write(f, func(tx store.Tx) (store.Membership, error) {
		return tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: u.ID, Role: "administrator"})
	})
	if m2.Role != "administrator" || !m2.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("SetMembership again = %+v, want the role changed and CreatedAt kept", m2)
	}
	f.tx(func(tx store.Tx) error {
		_, err := tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: o.OwnerID, Role: "owner"})
		return err
	})
	same(t, "ListOrgMembers total", ok(f.s.ListOrgMembers(f.ctx, o.ID, store.ListOptions{})).Total, 2)
	same(t, "ListUserMemberships", ok(f.s.ListUserMemberships(f.ctx, u.ID, store.ListOptions{})).Items, []store.Membership{m2})

	_, err := try(f, func(tx store.Tx) (store.Membership, error) {
		return tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: "00000000-0000-4000-8000-000000000000", Role: "x"})
	})
	wantErr(t, err, store.ErrNotFound)
	_, err = try(f, func(tx store.Tx) (store.Membership, error) {
		return tx.SetMembership(f.ctx, store.Membership{OrgID: o.ID, UserID: u.ID})
	})
	wantErr(t, err, store.ErrInvalid)
	f.tx(func(tx store.Tx) error { return tx.DeleteMembership(f.ctx, o.ID, u.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteMembership(f.ctx, o.ID, u.ID) }), store.ErrNotFound)
}

func testCatalogs(t *testing.T, f *fixture) {
	a, b := f.org("acme"), f.org("beta")
	c := f.catalog(a.ID, "sandbox")
	same(t, "GetCatalog", ok(f.s.GetCatalog(f.ctx, c.ID)), c)
	same(t, "GetCatalogByName", ok(f.s.GetCatalogByName(f.ctx, a.ID, "sandbox")), c)
	same(t, "new catalog version", f.version(c.ID), int64(0))
	f.catalog(b.ID, "sandbox") // the same name in another org is fine
	_, err := try(f, func(tx store.Tx) (store.Catalog, error) {
		return tx.CreateCatalog(f.ctx, store.Catalog{OrgID: a.ID, Name: "sandbox"})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.Catalog, error) {
		return tx.CreateCatalog(f.ctx, store.Catalog{OrgID: "00000000-0000-4000-8000-000000000000", Name: "x"})
	})
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetCatalogByName(f.ctx, b.ID, "production")
	wantErr(t, err, store.ErrNotFound)

	prod := f.catalog(a.ID, "production")
	prod.Name = "sandbox"
	_, err = try(f, func(tx store.Tx) (store.Catalog, error) { return tx.UpdateCatalog(f.ctx, prod) })
	wantErr(t, err, store.ErrConflict)
	prod.Name, prod.Title = "prod", "Production"
	up := write(f, func(tx store.Tx) (store.Catalog, error) { return tx.UpdateCatalog(f.ctx, prod) })
	same(t, "GetCatalog after update", ok(f.s.GetCatalog(f.ctx, prod.ID)), up)
	pg := ok(f.s.ListCatalogs(f.ctx, a.ID, store.ListOptions{}))
	if pg.Total != 2 || pg.Items[0].Name != "prod" || pg.Items[1].Name != "sandbox" {
		t.Fatalf("ListCatalogs = %+v", pg)
	}
	_, err = f.s.CatalogVersion(f.ctx, "00000000-0000-4000-8000-000000000000")
	wantErr(t, err, store.ErrNotFound)
}

// testCatalogDelete: refused while products or consumer orgs exist.
func testCatalogDelete(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	p := f.product(c.ID, "weather", "1.0.0")
	del := func(tx store.Tx) error { return tx.DeleteCatalog(f.ctx, c.ID) }
	wantErr(t, f.txErr(del), store.ErrConflict)
	f.tx(func(tx store.Tx) error { return tx.DeleteProduct(f.ctx, p.ID) })
	corg := f.consumerOrg(c.ID, "devs")
	wantErr(t, f.txErr(del), store.ErrConflict)
	f.tx(func(tx store.Tx) error { return tx.DeleteConsumerOrg(f.ctx, corg.ID) })
	f.tx(del)
	_, err := f.s.GetCatalog(f.ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.CatalogVersion(f.ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.txErr(del), store.ErrNotFound)
}
