package bundle_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/policy"
)

// missingPolicy is the one kind of error a real API Connect file may have:
// a policy this build does not run, named in the message.
var missingPolicy = regexp.MustCompile(`^policy "([a-z0-9-]+)" is (not supported by this version of Portico|not installed)`)

// TestCorpusLoads checks every file of the shared corpus of real API Connect
// files: each loads, or fails only because it uses a policy this build does
// not have yet. It logs the tally.
func TestCorpusLoads(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository in shared/corpus/apic): %v", dir, err)
	}
	results := bundle.CheckPaths([]string{dir}, policy.Builtins())
	var apis, ok int
	missing := map[string]int{}
	for _, r := range results {
		if r.Kind != apidef.KindAPI {
			if errs := r.Problems.Errors(); len(errs) > 0 {
				t.Errorf("%s: %v", r.File, errs)
			}
			continue
		}
		apis++
		errs := r.Problems.Errors()
		if len(errs) == 0 {
			ok++
			continue
		}
		for _, p := range errs {
			m := missingPolicy.FindStringSubmatch(p.Msg)
			if m == nil {
				t.Errorf("%s: fails for a reason other than a missing policy: %s", filepath.Base(r.File), p.Error())
				continue
			}
			if p.Line == 0 {
				t.Errorf("%s: the missing policy %q has no line", filepath.Base(r.File), m[1])
			}
			missing[m[1]]++
		}
	}
	if apis != 116 {
		t.Errorf("found %d API files, the corpus has 116", apis)
	}
	t.Logf("%d of %d API files load; policies missing (occurrences): %v", ok, apis, missing)
}
