package cli

import (
	"net"
	"testing"
)

func TestBaseURL(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 43210}
	for flag, want := range map[string]string{
		"127.0.0.1:0":    "http://127.0.0.1:43210",
		":0":             "http://localhost:43210",
		"0.0.0.0:9090":   "http://localhost:43210",
		"mgr.local:9090": "http://mgr.local:43210",
		"[::1]:0":        "http://[::1]:43210",
	} {
		if got := baseURL(flag, bound); got != want {
			t.Errorf("baseURL(%q) = %q, want %q", flag, got, want)
		}
	}
}
