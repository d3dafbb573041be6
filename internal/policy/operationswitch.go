package policy

import (
	"fmt"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// opSwitch is a compiled operation-switch. Which case an operation takes is
// decided at load time, so a request costs one or two map lookups.
type opSwitch struct {
	byPath    map[string]map[string]assembly.Policy // method (upper case) → path template → branch
	byID      map[string]assembly.Policy            // operationId → branch
	otherwise assembly.Policy
}

// OperationSwitch compiles the operation-switch policy (API Gateway 2.0.0;
// v5 1.0.0):
//
//	case:
//	- operations: [getItem, {verb: post, path: /items}]
//	  execute: […]
//	otherwise: […]
//
// An operation is named by its operationId or by verb and path template (the
// verb in any case). The first case naming the matched operation runs;
// otherwise runs when none does. A case naming an operation the API does not
// define is reported, as it can never run.
func OperationSwitch(b *assembly.Builder, n apidef.Node) assembly.Policy {
	list := n.Get("case")
	if !list.IsSeq() {
		b.Report(missingSetting(n, "case", "operation-switch needs case: a list of operations with the policies each one runs",
			"write `case: [{operations: [getItem, {verb: post, path: /items}], execute: […]}]`"))
		return nil
	}
	idCase := map[string]int{}   // operationId → first case naming it
	pathCase := map[string]int{} // "METHOD path" → first case naming it
	var runs []assembly.Policy
	ow := newOtherwise(b, n)
	ok := true
	for _, item := range list.Items() {
		if ow.fromCase(item) {
			continue
		}
		ops := item.Get("operations")
		if !item.IsMap() || !ops.IsSeq() || len(ops.Items()) == 0 {
			b.Report(item.Problem("an operation-switch case needs operations: a non-empty list of operations, and an execute list",
				"write `- operations: [getItem, {verb: get, path: /items/{id}}]` with `execute: […]`"))
			ok = false
			continue
		}
		idx := len(runs)
		runs = append(runs, orNoop(b.Execute(item.Get("execute"))))
		for _, on := range ops.Items() {
			if !checkCaseOperation(b, on, idx, idCase, pathCase) {
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	s := &opSwitch{byPath: map[string]map[string]assembly.Policy{}, byID: map[string]assembly.Policy{}, otherwise: ow.run}
	// Resolve the API's operations first: an operation named in two cases,
	// once by id and once by verb and path, takes the earlier case.
	for _, op := range b.API.Operations {
		first := -1
		if i, ok := pathCase[op.Method+" "+op.Path]; ok {
			first = i
		}
		if i, ok := idCase[op.ID]; ok && op.ID != "" && (first < 0 || i < first) {
			first = i
		}
		if first < 0 {
			continue
		}
		s.addPath(op.Method, op.Path, runs[first])
		if op.ID != "" {
			s.byID[op.ID] = runs[first]
		}
	}
	// Names the API does not define (already reported) still route as
	// written, should the operation exist after all.
	for key, i := range pathCase {
		method, path, _ := strings.Cut(key, " ")
		if _, done := s.byPath[method][path]; !done {
			s.addPath(method, path, runs[i])
		}
	}
	for id, i := range idCase {
		if _, done := s.byID[id]; !done {
			s.byID[id] = runs[i]
		}
	}
	return s.run
}

func (s *opSwitch) addPath(method, path string, run assembly.Policy) {
	m := s.byPath[method]
	if m == nil {
		m = map[string]assembly.Policy{}
		s.byPath[method] = m
	}
	m[path] = run
}

func (s *opSwitch) run(c *assembly.Context) error {
	if op := c.Operation; op != nil {
		if run, ok := s.byPath[strings.ToUpper(op.Method)][op.Path]; ok {
			return run(c)
		}
		if run, ok := s.byID[op.ID]; ok && op.ID != "" {
			return run(c)
		}
	}
	if s.otherwise != nil {
		return s.otherwise(c)
	}
	return nil
}

var opSwitchVerbs = map[string]bool{"GET": true, "PUT": true, "POST": true, "DELETE": true, "OPTIONS": true,
	"HEAD": true, "PATCH": true, "TRACE": true}

// checkCaseOperation reads one entry of a case's operations (an operationId,
// or {verb, path}) into the maps, keeping the first case for each name. It
// reports an entry that is malformed (false) or that names an operation the
// API does not define (still true: the entry is usable).
func checkCaseOperation(b *assembly.Builder, on apidef.Node, idx int, idCase, pathCase map[string]int) bool {
	api := b.API
	if on.IsScalar() {
		id := strings.TrimSpace(on.Str())
		if id == "" {
			b.Report(on.Problem("empty operation name", "name an operationId, or write {verb: get, path: /items}"))
			return false
		}
		if _, seen := idCase[id]; !seen {
			idCase[id] = idx
		}
		if len(api.Operations) > 0 && !hasOperationID(api, id) {
			b.Report(on.Warning(fmt.Sprintf("operation %q is not an operationId of this API, so this case never runs", id),
				"use one of the operationIds under paths:, or name the operation by {verb, path}"))
		}
		return true
	}
	if !on.IsMap() {
		b.Report(on.Problem("an operation is an operationId or {verb, path}", "write `- getItem` or `- {verb: get, path: /items/{id}}`"))
		return false
	}
	verb := strings.ToUpper(strings.TrimSpace(on.String("verb", "")))
	path := strings.TrimSpace(on.String("path", ""))
	good := true
	if !opSwitchVerbs[verb] {
		at := on.Get("verb")
		if at.IsZero() {
			at = on
		}
		b.Report(at.Problem(fmt.Sprintf("verb %q is not an HTTP method", on.String("verb", "")),
			"write one of get, put, post, delete, options, head, patch"))
		good = false
	}
	if !strings.HasPrefix(path, "/") {
		at := on.Get("path")
		if at.IsZero() {
			at = on
		}
		b.Report(at.Problem(fmt.Sprintf("path %q is not a path of the API", path), "write the path as it appears under paths:, e.g. /items/{id}"))
		good = false
	}
	if !good {
		return false
	}
	key := verb + " " + path
	if _, seen := pathCase[key]; !seen {
		pathCase[key] = idx
	}
	if len(api.Operations) > 0 && !hasOperation(api, verb, path) {
		b.Report(on.Warning(fmt.Sprintf("the API has no operation %s %s, so this case never runs", verb, path),
			"use a verb and path defined under paths: (the path exactly as written there)"))
	}
	return true
}

func hasOperationID(api *apidef.API, id string) bool {
	for _, op := range api.Operations {
		if op.ID == id {
			return true
		}
	}
	return false
}

func hasOperation(api *apidef.API, method, path string) bool {
	for _, op := range api.Operations {
		if op.Method == method && op.Path == path {
			return true
		}
	}
	return false
}
