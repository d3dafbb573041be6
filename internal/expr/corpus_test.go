package expr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// corpusDir holds real API Connect files, relative to this package
// (/work/main/internal/expr → /work/shared/corpus/apic).
const corpusDir = "../../../shared/corpus/apic"

type corpusCondition struct {
	file, gateway, src string
	line               int
}

func loadCorpusConditions(t testing.TB) []corpusCondition {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("APIC corpus not found at %s (relative to internal/expr): %v", corpusDir, err)
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(corpusDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	var out []corpusCondition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Logf("skipping %s: %v", filepath.Base(f), err)
			continue
		}
		gateway := ""
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					k, v := n.Content[i], n.Content[i+1]
					switch {
					case k.Value == "gateway" && v.Kind == yaml.ScalarNode:
						gateway = v.Value
					case k.Value == "condition" && v.Kind == yaml.ScalarNode:
						out = append(out, corpusCondition{file: filepath.Base(f), src: v.Value, line: v.Line})
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		before := len(out)
		walk(&doc)
		for i := before; i < len(out); i++ {
			out[i].gateway = gateway
		}
	}
	return out
}

// Every condition in the corpus compiles in Auto mode. Compiling with the
// file's declared gateway language is reported, not required: some
// datapower-api-gateway files carry JavaScript conditions.
func TestCorpusConditions(t *testing.T) {
	conds := loadCorpusConditions(t)
	if len(conds) == 0 {
		t.Fatal("no condition found in the corpus")
	}
	env := newTestEnv(sampleContext())
	langs := map[Lang]int{}
	for _, cc := range conds {
		c, err := CompileCondition(cc.src, Auto)
		if err != nil {
			t.Errorf("%s:%d: %q: %v", cc.file, cc.line, cc.src, err)
			continue
		}
		langs[c.Lang()]++
		// Evaluation must not panic; run-time errors (e.g. an unset
		// variable used as an object in JavaScript) are acceptable.
		if _, err := c.Eval(context.Background(), env); err != nil {
			t.Logf("%s:%d: %q (%v): eval: %v", cc.file, cc.line, cc.src, c.Lang(), err)
		}
		if declared := LangForGateway(cc.gateway); declared != Auto {
			if _, err := CompileCondition(cc.src, declared); err != nil {
				t.Logf("%s:%d: does not compile as the declared gateway %q's %v: %v",
					cc.file, cc.line, cc.gateway, declared, firstLine(err.Error()))
			} else if declared != c.Lang() {
				t.Logf("%s:%d: %q: Auto picked %v, declared gateway %q says %v",
					cc.file, cc.line, cc.src, c.Lang(), cc.gateway, declared)
			}
		}
	}
	t.Logf("%d corpus conditions compiled: %d JSONata, %d JavaScript", len(conds), langs[JSONata], langs[JavaScript])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
