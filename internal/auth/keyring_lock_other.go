//go:build !unix

package auth

// lockRing is a no-op where flock does not exist.
//
// TODO: lock with LockFileEx on Windows; until then two `engine keys` commands run at the
// same time there may lose one of the two edits (the file itself is still replaced whole).
func lockRing(string) (unlock func(), err error) { return func() {}, nil }
