package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

const userCols = "id, name, title, summary, email, password_hash, cloud_role, created_at, updated_at"

func scanUser(s scanner) (User, error) {
	var u User
	err := s.Scan(&u.ID, &u.Name, &u.Title, &u.Summary, &u.Email, &u.PasswordHash, &u.CloudRole,
		tsp(&u.CreatedAt), tsp(&u.UpdatedAt))
	return u, err
}

func checkUser(u User) error {
	return firstErr(checkUserName(u.Name), checkPasswordHash("user", u.PasswordHash))
}

func userSubject(u User) subject {
	return subject{kind: "user", key: u.Name, taken: map[string]string{"": "a user with this name exists; choose another name"}}
}

func (q *queries) GetUser(ctx context.Context, id string) (User, error) {
	return get(ctx, q, "user", id, scanUser, "SELECT "+userCols+" FROM users WHERE id = ?", id)
}

func (q *queries) GetUserByName(ctx context.Context, name string) (User, error) {
	return get(ctx, q, "user", "named "+name, scanUser, "SELECT "+userCols+" FROM users WHERE name = ?", name)
}

func (q *queries) ListUsers(ctx context.Context, opts ListOptions) (Page[User], error) {
	l := listing{kind: "user", cols: userCols, from: "FROM users", order: "ORDER BY name"}
	return page(ctx, q, l, scanUser, opts)
}

func (t *tx) CreateUser(ctx context.Context, u User) (User, error) {
	if err := checkUser(u); err != nil {
		return User{}, err
	}
	u.ID, u.CreatedAt = newID(), now()
	u.UpdatedAt = u.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO users ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, u.Name, u.Title, u.Summary, u.Email, u.PasswordHash, u.CloudRole, ts(u.CreatedAt), ts(u.UpdatedAt))
	return u, userSubject(u).writeErr(t.eng, err)
}

func (t *tx) UpdateUser(ctx context.Context, u User) (User, error) {
	if err := checkUser(u); err != nil {
		return User{}, err
	}
	return update(ctx, t, userSubject(u), u.ID, scanUser,
		"UPDATE users SET name = ?, title = ?, summary = ?, email = ?, password_hash = ?, cloud_role = ?, updated_at = ? WHERE id = ? RETURNING "+userCols,
		u.Name, u.Title, u.Summary, u.Email, u.PasswordHash, u.CloudRole, ts(now()), u.ID)
}

func (t *tx) DeleteUser(ctx context.Context, id string) error {
	err := t.refuseChildren(ctx, "user", id,
		childCheck{"SELECT COUNT(*) FROM provider_orgs WHERE owner_id = ?", "provider orgs it owns", "make another user their owner first"},
		childCheck{"SELECT COUNT(*) FROM consumer_orgs WHERE owner_id = ?", "consumer orgs it owns", "make another user their owner first"})
	if err != nil {
		return err
	}
	return t.deleteByID(ctx, "user", "users", id)
}

const apiKeyCols = "id, user_id, key_hash, description, created_at, last_used_at"

func scanAPIKey(s scanner) (APIKey, error) {
	var k APIKey
	err := s.Scan(&k.ID, &k.UserID, &k.KeyHash, &k.Description, tsp(&k.CreatedAt), tsp(&k.LastUsedAt))
	return k, err
}

func (q *queries) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	return get(ctx, q, "API key", id, scanAPIKey, "SELECT "+apiKeyCols+" FROM api_keys WHERE id = ?", id)
}

func (q *queries) GetAPIKeyByHash(ctx context.Context, keyHash string) (APIKey, error) {
	return get(ctx, q, "API key", "with this hash", scanAPIKey, "SELECT "+apiKeyCols+" FROM api_keys WHERE key_hash = ?", keyHash)
}

func (q *queries) ListAPIKeys(ctx context.Context, userID string, opts ListOptions) (Page[APIKey], error) {
	l := listing{kind: "API key", cols: apiKeyCols, from: "FROM api_keys WHERE user_id = ?", order: "ORDER BY created_at, id"}
	return page(ctx, q, l, scanAPIKey, opts, userID)
}

func (t *tx) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	if err := firstErr(required("API key", "user ID", k.UserID), checkKeyHash("API key", k.KeyHash)); err != nil {
		return APIKey{}, err
	}
	k.ID, k.CreatedAt, k.LastUsedAt = newID(), now(), time.Time{}
	_, err := t.exec(ctx, "INSERT INTO api_keys ("+apiKeyCols+") VALUES (?, ?, ?, ?, ?, NULL)",
		k.ID, k.UserID, k.KeyHash, k.Description, ts(k.CreatedAt))
	sub := subject{kind: "API key", key: k.Description, parent: "user " + k.UserID,
		taken: map[string]string{"": "a key with this hash exists; generate a new key"}}
	return k, sub.writeErr(t.eng, err)
}

func (t *tx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.updateOne(ctx, "API key", id, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", ts(at), id)
}

func (t *tx) DeleteAPIKey(ctx context.Context, id string) error {
	return t.deleteByID(ctx, "API key", "api_keys", id)
}

const tokenCols = "id, user_id, created_at, expires_at, revoked_at"

func scanToken(s scanner) (Token, error) {
	var k Token
	err := s.Scan(&k.ID, &k.UserID, tsp(&k.CreatedAt), tsp(&k.ExpiresAt), tsp(&k.RevokedAt))
	return k, err
}

func (q *queries) GetToken(ctx context.Context, id string) (Token, error) {
	return get(ctx, q, "token", id, scanToken, "SELECT "+tokenCols+" FROM tokens WHERE id = ?", id)
}

func (t *tx) CreateToken(ctx context.Context, k Token) (Token, error) {
	if err := required("token", "user ID", k.UserID); err != nil {
		return Token{}, err
	}
	if k.ExpiresAt.IsZero() {
		return Token{}, invalid("token", "ExpiresAt is required: every token expires")
	}
	if k.ID == "" {
		k.ID = newID()
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = now(), norm(k.ExpiresAt), time.Time{}
	_, err := t.exec(ctx, "INSERT INTO tokens ("+tokenCols+") VALUES (?, ?, ?, ?, NULL)",
		k.ID, k.UserID, ts(k.CreatedAt), ts(k.ExpiresAt))
	sub := subject{kind: "token", key: k.ID, parent: "user " + k.UserID,
		taken: map[string]string{"": "a token with this ID exists; mint a new ID"}}
	return k, sub.writeErr(t.eng, err)
}

func (t *tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return t.updateOne(ctx, "token", id,
		"UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", ts(at), id)
}

func (t *tx) ConsumeToken(ctx context.Context, id string, at time.Time) (Token, error) {
	k, err := one(ctx, &t.queries, scanToken,
		"UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING "+tokenCols,
		ts(at), id, ts(at))
	if errors.Is(err, sql.ErrNoRows) {
		return k, notFound("usable token", id)
	}
	if err != nil {
		return k, opErr("token", id, err)
	}
	return k, nil
}

func (t *tx) RevokeUserTokens(ctx context.Context, userID string, at time.Time) (int, error) {
	n, err := t.execCount(ctx, "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
		ts(at), userID, ts(at))
	if err != nil {
		return 0, opErr("tokens of user", userID, err)
	}
	return n, nil
}

func (t *tx) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	n, err := t.execCount(ctx, "DELETE FROM tokens WHERE expires_at < ?", ts(before))
	if err != nil {
		return 0, opErr("expired tokens", "before "+before.String(), err)
	}
	return n, nil
}
