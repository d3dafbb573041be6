package client

import "errors"

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == 404 }

// IsUnauthorized reports whether err is a 401 answer: no valid token, or
// credentials that do not match.
func IsUnauthorized(err error) bool { return StatusOf(err) == 401 }

// IsForbidden reports whether err is a 403 answer: the caller's role does
// not allow the request.
func IsForbidden(err error) bool { return StatusOf(err) == 403 }

// IsConflict reports whether err is a 409 answer: the object exists.
func IsConflict(err error) bool { return StatusOf(err) == 409 }
