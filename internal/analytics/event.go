// Package analytics describes one API call the way API Connect's analytics
// does, and moves such events off the request path to sinks.
package analytics

import "time"

// Event is one API call, with API Connect's analytics field names (see its
// "API event record fields"). Empty fields are left out of the JSON.
type Event struct {
	Datetime            time.Time `json:"datetime"`
	TransactionID       string    `json:"transaction_id"`
	GlobalTransactionID string    `json:"global_transaction_id"`

	OrgID       string `json:"org_id,omitempty"`
	OrgName     string `json:"org_name"`
	CatalogName string `json:"catalog_name"`
	GatewayType string `json:"gateway_type,omitempty"`
	Host        string `json:"host,omitempty"`

	APIName        string `json:"api_name,omitempty"`
	APIVersion     string `json:"api_version,omitempty"`
	APIRef         string `json:"api_ref,omitempty"`
	OperationID    string `json:"operation_id,omitempty"`
	OperationPath  string `json:"operation_path,omitempty"`
	RequestMethod  string `json:"request_method"`
	URIPath        string `json:"uri_path"`
	QueryString    string `json:"query_string,omitempty"`
	RequestProto   string `json:"request_protocol,omitempty"`
	ClientIP       string `json:"client_ip,omitempty"`
	UserAgent      string `json:"http_user_agent,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
	AppID          string `json:"app_id,omitempty"`
	AppName        string `json:"app_name,omitempty"`
	DeveloperOrgID string `json:"developer_org_id,omitempty"`
	DevOrgName     string `json:"developer_org_name,omitempty"`

	ProductName    string `json:"product_name,omitempty"`
	ProductVersion string `json:"product_version,omitempty"`
	PlanID         string `json:"plan_id,omitempty"`
	PlanName       string `json:"plan_name,omitempty"`

	// StatusCode is status and reason, "200 OK", as API Connect writes it;
	// Status is the number, for filters and metrics.
	StatusCode         string `json:"status_code"`
	Status             int    `json:"-"`
	TimeToServeRequest int64  `json:"time_to_serve_request"` // milliseconds
	BytesReceived      int64  `json:"bytes_received"`
	BytesSent          int64  `json:"bytes_sent"`
	ErrorName          string `json:"error_name,omitempty"`
	ErrorMessage       string `json:"error_message,omitempty"`
	RateLimited        bool   `json:"rate_limited,omitempty"`

	BackendURL         string        `json:"backend_url,omitempty"`
	BackendMethod      string        `json:"backend_method,omitempty"`
	BackendStatusCode  int           `json:"backend_status_code,omitempty"`
	BackendTimeToServe int64         `json:"backend_time_to_serve_request,omitempty"` // milliseconds
	Duration           time.Duration `json:"-"`                                       // exact, for histograms
	BackendDuration    time.Duration `json:"-"`
}

// Observer receives every finished call. It must not block: the gateway
// calls it on the request's goroutine.
type Observer interface {
	Observe(e *Event)
}

// Observers fans an event out to several observers.
type Observers []Observer

// Observe implements Observer.
func (os Observers) Observe(e *Event) {
	for _, o := range os {
		o.Observe(e)
	}
}
