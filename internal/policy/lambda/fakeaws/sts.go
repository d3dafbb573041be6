package fakeaws

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// STSHandler serves STS's query API: POST / with a form body; only
// AssumeRole is implemented. Answers are XML, as STS sends them.
func (a *Account) STSHandler() http.Handler {
	return http.HandlerFunc(a.serveSTS)
}

func (a *Account) serveSTS(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/" {
		stsError(w, http.StatusBadRequest, "InvalidAction", "STS takes POST / with a form body")
		return
	}
	caller, f := a.authenticate(r, body, "sts")
	if f != nil {
		code := "SignatureDoesNotMatch"
		switch {
		case f.unknownKey:
			code = "InvalidClientTokenId"
		case f.expired:
			code = "ExpiredToken"
		}
		stsError(w, http.StatusForbidden, code, f.msg)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		stsError(w, http.StatusBadRequest, "InvalidAction", "only Action=AssumeRole&Version=2011-06-15 is implemented")
		return
	}
	a.assumeRole(w, caller, form)
}

func (a *Account) assumeRole(w http.ResponseWriter, caller Identity, form url.Values) {
	call := AssumeRoleCall{Caller: caller, RoleARN: form.Get("RoleArn"), ExternalID: form.Get("ExternalId"),
		SessionName: form.Get("RoleSessionName"), DurationSeconds: form.Get("DurationSeconds")}
	a.mu.Lock()
	a.assumeCalls = append(a.assumeCalls, call)
	role, known := a.roles[call.RoleARN]
	a.mu.Unlock()
	if d, err := strconv.Atoi(call.DurationSeconds); call.DurationSeconds != "" && (err != nil || d < 900 || d > 43200) {
		stsError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint")
		return
	}
	if len(call.SessionName) < 2 || len(call.SessionName) > 64 {
		stsError(w, http.StatusBadRequest, "ValidationError", "RoleSessionName must be 2 to 64 characters")
		return
	}
	if !known || !trusts(role, caller) || role.ExternalID != call.ExternalID {
		stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf(
			"User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, call.RoleARN))
		return
	}
	s := a.issue(call.RoleARN, call.SessionName)
	writeXML(w, http.StatusOK, assumeRoleResponse{
		Xmlns: stsNamespace,
		Result: assumeRoleResult{
			Credentials: stsCredentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey,
				SessionToken: s.SessionToken, Expiration: s.Expires.Format(time.RFC3339)},
			AssumedRoleUser: assumedRoleUser{Arn: s.ARN, AssumedRoleID: "AROAFAKE:" + call.SessionName},
		},
		RequestID: randomHex(8),
	})
}

func trusts(r Role, caller Identity) bool {
	if len(r.TrustedARNs) == 0 {
		return caller.SessionToken == "" // any user of the account
	}
	return contains(r.TrustedARNs, caller.ARN) || (caller.RoleARN != "" && contains(r.TrustedARNs, caller.RoleARN))
}

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type assumeRoleResponse struct {
	XMLName   xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns     string           `xml:"xmlns,attr"`
	Result    assumeRoleResult `xml:"AssumeRoleResult"`
	RequestID string           `xml:"ResponseMetadata>RequestId"`
}

type assumeRoleResult struct {
	Credentials     stsCredentials  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type stsErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// stsError answers in the query protocol's error shape.
func stsError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, status, stsErrorResponse{Xmlns: stsNamespace, Type: typ, Code: code, Message: msg, RequestID: randomHex(8)})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(data)
}
