package changelog

import "github.com/kafki/kafki/state"

// Changelog keys of window and session stores carry the window or session
// bounds after the record key, in Kafka Streams' wire format (see
// state.WindowChangelogKey). The encoding lives in package state with the
// logging wrappers that write it; these names are kept for restoration and
// tools.

// WindowChangelogKey encodes the changelog key of one window.
func WindowChangelogKey(key []byte, windowStart int64, seq uint32) []byte {
	return state.WindowChangelogKey(key, windowStart, seq)
}

// DecodeWindowChangelogKey splits a window changelog key. The returned key
// aliases b.
func DecodeWindowChangelogKey(b []byte) (key []byte, windowStart int64, seq uint32, err error) {
	return state.DecodeWindowChangelogKey(b)
}

// SessionChangelogKey encodes the changelog key of one session.
func SessionChangelogKey(key []byte, start, end int64) []byte {
	return state.SessionChangelogKey(key, start, end)
}

// DecodeSessionChangelogKey splits a session changelog key. The returned key
// aliases b.
func DecodeSessionChangelogKey(b []byte) (key []byte, start, end int64, err error) {
	return state.DecodeSessionChangelogKey(b)
}
