package policy

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
)

func TestLogPolicies(t *testing.T) {
	a, api := mustCompile(t, apidef.GatewayAPI, `
execute:
- log:
    version: 2.1.0
    title: log_gather
    log-level: default
    mode: gather-only
- activity-log:
    title: activity-log
    content: activity
    error-content: payload
- log:
    version: 2.0.0
    log-level: $(my.level)
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: after
`)
	// Without a logger.
	c := newTestContext(t, api, "GET", "/test/items", "")
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	if got := bodyText(t, c); got != "after" {
		t.Errorf("body = %q", got)
	}
	// With a debug logger.
	var buf bytes.Buffer
	c = newTestContext(t, api, "GET", "/test/items", "")
	c.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"mode=gather-only", "log-level=default", "content=activity", "error-content=payload"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestLogProblems(t *testing.T) {
	doc, ps := problemsOf(t, apidef.GatewayAPI, `
execute:
- log:
    version: 2.1.0
    mode: gather-all
`)
	wantProblem(t, doc, ps, "mode: gather-all", `mode "gather-all"`)

	doc, ps = problemsOf(t, apidef.GatewayAPI, `
execute:
- log:
    version: 2.1.0
    log-level: verbose
`)
	wantProblem(t, doc, ps, "log-level: verbose", "not one of")

	doc, ps = problemsOf(t, apidef.GatewayV5, `
execute:
- activity-log:
    version: 1.0.0
    content: everything
`)
	wantProblem(t, doc, ps, "content: everything", `content "everything"`)
}
