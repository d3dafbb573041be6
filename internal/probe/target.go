package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Target is one endpoint a check probes in a round.
type Target struct {
	// Host labels the results: host or host:port as configured, the URL's
	// host, or a resolved address.
	Host string
	URL  string
	// Dial, when set, is the ip:port to connect to instead of resolving
	// the URL's host; the URL keeps the name for Host and SNI.
	Dial string
}

// Resolver looks names up; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// targets lists what to probe this round. For a dns check it resolves
// the name (A and AAAA) and reports how long that took.
func (c *Check) targets(ctx context.Context, r Resolver) ([]Target, time.Duration, error) {
	switch {
	case c.URL != nil:
		return []Target{{Host: c.URL.Host, URL: c.URL.String()}}, 0, nil
	case c.DNS == "":
		ts := make([]Target, len(c.Hosts))
		for i, h := range c.Hosts {
			ts[i] = Target{Host: h, URL: c.Scheme + "://" + c.authority(h) + c.Path}
		}
		return ts, 0, nil
	}
	start := time.Now()
	addrs, err := r.LookupIPAddr(ctx, c.DNS)
	took := time.Since(start)
	if err != nil {
		return nil, took, err
	}
	if len(addrs) == 0 {
		return nil, took, fmt.Errorf("lookup %s: no A or AAAA records", c.DNS)
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ips = append(ips, ip.Unmap())
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	port := c.Port
	if port == "" {
		port = defaultPort(c.Scheme)
	}
	ts := make([]Target, len(ips))
	for i, ip := range ips {
		ts[i] = Target{Host: ip.String(), URL: c.Scheme + "://" + c.authority(c.DNS) + c.Path, Dial: net.JoinHostPort(ip.String(), port)}
	}
	return ts, took, nil
}

// authority is host with the check's port unless host has its own.
func (c *Check) authority(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil || c.Port == "" {
		return host
	}
	return net.JoinHostPort(host, c.Port)
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}
