package policy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/xmlbody"
	"go.yaml.in/yaml/v3"
)

// xsltDoc is an API whose assembly is one xslt policy with the given
// settings and stylesheet (indented under source: |).
func xsltDoc(settings, stylesheet string) string {
	var b strings.Builder
	b.WriteString("execute:\n- xslt:\n    version: 2.0.0\n")
	for _, line := range strings.Split(strings.Trim(settings, "\n"), "\n") {
		if line != "" {
			b.WriteString("    " + line + "\n")
		}
	}
	b.WriteString("    source: |\n")
	for _, line := range strings.Split(strings.Trim(stylesheet, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return xvDoc(apidef.GatewayAPI, b.String())
}

// renameXSL is the identity transform of the corpus's DXXPOC example,
// renaming one element.
const renameXSL = `<?xml version="1.0" ?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="@* | node()">
    <xsl:copy><xsl:apply-templates select="@* | node()"/></xsl:copy>
  </xsl:template>
  <xsl:template match="old">
    <xsl:element name="new"><xsl:apply-templates select="@* | node()"/></xsl:element>
  </xsl:template>
</xsl:stylesheet>`

func TestXSLTOnXMLBody(t *testing.T) {
	doc := xsltDoc("input: true", renameXSL)
	c := xvOK(t, doc, "POST", "/xv/echo", `<a x="1"><old>v</old><keep/></a>`, "Content-Type", "text/xml")
	if got := bodyText(t, c); got != `<a x="1"><new>v</new><keep/></a>` {
		t.Errorf("body = %s", got)
	}
	if ct := c.Message.Headers.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("an XML Content-Type was replaced: %q", ct)
	}
	// A body that parse stored as a document is transformed too.
	a, api := xvMust(t, doc)
	c = xvContext(api, "POST", "/xv/echo", "")
	parsed, _ := xmlbody.Parse([]byte(`<old/>`))
	c.Message.Body = assembly.ValueBody(parsed)
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	if got := bodyText(t, c); got != `<new/>` {
		t.Errorf("body = %s", got)
	}
}

func TestXSLTNoInputReadsAndSetsVariables(t *testing.T) {
	c := xvOK(t, xsltDoc("input: false", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:apigw="http://www.ibm.com/xmlns/datapower/2017/11/apigateway"
    extension-element-prefixes="apigw" exclude-result-prefixes="apigw">
  <xsl:template match="/">
    <xsl:variable name="id" select="apigw:get-variable('request.headers.x-id')"/>
    <apigw:set-variable name="'message.headers.x-seen'" value="concat('id-', $id)"/>
    <apigw:set-variable name="'my.count'" value="count(/*) + 2"/>
    <reply verb="{apigw:get-variable('request.verb')}" api="{apigw:get-variable('api.name')}">
      <xsl:value-of select="apigw:get-variable('missing.variable')"/>
    </reply>
  </xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `{"not": "xml"}`, "X-Id", "42", "Content-Type", "application/json")
	if got := bodyText(t, c); got != `<reply verb="POST" api="xml-policy-test"/>` {
		t.Errorf("body = %s", got)
	}
	if got := c.Message.Headers.Get("X-Seen"); got != "id-42" {
		t.Errorf("x-seen = %q", got)
	}
	if got, _ := c.Var("my.count"); got != float64(2) {
		t.Errorf("my.count = %#v", got)
	}
	if ct := c.Message.Headers.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// A stylesheet that outputs nothing runs for its side effects: the body
// stays as it was.
func TestXSLTEmptyResultKeepsBody(t *testing.T) {
	c := xvOK(t, xsltDoc("input: false\nserialize-output: false", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:apigw="http://www.ibm.com/xmlns/datapower/2017/11/apigateway" extension-element-prefixes="apigw">
  <xsl:output method="xml" indent="yes" omit-xml-declaration="yes"/>
  <xsl:template match="/">
    <xsl:variable name="org" select="apigw:get-variable('api.name')"/>
    <apigw:set-variable name="'currentCertSerial'" value="$org"/>
  </xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `{"keep": true}`)
	if got := bodyText(t, c); got != `{"keep": true}` {
		t.Errorf("body = %s", got)
	}
	if got, _ := c.Var("currentCertSerial"); got != "xml-policy-test" {
		t.Errorf("currentCertSerial = %#v", got)
	}
}

// v5 stylesheets import apim.custom.xsl for the context functions.
func TestXSLTv5Apim(t *testing.T) {
	c := xvOK(t, xsltDoc("input: true", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:apim="http://www.ibm.com/apimanagement" extension-element-prefixes="apim" exclude-result-prefixes="apim">
  <xsl:import href="local:///isp/policy/apim.custom.xsl"/>
  <xsl:template match="/">
    <xsl:call-template name="apim:setVariable">
      <xsl:with-param name="varName" select="'message.headers.x-total'"/>
      <xsl:with-param name="value" select="sum(/order/item/@qty)"/>
    </xsl:call-template>
    <xsl:variable name="p" select="apim:policyProperties()"/>
    <total path="{apim:getVariable('request.path')}" prop="{$p/a_property}"><xsl:copy-of select="/order/item[1]"/></total>
  </xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `<order><item qty="2"/><item qty="3"/></order>`)
	if got := bodyText(t, c); got != `<total path="/xv/echo" prop=""><item qty="2"/></total>` {
		t.Errorf("body = %s", got)
	}
	if got := c.Message.Headers.Get("X-Total"); got != "5" {
		t.Errorf("x-total = %q", got)
	}
}

func TestXSLTSerializeOutput(t *testing.T) {
	c := xvOK(t, xsltDoc("input: true\nserialize-output: true", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:template match="/">total: <xsl:value-of select="sum(//n)"/></xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `<l><n>1</n><n>2.5</n></l>`, "Content-Type", "application/xml")
	if got := bodyText(t, c); got != "total: 3.5" {
		t.Errorf("body = %q", got)
	}
	if ct := c.Message.Headers.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type = %q", ct)
	}
	// Text output kept as a tree is its text.
	c = xvOK(t, xsltDoc("input: true", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:template match="/"><xsl:value-of select="count(//n)"/></xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `<l><n/><n/></l>`)
	if got := bodyText(t, c); got != "2" {
		t.Errorf("body = %q", got)
	}
	// XML serialised as xsl:output says.
	c = xvOK(t, xsltDoc("input: true\nserialize-output: true", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="xml" omit-xml-declaration="no" encoding="UTF-8"/>
  <xsl:template match="/"><r><xsl:copy-of select="//n"/></r></xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", `<l><n/></l>`)
	if got := bodyText(t, c); !strings.HasPrefix(got, `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.HasSuffix(got, `<r><n/></r>`) {
		t.Errorf("body = %q", got)
	}
}

func TestXSLTRunErrors(t *testing.T) {
	terminate := xsltDoc("input: true", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/"><xsl:message terminate="yes">no way</xsl:message></xsl:template>
</xsl:stylesheet>`)
	e := xvFail(t, terminate, "POST", "/xv/echo", `<a/>`)
	if e.Name != assembly.TransformError || e.StatusCode() != 500 || !strings.Contains(e.Message, "no way") || e.Policy != "xslt" {
		t.Errorf("terminate: %+v", e)
	}
	e = xvFail(t, xsltDoc("input: true", renameXSL), "POST", "/xv/echo", `<a><b></a>`, "Content-Type", "application/xml")
	if e.Name != assembly.TransformError || e.StatusCode() != 400 || !strings.Contains(e.Message, "xslt: message.body is not well-formed XML") {
		t.Errorf("bad XML: %+v", e)
	}
	e = xvFail(t, xsltDoc("input: true", renameXSL), "POST", "/xv/echo", `{"a": 1}`, "Content-Type", "application/json")
	if e.Name != assembly.TransformError || !strings.Contains(e.Message, "convert it with json-to-xml first") {
		t.Errorf("JSON body: %+v", e)
	}
	// A DataPower extension fails when reached, and says why.
	dp := xsltDoc("input: false", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:dp="http://www.datapower.com/extensions" extension-element-prefixes="dp">
  <xsl:template match="/"><r><xsl:value-of select="dp:variable('var://service/x')"/></r></xsl:template>
</xsl:stylesheet>`)
	_, _, ps := xvCompile(t, dp, "")
	if len(ps) != 1 || !ps[0].Warn || !strings.Contains(ps[0].Msg, "dp:variable()") {
		t.Fatalf("problems = %v", ps)
	}
	a, api, _ := xvCompile(t, dp, "")
	err := a.Run(xvContext(api, "POST", "/xv/echo", ""))
	if e := asXVError(t, err); e.Name != assembly.TransformError || !strings.Contains(e.Message, "DataPower extension") {
		t.Errorf("dp: %v", err)
	}
	// Setting a read-only variable is the context's error.
	e = xvFail(t, xsltDoc("input: false", `
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:apigw="http://www.ibm.com/xmlns/datapower/2017/11/apigateway" extension-element-prefixes="apigw">
  <xsl:template match="/"><apigw:set-variable name="'request.verb'" value="'PUT'"/></xsl:template>
</xsl:stylesheet>`), "POST", "/xv/echo", "")
	if e.Name != assembly.PropertyError || !strings.Contains(e.Message, "read-only") {
		t.Errorf("read-only: %+v", e)
	}
}

func TestXSLTProblems(t *testing.T) {
	cases := []struct{ name, settings, stylesheet, at, msg string }{
		{"not XML", "", `<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">`, "source: |", "not well-formed XML"},
		{"not XSLT", "", `<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:bogus/></xsl:stylesheet>`,
			"source: |", "does not compile"},
		{"import", "", `<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:import href="file:///etc/common.xsl"/></xsl:stylesheet>`,
			"source: |", "file:///etc/common.xsl cannot be imported"},
		{"input", "input: maybe", renameXSL, "input: maybe", "true or false"},
		{"serialize-output", "serialize-output: 2", renameXSL, "serialize-output: 2", "true or false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xvProblem(t, xsltDoc(tc.settings, tc.stylesheet), tc.at, tc.msg, false)
		})
	}
	xvProblem(t, xvDoc(apidef.GatewayAPI, "execute:\n- xslt:\n    version: 2.0.0\n    input: true\n"), "version: 2.0.0", "needs source", false)
}

// TestXSLTCorpus compiles every stylesheet of the corpus and runs each on
// an XML body: those that need no DataPower extension must succeed, the
// others must fail with a TransformError that says so.
func TestXSLTCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic)", dir)
	}
	ran := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil {
			continue
		}
		for _, src := range xsltSources(&root) {
			ran++
			name := filepath.Base(f)
			doc := xsltDoc("input: true", src)
			a, api, ps := xvCompile(t, doc, "")
			if errs := ps.Errors(); len(errs) > 0 {
				t.Errorf("%s: %v", name, errs)
				continue
			}
			err := a.Run(xvContext(api, "POST", "/xv/echo", `<a><new-property-1>x</new-property-1></a>`))
			if len(ps.Warnings()) == 0 && err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if len(ps.Warnings()) > 0 {
				if e := asXVError(t, err); e.Name != assembly.TransformError {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
	if ran == 0 {
		t.Fatal("no stylesheet in the corpus")
	}
	t.Logf("%d stylesheets", ran)
}

// xsltSources collects the source of every xslt policy in a YAML tree.
func xsltSources(n *yaml.Node) []string {
	var out []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != "xslt" || n.Content[i+1].Kind != yaml.MappingNode {
				continue
			}
			m := n.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				if m.Content[j].Value == "source" {
					out = append(out, m.Content[j+1].Value)
				}
			}
		}
	}
	for _, c := range n.Content {
		out = append(out, xsltSources(c)...)
	}
	return out
}

// TestXSLTHTTP transforms a back end's XML answer through the gateway.
func TestXSLTHTTP(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<catalog><book id="1"><title>Go</title></book><book id="2"><title>XML</title></book></catalog>`)
	}))
	defer backend.Close()
	doc := strings.Replace(xvDoc(apidef.GatewayAPI, `
execute:
- invoke:
    version: 2.0.0
    target-url: $(backend)
- xslt:
    version: 2.0.0
    input: true
    source: |
      <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
        <xsl:template match="/catalog">
          <titles count="{count(book)}"><xsl:for-each select="book"><t id="{@id}"><xsl:value-of select="title"/></t></xsl:for-each></titles>
        </xsl:template>
      </xsl:stylesheet>
`), "BACKEND", backend.URL, 1)
	srv := serveFiles(t, map[string]string{"api.yaml": doc})
	r := xvCall(t, srv, "GET", "/xv/orders", "")
	if r.Status != 200 || r.Body != `<titles count="2"><t id="1">Go</t><t id="2">XML</t></titles>` {
		t.Errorf("%d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func BenchmarkXSLT(b *testing.B) {
	a, api := xvMust(b, xsltDoc("input: true", renameXSL))
	for b.Loop() {
		c := xvContext(api, "POST", "/xv/echo", `<a x="1"><old>v</old><keep/></a>`)
		if err := a.Run(c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestXMLPoliciesConcurrent runs one compiled assembly of all four
// policies from many goroutines (run it with -race).
func TestXMLPoliciesConcurrent(t *testing.T) {
	a, api := xvMust(t, xvDoc(apidef.GatewayAPI, `
execute:
- validate:
    version: 2.0.0
    validate-against: body-param
- json-to-xml:
    version: 2.0.0
- xslt:
    version: 2.0.0
    input: true
    source: |
      <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
          xmlns:apigw="http://www.ibm.com/xmlns/datapower/2017/11/apigateway" extension-element-prefixes="apigw">
        <xsl:template match="/"><n id="{apigw:get-variable('request.headers.x-n')}"><xsl:value-of select="count(//items)"/></n></xsl:template>
      </xsl:stylesheet>
- xml-to-json:
    version: 2.0.0
    conversionType: apicv5
`))
	done := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			n := string(rune('a' + i))
			c := xvContext(api, "POST", "/xv/orders", goodOrder, "X-N", n)
			err := a.Run(c)
			if err == nil {
				if got, _ := c.Var("message.body.n.@id"); got != n {
					err = &assembly.Error{Name: "Mismatch", Message: "id " + n + " came out as " + assembly.Stringify(got)}
				}
			}
			done <- err
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
