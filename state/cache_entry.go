package state

import (
	"bytes"

	"github.com/kafki/kafki/serde"
)

// The record cache's entries and the two intrusive lists that order them:
// by recency of use (LRU eviction) and by last update (flush order, as
// Kafka Streams' NamedCache keeps its dirty keys).

// cacheEntryOverhead is charged per entry on top of key and value bytes.
const cacheEntryOverhead = 96

type cacheEntry struct {
	key   []byte
	value []byte // nil: a cached delete (when dirty) or absent
	// ts and headers are the record context of the write that made the
	// entry: the changelog record and the forwarded update carry them.
	ts      int64
	headers []serde.Header
	dirty   bool
	// belowKnown: below is what the store below holds for key (nil:
	// nothing), so that writing the dirty entry below needs no read for
	// the old value the listener is passed. It is set when the entry is
	// created right after a read found nothing there, or when a clean
	// entry (whose value is the store's, read from it or written to it)
	// becomes dirty; a write below clears it.
	belowKnown bool
	below      []byte
	// win is the window cache's per-key index entry holding this entry
	// (nil in other caches), so that dropping it needs no key lookup.
	win *keyWindows

	prev, next   *cacheEntry // LRU list: head is least recently used
	dprev, dnext *cacheEntry // dirty list, in order of last update
}

func (e *cacheEntry) size() int64 {
	n := int64(len(e.key)+len(e.value)) + cacheEntryOverhead
	for _, h := range e.headers {
		n += int64(len(h.Key)+len(h.Value)) + 32
	}
	return n
}

func cacheLess(a, b *cacheEntry) bool { return bytes.Compare(a.key, b.key) < 0 }

type entryList struct{ head, tail *cacheEntry }

func (l *entryList) pushLRU(e *cacheEntry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *entryList) removeLRU(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *entryList) pushDirty(e *cacheEntry) {
	e.dprev, e.dnext = l.tail, nil
	if l.tail != nil {
		l.tail.dnext = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *entryList) removeDirty(e *cacheEntry) {
	if e.dprev != nil {
		e.dprev.dnext = e.dnext
	} else {
		l.head = e.dnext
	}
	if e.dnext != nil {
		e.dnext.dprev = e.dprev
	} else {
		l.tail = e.dprev
	}
	e.dprev, e.dnext = nil, nil
}
