// Package e2e runs the real portico binary as a user would.
package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portico-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "portico")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/portico")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.Stderr.WriteString("building portico failed: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running portico process whose log lines can be awaited.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startIn(t, "", args...)
}

// startIn runs portico in the folder dir ("" for the test's own).
func startIn(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, added: make(chan struct{}, 1), done: make(chan struct{})}
	go p.read(stderr)
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("portico log:\n%s", strings.Join(p.snapshot(), "\n"))
		}
	})
	return p
}

func (p *proc) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		select {
		case p.added <- struct{}{}:
		default:
		}
	}
}

func (p *proc) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits until a log line at or after index from matches re, and
// returns it with its index.
func (p *proc) waitLine(t *testing.T, from int, re *regexp.Regexp) (string, int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		lines := p.snapshot()
		for i := from; i < len(lines); i++ {
			if re.MatchString(lines[i]) {
				return lines[i], i
			}
		}
		select {
		case <-p.added:
		case <-p.done:
			t.Fatalf("portico exited before logging %s", re)
		case <-deadline:
			t.Fatalf("no log line matching %s within 15s", re)
		}
	}
}

var listening = regexp.MustCompile(`"gateway listening"(?: url=|.*"url":")(http://[^"\s]+)`)

// startGateway runs `portico gateway --bundle dir` on a free port.
func startGateway(t *testing.T, dir string) (*proc, string) {
	p := start(t, "gateway", "--bundle", dir, "--listen", "127.0.0.1:0")
	line, _ := p.waitLine(t, 0, listening)
	return p, listening.FindStringSubmatch(line)[1]
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestReadmeQuickstart runs the README's command and its curl.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The README shows the call and the answer; both must hold.
	want := `{"message":"Hello, Ada!","api":"quickstart"}`
	if !strings.Contains(string(readme), "curl 'http://127.0.0.1:8081/local/sandbox/quickstart/hello?name=Ada'") ||
		!strings.Contains(string(readme), want) {
		t.Fatal("README no longer shows the quickstart call and its answer")
	}
	_, base := startGateway(t, "../../examples/quickstart")
	code, body := get(t, base+"/local/sandbox/quickstart/hello?name=Ada")
	if code != 200 || body != want {
		t.Fatalf("got %d %s, want 200 %s", code, body, want)
	}
}

func TestReloadWithoutRestart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals and file watching differ on Windows")
	}
	dir := t.TempDir()
	copyDir(t, "../../examples/quickstart", dir)
	api := filepath.Join(dir, "hello_1.0.0.yaml")
	p, base := startGateway(t, dir)
	url := base + "/local/sandbox/quickstart/hello"
	if _, body := get(t, url); !strings.Contains(body, "Hello, world!") {
		t.Fatalf("before: %s", body)
	}
	_, mark := p.waitLine(t, 0, regexp.MustCompile(`configuration loaded.*version"?[=:]1\b`))

	edit(t, api, "value: world", "value: Portico")
	_, mark = p.waitLine(t, mark, regexp.MustCompile(`configuration loaded.*version"?[=:]2\b`))
	if _, body := get(t, url); !strings.Contains(body, "Hello, Portico!") {
		t.Fatalf("after an edit: %s", body)
	}

	edit(t, api, "      - operation-switch:", "      - operation-switch: [")
	line, _ := p.waitLine(t, mark, regexp.MustCompile(`configuration problem`))
	if !strings.Contains(line, api+":") {
		t.Errorf("the problem does not name file:line: %s", line)
	}
	p.waitLine(t, mark, regexp.MustCompile(`still serving the previous one`))
	if code, body := get(t, url); code != 200 || !strings.Contains(body, "Hello, Portico!") {
		t.Fatalf("after a broken edit: %d %s", code, body)
	}

	edit(t, api, "      - operation-switch: [", "      - operation-switch:")
	_, mark = p.waitLine(t, mark, regexp.MustCompile(`configuration loaded.*version"?[=:]3\b`))

	// SIGHUP reloads too.
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, mark, regexp.MustCompile(`configuration loaded.*version"?[=:]4\b`))
}

func edit(t *testing.T, file, old, repl string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644)
	}
}

func TestValidateExitStatus(t *testing.T) {
	out, err := exec.Command(binary, "validate", "../../examples").CombinedOutput()
	if err != nil {
		t.Fatalf("examples must validate: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("swagger: '2.0'\ninfo: {title: t, version: 1.0.0}\nx-ibm-configuration:\n  assembly:\n    execute:\n      - teleport: {version: 1.0.0}\npaths: {}\n"), 0o644)
	out, err = exec.Command(binary, "validate", bad).CombinedOutput()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), bad+":6:9:") || !strings.Contains(string(out), `"teleport"`) {
		t.Errorf("the problem must name file:line:column and the policy:\n%s", out)
	}
	if err := exec.Command(binary, "validate", "--no-such-flag", bad).Run(); !errorsAs(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("a wrong flag must exit 2, got %v", err)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
