package client

import (
	"context"
	"net/http"
	"strings"
)

// RefreshFunc gets a new access token when the manager refuses the
// current one (it expired or was revoked), typically with Refresh and a
// stored refresh token, saving the new tokens as it goes.
type RefreshFunc func(ctx context.Context) (accessToken string, err error)

// WithRefresh makes the client call fn when a call is refused with 401
// for its token, and make that call once more with the new token. When fn
// fails, the call's 401 *Error is returned.
func WithRefresh(fn RefreshFunc) Option { return func(c *Client) { c.refresh = fn } }

// refreshFrom refreshes the token that was refused (sent), once for all
// the calls refused at the same time: a call that finds the token already
// replaced uses the new one.
func (c *Client) refreshFrom(ctx context.Context, sent string) (string, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if cur := c.CurrentToken(); cur != sent && cur != "" {
		return cur, nil
	}
	tok, err := c.refresh(ctx)
	if err != nil {
		return "", err
	}
	c.SetToken(tok)
	return tok, nil
}

// Refresh exchanges a refresh token for a new access token and a new
// refresh token (POST /api/token, grant_type refresh_token). The old
// refresh token no longer works. It does not change the client's token.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	return c.Token(ctx, TokenRequest{GrantType: "refresh_token", RefreshToken: strings.TrimSpace(refreshToken)})
}

// LogoutAll revokes the client's token and the refresh token that came
// with it (DELETE /api/token with {"refresh_token": …}), and forgets the
// token.
func (c *Client) LogoutAll(ctx context.Context, refreshToken string) error {
	body, err := jsonBody(map[string]string{"refresh_token": refreshToken})
	if err != nil {
		return err
	}
	if err := c.do(ctx, request{method: http.MethodDelete, path: path("token"), body: body}, nil); err != nil {
		return err
	}
	c.SetToken("")
	return nil
}
