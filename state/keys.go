package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
)

// Key encodings of the window and session stores.
//
// A record key is written escaped and terminated so that encoded keys sort
// exactly as (key, then time...) tuples do, whatever the key lengths: every
// 0x00 byte of the key becomes 0x00 0xFF and the key ends with 0x00 0x01.
// Plain concatenation would not do: key "a" at time t would sort after key
// "ab" whenever t's first byte is larger than 'b'. Times follow as 8-byte
// big-endian integers with the sign bit flipped, so that negative times sort
// before positive ones.
//
//	window key:  escaped(key) 00 01 | start (8) [| seq (4), with retainDuplicates]
//	session key: escaped(key) 00 01 | end (8) | start (8)
//
// Sessions sort by end first, as in Kafka Streams, so that the sessions a
// record may merge with (those ending at or after t-gap) are one range.
//
// These formats are stable: changes need a migration.

const (
	escByte  = 0x00
	escZero  = 0xFF // 0x00 in a key is written 0x00 0xFF
	escTerm  = 0x01 // the key ends with 0x00 0x01
	timeSize = 8
	seqSize  = 4
)

// ErrBadKey is returned when decoding bytes that are not an encoded key.
var ErrBadKey = errors.New("state: malformed store key")

func encodeTime(t int64) uint64 { return uint64(t) ^ (1 << 63) }
func decodeTime(u uint64) int64 { return int64(u ^ (1 << 63)) }

// appendEscapedKey appends escaped(key) and the terminator.
func appendEscapedKey(dst, key []byte) []byte {
	for {
		i := bytes.IndexByte(key, escByte)
		if i < 0 {
			dst = append(dst, key...)
			break
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, escZero)
		key = key[i+1:]
	}
	return append(dst, escByte, escTerm)
}

func escapedLen(key []byte) int {
	return len(key) + bytes.Count(key, []byte{escByte}) + 2
}

// splitEscapedKey returns the decoded key and what follows its terminator.
// The key aliases enc when it holds no 0x00 byte.
func splitEscapedKey(enc []byte) (key, rest []byte, err error) {
	i := bytes.IndexByte(enc, escByte)
	if i < 0 {
		return nil, nil, ErrBadKey
	}
	if i+1 < len(enc) && enc[i+1] == escTerm {
		return enc[:i:i], enc[i+2:], nil // fast path: no 0x00 in the key
	}
	key = make([]byte, 0, len(enc))
	for {
		if i+1 >= len(enc) {
			return nil, nil, ErrBadKey
		}
		switch enc[i+1] {
		case escTerm:
			return append(key, enc[:i]...), enc[i+2:], nil
		case escZero:
			key = append(key, enc[:i+1]...)
			enc = enc[i+2:]
		default:
			return nil, nil, ErrBadKey
		}
		i = bytes.IndexByte(enc, escByte)
		if i < 0 {
			return nil, nil, ErrBadKey
		}
	}
}

func appendTime(dst []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(dst, encodeTime(t))
}

// WindowKey encodes (key, windowStart) as a window store without duplicates
// keys its entries. Encoded keys sort by key, then window start.
func WindowKey(key []byte, windowStart int64) []byte {
	return AppendWindowKey(make([]byte, 0, escapedLen(key)+timeSize), key, windowStart)
}

// WindowKeyWithSeq encodes (key, windowStart, seq) as a window store that
// retains duplicates keys its entries; seq tells apart the values put for
// the same window and sorts them in insertion order.
func WindowKeyWithSeq(key []byte, windowStart int64, seq uint32) []byte {
	dst := make([]byte, 0, escapedLen(key)+timeSize+seqSize)
	return binary.BigEndian.AppendUint32(AppendWindowKey(dst, key, windowStart), seq)
}

// AppendWindowKey appends WindowKey(key, windowStart) to dst.
func AppendWindowKey(dst, key []byte, windowStart int64) []byte {
	return appendTime(appendEscapedKey(dst, key), windowStart)
}

// DecodeWindowKey decodes WindowKey and WindowKeyWithSeq encodings; seq is 0
// for the first. The key aliases enc when it holds no 0x00 byte.
func DecodeWindowKey(enc []byte) (key []byte, windowStart int64, seq uint32, err error) {
	key, rest, err := splitEscapedKey(enc)
	if err != nil {
		return nil, 0, 0, err
	}
	switch len(rest) {
	case timeSize:
	case timeSize + seqSize:
		seq = binary.BigEndian.Uint32(rest[timeSize:])
	default:
		return nil, 0, 0, ErrBadKey
	}
	return key, decodeTime(binary.BigEndian.Uint64(rest)), seq, nil
}

// SessionKey encodes (key, start, end) as a session store keys its
// entries. Encoded keys sort by key, then session end, then start.
func SessionKey(key []byte, start, end int64) []byte {
	return AppendSessionKey(make([]byte, 0, escapedLen(key)+2*timeSize), key, start, end)
}

// AppendSessionKey appends SessionKey(key, start, end) to dst.
func AppendSessionKey(dst, key []byte, start, end int64) []byte {
	return appendTime(appendTime(appendEscapedKey(dst, key), end), start)
}

// DecodeSessionKey decodes SessionKey. The key aliases enc when it holds no
// 0x00 byte.
func DecodeSessionKey(enc []byte) (key []byte, start, end int64, err error) {
	key, rest, err := splitEscapedKey(enc)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(rest) != 2*timeSize {
		return nil, 0, 0, ErrBadKey
	}
	end = decodeTime(binary.BigEndian.Uint64(rest))
	start = decodeTime(binary.BigEndian.Uint64(rest[timeSize:]))
	return key, start, end, nil
}

// keyPrefix is escaped(key) and its terminator: every encoded key of key
// starts with it and no other key's does.
func keyPrefix(key []byte) []byte {
	return appendEscapedKey(make([]byte, 0, escapedLen(key)+timeSize+seqSize), key)
}

// keyPrefixEnd is the smallest encoding greater than those of key and
// smaller than those of any greater key: escaped(key) 00 02.
func keyPrefixEnd(key []byte) []byte {
	p := keyPrefix(key)
	p[len(p)-1] = escTerm + 1
	return p
}

// maxSuffix pads an inclusive upper bound with the largest seq/start.
var maxSuffix = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Timestamped values: an 8-byte big-endian timestamp before the value, as
// Kafka Streams' timestamped stores keep them.

// TimestampSize is the length of the timestamp in a timestamped value.
const TimestampSize = 8

// EncodeTimestamped returns ts (8 bytes, big-endian) followed by value. A
// nil value stays nil (a delete).
func EncodeTimestamped(ts int64, value []byte) []byte {
	if value == nil {
		return nil
	}
	return AppendTimestamped(make([]byte, 0, TimestampSize+len(value)), ts, value)
}

// AppendTimestamped appends ts and value to dst.
func AppendTimestamped(dst []byte, ts int64, value []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(ts)), value...)
}

// DecodeTimestamped splits a timestamped value; the value aliases enc. A nil
// enc decodes to a nil value.
func DecodeTimestamped(enc []byte) (ts int64, value []byte, err error) {
	if enc == nil {
		return 0, nil, nil
	}
	if len(enc) < TimestampSize {
		return 0, nil, errors.New("state: timestamped value shorter than its timestamp")
	}
	return int64(binary.BigEndian.Uint64(enc)), enc[TimestampSize:], nil
}

const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)
