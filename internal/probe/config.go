// Package probe is an endpoint monitor in the spirit of Hem and
// Prometheus's blackbox_exporter: HTTP(S) checks run on an interval
// against hosts from a static list or from DNS, with results kept as
// Prometheus metrics and written as Graphite datapoints.
package probe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/apidef"
)

// Defaults for a check that does not say otherwise.
const (
	DefaultInterval = 30 * time.Second
	DefaultTimeout  = 5 * time.Second
)

// Config is a loaded configuration file.
type Config struct {
	File   string
	Checks []*Check
}

// Check is one endpoint check, validated and ready to run.
type Check struct {
	Name string

	// Either URL (one endpoint), or Scheme, Port and Path with Hosts (a
	// static list of host or host:port) or DNS (a name resolved each
	// round; every address is probed with the name kept for Host and SNI).
	URL    *url.URL
	Scheme string
	Port   string // "" for the scheme's default
	Path   string // with its query, if any
	Hosts  []string
	DNS    string

	Method  string
	Header  http.Header
	Host    string // a Host header from headers, sent as the request's Host
	Body    string
	Expect  StatusSet
	Match   *regexp.Regexp // body_match: the body must match
	NoMatch *regexp.Regexp // body_not_match: the body must not match

	Timeout, Interval time.Duration
	TLS               *TLSSettings // nil: system roots, full verification
}

var (
	checkName  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	methodName = regexp.MustCompile(`^[A-Z]+$`)
)

// Load reads and validates a configuration file. Every problem found is
// reported, each with file:line and the field, as apidef.Problems.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, apidef.Problems{{File: file, Msg: err.Error(), Hint: "check the path given to --config"}}
	}
	return Parse(file, data)
}

// Parse reads a configuration from data; file names it in problems and
// anchors relative paths (ca_file, cert_file, key_file).
func Parse(file string, data []byte) (*Config, error) {
	var root yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file, reported below
		return nil, apidef.Problems{syntaxProblem(file, err)}
	}
	if len(root.Content) == 0 {
		return nil, apidef.Problems{{File: file, Line: 1, Msg: "the file is empty", Hint: "list endpoints under checks:"}}
	}
	top := apidef.Node{Y: root.Content[0], File: file}
	p := &parser{file: file, dir: filepath.Dir(file)}
	cfg := p.config(top)
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return cfg, nil
}

// syntaxProblem turns a YAML error ("yaml: line 12: ...") into a located
// problem.
func syntaxProblem(file string, err error) apidef.Problem {
	p := apidef.Problem{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Hint: "fix the syntax at that line"}
	var line int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line); scanErr == nil {
		p.Line = line
		_, p.Msg, _ = strings.Cut(p.Msg, ": ")
		p.Msg = "not valid YAML: " + strings.TrimPrefix(p.Msg, fmt.Sprintf("line %d: ", line))
	}
	return p
}

// parser collects every problem of a file rather than stopping at the first.
type parser struct {
	file, dir string
	problems  apidef.Problems
}

func (p *parser) add(n apidef.Node, msg, hint string) {
	p.problems = append(p.problems, n.Problem(msg, hint))
}

// known reports keys of a mapping that are not in allowed.
func (p *parser) known(n apidef.Node, allowed ...string) {
	for _, k := range n.Keys() {
		if !slices.Contains(allowed, k) {
			p.add(n.KeyNode(k), fmt.Sprintf("unknown field %q", k), "known fields: "+strings.Join(allowed, ", "))
		}
	}
}

func (p *parser) config(top apidef.Node) *Config {
	if !top.IsMap() {
		p.add(top, "the file is not a mapping", "write checks: followed by a list of checks")
		return nil
	}
	p.known(top, "interval", "timeout", "checks")
	interval := p.duration(top.Get("interval"), DefaultInterval)
	timeout := p.duration(top.Get("timeout"), DefaultTimeout)
	list := top.Get("checks")
	if !list.IsSeq() || len(list.Items()) == 0 {
		p.add(list, "no checks", "list at least one check under checks:, each with a name and a url")
		return nil
	}
	cfg := &Config{File: p.file}
	seen := map[string]apidef.Node{}
	for _, n := range list.Items() {
		c := p.check(n, interval, timeout)
		if c == nil {
			continue
		}
		if first, dup := seen[c.Name]; dup {
			p.add(n.Get("name"), fmt.Sprintf("a second check named %q", c.Name), fmt.Sprintf("the first is at line %d; names must be unique", first.Line()))
			continue
		}
		seen[c.Name] = n
		cfg.Checks = append(cfg.Checks, c)
	}
	return cfg
}

var checkFields = []string{"name", "url", "scheme", "port", "path", "hosts", "dns", "method", "headers", "body",
	"expect_status", "body_match", "body_not_match", "timeout", "interval", "tls"}

func (p *parser) check(n apidef.Node, interval, timeout time.Duration) *Check {
	if !n.IsMap() {
		p.add(n, "a check must be a mapping", "give name: and url: (or path: with hosts: or dns:)")
		return nil
	}
	before := len(p.problems)
	p.known(n, checkFields...)
	c := &Check{Name: n.String("name", ""), Method: strings.ToUpper(n.String("method", http.MethodGet)), Body: n.String("body", "")}
	if !checkName.MatchString(c.Name) {
		p.add(n.Get("name"), fmt.Sprintf("name %q is missing or not a simple name", c.Name),
			"use letters, digits, '_' and '-': the name is a metric label and a Graphite path component")
	}
	p.target(n, c)
	if !methodName.MatchString(c.Method) {
		p.add(n.Get("method"), fmt.Sprintf("method %q is not an HTTP method", c.Method), "write GET, POST, HEAD ...")
	}
	c.Header, c.Host = p.headers(n.Get("headers"))
	c.Expect = p.statuses(n.Get("expect_status"))
	c.Match = p.regexp(n.Get("body_match"))
	c.NoMatch = p.regexp(n.Get("body_not_match"))
	c.Interval = p.duration(n.Get("interval"), interval)
	c.Timeout = p.duration(n.Get("timeout"), timeout)
	if c.Timeout > c.Interval {
		at := n.Get("timeout")
		if at.IsZero() {
			at = n.Get("interval")
		}
		p.add(at, fmt.Sprintf("timeout %v is longer than interval %v", c.Timeout, c.Interval), "a check must end before its next round starts")
	}
	if t := n.Get("tls"); !t.IsNull() {
		c.TLS = p.tls(t)
		if c.scheme() != "https" {
			p.add(t, "tls settings on a check that does not use https", "use an https url, or scheme: https")
		}
	}
	if len(p.problems) > before {
		return nil
	}
	return c
}

// target reads url, or scheme/port/path with hosts or dns.
func (p *parser) target(n apidef.Node, c *Check) {
	hasURL := !n.Get("url").IsNull()
	split := []string{}
	for _, k := range []string{"scheme", "port", "path", "hosts", "dns"} {
		if !n.Get(k).IsNull() {
			split = append(split, k)
		}
	}
	if hasURL {
		if len(split) > 0 {
			p.add(n.Get(split[0]), fmt.Sprintf("url and %s are exclusive", split[0]),
				"give url: for one endpoint, or scheme, port, path and hosts: or dns: for several")
			return
		}
		u, err := url.Parse(n.String("url", ""))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(n.Get("url"), fmt.Sprintf("url %q is not an http or https URL", n.String("url", "")), "write https://host[:port]/path")
			return
		}
		c.URL = u
		return
	}
	hosts, dns := n.Get("hosts"), n.Get("dns")
	switch {
	case hosts.IsNull() && dns.IsNull():
		p.add(n, "the check says nothing to probe", "give url:, or hosts: (a list) or dns: (a name) with path:")
		return
	case !hosts.IsNull() && !dns.IsNull():
		p.add(dns, "hosts and dns are exclusive", "give a static list in hosts: or a name to resolve in dns:")
		return
	}
	c.Scheme = n.String("scheme", "https")
	if c.Scheme != "http" && c.Scheme != "https" {
		p.add(n.Get("scheme"), fmt.Sprintf("scheme %q", c.Scheme), "use http or https")
	}
	if port := n.Get("port"); !port.IsNull() {
		v, prob := n.Int("port", 0)
		if prob != nil || v < 1 || v > 65535 {
			p.add(port, fmt.Sprintf("port %q is not a port number", port.Str()), "use 1 to 65535")
		}
		c.Port = port.Str()
	}
	c.Path = n.String("path", "/")
	if !strings.HasPrefix(c.Path, "/") {
		p.add(n.Get("path"), fmt.Sprintf("path %q does not start with /", c.Path), "write /health, for example")
	}
	if !dns.IsNull() {
		c.DNS = dns.Str()
		if c.DNS == "" || strings.ContainsAny(c.DNS, ":/ ") {
			p.add(dns, fmt.Sprintf("dns %q is not a host name", c.DNS), "give the name whose A and AAAA records list the hosts")
		}
		return
	}
	items := hosts.Items()
	if hosts.IsScalar() || len(items) == 0 {
		p.add(hosts, "hosts must be a list of host or host:port", "write hosts: [api1.example.com, api2.example.com:8443]")
	}
	for _, h := range items {
		u, err := url.Parse("http://" + h.Str())
		if err != nil || h.Str() == "" || u.Host != h.Str() {
			p.add(h, fmt.Sprintf("%q is not a host or host:port", h.Str()), "write api.example.com or 10.0.0.7:8443")
			continue
		}
		c.Hosts = append(c.Hosts, h.Str())
	}
}

func (p *parser) headers(n apidef.Node) (http.Header, string) {
	h := http.Header{}
	if n.IsNull() {
		return h, ""
	}
	if !n.IsMap() {
		p.add(n, "headers must be a mapping", "write headers: {X-IBM-Client-Id: abc}")
		return h, ""
	}
	var host string
	for _, k := range n.Keys() {
		v := n.Get(k)
		if !v.IsScalar() {
			p.add(v, fmt.Sprintf("header %s must have a single text value", k), "")
			continue
		}
		if strings.EqualFold(k, "Host") {
			host = v.Str()
			continue
		}
		h.Add(k, v.Str())
	}
	return h, host
}

func (p *parser) regexp(n apidef.Node) *regexp.Regexp {
	if n.IsNull() {
		return nil
	}
	re, err := regexp.Compile(n.Str())
	if err != nil {
		p.add(n, fmt.Sprintf("not a regular expression: %v", err), "Go's RE2 syntax: https://pkg.go.dev/regexp/syntax")
		return nil
	}
	return re
}

// duration reads "5s", "1m30s" or a number of seconds.
func (p *parser) duration(n apidef.Node, def time.Duration) time.Duration {
	if n.IsNull() {
		return def
	}
	s := n.Str()
	d, err := time.ParseDuration(s)
	if err != nil {
		var secs float64
		if _, serr := fmt.Sscanf(s, "%g", &secs); serr == nil && fmt.Sprint(secs) == s {
			d, err = time.Duration(secs*float64(time.Second)), nil
		}
	}
	if err != nil || d <= 0 {
		p.add(n, fmt.Sprintf("%q is not a positive duration", s), "write 5s, 500ms or 1m")
		return def
	}
	return d
}

// scheme is the check's scheme, whichever way it was given.
func (c *Check) scheme() string {
	if c.URL != nil {
		return c.URL.Scheme
	}
	return c.Scheme
}
