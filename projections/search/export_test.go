package search

// SetFirstChunk makes chunks of candidates tiny, so that small tests walk
// postings chunk after chunk, as a large index does; it returns the undo.
func SetFirstChunk(n int) (undo func()) {
	old := firstChunk
	firstChunk = n
	return func() { firstChunk = old }
}
