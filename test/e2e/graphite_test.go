package e2e

import (
	"testing"
)

// A gateway with --graphite writes its Prometheus metrics to carbon as
// prefix.metric_name.label_values lines, every interval.
func TestGatewayGraphite(t *testing.T) {
	g := newFakeGraphite(t)
	p := start(t, "gateway", "--bundle", "../../examples/quickstart", "--listen", "127.0.0.1:0", "--admin-listen", "",
		"--graphite", g.addr, "--graphite-prefix", "portico.gw1", "--graphite-interval", "100ms")
	line, _ := p.waitLine(t, 0, listening)
	base := listening.FindStringSubmatch(line)[1]
	if code, _ := get(t, base+"/local/sandbox/quickstart/hello?name=Ada"); code != 200 {
		t.Fatalf("call: %d", code)
	}
	const calls = "portico.gw1.portico_gateway_requests_total.quickstart._hello.2xx.1_0_0"
	const count = "portico.gw1.portico_gateway_request_duration_seconds_count.quickstart.1_0_0"
	const inf = "portico.gw1.portico_gateway_request_duration_seconds_bucket.quickstart.1_0_0.inf"
	got := g.waitPaths(t, calls, count, inf, "portico.gw1.portico_gateway_config_version")
	for _, path := range []string{calls, count, inf, "portico.gw1.portico_gateway_config_version"} {
		if got[path].value != 1 {
			t.Errorf("%s = %v, want 1", path, got[path].value)
		}
	}
	// A bad address is a usage error, before anything starts.
	bad := start(t, "gateway", "--bundle", "../../examples/quickstart", "--listen", "127.0.0.1:0", "--admin-listen", "", "--graphite", "nohost")
	<-bad.done
	if err := bad.cmd.Wait(); err == nil || bad.cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("--graphite nohost: %v, want exit status 2", err)
	}
}

// The manager with --graphite writes its own metrics: object counts and
// the push status of its gateways among them.
func TestManagerGraphite(t *testing.T) {
	g := newFakeGraphite(t)
	p := start(t, "manager", "--home", t.TempDir(), "--listen", "127.0.0.1:0",
		"--graphite", g.addr, "--graphite-prefix", "portico.mgr", "--graphite-interval", "100ms")
	p.waitLine(t, 0, managerListening)
	const users = "portico.mgr.portico_manager_objects.none.none.users" // catalog, org, type
	got := g.waitPaths(t, users)
	if got[users].value != 1 {
		t.Errorf("%s = %v, want 1 (the admin)", users, got[users].value)
	}
}
