package stream

// SetJoinBudgets sets the byte budgets of the stream-stream join's
// in-memory window index and outer-store mirror (0: every read goes to
// the stores) and returns a function that restores them.
func SetJoinBudgets(index, mirror int) (restore func()) {
	oi, om := joinIndexMaxBytes, outerMirrorMaxBytes
	joinIndexMaxBytes, outerMirrorMaxBytes = index, mirror
	return func() { joinIndexMaxBytes, outerMirrorMaxBytes = oi, om }
}
