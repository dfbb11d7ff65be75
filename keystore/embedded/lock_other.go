//go:build !unix

package embedded

import "os"

// lock is a no-op where flock is missing: do not share a key file between processes.
func lock(*os.File) error { return nil }
