package fakeaws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const invokePrefix, invokeSuffix = "/2015-03-31/functions/", "/invocations"

// LambdaHandler serves Lambda's Invoke: POST
// /2015-03-31/functions/{name}/invocations[?Qualifier=…], with
// X-Amz-Invocation-Type. Errors carry X-Amzn-ErrorType and a JSON body, as
// Lambda sends them; a function error is a 200 with X-Amz-Function-Error.
func (a *Account) LambdaHandler() http.Handler {
	return http.HandlerFunc(a.serveLambda)
}

func (a *Account) serveLambda(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rawPath, _, _ := strings.Cut(r.RequestURI, "?")
	rawName, ok := strings.CutPrefix(rawPath, invokePrefix)
	rawName, ok2 := strings.CutSuffix(rawName, invokeSuffix)
	if err != nil || r.Method != http.MethodPost || !ok || !ok2 || strings.Contains(rawName, "/") {
		lambdaError(w, http.StatusNotFound, "UnknownOperationException", "only Invoke is implemented")
		return
	}
	caller, f := a.authenticate(r, body, "lambda")
	if f != nil {
		code := "InvalidSignatureException"
		switch {
		case f.unknownKey:
			code = "UnrecognizedClientException"
		case f.expired:
			code = "ExpiredTokenException"
		}
		lambdaError(w, http.StatusForbidden, code, f.msg)
		return
	}
	name, err := url.PathUnescape(rawName)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "bad function name")
		return
	}
	a.invoke(w, r, caller, name, body)
}

func (a *Account) invoke(w http.ResponseWriter, r *http.Request, caller Identity, name string, payload []byte) {
	fn, qualifier := splitFunction(name, r.URL.Query().Get("Qualifier"))
	inv := Invocation{Caller: caller, Function: fn, Qualifier: qualifier, Payload: payload, Header: r.Header.Clone(),
		InvocationType: r.Header.Get("X-Amz-Invocation-Type")}
	if inv.InvocationType == "" {
		inv.InvocationType = "RequestResponse"
	}
	a.mu.Lock()
	a.invocations = append(a.invocations, inv)
	f, known := a.functions[fn]
	a.mu.Unlock()
	resource := a.FunctionARN(fn)
	if qualifier != "" {
		resource += ":" + qualifier
	}
	switch {
	case !known || (qualifier != "" && qualifier != "$LATEST" && !contains(f.Qualifiers, qualifier)):
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+resource)
		return
	case len(f.Callers) > 0 && !contains(f.Callers, caller.ARN) && !contains(f.Callers, caller.RoleARN):
		lambdaError(w, http.StatusForbidden, "AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: "+
			"lambda:InvokeFunction on resource: %s because no identity-based policy allows the lambda:InvokeFunction action",
			caller.ARN, resource))
		return
	case f.Throttled:
		w.Header().Set("Retry-After", "1")
		lambdaError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		return
	case len(payload) > 0 && !json.Valid(payload):
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	a.run(w, f, inv)
}

// run answers as Lambda does for each invocation type.
func (a *Account) run(w http.ResponseWriter, f Function, inv Invocation) {
	version := "$LATEST"
	if inv.Qualifier != "" {
		version = inv.Qualifier
	}
	w.Header().Set("X-Amzn-RequestId", randomHex(16))
	w.Header().Set("X-Amz-Executed-Version", version)
	switch inv.InvocationType {
	case "Event":
		w.WriteHeader(http.StatusAccepted)
		return
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if len(inv.Payload) == 0 {
		inv.Payload = []byte("{}") // Lambda's event when no payload is sent
	}
	result, failure := inv.Payload, (*Failure)(nil)
	if f.Handler != nil {
		result, failure = f.Handler(inv)
	}
	if failure != nil {
		kind := "Handled"
		if failure.Unhandled {
			kind = "Unhandled"
		}
		w.Header().Set("X-Amz-Function-Error", kind)
		result, _ = json.Marshal(map[string]any{"errorType": failure.Type, "errorMessage": failure.Message,
			"trace": []string{}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(result)
}

// splitFunction takes a name, name:qualifier or (partial) ARN apart.
func splitFunction(name, qualifier string) (string, string) {
	if i := strings.Index(name, "function:"); i >= 0 {
		name = name[i+len("function:"):]
	}
	if fn, q, ok := strings.Cut(name, ":"); ok {
		name = fn
		if qualifier == "" {
			qualifier = q
		}
	}
	return name, qualifier
}

// lambdaError answers in Lambda's REST-JSON error shape. The code travels
// in X-Amzn-ErrorType, which is where the SDK reads it.
func lambdaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": msg})
}
