package rocksdb

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/linxGnu/grocksdb"
)

// TestHandleLayout guards the unsafe reads of grocksdb's C handles in
// cgo.go: each handle type must keep its C pointer, of the expected C type,
// as its first field, and the pointer read that way must work as the
// handle. If grocksdb changes these structs, this fails before anything
// dereferences a wrong pointer.
func TestHandleLayout(t *testing.T) {
	for _, c := range []struct {
		typ   reflect.Type
		ctype string
	}{
		{reflect.TypeFor[grocksdb.DB](), "rocksdb_t"},
		{reflect.TypeFor[grocksdb.ReadOptions](), "rocksdb_readoptions_t"},
		{reflect.TypeFor[grocksdb.WriteOptions](), "rocksdb_writeoptions_t"},
		{reflect.TypeFor[grocksdb.Iterator](), "rocksdb_iterator_t"},
	} {
		if c.typ.NumField() == 0 {
			t.Fatalf("grocksdb.%s has no fields: the unsafe handle reads of cgo.go are wrong for this grocksdb version", c.typ.Name())
		}
		f := c.typ.Field(0)
		if f.Offset != 0 || f.Name != "c" || f.Type.Kind() != reflect.Pointer ||
			!bytes.HasSuffix([]byte(f.Type.Elem().Name()), []byte(c.ctype)) {
			t.Fatalf("grocksdb.%s starts with field %s %s at offset %d, want c *C.%s at 0: the unsafe handle reads of cgo.go are wrong for this grocksdb version",
				c.typ.Name(), f.Name, f.Type, f.Offset, c.ctype)
		}
	}

	// The pointers work as the handles: options set through grocksdb read
	// back through the C pointer, and a key put through grocksdb is read
	// through the direct calls, and the other way round.
	for _, fill := range []bool{true, false} {
		ro := grocksdb.NewDefaultReadOptions()
		ro.SetFillCache(fill)
		got := probeReadFillCache(ro)
		ro.Destroy()
		if got != fill {
			t.Fatalf("read options: fill_cache %v read back as %v through the C handle", fill, got)
		}
	}
	for _, off := range []bool{true, false} {
		wo := grocksdb.NewDefaultWriteOptions()
		wo.DisableWAL(off)
		got := probeWriteDisableWAL(wo)
		wo.Destroy()
		if got != off {
			t.Fatalf("write options: disable_WAL %v read back as %v through the C handle", off, got)
		}
	}
	s, err := openRocksKV("layout", t.TempDir(), newRocksSettings([]Option{WithConfig(testConfig)}))
	must(t, err)
	defer s.Close()
	must(t, s.db.Put(s.wo, []byte("a"), []byte("via grocksdb")))
	v, err := dbGet(s.cdb, s.cro, []byte("a"))
	must(t, err)
	if string(v) != "via grocksdb" {
		t.Fatalf("direct get through the C handle read %q", v)
	}
	must(t, dbPut(s.cdb, s.cwo, []byte("b"), []byte("via C")))
	gv, err := s.db.GetBytes(s.ro, []byte("b"))
	must(t, err)
	if string(gv) != "via C" {
		t.Fatalf("grocksdb get after a direct put read %q", gv)
	}
	git := s.db.NewIterator(s.ro)
	defer git.Close()
	k, _, ok := iterStep(cIterator(git), iterFirst)
	if !ok || string(k) != "a" {
		t.Fatalf("direct iterator step through the C handle: %q %v", k, ok)
	}
}

// Values larger than the read scratch buffer come back whole, as do empty
// ones.
func TestGetValueSizes(t *testing.T) {
	s, err := OpenKeyValueStore("sizes", t.TempDir(), WithConfig(testConfig), WithWriteBack(-1))
	must(t, err)
	defer s.Close()
	for _, n := range []int{0, 1, 4095, 4096, 4097, 1 << 20} {
		v := bytes.Repeat([]byte{byte(n)}, n)
		k := []byte{byte(n), byte(n >> 8), byte(n >> 16)}
		must(t, s.Put(k, v))
		got, err := s.Get(k)
		must(t, err)
		if got == nil || !bytes.Equal(got, v) {
			t.Fatalf("value of %d bytes read back as %d bytes", n, len(got))
		}
	}
}
