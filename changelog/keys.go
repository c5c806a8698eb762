package changelog

import (
	"encoding/binary"
	"fmt"
)

// Changelog keys of window and session stores carry the window or session
// bounds after the record key, in Kafka Streams' wire format, so that
// compaction keeps one record per window or session:
//
//	window:  key | window start (8 bytes, big-endian) | sequence number (4 bytes)
//	session: key | session end (8 bytes)               | session start (8 bytes)
//
// The sequence number tells apart the duplicates of a window store that
// retains them; it is 0 otherwise.
//
// This is the changelog's wire format, not the stores' on-disk keys
// (state.WindowKey, state.SessionKey), which escape the record key so that
// encoded keys sort by (key, time); the changelog needs no order, and
// keeping Kafka Streams' layout lets its tools read Kafki's changelogs.
const (
	windowKeySuffix  = 8 + 4
	sessionKeySuffix = 8 + 8
)

// WindowChangelogKey encodes the changelog key of one window.
func WindowChangelogKey(key []byte, windowStart int64, seq uint32) []byte {
	b := make([]byte, len(key)+windowKeySuffix)
	n := copy(b, key)
	binary.BigEndian.PutUint64(b[n:], uint64(windowStart))
	binary.BigEndian.PutUint32(b[n+8:], seq)
	return b
}

// DecodeWindowChangelogKey splits a window changelog key. The returned key
// aliases b.
func DecodeWindowChangelogKey(b []byte) (key []byte, windowStart int64, seq uint32, err error) {
	if len(b) < windowKeySuffix {
		return nil, 0, 0, fmt.Errorf("changelog: window changelog key of %d bytes is shorter than %d", len(b), windowKeySuffix)
	}
	n := len(b) - windowKeySuffix
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n:])), binary.BigEndian.Uint32(b[n+8:]), nil
}

// SessionChangelogKey encodes the changelog key of one session.
func SessionChangelogKey(key []byte, start, end int64) []byte {
	b := make([]byte, len(key)+sessionKeySuffix)
	n := copy(b, key)
	binary.BigEndian.PutUint64(b[n:], uint64(end))
	binary.BigEndian.PutUint64(b[n+8:], uint64(start))
	return b
}

// DecodeSessionChangelogKey splits a session changelog key. The returned key
// aliases b.
func DecodeSessionChangelogKey(b []byte) (key []byte, start, end int64, err error) {
	if len(b) < sessionKeySuffix {
		return nil, 0, 0, fmt.Errorf("changelog: session changelog key of %d bytes is shorter than %d", len(b), sessionKeySuffix)
	}
	n := len(b) - sessionKeySuffix
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n+8:])), int64(binary.BigEndian.Uint64(b[n:])), nil
}
