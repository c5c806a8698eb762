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
	char* v;
	size_t vlen;
	char* err;
} kafki_get_result;

static kafki_get_result kafki_get(rocksdb_t* db, const rocksdb_readoptions_t* ro, const char* k, size_t klen) {
	kafki_get_result r = {0};
	r.v = rocksdb_get(db, ro, k, klen, &r.vlen, &r.err);
	return r;
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

// dbGet copies key's value into Go memory (nil when absent).
func dbGet(db *C.rocksdb_t, ro *C.rocksdb_readoptions_t, key []byte) ([]byte, error) {
	r := C.kafki_get(db, ro, cBytes(key), C.size_t(len(key)))
	if r.err != nil {
		return nil, cErr(r.err)
	}
	if r.v == nil {
		return nil, nil
	}
	v := C.GoBytes(unsafe.Pointer(r.v), C.int(r.vlen))
	C.rocksdb_free(unsafe.Pointer(r.v))
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
