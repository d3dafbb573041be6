package assembly

import (
	"errors"
	"fmt"
	"net/http"
)

// Error names API Connect's catch clauses match on.
const (
	ConnectionError        = "ConnectionError"
	JavaScriptError        = "JavaScriptError"
	PropertyError          = "PropertyError"
	RedactionError         = "RedactionError"
	TransformError         = "TransformError"
	RuntimeError           = "RuntimeError"
	BadRequestError        = "BadRequestError"
	SOAPError              = "SOAPError"
	OperationError         = "OperationError"
	ValidateError          = "ValidateError"
	AssemblyRateLimitError = "AssemblyRateLimitError"
	UnauthorizedError      = "UnauthorizedError"
	ForbiddenError         = "ForbiddenError"
)

// notDefaultCaught are the errors a `default` catch does not take: API
// Connect requires them to be named explicitly.
var notDefaultCaught = map[string]bool{BadRequestError: true, UnauthorizedError: true, ForbiddenError: true}

// Error is an assembly error: a named value that `catch` clauses match and
// that, left uncaught, becomes the response.
type Error struct {
	Name    string // e.g. ConnectionError, or a custom name from throw
	Message string // moreInformation in the response
	Status  int    // HTTP status of the response when uncaught; 0 means 500
	Reason  string // HTTP reason phrase; empty means the standard text
	Policy  string // the policy that raised it, for logs and analytics
	// Headers are added to the error response when uncaught, such as
	// Retry-After on a throttled call.
	Headers http.Header
	Cause   error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// StatusCode is the status the error answers with when uncaught.
func (e *Error) StatusCode() int {
	if e.Status == 0 {
		return http.StatusInternalServerError
	}
	return e.Status
}

// StatusReason is the reason phrase the error answers with.
func (e *Error) StatusReason() string {
	if e.Reason != "" {
		return e.Reason
	}
	return http.StatusText(e.StatusCode())
}

// Errorf makes a named error with a formatted message.
func Errorf(name string, status int, format string, args ...any) *Error {
	return &Error{Name: name, Status: status, Message: fmt.Sprintf(format, args...)}
}

// AsError converts any error into an *Error; errors that are not already
// assembly errors become RuntimeError.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Name: RuntimeError, Message: err.Error(), Cause: err}
}
