package state

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kafki/kafki/serde"
)

// The suppression buffer's changelog records are Kafka Streams' version 3:
// header "v" = 3, key the serialized key, value
//
//	record context: timestamp (8), offset (8), topic length (4), topic,
//	                partition (4), header count (4), then per header its
//	                key length (4), key, value length (4, -1 for null), value
//	prior value:    length (4, -1 for null), bytes
//	old value:      length (4, -1 for null, -2 when equal to the prior), bytes
//	new value:      length (4, -1 for null), bytes
//	buffer time (8)
//
// all integers big-endian.

var bufferChangelogHeaders = []serde.Header{{Key: "v", Value: []byte{3}}}

const (
	nullLength      = -1
	sameAsPriorSize = -2
)

func encodeBufferValue(v *BufferValue, bufferTime int64) []byte {
	rc := &v.Context
	n := 8 + 8 + 4 + len(rc.Topic) + 4 + 4
	for _, h := range rc.Headers {
		n += 8 + len(h.Key) + len(h.Value)
	}
	n += 12 + len(v.Prior) + len(v.Old) + len(v.New) + 8
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(rc.Timestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(rc.Offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(rc.Topic)))
	b = append(b, rc.Topic...)
	b = binary.BigEndian.AppendUint32(b, uint32(rc.Partition))
	b = binary.BigEndian.AppendUint32(b, uint32(len(rc.Headers)))
	for _, h := range rc.Headers {
		b = binary.BigEndian.AppendUint32(b, uint32(len(h.Key)))
		b = append(b, h.Key...)
		b = appendNullable(b, h.Value)
	}
	b = appendNullable(b, v.Prior)
	if v.Old != nil && sameValue(v.Prior, v.Old) {
		b = appendInt32(b, sameAsPriorSize)
	} else {
		b = appendNullable(b, v.Old)
	}
	b = appendNullable(b, v.New)
	return binary.BigEndian.AppendUint64(b, uint64(bufferTime))
}

func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return appendInt32(b, nullLength)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// bufferDecoder reads a changelog value; the first error sticks.
type bufferDecoder struct {
	b   []byte
	err error
}

func (d *bufferDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrBadBufferChangelog, what)
	}
}

func (d *bufferDecoder) u64(what string) int64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

func (d *bufferDecoder) i32(what string) int32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return int32(v)
}

// bytes reads n bytes (a slice of the record, not a copy).
func (d *bufferDecoder) bytes(n int32, what string) []byte {
	if d.err != nil || n < 0 || int64(n) > int64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *bufferDecoder) nullable(what string) []byte {
	n := d.i32(what)
	if d.err != nil || n == nullLength {
		return nil
	}
	return d.bytes(n, what)
}

func decodeBufferValue(b []byte) (BufferValue, int64, error) {
	d := &bufferDecoder{b: b}
	var v BufferValue
	rc := &v.Context
	rc.Timestamp = d.u64("record timestamp")
	rc.Offset = d.u64("record offset")
	rc.Topic = string(d.bytes(d.i32("topic"), "topic"))
	rc.Partition = d.i32("partition")
	// Each header takes at least 8 bytes: this bounds the allocation.
	count := d.i32("header count")
	if count == -1 { // older writers' "no headers"
		count = 0
	}
	if d.err == nil && (count < 0 || int64(count) > int64(len(d.b)/8)) {
		d.fail("header count")
	}
	if d.err == nil && count > 0 {
		rc.Headers = make([]serde.Header, count)
		for i := range rc.Headers {
			rc.Headers[i].Key = string(d.bytes(d.i32("header key"), "header key"))
			rc.Headers[i].Value = d.nullable("header value")
		}
	}
	v.Prior = d.nullable("prior value")
	switch n := d.i32("old value"); {
	case d.err != nil:
	case n == sameAsPriorSize:
		v.Old = v.Prior
	case n != nullLength:
		v.Old = d.bytes(n, "old value")
	}
	v.New = d.nullable("new value")
	t := d.u64("buffer time")
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("value: %d bytes after the buffer time", len(d.b)))
	}
	if d.err != nil {
		return BufferValue{}, math.MinInt64, d.err
	}
	return v, t, nil
}
