package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/store"
)

// gatewayClients keeps one mutual-TLS HTTP client per gateway service,
// rebuilt when the service's certificates or endpoint change, so that
// pushes and analytics collection reuse connections.
type gatewayClients struct {
	mu      sync.Mutex
	clients map[string]gatewayClient // by gateway service ID
}

type gatewayClient struct {
	updated time.Time
	http    *http.Client
	base    string
}

// get returns the client for g.
func (cs *gatewayClients) get(g store.GatewayService) (gatewayClient, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.clients[g.ID]; ok && c.updated.Equal(g.UpdatedAt) {
		return c, nil
	}
	cfg, err := pki.ClientTLS(g.ClientCertPEM, g.ClientKeyPEM, g.CABundlePEM)
	if err != nil {
		return gatewayClient{}, fmt.Errorf("gateway service %s: its TLS material: %w", g.Name, err)
	}
	tr := &http.Transport{
		TLSClientConfig:       cfg,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second, // a big catalog compiles before the answer
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	if old, ok := cs.clients[g.ID]; ok {
		old.http.CloseIdleConnections()
	}
	if cs.clients == nil {
		cs.clients = map[string]gatewayClient{}
	}
	c := gatewayClient{updated: g.UpdatedAt, http: &http.Client{Transport: tr}, base: strings.TrimRight(g.EndpointURL, "/")}
	cs.clients[g.ID] = c
	return c, nil
}

// gatewayError is a management endpoint's answer other than success.
type gatewayError struct {
	Status   int
	Message  string
	Problems []string
}

func (e *gatewayError) Error() string {
	msg := fmt.Sprintf("the gateway answered %d: %s", e.Status, e.Message)
	for i, p := range e.Problems {
		if i == 3 {
			msg += fmt.Sprintf("; and %d more", len(e.Problems)-3)
			break
		}
		msg += "; " + p
	}
	return msg
}

// do sends one management request; a status of 300 or more is a
// *gatewayError, and out, when not nil, receives a JSON answer.
func (c gatewayClient) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error    string   `json:"error"`
			Problems []string `json:"problems"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &gatewayError{Status: resp.StatusCode, Message: e.Error, Problems: e.Problems}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the gateway's answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}
