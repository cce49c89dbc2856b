package accuracy

import "errors"

// Sentinel errors, wrapped with the offending value.
var (
	// ErrInvalidConfig means a Config field is out of range; New names the field.
	ErrInvalidConfig = errors.New("accuracy: invalid config")
	// ErrUnknownOutcome means a name given to ParseOutcome names no Outcome.
	ErrUnknownOutcome = errors.New("accuracy: unknown outcome")
)
