package bundle

import (
	"crypto/tls"
	"os"
	"path/filepath"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// FileResult is the outcome of checking one file.
type FileResult struct {
	File     string
	Kind     apidef.Kind
	Problems apidef.Problems
}

// CheckPaths checks files and folders offline with the same loader and
// compiler the gateway uses. Folders are searched recursively for .yaml,
// .yml and .json files.
func CheckPaths(paths []string, reg *assembly.Registry) []FileResult {
	var out []FileResult
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			out = append(out, FileResult{File: p, Problems: apidef.Problems{{File: p, Msg: err.Error(), Hint: "check the path"}}})
			continue
		}
		if !info.IsDir() {
			out = append(out, CheckFile(p, reg))
			continue
		}
		files, err := documentFiles(p)
		if err != nil {
			out = append(out, FileResult{File: p, Problems: apidef.Problems{{File: p, Msg: err.Error()}}})
			continue
		}
		for _, f := range files {
			out = append(out, CheckFile(f, reg))
		}
	}
	return out
}

// CheckFile parses one file and, for an API, loads it and compiles its
// assembly.
func CheckFile(file string, reg *assembly.Registry) FileResult {
	r := FileResult{File: file}
	switch filepath.Base(file) {
	case CatalogFile:
		r.Kind = apidef.KindCatalog
		r.Problems = (&Bundle{Dir: filepath.Dir(file), Properties: map[string]string{}, TLSProfiles: map[string]*tls.Config{}}).readCatalog(file)
		return r
	case ConsumersFile:
		r.Kind = apidef.KindConsumers
		_, r.Problems = readConsumers(file)
		return r
	}
	doc, err := apidef.ReadFile(file)
	if err != nil {
		r.Problems = asProblems(err)
		return r
	}
	r.Kind = doc.Kind
	if doc.Kind == apidef.KindProduct {
		_, r.Problems = apidef.LoadProduct(doc)
		return r
	}
	if doc.Kind != apidef.KindAPI {
		return r
	}
	api, ps := apidef.LoadAPI(doc)
	r.Problems = append(r.Problems, ps...)
	_, cps := assembly.CompileAPI(reg, api, nil, filepath.Dir(file))
	r.Problems = append(r.Problems, cps...)
	return r
}
