package rocksdb

// Direct calls into RocksDB's C API for the per-record paths (point reads
// and writes, iterator steps). grocksdb's wrappers allocate on every call
// (out-parameters escape to the heap, and each key or value read from an
// iterator comes in a new Slice); these helpers return results by value,
// and fuse an iterator's move, validity check, key and value into one cgo
// call.

/*
#cgo LDFLAGS: -lrocksdb
#include <stdlib.h>
#include <string.h>
#include "rocksdb/c.h"

typedef struct {
	const char* k;
	size_t klen;
	const char* v;
	size_t vlen;
	unsigned char valid;
} kafki_iter_entry;

// op: 0 stay, 1 next, 2 prev, 3 seek to first, 4 seek to last.
static kafki_iter_entry kafki_iter_step(rocksdb_iterator_t* it, int op) {
	kafki_iter_entry e = {0};
	switch (op) {
	case 1: rocksdb_iter_next(it); break;
	case 2: rocksdb_iter_prev(it); break;
	case 3: rocksdb_iter_seek_to_first(it); break;
	case 4: rocksdb_iter_seek_to_last(it); break;
	}
	e.valid = rocksdb_iter_valid(it);
	if (e.valid) {
		e.k = rocksdb_iter_key(it, &e.klen);
		e.v = rocksdb_iter_value(it, &e.vlen);
	}
	return e;
}

typedef struct {
	rocksdb_pinnableslice_t* big; // set when the value did not fit: copy with kafki_take
	size_t vlen;
	char* err;
	unsigned char found;
} kafki_get_into_result;

// kafki_get_into reads key's value into buf when it fits (one crossing,
// no malloc of the value: the slice is pinned in the block cache or
// memtable); a larger value stays pinned in big for kafki_take.
static kafki_get_into_result kafki_get_into(rocksdb_t* db, const rocksdb_readoptions_t* ro, const char* k, size_t klen, char* buf, size_t cap) {
	kafki_get_into_result r = {0};
	rocksdb_pinnableslice_t* p = rocksdb_get_pinned(db, ro, k, klen, &r.err);
	if (r.err != NULL || p == NULL) {
		return r;
	}
	r.found = 1;
	const char* v = rocksdb_pinnableslice_value(p, &r.vlen);
	if (r.vlen <= cap) {
		if (r.vlen > 0) memcpy(buf, v, r.vlen);
		rocksdb_pinnableslice_destroy(p);
		return r;
	}
	r.big = p;
	return r;
}

static void kafki_take(rocksdb_pinnableslice_t* p, char* buf) {
	size_t vlen;
	const char* v = rocksdb_pinnableslice_value(p, &vlen);
	memcpy(buf, v, vlen);
	rocksdb_pinnableslice_destroy(p);
}

static char* kafki_put(rocksdb_t* db, const rocksdb_writeoptions_t* wo, const char* k, size_t klen, const char* v, size_t vlen) {
	char* err = NULL;
	rocksdb_put(db, wo, k, klen, v, vlen, &err);
	return err;
}

// Probes of the handles, for the layout test (cgo_layout_test.go).
static unsigned char kafki_ro_fill_cache(rocksdb_readoptions_t* ro) { return rocksdb_readoptions_get_fill_cache(ro); }
static unsigned char kafki_wo_disable_wal(rocksdb_writeoptions_t* wo) { return rocksdb_writeoptions_get_disable_WAL(wo); }

static char* kafki_delete(rocksdb_t* db, const rocksdb_writeoptions_t* wo, const char* k, size_t klen) {
	char* err = NULL;
	rocksdb_delete(db, wo, k, klen, &err);
	return err;
}
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// The grocksdb handles (v1.7.14) hold their C pointer as first field, and
// grocksdb gives no accessor for it. TestHandleLayout checks that layout
// (the field's name, type and offset, and that the pointer works as a
// handle): upgrading grocksdb to a version that changes it fails that
// test instead of crashing at run time.
func cDB(db *grocksdb.DB) *C.rocksdb_t { return *(**C.rocksdb_t)(unsafe.Pointer(db)) }
func cReadOptions(o *grocksdb.ReadOptions) *C.rocksdb_readoptions_t {
	return *(**C.rocksdb_readoptions_t)(unsafe.Pointer(o))
}
func cWriteOptions(o *grocksdb.WriteOptions) *C.rocksdb_writeoptions_t {
	return *(**C.rocksdb_writeoptions_t)(unsafe.Pointer(o))
}
func cIterator(it *grocksdb.Iterator) *C.rocksdb_iterator_t {
	return *(**C.rocksdb_iterator_t)(unsafe.Pointer(it))
}

func cBytes(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

func cErr(err *C.char) error {
	if err == nil {
		return nil
	}
	msg := C.GoString(err)
	C.rocksdb_free(unsafe.Pointer(err))
	return errors.New(msg)
}

const (
	iterStay = iota
	iterNext
	iterPrev
	iterFirst
	iterLast
)

// iterStep moves it and returns its entry, which points into RocksDB's
// memory until the next move.
func iterStep(it *C.rocksdb_iterator_t, op int) (key, value []byte, ok bool) {
	e := C.kafki_iter_step(it, C.int(op))
	if e.valid == 0 {
		return nil, nil, false
	}
	key = unsafe.Slice((*byte)(unsafe.Pointer(e.k)), int(e.klen))
	if e.v == nil {
		return key, []byte{}, true
	}
	return key, unsafe.Slice((*byte)(unsafe.Pointer(e.v)), int(e.vlen)), true
}

// getScratch holds the buffers point reads copy values into, in C, before
// Go copies them to a slice of the exact size: one cgo crossing per read.
var getScratch = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// dbGet copies key's value into Go memory (nil when absent).
func dbGet(db *C.rocksdb_t, ro *C.rocksdb_readoptions_t, key []byte) ([]byte, error) {
	bp := getScratch.Get().(*[]byte)
	buf := *bp
	r := C.kafki_get_into(db, ro, cBytes(key), C.size_t(len(key)), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	switch {
	case r.err != nil:
		getScratch.Put(bp)
		return nil, cErr(r.err)
	case r.found == 0:
		getScratch.Put(bp)
		return nil, nil
	case r.big != nil:
		getScratch.Put(bp)
		v := make([]byte, int(r.vlen))
		C.kafki_take(r.big, (*C.char)(unsafe.Pointer(&v[0])))
		return v, nil
	}
	v := make([]byte, int(r.vlen))
	copy(v, buf)
	getScratch.Put(bp)
	return v, nil
}

func dbPut(db *C.rocksdb_t, wo *C.rocksdb_writeoptions_t, key, value []byte) error {
	return cErr(C.kafki_put(db, wo, cBytes(key), C.size_t(len(key)), cBytes(value), C.size_t(len(value))))
}

func dbDelete(db *C.rocksdb_t, wo *C.rocksdb_writeoptions_t, key []byte) error {
	return cErr(C.kafki_delete(db, wo, cBytes(key), C.size_t(len(key))))
}

// probeReadFillCache and probeWriteDisableWAL read an option back through
// the C handle, so that the layout test can check the handle is the right
// object.
func probeReadFillCache(o *grocksdb.ReadOptions) bool {
	return C.kafki_ro_fill_cache(cReadOptions(o)) != 0
}

func probeWriteDisableWAL(o *grocksdb.WriteOptions) bool {
	return C.kafki_wo_disable_wal(cWriteOptions(o)) != 0
}
