package balances

// SetFewOverdue sets how many customers with money past due are read at once
// instead of walking the ranking, for the tests of both ways; it returns the
// way back.
func SetFewOverdue(n int64) (restore func()) {
	old := fewOverdue
	fewOverdue = n
	return func() { fewOverdue = old }
}
