package gateway

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/assembly"
)

// callInfo collects what analytics reports about one call while it runs.
type callInfo struct {
	start       time.Time
	txid        string
	route       *route
	client      *client
	plan        *plan
	err         *assembly.Error
	backend     assembly.BackendCall
	rateLimited bool
}

// event builds the analytics record of a finished call. received is what
// was read of the body; a body nobody read counts by its declared length.
func (ci *callInfo) event(r *http.Request, rec *recorder, received int64, cfg *Config) *analytics.Event {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(ci.start)
	e := &analytics.Event{
		Datetime: ci.start.UTC(), TransactionID: ci.txid, GlobalTransactionID: ci.txid,
		RequestMethod: r.Method, URIPath: r.URL.Path, QueryString: r.URL.RawQuery, RequestProto: r.Proto,
		UserAgent: r.UserAgent(), Host: r.Host,
		Status: status, StatusCode: strconv.Itoa(status) + " " + http.StatusText(status),
		Duration: d, TimeToServeRequest: d.Milliseconds(),
		BytesReceived: max(received, r.ContentLength), BytesSent: rec.bytes, RateLimited: ci.rateLimited,
		GatewayType: "portico",
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.ClientIP = host
	}
	if cfg != nil {
		e.OrgName, e.OrgID, e.CatalogName = cfg.Org, cfg.OrgID, cfg.Catalog
	}
	if rt := ci.route; rt != nil {
		e.OrgName, e.OrgID, e.CatalogName = rt.cat.org, rt.cat.orgID, rt.cat.name
		info := rt.api.Info
		e.APIName, e.APIVersion, e.APIRef = info.Name, info.Version, info.Name+":"+info.Version
		e.OperationID, e.OperationPath = rt.op.ID, rt.op.Path
	}
	if c := ci.client; c != nil {
		e.ClientID, e.AppID, e.AppName = c.cred.ClientID, c.app.ID, c.app.Name
		e.DeveloperOrgID, e.DevOrgName = c.app.Org.ID, c.app.Org.Name
	}
	if p := ci.plan; p != nil {
		e.ProductName, e.ProductVersion, e.PlanID, e.PlanName = p.product.Name, p.product.Version, p.key, p.def.Name
	}
	if ci.err != nil {
		e.ErrorName, e.ErrorMessage = ci.err.Name, ci.err.Message
	}
	if b := ci.backend; b.Status != 0 {
		e.BackendURL, e.BackendMethod, e.BackendStatusCode = b.URL, b.Method, b.Status
		e.BackendDuration, e.BackendTimeToServe = b.Duration, b.Duration.Milliseconds()
	}
	return e
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingReader counts the request bytes read.
type countingReader struct {
	io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}
