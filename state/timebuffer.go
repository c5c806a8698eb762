package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kafki/kafki/serde"
)

// BufferValue is what a TimeOrderedBuffer holds for a key: the serialized
// values of the change it buffers and the record context of the write that
// buffered it last. A nil slice is a null value.
type BufferValue struct {
	// Prior is the old value of the first change buffered for the key: the
	// value downstream saw last, since nothing was emitted meanwhile.
	Prior []byte
	// Old and New are the old and new values of the latest change.
	Old, New []byte
	// Context is the record context of the latest change: an emitted
	// change carries its timestamp and headers.
	Context RecordContext
}

// bufferKeyIs reports whether e's key is key.
func bufferKeyIs(e *bufferEntry, key []byte) bool { return bytes.Equal(e.key, key) }

type bufferEntry struct {
	key  []byte
	time int64
	val  BufferValue
	// logged: the entry is in the dirty list, to be logged at the next
	// flush; gone: it was taken out of the buffer since. A gone entry
	// that is live stays in the index until the flush logs its tombstone,
	// so that a put of its key finds it and keeps its place in the dirty
	// list; one that is not leaves the index at once and is skipped (and
	// dropped) by the dirty list.
	logged, gone bool
	// live: the key's latest record in the changelog (logged or restored)
	// is a value, not a tombstone. A key taken out before a live value of
	// it reached the changelog needs no tombstone: restoration would find
	// nothing for it either way.
	live bool
	// queued: the entry is in the buffer's time order.
	queued bool
	// inline holds the key and first values of a new entry when they fit,
	// so that buffering a key costs one allocation, not two; like any of
	// the buffer's bytes, they are never modified once written.
	inline [48]byte
}

// TimeOrderedBuffer is the suppression buffer: Kafka Streams'
// InMemoryTimeOrderedKeyValueChangeBuffer. It holds at most one change per
// key, ordered by (buffer time, key), in memory; an update of a buffered
// key keeps the key's first buffer time. It is logged at Flush rather than
// at every write: the changelog gets the current entry (or a tombstone) of
// each key changed since the last flush, so that a key updated many times
// between two commits costs one changelog record, and restoration rebuilds
// the buffer from the changelog on every start, as Kafka Streams does.
//
// The changelog format is Kafka Streams' version 3 (header v=3; the value
// is the record context, the prior, old and new values and the buffer
// time), so that the records read the same in both.
//
// A TimeOrderedBuffer belongs to one task and is used from its goroutine
// only; it is not safe for concurrent use.
type TimeOrderedBuffer struct {
	name string
	// index finds a key's entry, including the gone entries of a logged
	// buffer until the next flush; n counts the others.
	index   hashIndex[bufferEntry]
	n       int
	order   *timeOrder
	size    int64
	minTime int64
	closed  bool

	// log is set when the buffer is logged (BuildStore); dirty lists the
	// entries of the keys changed since the last flush, in the order they
	// first changed.
	log   *Changelog
	dirty []*bufferEntry
	// dead counts the dirty list's entries that are gone and not live:
	// the list is compacted when they are most of it, so that the
	// entries of keys put and emitted between two commits do not stay
	// reachable (for the garbage collector to scan) until the commit.
	dead int
}

// NewTimeOrderedBuffer returns an empty buffer. BuildStore makes it log to
// its changelog when its spec asks for logging.
func NewTimeOrderedBuffer(name string) *TimeOrderedBuffer {
	return &TimeOrderedBuffer{
		name:    name,
		index:   newHashIndex(bufferKeyIs),
		order:   newTimeOrder(),
		minTime: math.MaxInt64,
	}
}

// logTo makes Flush write the buffer's changes to cl.
func (b *TimeOrderedBuffer) logTo(cl Changelog) *TimeOrderedBuffer {
	b.log = &cl
	return b
}

// Name is the store's name.
func (b *TimeOrderedBuffer) Name() string { return b.name }

// Persistent is false: the buffer is rebuilt from its changelog.
func (b *TimeOrderedBuffer) Persistent() bool { return false }

// NumRecords is the number of buffered keys.
func (b *TimeOrderedBuffer) NumRecords() int { return b.n }

// BufferSize is the buffer's size in bytes, counted as Kafka Streams counts
// it for maxBytes: per entry the buffer time, the key, the values (the old
// value not when it equals the prior one) and the record context
// (timestamp, offset, topic, partition, header keys and values).
func (b *TimeOrderedBuffer) BufferSize() int64 { return b.size }

// MinTimestamp is the smallest buffer time held, or math.MaxInt64 when
// the buffer is empty.
func (b *TimeOrderedBuffer) MinTimestamp() int64 { return b.minTime }

// Put buffers a change of key at bufferTime, with the context rc of the
// write. A key already buffered keeps its buffer time and its prior value;
// its latest change replaces the one held. The buffer copies key, old and
// new (the caller may reuse them) but keeps rc's headers: the caller must
// not modify those afterwards.
func (b *TimeOrderedBuffer) Put(bufferTime int64, key, old, new []byte, rc RecordContext) error {
	if b.closed {
		return ErrClosed
	}
	e := b.putCopy(bufferTime, key, old, new, rc)
	if b.log != nil && !e.logged {
		e.logged = true
		b.dirty = append(b.dirty, e)
	}
	return nil
}

// unindex takes e out of the key index if it is there (an entry does
// not keep its key's hash: removals are rarer than lookups).
func (b *TimeOrderedBuffer) unindex(e *bufferEntry) { b.index.remove(e, b.index.hash(e.key)) }

// putCopy is put of copies of key (for a new entry), old and new, made in
// one allocation (none for a new entry when they fit in it); an empty
// value stays non-nil, as null is nil.
func (b *TimeOrderedBuffer) putCopy(t int64, key, old, new []byte, rc RecordContext) *bufferEntry {
	e, at, h := b.index.find(key)
	fresh := e == nil
	var buf []byte
	if fresh {
		e = &bufferEntry{}
		if n := len(key) + len(old) + len(new); n <= len(e.inline) {
			buf = e.inline[:0:n]
		} else {
			buf = make([]byte, 0, n)
		}
		buf = append(buf, key...)
		e.key = buf[:len(key):len(key)]
	} else {
		// An entry keeps its key; its prior value may share the bytes of
		// its first values, so new ones go elsewhere.
		buf = make([]byte, 0, len(old)+len(new))
	}
	v := BufferValue{Context: rc}
	if old != nil {
		off := len(buf)
		buf = append(buf, old...)
		v.Old = buf[off:len(buf):len(buf)]
	}
	if new != nil {
		off := len(buf)
		buf = append(buf, new...)
		v.New = buf[off:len(buf):len(buf)]
	}
	return b.putAt(e, fresh, at, h, t, v, false)
}

// put inserts or replaces key's entry with one lookup. An entry already
// buffered keeps its buffer time, and its prior value unless restored (a
// restored v is whole); a new one takes its old value as prior unless
// restored.
func (b *TimeOrderedBuffer) put(t int64, key []byte, v BufferValue, restored bool) *bufferEntry {
	e, at, h := b.index.find(key)
	fresh := e == nil
	if fresh {
		e = &bufferEntry{key: key}
	}
	return b.putAt(e, fresh, at, h, t, v, restored)
}

// putAt is put once the index was looked up: e is the entry it found, or
// a fresh one (with its key) to index at at, as find returned with h.
func (b *TimeOrderedBuffer) putAt(e *bufferEntry, fresh bool, at int, h uint64, t int64, v BufferValue, restored bool) *bufferEntry {
	if !fresh && !e.gone {
		b.size -= recordSize(e.key, &e.val)
		if !restored {
			v.Prior = e.val.Prior
		}
		e.val = v
		b.size += recordSize(e.key, &e.val)
		return e
	}
	if fresh {
		b.index.insertAt(at, h, e)
	}
	if !restored {
		v.Prior = v.Old
	}
	e.time, e.val, e.gone = t, v, false
	b.order.insert(e)
	b.n++
	b.minTime = min(b.minTime, t)
	b.size += recordSize(e.key, &e.val)
	return e
}

// EvictWhile takes out the oldest entries, in (buffer time, key) order,
// while more() holds: for each it calls emit, then removes the entry. An
// error from emit stops the eviction and leaves that entry buffered. more
// may read NumRecords, BufferSize and MinTimestamp, which follow each
// removal.
func (b *TimeOrderedBuffer) EvictWhile(more func() bool, emit func(key []byte, v *BufferValue) error) error {
	if b.closed {
		return ErrClosed
	}
	for b.n > 0 && more() {
		e := b.order.min()
		if err := emit(e.key, &e.val); err != nil {
			return err
		}
		b.order.deleteMin(e)
		b.removed(e, true)
	}
	return nil
}

// removed accounts for e, already out of the time order; logged: the
// removal goes to the changelog at the next flush.
func (b *TimeOrderedBuffer) removed(e *bufferEntry, logged bool) {
	b.n--
	b.size -= recordSize(e.key, &e.val)
	switch {
	case logged && b.log != nil && e.live:
		// Only the key is needed to log the removal.
		e.gone, e.val = true, BufferValue{}
		if !e.logged {
			e.logged = true
			b.dirty = append(b.dirty, e)
		}
	case logged && b.log != nil:
		// Never logged live (so in the dirty list): nothing to log.
		e.gone, e.val = true, BufferValue{}
		b.unindex(e)
		if b.dead++; b.dead >= 1024 && b.dead > len(b.dirty)/2 {
			b.dirty = slices.DeleteFunc(b.dirty, func(d *bufferEntry) bool { return d.gone && !d.live })
			b.dead = 0
		}
	default:
		b.unindex(e)
	}
	if e.time == b.minTime {
		b.minTime = math.MaxInt64
		if t, ok := b.order.minTime(); ok {
			b.minTime = t
		}
	}
}

// Flush writes the entry of every key changed since the last flush to the
// changelog, or a tombstone for a key no longer buffered whose last record
// there is a value (Kafka Streams logs one for every key taken out; one
// for a key never logged, put and taken out between two flushes, would
// change nothing restoration rebuilds). Flush must come
// before the task's producer is flushed (the runtime flushes stores
// first), so that the commit covers these records.
func (b *TimeOrderedBuffer) Flush() error {
	if b.closed {
		return ErrClosed
	}
	if b.log == nil || len(b.dirty) == 0 {
		return nil
	}
	// Kafka Streams sends these with no timestamp (the producer's clock):
	// they are not event-time data, and the changelog is compacted.
	now := time.Now().UnixMilli()
	for i, e := range b.dirty {
		if e.gone && !e.live {
			continue
		}
		var value []byte
		var headers []serde.Header
		if !e.gone {
			value = encodeBufferValue(&e.val, e.time)
			headers = bufferChangelogHeaders
		}
		if err := b.log.Sink.Send(b.log.Topic, b.log.Partition, e.key, value, headers, now); err != nil {
			// Keep the entries not logged yet for the next flush.
			b.logged(b.dirty[:i])
			b.dirty = append(b.dirty[:0], b.dirty[i:]...)
			b.dead = 0 // a hint only: recounted as entries go
			return fmt.Errorf("state: log suppression buffer %s: %w", b.name, err)
		}
		e.live = !e.gone
	}
	b.logged(b.dirty)
	clear(b.dirty)
	b.dirty, b.dead = b.dirty[:0], 0
	return nil
}

// logged marks entries as logged and forgets those that were gone (the
// index may hold a newer entry of the key of one that was not live).
func (b *TimeOrderedBuffer) logged(entries []*bufferEntry) {
	for _, e := range entries {
		e.logged = false
		if e.gone {
			b.unindex(e)
		}
	}
}

// Restore applies one record of the buffer's changelog: a tombstone
// removes the key, any other record (Kafka Streams' format version 3,
// which the headers name) puts the entry it holds. Nothing is logged.
func (b *TimeOrderedBuffer) Restore(key, value []byte, headers []serde.Header) error {
	if b.closed {
		return ErrClosed
	}
	if value == nil {
		if e := b.index.get(key); e != nil && !e.gone {
			b.order.delete(e)
			b.removed(e, false)
		}
		return nil
	}
	var version []byte
	for _, h := range headers {
		if h.Key == "v" {
			version = h.Value
		}
	}
	if !bytes.Equal(version, []byte{3}) {
		if version == nil {
			return fmt.Errorf("%w: a record has no version header (written by a Kafki older than the in-memory suppression buffer?); reset the application to drop it", ErrBadBufferChangelog)
		}
		return fmt.Errorf("%w: format version %v is not supported (only 3)", ErrBadBufferChangelog, version)
	}
	// Copies, so that the buffer does not pin the fetched batches.
	v, t, err := decodeBufferValue(bytes.Clone(value))
	if err != nil {
		return err
	}
	b.put(t, bytes.Clone(key), v, true).live = true
	return nil
}

// ErrBadBufferChangelog is wrapped by the error of Restore for a changelog
// record that is not a suppression buffer entry Kafki can read.
var ErrBadBufferChangelog = errors.New("state: malformed suppression buffer changelog record")

// Close drops the buffer's content.
func (b *TimeOrderedBuffer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.index.release()
	b.order, b.dirty = nil, nil
	b.n, b.size, b.minTime = 0, 0, math.MaxInt64
	return nil
}

// recordSize is the size Kafka Streams counts for an entry (see
// BufferSize).
func recordSize(key []byte, v *BufferValue) int64 {
	n := 8 + len(key) + len(v.Prior) + len(v.New)
	if !sameValue(v.Prior, v.Old) {
		n += len(v.Old)
	}
	n += 8 + 8 + len(v.Context.Topic) + 4 // timestamp, offset, topic, partition
	for _, h := range v.Context.Headers {
		n += utf16Len(h.Key) + len(h.Value)
	}
	return int64(n)
}

// sameValue is Java's Arrays.equals: two nulls are equal, null is not
// equal to empty.
func sameValue(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// utf16Len is the length of s in Java chars, which Kafka Streams counts.
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n, i = n+1, i+1
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n, i = n+1, i+size
		if r > 0xFFFF {
			n++
		}
	}
	return n
}
