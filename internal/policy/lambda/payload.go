package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/portico-api/portico/internal/assembly"
)

// bodyEvent is the event of the body payload mode: the message body as it
// is when it is JSON (Lambda takes only JSON events); any other text is sent
// as a JSON string, so a plain-text body still reaches the function. An
// empty body sends no payload, which Lambda treats as an empty event.
func bodyEvent(m *assembly.Message) ([]byte, error) {
	data, err := m.Body.Bytes()
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || json.Valid(data) {
		return data, nil
	}
	return json.Marshal(string(data))
}

// resultMessage makes the function's result (always JSON, or nothing for
// Event and DryRun calls) the message, with Lambda's status: 200, 202 or
// 204.
func resultMessage(out *lambdasvc.InvokeOutput) *assembly.Message {
	h := http.Header{}
	if len(out.Payload) > 0 {
		h.Set("Content-Type", "application/json")
	}
	status := int(out.StatusCode)
	if status == 0 {
		status = http.StatusOK
	}
	return &assembly.Message{Headers: h, Body: assembly.BytesBody(out.Payload), Status: status}
}

// proxyRequest is Amazon API Gateway's Lambda proxy event, payload format
// 1.0 (aws-lambda-go's events.APIGatewayProxyRequest). Absent maps are
// null, as API Gateway sends them.
type proxyRequest struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  proxyContext        `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type proxyContext struct {
	ResourceID       string        `json:"resourceId"`
	Stage            string        `json:"stage"`
	RequestID        string        `json:"requestId"`
	ResourcePath     string        `json:"resourcePath"`
	HTTPMethod       string        `json:"httpMethod"`
	APIID            string        `json:"apiId"`
	Path             string        `json:"path"`
	Protocol         string        `json:"protocol"`
	RequestTimeEpoch int64         `json:"requestTimeEpoch"`
	Identity         proxyIdentity `json:"identity"`
}

type proxyIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// connectionHeaders belong to one hop and are not shown to the function.
var connectionHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true}

// proxyEvent builds the proxy event from the request (method, path, query,
// path parameters) and the message (headers and body, which earlier
// policies may have changed). The catalog is the stage, the operation's
// path template the resource.
func proxyEvent(c *assembly.Context) ([]byte, error) {
	body, isB64, err := eventBody(c.Message)
	if err != nil {
		return nil, err
	}
	req := c.Request
	ev := proxyRequest{
		Path: apiPath(c), HTTPMethod: req.Method, Body: body, IsBase64Encoded: isB64,
		RequestContext: proxyContext{RequestID: c.TransactionID, HTTPMethod: req.Method, Path: req.URL.Path,
			Protocol: "HTTP/1.1", RequestTimeEpoch: c.Start.UnixMilli(),
			Identity: proxyIdentity{SourceIP: remoteIP(req.RemoteAddr), UserAgent: req.Headers.Get("User-Agent")}},
	}
	ev.Resource = ev.Path
	if op := c.Operation; op != nil {
		ev.Resource, ev.RequestContext.ResourcePath, ev.RequestContext.ResourceID = op.Path, op.Path, op.ID
	}
	if c.API != nil {
		ev.RequestContext.Stage, ev.RequestContext.APIID = c.API.Catalog, c.API.Name
	}
	ev.Headers, ev.MultiValueHeaders = headerMaps(c.Message.Headers, req.Host)
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = valueMaps(req.Query())
	ev.PathParameters = pathParams(req.Params)
	return json.Marshal(ev)
}

// eventBody is the body as the event carries it: text when it is UTF-8,
// base64 otherwise; null when there is none.
func eventBody(m *assembly.Message) (*string, bool, error) {
	data, err := m.Body.Bytes()
	if err != nil || len(data) == 0 {
		return nil, false, err
	}
	if utf8.Valid(data) {
		s := string(data)
		return &s, false, nil
	}
	s := base64.StdEncoding.EncodeToString(data)
	return &s, true, nil
}

// apiPath is the request path below the API's base path, as API Gateway's
// path is below its stage.
func apiPath(c *assembly.Context) string {
	p := c.Request.URL.Path
	if c.API == nil {
		return p
	}
	prefix := "/" + c.API.Org + "/" + c.API.Catalog + strings.TrimSuffix(c.API.BasePath, "/")
	if rest, ok := strings.CutPrefix(p, prefix); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			rest = "/"
		}
		return rest
	}
	return p
}

// headerMaps returns the single-value (last value wins, as API Gateway
// does) and multi-value header maps.
func headerMaps(h http.Header, host string) (map[string]string, map[string][]string) {
	single, multi := map[string]string{}, map[string][]string{}
	for k, vs := range h {
		if connectionHeaders[k] || len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	if host != "" {
		single["Host"], multi["Host"] = host, []string{host}
	}
	if len(single) == 0 {
		return nil, nil
	}
	return single, multi
}

func valueMaps(q map[string][]string) (map[string]string, map[string][]string) {
	if len(q) == 0 {
		return nil, nil
	}
	single, multi := make(map[string]string, len(q)), make(map[string][]string, len(q))
	for k, vs := range q {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = append([]string(nil), vs...)
	}
	return single, multi
}

func pathParams(ps []assembly.Param) map[string]string {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		out[p.Name] = p.Value
	}
	return out
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// proxyResponse is what a proxy function answers (payload format 1.0).
// Header values may be any scalar; statusCode a number or numeric text.
type proxyResponse struct {
	StatusCode        json.RawMessage  `json:"statusCode"`
	Headers           map[string]any   `json:"headers"`
	MultiValueHeaders map[string][]any `json:"multiValueHeaders"`
	Body              *string          `json:"body"`
	IsBase64Encoded   bool             `json:"isBase64Encoded"`
}

// proxyResult maps the function's proxy answer to the response. Anything
// else is a ResponseError (502), as API Gateway's "Malformed Lambda proxy
// response".
func proxyResult(t *target, payload []byte) (*assembly.Message, error) {
	var r proxyResponse
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, malformed(t, fmt.Sprintf("it is not a JSON object with a string body (%v)", err))
	}
	status, ok := statusOf(r.StatusCode)
	if !ok {
		return nil, malformed(t, "statusCode is missing or not an HTTP status code")
	}
	body := []byte(nil)
	if r.Body != nil {
		body = []byte(*r.Body)
	}
	if r.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			return nil, malformed(t, "isBase64Encoded is true but body is not base64")
		}
		body = dec
	}
	h := responseHeaders(r)
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json") // API Gateway's default
	}
	return &assembly.Message{Headers: h, Body: assembly.BytesBody(body), Status: status}, nil
}

func malformed(t *target, why string) error {
	return newError(ResponseError, http.StatusBadGateway, nil,
		"Lambda function %s did not answer with an API Gateway proxy response {statusCode, headers, body}: %s", t, why)
}

func statusOf(raw json.RawMessage) (int, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 599 {
		return 0, false
	}
	return code, true
}

// responseHeaders merges headers and multiValueHeaders; the multi-value
// entry wins for a name in both, as in API Gateway.
func responseHeaders(r proxyResponse) http.Header {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, assembly.Stringify(v))
	}
	for k, vs := range r.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, assembly.Stringify(v))
		}
	}
	for k := range connectionHeaders {
		h.Del(k)
	}
	h.Del("Content-Length")
	return h
}
