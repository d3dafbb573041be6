package gatewayscript_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/policy/gatewayscript"
)

// stepName matches one policy step in a problem's field path.
var stepName = regexp.MustCompile(`(?:execute|otherwise|default)\[\d+\]\.([A-Za-z0-9_-]+)`)

// problemPolicy is the innermost policy a problem's field lies in.
func problemPolicy(field string) string {
	m := stepName.FindAllStringSubmatch(field, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// corpusWarnings are the warnings expected from real files: scripts that
// require modules of DataPower (or of Node) that Portico does not have.
var corpusWarnings = map[string][]string{
	"Itayp1__apiconnect-toolkit__example.yaml":                                                       {"require('fs')", "require('js-yaml')"},
	"ibmArtifacts__APIC-JWT-Gen-with-Distributed-Caching-custom-policy__jwt-gen-api.yaml":            {"require('distributed-metadata')"},
	"ibmArtifacts__APICv10-Persisting-Lookup-Property-Config-Files-on-the-Gateway__lookup-file.yaml": {"require('fs')"},
	"ibmArtifacts__APICv10-gateway-extensions-mq-sample__sample-api-using-mq-object.yaml":            {"require('urlopen')"},
	// The banking mock's script lost its XML entities somewhere: its line
	// 9 does not parse. API Connect accepts the file; the script fails
	// when it runs, so this is a warning.
	"ChrisPhillips-cminion__banking-api-mock__config__composite-api-openapi.yaml": {"JavaScript syntax error: Unexpected token ILLEGAL (line 9, column 27 of the script)"},
}

// corpusWrong are errors that are the files' own fault. The banking mock's
// script lost its XML entities somewhere: its line 9, which returns
// three quotes, is not JavaScript, and DataPower would fail it too.
var corpusWrong = map[string][]string{}

// TestCorpus compiles every API of the shared corpus of real API Connect
// files that uses gatewayscript or javascript: none may have an error in
// these policies, and the only warnings are the known ones.
func TestCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
	}
	reg := policy.Builtins()
	env := newEnv(testOptions())
	seen := map[string]bool{}
	var files, scripts int
	for _, e := range entries {
		if !apidef.IsDocumentFile(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !(strings.Contains(string(data), "gatewayscript") || strings.Contains(string(data), "javascript:")) {
			continue
		}
		d, err := apidef.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		files++
		scripts += strings.Count(string(data), "gatewayscript:") + strings.Count(string(data), "javascript:")
		api, _ := apidef.LoadAPI(d)
		_, ps := assembly.CompileAPI(reg, api, env, dir)
		for _, p := range ps {
			if pol := problemPolicy(p.Field); pol != "gatewayscript" && pol != "javascript" {
				continue
			}
			expected := false
			for _, w := range corpusWarnings[e.Name()] {
				if p.Warn && strings.Contains(p.Msg, w) {
					expected = true
					seen[e.Name()+"\x00"+w] = true
				}
			}
			for _, w := range corpusWrong[e.Name()] {
				if !p.Warn && strings.Contains(p.Msg, w) {
					expected = true
					seen[e.Name()+"\x00"+w] = true
					t.Logf("known fault of %s: %v", e.Name(), p)
				}
			}
			if !expected {
				t.Errorf("%s: unexpected problem: %v", e.Name(), p)
			}
		}
	}
	for _, known := range []map[string][]string{corpusWarnings, corpusWrong} {
		for file, ws := range known {
			for _, w := range ws {
				if !seen[file+"\x00"+w] {
					t.Errorf("%s: expected a problem %q, found none", file, w)
				}
			}
		}
	}
	if files == 0 {
		t.Fatalf("no API using gatewayscript found in %s", dir)
	}
	t.Logf("compiled %d APIs with %d scripts", files, scripts)
}

// scriptNodes finds the settings of every gatewayscript and javascript
// policy under n.
func scriptNodes(n apidef.Node, out *[]apidef.Node) {
	switch {
	case n.IsMap():
		for _, k := range n.Keys() {
			v := n.Get(k)
			if (k == "gatewayscript" || k == "javascript") && v.IsMap() {
				*out = append(*out, v)
				continue
			}
			scriptNodes(v, out)
		}
	case n.IsSeq():
		for _, it := range n.Items() {
			scriptNodes(it, out)
		}
	}
}

// TestCorpusScriptsRun runs every real script of the corpus once, alone,
// against a made-up request: whatever they do (many expect a back end's
// response or DataPower modules), the engine must answer with nil or an
// assembly error, never fail itself, within the time limit.
func TestCorpusScriptsRun(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s: %v", dir, err)
	}
	o := testOptions()
	o.Timeout = 2 * time.Second
	env := newEnv(o)
	reg := policy.Builtins()
	outcomes := map[string]int{}
	for _, e := range entries {
		d, err := apidef.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		api, _ := apidef.LoadAPI(d)
		var nodes []apidef.Node
		scriptNodes(api.Assembly, &nodes)
		for _, n := range nodes {
			b := assembly.NewBuilder(reg, api, env, dir)
			pol := gatewayscript.EngineFor(env).Compile(b, n, "gatewayscript")
			if pol == nil {
				continue // a script that does not compile (TestCorpus)
			}
			c := newContext(t, api, request{method: "POST", target: "/test/items?username=ada&password=ada&a=1&b=2&country=IN",
				body:    `{"name":"Ada","age":3,"apiName":"weather","incidentId":"i-1","AADHAARID":"1","BIRTHDATE":"01/02/2000","uid":"u","pwd":"u","parameters":{}}`,
				headers: []string{"Content-Type", "application/json", "Authorization", "Basic YWRhOmFkYQ==", "X-IBM-Client-Id", "cid"}})
			err := pol(c)
			name := "ok"
			if err != nil {
				var ae *assembly.Error
				if !errors.As(err, &ae) {
					t.Errorf("%s %s: not an assembly error: %T %v", e.Name(), n.Path, err, err)
					continue
				}
				if strings.Contains(ae.Message, "engine failed") || strings.Contains(ae.Message, "time limit") {
					t.Errorf("%s %s: %v", e.Name(), n.Path, ae)
				}
				name = ae.Name
				t.Logf("%s %s: %v", e.Name(), n.Path, ae)
			}
			outcomes[name]++
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
