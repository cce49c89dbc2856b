package notify

// hidden holds a value that no formatting path reaches: fmt and log/slog print a func as
// an address, even through a bad verb, where they would follow a pointer and print the
// fields of what it points to.
type hidden[T any] func() T

// hide returns a hidden holding v.
func hide[T any](v T) hidden[T] {
	return func() T { return v }
}
