package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

const dashboardDir = "../../deploy/grafana/dashboards"

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	ID         any    `json:"id"`
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title      string                   `json:"title"`
	Type       string                   `json:"type"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // inside collapsed rows
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardMetrics maps every metric name the dashboards query (panel
// targets and template variables) to where it is used.
func dashboardMetrics(t *testing.T) map[string][]string {
	t.Helper()
	uses := map[string][]string{}
	add := func(where, expr string, names func(string) ([]string, error)) {
		ns, err := names(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		for _, n := range ns {
			uses[n] = append(uses[n], where)
		}
	}
	for file, d := range loadDashboards(t) {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s: %q %s", file, p.Title, tg.RefID), tg.Expr, metricNames)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			if m, ok := v.Query.(map[string]any); ok {
				q, _ = m["query"].(string)
			}
			add(fmt.Sprintf("%s: variable %s", file, v.Name), q, templateMetricNames)
		}
	}
	return uses
}

// The dashboards are well-formed provisioning files: stable unique uids,
// no database ids, every query panel on the ${ds} data source with an
// expression, and a grid 24 columns wide.
func TestDashboardFiles(t *testing.T) {
	uids := map[string]string{}
	for file, d := range loadDashboards(t) {
		if len(d.UID) < 8 || len(d.UID) > 40 || d.ID != nil || d.Title == "" {
			t.Errorf("%s: uid %q (8 to 40 characters), id %v (must be null), title %q", file, d.UID, d.ID, d.Title)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", file, other, d.UID)
		}
		uids[d.UID] = file
		if len(d.Templating.List) == 0 || d.Templating.List[0].Name != "ds" || d.Templating.List[0].Type != "datasource" {
			t.Errorf("%s: the first variable must be the data source variable ds", file)
		}
		for _, p := range allPanels(d.Panels) {
			if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
				t.Errorf("%s: %q lies outside the 24-column grid: %+v", file, p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${ds}" || len(p.Targets) == 0 {
				t.Errorf("%s: %q must query the ${ds} data source", file, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
					t.Errorf("%s: %q has a target without expr or refId", file, p.Title)
				}
			}
		}
	}
	// The provider must point where docker-compose.yml mounts the dashboards.
	var prov struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "../../deploy/grafana/provisioning/dashboards/portico.yaml", &prov)
	compose, err := os.ReadFile("../../deploy/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(prov.Providers) != 1 || !strings.Contains(string(compose), "./grafana/dashboards:"+prov.Providers[0].Options.Path+":ro") {
		t.Errorf("the dashboard provider's path is not where docker-compose.yml mounts deploy/grafana/dashboards")
	}
	var ds struct {
		Datasources []struct{ Type, URL string } `yaml:"datasources"`
	}
	readYAML(t, "../../deploy/grafana/provisioning/datasources/prometheus.yaml", &ds)
	var prom struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "../../deploy/prometheus/prometheus.yml", &prom)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || len(prom.ScrapeConfigs) != 3 {
		t.Errorf("provisioning: %+v; prometheus jobs: %+v", ds, prom)
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// pongAPI invokes a local backend, so backend timings are recorded; its
// plan allows two calls a minute, so a third is a rate-limit rejection.
const pongAPI = `swagger: '2.0'
info: {title: Pong, x-ibm-name: pong, version: 1.0.0}
basePath: /pong
securityDefinitions:
  clientId: {type: apiKey, in: header, name: X-IBM-Client-Id, x-key-type: client_id}
security: [{clientId: []}]
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - invoke: {version: 2.0.0, target-url: 'BACKEND/'}
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`

const pongProduct = `product: 1.0.0
info: {name: pong-product, title: Pong, version: 1.0.0}
apis:
  pong: {$ref: hello_1.0.0.yaml}
plans:
  limited:
    title: Limited
    rate-limits:
      default: {value: 2/1minute, hard-limit: true}
`

// Every metric a dashboard queries is exported by a real manager, gateway
// or probe once they have seen traffic: a dashboard can never point at a
// metric that does not exist.
func TestDashboardMetricsAreExported(t *testing.T) {
	uses := dashboardMetrics(t)
	if len(uses) == 0 {
		t.Fatal("no metric names found in the dashboards")
	}

	u := startUp(t, "--admin-listen", "127.0.0.1:0") // the last --admin-listen wins
	mgr, gw, mustREST := u.mgr, u.gw, u.must
	line, _ := u.proc.waitLine(t, 0, adminListening)
	admin := adminListening.FindStringSubmatch(line)[1]

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("pong")) }))
	t.Cleanup(backend.Close)
	mustREST("POST", "/api/orgs", "application/json", []byte(`{"name":"acme"}`), 201)
	ct, form := publishForm(t, pongProduct, strings.Replace(pongAPI, "BACKEND", backend.URL, 1))
	mustREST("POST", "/api/catalogs/acme/sandbox/publish", ct, form, 201)
	mustREST("POST", "/api/catalogs/acme/sandbox/consumer-orgs", "application/json", []byte(`{"name":"partners"}`), 201)
	app := mustREST("POST", "/api/consumer-orgs/acme/sandbox/partners/apps", "application/json", []byte(`{"name":"mobile"}`), 201)
	mustREST("POST", "/api/apps/acme/sandbox/partners/mobile/subscriptions", "application/json",
		[]byte(`{"product":"pong-product:1.0.0","plan":"limited"}`), 201)

	// Calls: served (through the backend), then refused by the plan limit.
	url := gw + "/acme/sandbox/pong/"
	creds := map[string]string{"X-IBM-Client-Id": app["client_id"].(string)}
	waitCall(t, url, creds, 200)
	limited := false
	for i := 0; i < 5 && !limited; i++ {
		limited = callWith(t, url, creds) == 429
	}
	if !limited {
		t.Fatal("the plan's limit of 2 calls a minute never refused a call")
	}

	// A probe with a TLS endpoint, so certificate metrics exist too.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	cfg := filepath.Join(t.TempDir(), "probe.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`interval: 1h
checks:
  - {name: pong, url: '%s', headers: {X-IBM-Client-Id: nobody}, expect_status: [401]}
  - {name: tls, url: '%s/', tls: {insecure_skip_verify: true}, body_not_match: error}
`, url, tlsSrv.URL)), 0o600)
	pr := start(t, "probe", "--config", cfg, "--listen", "127.0.0.1:0")
	line, _ = pr.waitLine(t, 0, probeListening)
	probeURL := probeListening.FindStringSubmatch(line)[1]

	endpoints := []string{mgr + "/metrics", admin + "/metrics", probeURL + "/metrics"}
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		families := map[string]*dto.MetricFamily{}
		for _, e := range endpoints {
			for name, mf := range scrape(t, e) {
				families[name] = mf
			}
		}
		missing = missing[:0]
		for name := range uses {
			if !exported(families, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling scrapes with a deadline: a probe round may still run
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("%s is not exported by %v; used in:\n  %s", name, endpoints, strings.Join(uses[name], "\n  "))
	}
	t.Logf("%d metric names in the dashboards, %d missing", len(uses), len(missing))
}

// exported reports whether a scrape has name: a family, or the _bucket,
// _sum or _count series of a histogram or summary family.
func exported(families map[string]*dto.MetricFamily, name string) bool {
	if mf, ok := families[name]; ok && len(mf.GetMetric()) > 0 {
		return true
	}
	for suffix, types := range map[string][]dto.MetricType{
		"_bucket": {dto.MetricType_HISTOGRAM},
		"_sum":    {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
		"_count":  {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
	} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf, ok := families[base]; ok && slices.Contains(types, mf.GetType()) && len(mf.GetMetric()) > 0 {
				return true
			}
		}
	}
	return false
}
