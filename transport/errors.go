package transport

import "errors"

// Sentinel errors of the HTTP layer.
var (
	// ErrConfig is wrapped by NewServer's errors: a required Config field is missing or a
	// limit is out of range.
	ErrConfig = errors.New("transport: invalid configuration")
	// ErrTLS is wrapped by LoadTLS's errors: the certificate or key cannot be used.
	ErrTLS = errors.New("transport: unusable TLS certificate or key")
	// ErrInvalidRequest is wrapped by the Check methods of the admin request bodies.
	ErrInvalidRequest = errors.New("transport: invalid request")
)

// badRequest is an ErrInvalidRequest whose text is only its reason, fit for a client.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func (e badRequest) Unwrap() error { return ErrInvalidRequest }
