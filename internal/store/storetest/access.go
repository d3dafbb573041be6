package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/store"
)

func testAPIKeys(t *testing.T, f *fixture) {
	u := f.user("robot")
	k := write(f, func(tx store.Tx) (store.APIKey, error) {
		return tx.CreateAPIKey(f.ctx, store.APIKey{UserID: u.ID, KeyHash: keyHash(1), Description: "CI"})
	})
	if !k.LastUsedAt.IsZero() {
		t.Fatalf("new key LastUsedAt = %v, want zero", k.LastUsedAt)
	}
	same(t, "GetAPIKey", ok(f.s.GetAPIKey(f.ctx, k.ID)), k)
	same(t, "GetAPIKeyByHash", ok(f.s.GetAPIKeyByHash(f.ctx, keyHash(1))), k)
	_, err := f.s.GetAPIKeyByHash(f.ctx, keyHash(2))
	wantErr(t, err, store.ErrNotFound)
	_, err = try(f, func(tx store.Tx) (store.APIKey, error) {
		return tx.CreateAPIKey(f.ctx, store.APIKey{UserID: u.ID, KeyHash: keyHash(1)})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.APIKey, error) {
		return tx.CreateAPIKey(f.ctx, store.APIKey{UserID: u.ID, KeyHash: "the-key-itself"})
	})
	wantErr(t, err, store.ErrInvalid)

	at := time.Date(2027, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))
	f.tx(func(tx store.Tx) error { return tx.TouchAPIKey(f.ctx, k.ID, at) })
	got := ok(f.s.GetAPIKey(f.ctx, k.ID))
	if want := at.UTC().Truncate(time.Microsecond); !got.LastUsedAt.Equal(want) || got.LastUsedAt.Location() != time.UTC {
		t.Fatalf("LastUsedAt = %v, want %v in UTC", got.LastUsedAt, want)
	}
	k2 := write(f, func(tx store.Tx) (store.APIKey, error) {
		return tx.CreateAPIKey(f.ctx, store.APIKey{UserID: u.ID, KeyHash: keyHash(2)})
	})
	pg := ok(f.s.ListAPIKeys(f.ctx, u.ID, store.ListOptions{}))
	if pg.Total != 2 || pg.Items[0].ID != k.ID || pg.Items[1].ID != k2.ID {
		t.Fatalf("ListAPIKeys = %+v, want both in creation order", pg)
	}
	f.tx(func(tx store.Tx) error { return tx.DeleteAPIKey(f.ctx, k.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.TouchAPIKey(f.ctx, k.ID, at) }), store.ErrNotFound)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteAPIKey(f.ctx, k.ID) }), store.ErrNotFound)
}

func testTokens(t *testing.T, f *fixture) {
	u := f.user("ada")
	now := time.Now()
	tok := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	})
	same(t, "GetToken", ok(f.s.GetToken(f.ctx, tok.ID)), tok)
	jti := "4b1c0f7e-8d2a-4e5b-9c3d-2f6a7b8c9d0e"
	mine := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{ID: jti, UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	})
	same(t, "token with the caller's ID", mine.ID, jti)
	_, err := try(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{ID: jti, UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.Token, error) { return tx.CreateToken(f.ctx, store.Token{UserID: u.ID}) })
	wantErr(t, err, store.ErrInvalid)

	first := now.Add(time.Minute)
	f.tx(func(tx store.Tx) error { return tx.RevokeToken(f.ctx, tok.ID, first) })
	f.tx(func(tx store.Tx) error { return tx.RevokeToken(f.ctx, tok.ID, first.Add(time.Hour)) })
	if got := ok(f.s.GetToken(f.ctx, tok.ID)).RevokedAt; !got.Equal(first.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("RevokedAt = %v, want the first revocation %v", got, first)
	}
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.RevokeToken(f.ctx, "no-such-token", now) }), store.ErrNotFound)

	old := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{UserID: u.ID, ExpiresAt: now.Add(-time.Hour)})
	})
	n := write(f, func(tx store.Tx) (int, error) { return tx.RevokeUserTokens(f.ctx, u.ID, now) })
	same(t, "RevokeUserTokens count (valid, unrevoked only)", n, 1)
	if ok(f.s.GetToken(f.ctx, mine.ID)).RevokedAt.IsZero() {
		t.Fatal("RevokeUserTokens left a token valid")
	}
	n = write(f, func(tx store.Tx) (int, error) { return tx.DeleteExpiredTokens(f.ctx, now) })
	same(t, "DeleteExpiredTokens count", n, 1)
	_, err = f.s.GetToken(f.ctx, old.ID)
	wantErr(t, err, store.ErrNotFound)
}

func gatewayValue(orgID, name string) store.GatewayService {
	return store.GatewayService{OrgID: orgID, Name: name, Title: "Gateway " + name,
		EndpointURL: "https://gwd.example.com:3000", APIEndpointBase: "https://api.example.com",
		ClientCertPEM: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		ClientKeyPEM:  []byte("-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL-" + name + "\n-----END PRIVATE KEY-----\n"),
		CABundlePEM:   []byte("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")}
}

func testGatewayServices(t *testing.T, f *fixture) {
	o := f.org("admin")
	g := write(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(o.ID, "gw1"))
	})
	same(t, "GetGatewayService", ok(f.s.GetGatewayService(f.ctx, g.ID)), g)
	same(t, "GetGatewayServiceByName", ok(f.s.GetGatewayServiceByName(f.ctx, o.ID, "gw1")), g)
	_, err := try(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(o.ID, "gw1"))
	})
	wantErr(t, err, store.ErrConflict)
	bad := gatewayValue(o.ID, "gw2")
	bad.EndpointURL = "gwd.example.com:3000"
	_, err = try(f, func(tx store.Tx) (store.GatewayService, error) { return tx.CreateGatewayService(f.ctx, bad) })
	wantErr(t, err, store.ErrInvalid)

	g.ClientKeyPEM, g.APIEndpointBase = []byte("ROTATED-KEY"), "https://api2.example.com"
	up := write(f, func(tx store.Tx) (store.GatewayService, error) { return tx.UpdateGatewayService(f.ctx, g) })
	same(t, "GetGatewayService after update", ok(f.s.GetGatewayService(f.ctx, g.ID)), up)
	if !bytes.Equal(up.ClientKeyPEM, []byte("ROTATED-KEY")) {
		t.Fatalf("client key after update = %q", up.ClientKeyPEM)
	}
	noKey := gatewayValue(o.ID, "gw3")
	noKey.ClientKeyPEM, noKey.ClientCertPEM, noKey.CABundlePEM = nil, nil, nil
	g3 := write(f, func(tx store.Tx) (store.GatewayService, error) { return tx.CreateGatewayService(f.ctx, noKey) })
	same(t, "gateway without TLS material", ok(f.s.GetGatewayService(f.ctx, g3.ID)), g3)
	same(t, "ListGatewayServices total", ok(f.s.ListGatewayServices(f.ctx, o.ID, store.ListOptions{})).Total, 2)
	f.tx(func(tx store.Tx) error { return tx.DeleteGatewayService(f.ctx, g3.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteGatewayService(f.ctx, g3.ID) }), store.ErrNotFound)
}

// testGatewayClientKeyEncrypted reads the raw column: it must not hold the
// key (nor any part of it), and must differ between two writes of the same
// key (a fresh nonce each time).
func testGatewayClientKeyEncrypted(t *testing.T, f *fixture) {
	o := f.org("admin")
	in := gatewayValue(o.ID, "gw1")
	g := write(f, func(tx store.Tx) (store.GatewayService, error) { return tx.CreateGatewayService(f.ctx, in) })
	raw := func() []byte {
		var b []byte
		q := "SELECT client_key_enc FROM gateway_services WHERE id = " + quoteID(t, g.ID)
		if err := f.rawDB().RawDB().QueryRowContext(f.ctx, q).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := raw()
	if len(first) == 0 || bytes.Contains(first, []byte("SECRET-KEY-MATERIAL")) || bytes.Contains(first, []byte("PRIVATE KEY")) {
		t.Fatalf("client_key_enc holds the clear key: %q", first)
	}
	write(f, func(tx store.Tx) (store.GatewayService, error) { return tx.UpdateGatewayService(f.ctx, g) })
	if bytes.Equal(raw(), first) {
		t.Fatal("sealing the same key twice gave the same bytes: the nonce is not fresh")
	}
	if got := ok(f.s.GetGatewayService(f.ctx, g.ID)).ClientKeyPEM; !bytes.Equal(got, in.ClientKeyPEM) {
		t.Fatalf("decrypted key = %q, want %q", got, in.ClientKeyPEM)
	}
}

func testCatalogGateways(t *testing.T, f *fixture) {
	o := f.org("acme")
	c1, c2 := f.catalog(o.ID, "sandbox"), f.catalog(o.ID, "production")
	g1 := write(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(o.ID, "gw1"))
	})
	g2 := write(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(o.ID, "gw2"))
	})
	f.tx(func(tx store.Tx) error {
		return firstErr(tx.AddCatalogGateway(f.ctx, c1.ID, g1.ID), tx.AddCatalogGateway(f.ctx, c1.ID, g2.ID),
			tx.AddCatalogGateway(f.ctx, c2.ID, g1.ID))
	})
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.AddCatalogGateway(f.ctx, c1.ID, g1.ID) }), store.ErrConflict)
	wantErr(t, f.txErr(func(tx store.Tx) error {
		return tx.AddCatalogGateway(f.ctx, c1.ID, "00000000-0000-4000-8000-000000000000")
	}), store.ErrNotFound)
	same(t, "ListCatalogGateways", ok(f.s.ListCatalogGateways(f.ctx, c1.ID, store.ListOptions{})).Items, []store.GatewayService{g1, g2})
	same(t, "ListGatewayCatalogs", ok(f.s.ListGatewayCatalogs(f.ctx, g1.ID, store.ListOptions{})).Items, []store.Catalog{c2, c1})
	same(t, "versions untouched", f.version(c1.ID), int64(0))

	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteGatewayService(f.ctx, g1.ID) }), store.ErrConflict)
	f.tx(func(tx store.Tx) error { return tx.RemoveCatalogGateway(f.ctx, c1.ID, g1.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.RemoveCatalogGateway(f.ctx, c1.ID, g1.ID) }), store.ErrNotFound)
	f.tx(func(tx store.Tx) error { return tx.DeleteCatalog(f.ctx, c2.ID) }) // takes its links along
	f.tx(func(tx store.Tx) error { return tx.DeleteGatewayService(f.ctx, g1.ID) })
	same(t, "ListCatalogGateways after", ok(f.s.ListCatalogGateways(f.ctx, c1.ID, store.ListOptions{})).Items, []store.GatewayService{g2})
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// testConsumeToken: a single-use token is consumed once, however many
// transactions race for it; revoked and expired tokens are not consumed.
func testConsumeToken(t *testing.T, f *fixture) {
	u := f.user("ada")
	now := time.Now()
	tok := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	})
	const racers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f.txErr(func(tx store.Tx) error {
				got, err := tx.ConsumeToken(f.ctx, tok.ID, time.Now())
				if err == nil && got.UserID != u.ID {
					return fmt.Errorf("consumed token of user %s, want %s", got.UserID, u.ID)
				}
				return err
			})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("ConsumeToken: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of %d racers consumed the token, want exactly 1", wins.Load(), racers)
	}
	if ok(f.s.GetToken(f.ctx, tok.ID)).RevokedAt.IsZero() {
		t.Fatal("a consumed token is not revoked")
	}
	expired := write(f, func(tx store.Tx) (store.Token, error) {
		return tx.CreateToken(f.ctx, store.Token{UserID: u.ID, ExpiresAt: now.Add(-time.Minute)})
	})
	wantErr(t, f.txErr(func(tx store.Tx) error {
		_, err := tx.ConsumeToken(f.ctx, expired.ID, now)
		return err
	}), store.ErrNotFound)
}
