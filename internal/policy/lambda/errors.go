package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/portico-api/portico/internal/assembly"
)

// Error names the policy raises. Each is its own name so that a catch
// clause can handle one cause (a throttled function, say) and let the
// others through. Failures to reach AWS at all are ConnectionError, as for
// invoke, so existing catch clauses keep working.
const (
	// FunctionError: the function ran and failed (X-Amz-Function-Error).
	FunctionError = "LambdaFunctionError"
	// NotFoundError: no such function, or no such version or alias.
	NotFoundError = "LambdaNotFoundError"
	// ThrottledError: Lambda refused the call for lack of concurrency.
	ThrottledError = "LambdaThrottledError"
	// AccessDeniedError: Lambda refused the caller (IAM deny, bad key).
	AccessDeniedError = "LambdaAccessDeniedError"
	// AssumeRoleError: STS refused to let the gateway assume the role.
	AssumeRoleError = "LambdaAssumeRoleError"
	// CredentialsError: the gateway has no usable AWS credentials.
	CredentialsError = "LambdaCredentialsError"
	// ResponseError: the function's answer is not a valid proxy response.
	ResponseError = "LambdaResponseError"
	// InvokeError: any other refusal by Lambda (bad payload, too large,
	// service error).
	InvokeError = "LambdaError"
)

// maxDetail bounds how much of a remote message is repeated in an error.
const maxDetail = 512

// newError makes a named policy error.
func newError(name string, status int, cause error, format string, args ...any) *assembly.Error {
	return &assembly.Error{Name: name, Status: status, Cause: cause, Message: fmt.Sprintf(format, args...)}
}

// invokeError classifies a failed Invoke call. The function did not run
// (or its outcome is unknown, for a lost connection).
func invokeError(t *target, err error, timeout time.Duration) *assembly.Error {
	if conn := connectionError("Lambda", t.region, err, timeout); conn != nil {
		return conn
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return newError(InvokeError, http.StatusBadGateway, err, "invoking %s failed: %s", t, clip(err.Error()))
	}
	code, msg := api.ErrorCode(), clip(api.ErrorMessage())
	switch code {
	case "ResourceNotFoundException":
		return newError(NotFoundError, http.StatusInternalServerError, err,
			"Lambda function %s not found in region %s: %s", t, t.region, msg)
	case "TooManyRequestsException", "EC2ThrottledException":
		return newError(ThrottledError, http.StatusTooManyRequests, err,
			"Lambda throttled the call to %s: %s", t, msg)
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
		"KMSAccessDeniedException", "ExpiredTokenException":
		return newError(AccessDeniedError, http.StatusInternalServerError, err,
			"Lambda denied access to %s (%s): %s; the credentials' permission policy must allow lambda:InvokeFunction on the function",
			t, code, msg)
	case "RequestTooLargeException":
		return newError(InvokeError, http.StatusRequestEntityTooLarge, err,
			"the payload for %s is larger than Lambda accepts (%s): %s", t, code, msg)
	}
	return newError(InvokeError, http.StatusBadGateway, err, "Lambda refused the call to %s (%s): %s", t, code, msg)
}

// assumeRoleError explains why STS did not hand out credentials for the
// role. Its usual causes are the role's trust policy (the gateway's AWS
// identity is not its principal) and the external ID condition.
func assumeRoleError(t *target, err error, timeout time.Duration) *assembly.Error {
	if conn := connectionError("STS", t.region, err, timeout); conn != nil {
		return conn
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return newError(AssumeRoleError, http.StatusInternalServerError, err,
			"could not assume role %s: %s", t.key.roleARN, clip(err.Error()))
	}
	code, msg := api.ErrorCode(), clip(api.ErrorMessage())
	switch code {
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException":
		return newError(AssumeRoleError, http.StatusInternalServerError, err,
			"STS rejected the gateway's own AWS credentials while assuming role %s (%s): %s", t.key.roleARN, code, msg)
	case "RegionDisabledException":
		return newError(AssumeRoleError, http.StatusInternalServerError, err,
			"STS is not activated in region %s for role %s: %s", t.region, t.key.roleARN, msg)
	}
	return newError(AssumeRoleError, http.StatusInternalServerError, err,
		"STS refused to let the gateway assume role %s (%s: %s); the likely cause is the role's trust policy "+
			"(its principal must be the gateway's AWS identity) or its sts:ExternalId condition, which must equal "+
			"the provider org ID %q (catalog.yaml org-id)", t.key.roleARN, code, msg, t.key.externalID)
}

// credentialsError reports that the gateway's own credentials (the
// standard AWS chain) could not be had.
func credentialsError(err error) *assembly.Error {
	return newError(CredentialsError, http.StatusInternalServerError, err,
		"the gateway has no usable AWS credentials: %s; give it some through the standard AWS chain "+
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a shared config profile, web identity, or an instance role), "+
			"or set aws_access_key_id and aws_secret_access_key in the policy", clip(err.Error()))
}

// connectionError turns a failure to reach service (or a timeout) into a
// ConnectionError, as invoke reports one; nil when err is something else.
func connectionError(service, region string, err error, timeout time.Duration) *assembly.Error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return newError(assembly.ConnectionError, http.StatusGatewayTimeout, err,
			"AWS %s in region %s did not answer within %s", service, region, timeout)
	case errors.Is(err, context.Canceled):
		return newError(assembly.RuntimeError, 499, err, "the request was cancelled")
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return newError(assembly.ConnectionError, http.StatusInternalServerError, err,
			"could not connect to AWS %s in region %s: %s", service, region, clip(rootCause(err).Error()))
	}
	return nil
}

// functionFailure reports a function that ran and failed. Its error
// document (errorType, errorMessage) is summarised in the message.
func functionFailure(t *target, kind string, payload []byte) *assembly.Error {
	var doc struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	detail := "no error document"
	if json.Unmarshal(payload, &doc) == nil && (doc.Type != "" || doc.Message != "") {
		detail = strings.TrimPrefix(doc.Type+": "+doc.Message, ": ")
	} else if len(payload) > 0 {
		detail = string(payload)
	}
	return newError(FunctionError, http.StatusBadGateway, nil,
		"Lambda function %s failed (%s): %s", t, kind, clip(detail))
}

// clip shortens remote text so an error stays readable.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxDetail {
		return s
	}
	return strings.ToValidUTF8(s[:maxDetail], "") + "…"
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
