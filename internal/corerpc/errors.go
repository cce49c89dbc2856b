package corerpc

import (
	"errors"
	"fmt"
	"strings"
)

// Codes of the RPC error objects this package interprets. Bitcoin Core defines many more;
// any code arrives unchanged in [Error.Code].
const (
	// CodeNotFound (RPC_INVALID_ADDRESS_OR_KEY) means the node does not know the
	// transaction or block asked for.
	CodeNotFound = -5
	// CodeInvalidParameter (RPC_INVALID_PARAMETER) means an argument was refused, such as
	// a block height above the tip.
	CodeInvalidParameter = -8
	// CodeInWarmup (RPC_IN_WARMUP) means the node is still loading; retry later.
	CodeInWarmup = -28
	// CodeMethodNotFound (RPC_METHOD_NOT_FOUND) means the node has no such method, or it
	// is disabled.
	CodeMethodNotFound = -32601
)

// maxErrorText bounds the text of a node's answer kept in an error.
const maxErrorText = 200

// Sentinel errors. Callers test for them with errors.Is; the wrapping error names the
// method.
var (
	// ErrUnauthorized means the node answered 401 or 403: wrong credentials, a cookie that
	// could not be renewed, or a method outside the user's -rpcwhitelist.
	ErrUnauthorized = errors.New("corerpc: unauthorized")
	// ErrResponseTooLarge means an answer exceeded Config.MaxResponse.
	ErrResponseTooLarge = errors.New("corerpc: response too large")
	// ErrBadResponse means an answer does not have the shape Bitcoin Core gives it.
	ErrBadResponse = errors.New("corerpc: malformed response")
	// ErrInvalidConfig means New refused its Config.
	ErrInvalidConfig = errors.New("corerpc: invalid config")
	// ErrInvalidArgument means a method refused an argument before sending anything.
	ErrInvalidArgument = errors.New("corerpc: invalid argument")
)

// Error is an error object returned by the node for one call.
type Error struct {
	// Code is the node's error code, such as CodeNotFound.
	Code int
	// Message is the node's message, cut to 200 bytes.
	Message string
	// Method is the RPC method that failed.
	Method string
}

// Error names the method and the code.
func (e *Error) Error() string {
	return fmt.Sprintf("corerpc: %s: rpc error %d: %s", e.Method, e.Code, e.Message)
}

// StatusError reports an HTTP status other than 200 whose body is not a JSON-RPC error
// object, such as 503 "Work queue depth exceeded" or a redirect.
type StatusError struct {
	// Method is the RPC method that failed.
	Method string
	// Status is the HTTP status code.
	Status int
	// Body is the start of the response body, at most 200 bytes.
	Body string
}

// Error names the method and the status, and quotes the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("corerpc: %s: http status %d: %q", e.Method, e.Status, e.Body)
}

// IsNotFound reports whether err is, or wraps, an *Error with CodeNotFound.
func IsNotFound(err error) bool {
	rpcErr, ok := errors.AsType[*Error](err)
	return ok && rpcErr.Code == CodeNotFound
}

// clip cuts text to maxErrorText bytes and drops a rune the cut broke.
func clip(text string) string {
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	return strings.ToValidUTF8(text, "")
}
