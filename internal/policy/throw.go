package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// Throw compiles the throw policy (API Gateway 2.0.0, 2.1.0; v5 1.0.0):
//
//	name: NotEntitled            required; what catch clauses match
//	message: not allowed         $(…) allowed; moreInformation of the response
//	error-status-code: 403       number or $(…); default 500
//	error-status-reason: Nope    $(…) allowed; default the standard text
//
// The error goes to the first catch clause naming it (or default); left
// uncaught it becomes the response with that status.
func Throw(b *assembly.Builder, n apidef.Node) assembly.Policy {
	nameN := n.Get("name")
	name := strings.TrimSpace(nameN.Str())
	if name == "" {
		b.Report(missingSetting(n, "name", "throw needs a name: the error name that catch clauses match",
			"write e.g. `name: NotEntitled`, and catch it with `- errors: [NotEntitled]`"))
		return nil
	}
	message := b.Template(n.Get("message"))
	reason := b.Template(n.Get("error-status-reason"))

	status := 0 // 500 when uncaught
	var statusT *assembly.Template
	if sn := n.Get("error-status-code"); !sn.IsNull() {
		t := b.Template(sn)
		if t.IsConst() {
			code, ok := parseStatus(t.Source())
			if !ok {
				b.Report(sn.Problem(fmt.Sprintf("error-status-code %q is not an HTTP status code", sn.Str()),
					"write a number from 100 to 599, e.g. 403, or a $(variable) holding one"))
				return nil
			}
			status = code
		} else {
			statusT = t
		}
	}
	return func(c *assembly.Context) error {
		e := &assembly.Error{Name: name, Status: status}
		if statusT != nil {
			// A variable that holds no status code leaves the default (500)
			// rather than failing the throw itself.
			if code, ok := parseStatus(statusT.Render(c)); ok {
				e.Status = code
			}
		}
		e.Message = message.Render(c)
		e.Reason = reason.Render(c)
		return e
	}
}

// parseStatus reads an HTTP status code (100–599).
func parseStatus(s string) (int, bool) {
	code, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || code < 100 || code > 599 {
		return 0, false
	}
	return code, true
}
