package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The token file keeps one entry per manager in the shape of API
// Connect's ~/.apiconnect/token, so that scripts written for apic (such
// as writing the file from a token fetched elsewhere) work unchanged:
//
//	https://manager.example.com/api: |
//	  refresh_token: ""
//	  access_token: 4f6b…
//
// Keys are matched without their scheme and trailing /api, as apic's
// users write them both ways. Entries for other services are kept.

const (
	tokenFileName  = "token"
	configFileName = "config"
)

// configDir is where the token and config files live: $PORTICO_CONFIG_DIR,
// else ~/.portico.
func configDir() (string, error) {
	if d := os.Getenv("PORTICO_CONFIG_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home folder for ~/.portico: %w (set PORTICO_CONFIG_DIR)", err)
	}
	return filepath.Join(home, ".portico"), nil
}

// tokenEntry is one manager's tokens.
type tokenEntry struct {
	RefreshToken string `yaml:"refresh_token"`
	AccessToken  string `yaml:"access_token"`
}

// tokenFile is the parsed file: its entries in order, values as written.
type tokenFile struct {
	path    string
	keys    []string
	entries map[string]string // key → the entry's block text
}

func loadTokenFile() (*tokenFile, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	tf := &tokenFile{path: filepath.Join(dir, tokenFileName), entries: map[string]string{}}
	data, err := os.ReadFile(tf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return tf, nil
	}
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v; fix the file or delete it and log in again", tf.path, err)
	}
	if len(doc.Content) == 0 {
		return tf, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must map each server to its tokens (SERVER/api: |); fix it or delete it and log in again", tf.path, top.Line)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: the entry for %s must be a block of text (%s: |, then indented refresh_token: and access_token: lines)", tf.path, v.Line, k.Value, k.Value)
		}
		if _, dup := tf.entries[k.Value]; !dup {
			tf.keys = append(tf.keys, k.Value)
		}
		tf.entries[k.Value] = v.Value
	}
	return tf, nil
}

// serverKey is how entries are matched: host and path, no scheme, no
// trailing "/" or "/api".
func serverKey(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/api")
	return strings.ToLower(strings.TrimRight(s, "/"))
}

// lookup finds the entry of server (a base URL).
func (tf *tokenFile) lookup(server string) (tokenEntry, bool, error) {
	want := serverKey(server)
	for _, k := range tf.keys {
		if serverKey(k) != want {
			continue
		}
		var e tokenEntry
		if err := yaml.Unmarshal([]byte(tf.entries[k]), &e); err != nil {
			return e, false, fmt.Errorf("%s: the entry for %s does not parse: %v; log in again", tf.path, k, err)
		}
		return e, e.AccessToken != "", nil
	}
	return tokenEntry{}, false, nil
}

// servers lists the servers the file has an access token for, as base
// URLs where the key says its scheme.
func (tf *tokenFile) servers() []string {
	var out []string
	for _, k := range tf.keys {
		var e tokenEntry
		if yaml.Unmarshal([]byte(tf.entries[k]), &e) == nil && e.AccessToken != "" {
			out = append(out, strings.TrimSuffix(strings.TrimRight(k, "/"), "/api"))
		}
	}
	return out
}

// set replaces the entry of server, under the key server+"/api".
func (tf *tokenFile) set(server string, e tokenEntry) error {
	tf.remove(server)
	text, err := yaml.Marshal(e)
	if err != nil {
		return err
	}
	key := strings.TrimRight(server, "/") + "/api"
	tf.keys = append(tf.keys, key)
	tf.entries[key] = string(text)
	return nil
}

// remove drops the entries of server and reports whether there was one.
func (tf *tokenFile) remove(server string) bool {
	want := serverKey(server)
	var keep []string
	for _, k := range tf.keys {
		if serverKey(k) == want {
			delete(tf.entries, k)
			continue
		}
		keep = append(keep, k)
	}
	found := len(keep) != len(tf.keys)
	tf.keys = keep
	return found
}

// save writes the file (mode 0600, its folder 0700) by renaming a
// finished temporary file over it, so a reader never sees half of it.
func (tf *tokenFile) save() error {
	top := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range tf.keys {
		top.Content = append(top.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tf.entries[k], Style: yaml.LiteralStyle})
	}
	var buf bytes.Buffer
	if len(tf.keys) > 0 {
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
			return err
		}
		enc.Close()
	}
	return writePrivate(tf.path, buf.Bytes())
}

func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// normalizeServer turns --server into the manager's base URL. Without a
// scheme it is https, as apic assumes, except for loopback hosts (a local
// `portico up`), which are http. A trailing /api is dropped.
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("no server")
	}
	if !strings.Contains(s, "://") {
		scheme := "https://"
		if isLoopback(s) {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--server %q: give the manager's address, such as https://manager.example.com or 127.0.0.1:9090", s)
	}
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api")
	return u.Scheme + "://" + u.Host + strings.TrimRight(p, "/"), nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if i := strings.IndexAny(host, "/"); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
