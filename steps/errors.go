package steps

import (
	"errors"
	"fmt"
	"time"
)

// Class says what the engine should do about a failed call.
type Class int

// Error classes.
const (
	// Other errors fail the step.
	Other Class = iota
	// Retryable errors (throttling, a dropped connection, 5xx) are retried
	// within the step's attempts and timeout.
	Retryable
	// NotFound: the object the step acts on does not exist.
	NotFound
	// Forbidden: the caller lacks a permission; Error.Permission names it.
	Forbidden
	// Invalid: the input or the configuration is wrong; retrying won't help.
	Invalid
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case NotFound:
		return "not found"
	case Forbidden:
		return "forbidden"
	case Invalid:
		return "invalid"
	}
	return "error"
}

// Error is a classified error.
type Error struct {
	Class Class
	// RetryAfter is the server's requested wait for a Retryable error, or 0.
	RetryAfter time.Duration
	// Permission names what a Forbidden caller lacks, when known.
	Permission string
	Err        error
}

func (e *Error) Error() string {
	if e.Class == Forbidden && e.Permission != "" {
		return fmt.Sprintf("%v (needs %s)", e.Err, e.Permission)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Classify wraps err with a class; nil stays nil.
func Classify(class Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: class, Err: err}
}

// RetryableAfter wraps err as Retryable with the server's requested wait
// (0 when it named none).
func RetryableAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Class: Retryable, RetryAfter: after, Err: err}
}

// ForbiddenNeeding wraps err as Forbidden, naming the missing permission.
func ForbiddenNeeding(err error, permission string) error {
	if err == nil {
		return nil
	}
	return &Error{Class: Forbidden, Permission: permission, Err: err}
}

// Errorf formats a classified error; %w in format wraps as fmt.Errorf does.
func Errorf(class Class, format string, args ...any) error {
	return &Error{Class: class, Err: fmt.Errorf(format, args...)}
}

// ClassOf returns the class of the outermost classified error in err's
// chain, or Other.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Other
}

// RetryAfterOf returns the server's requested wait carried by err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// PermissionOf returns the missing permission a Forbidden err names, or "".
func PermissionOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Permission
	}
	return ""
}
