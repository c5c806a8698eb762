package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"testing"
)

func tupleCmp(k1 []byte, a1, b1 int64, s1 uint32, k2 []byte, a2, b2 int64, s2 uint32) int {
	if c := bytes.Compare(k1, k2); c != 0 {
		return c
	}
	if c := cmp.Compare(a1, a2); c != 0 {
		return c
	}
	if c := cmp.Compare(b1, b2); c != 0 {
		return c
	}
	return cmp.Compare(s1, s2)
}

func addKeySeeds(f *testing.F) {
	seeds := []struct {
		k1, k2 []byte
		t1, t2 int64
	}{
		{b("a"), b("ab"), math.MaxInt64, 0},
		{b("a"), b("ab"), 0x7a00000000000000, 0},
		{b("a"), b("a\x00"), 5, 5},
		{b("a\x00"), b("a\x00\x00"), -1, 1},
		{b("a\x00\x01"), b("a"), 0, math.MinInt64},
		{b("\x00\xff"), b("\x00"), 7, 7},
		{nil, b("\x00"), math.MinInt64, math.MaxInt64},
		{b("\xff\xff"), b("\xff"), -5, 5},
		{b("k"), b("k"), -1, 0},
	}
	for _, s := range seeds {
		f.Add(s.k1, s.k2, s.t1, s.t2, uint32(1), uint32(0))
	}
}

// FuzzWindowKeyOrder: encoded window keys compare exactly as (key, start,
// seq) tuples do, and decode back.
func FuzzWindowKeyOrder(f *testing.F) {
	addKeySeeds(f)
	f.Fuzz(func(t *testing.T, k1, k2 []byte, t1, t2 int64, s1, s2 uint32) {
		for _, withSeq := range []bool{false, true} {
			var e1, e2 []byte
			if withSeq {
				e1, e2 = WindowKeyWithSeq(k1, t1, s1), WindowKeyWithSeq(k2, t2, s2)
			} else {
				e1, e2 = WindowKey(k1, t1), WindowKey(k2, t2)
				s1, s2 = 0, 0
			}
			want := tupleCmp(k1, t1, 0, s1, k2, t2, 0, s2)
			if got := bytes.Compare(e1, e2); got != want {
				t.Fatalf("order of %q@%d#%d vs %q@%d#%d: encoded %d, tuples %d", k1, t1, s1, k2, t2, s2, got, want)
			}
			k, ts, seq, err := DecodeWindowKey(e1)
			if err != nil || !bytes.Equal(k, k1) || ts != t1 || seq != s1 {
				t.Fatalf("decode %x = %q %d %d %v", e1, k, ts, seq, err)
			}
			// Every encoding of k1 starts with keyPrefix(k1) and sorts
			// below keyPrefixEnd(k1); keys other than k1 never do both.
			in := bytes.HasPrefix(e2, keyPrefix(k1)) && bytes.Compare(e2, keyPrefixEnd(k1)) < 0
			if in != bytes.Equal(k1, k2) {
				t.Fatalf("prefix bounds of %q wrongly contain %q: %v", k1, k2, in)
			}
			if lo := keyPrefix(k1); bytes.Equal(k1, k2) != (bytes.Compare(e2, lo) >= 0 && bytes.Compare(e2, keyPrefixEnd(k1)) < 0) {
				t.Fatalf("range bounds of %q vs %q", k1, k2)
			}
		}
	})
}

// FuzzSessionKeyOrder: encoded session keys compare as (key, end, start).
func FuzzSessionKeyOrder(f *testing.F) {
	addKeySeeds(f)
	f.Fuzz(func(t *testing.T, k1, k2 []byte, t1, t2 int64, s1, s2 uint32) {
		st1, st2 := t1-int64(s1), t2-int64(s2)
		e1, e2 := SessionKey(k1, st1, t1), SessionKey(k2, st2, t2)
		want := tupleCmp(k1, t1, st1, 0, k2, t2, st2, 0)
		if got := bytes.Compare(e1, e2); got != want {
			t.Fatalf("order of %q[%d,%d] vs %q[%d,%d]: encoded %d, tuples %d", k1, st1, t1, k2, st2, t2, got, want)
		}
		k, start, end, err := DecodeSessionKey(e1)
		if err != nil || !bytes.Equal(k, k1) || start != st1 || end != t1 {
			t.Fatalf("decode %x = %q %d %d %v", e1, k, start, end, err)
		}
	})
}

// FuzzDecodeGarbage: decoders never panic on arbitrary bytes, and whatever
// they accept re-encodes to the same bytes.
func FuzzDecodeGarbage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1})
	f.Add(WindowKey(b("a\x00b"), -3))
	f.Add(WindowKeyWithSeq(b("x"), 9, 2))
	f.Add(SessionKey(b("\x00"), 1, 2))
	f.Fuzz(func(t *testing.T, enc []byte) {
		if k, ts, seq, err := DecodeWindowKey(enc); err == nil {
			re := WindowKey(k, ts)
			if len(enc) == len(re)+seqSize {
				re = WindowKeyWithSeq(k, ts, seq)
			}
			if !bytes.Equal(re, enc) {
				t.Fatalf("window key %x decodes to %q %d %d, re-encodes to %x", enc, k, ts, seq, re)
			}
		}
		if k, st, end, err := DecodeSessionKey(enc); err == nil {
			if re := SessionKey(k, st, end); !bytes.Equal(re, enc) {
				t.Fatalf("session key %x re-encodes to %x", enc, re)
			}
		}
		if ts, v, err := DecodeTimestamped(enc); err == nil && enc != nil {
			if re := EncodeTimestamped(ts, v); !bytes.Equal(re, enc) {
				t.Fatalf("timestamped %x re-encodes to %x", enc, re)
			}
		}
	})
}

// FuzzWindowStoreRange drives a window store with operations decoded from
// the input and checks that key-range and time-range fetches return exactly
// what a sorted map returns.
func FuzzWindowStoreRange(f *testing.F) {
	f.Add([]byte("\x01a\x00\x05\x02ab\x00\x07\x01\x00\x00\x01"), int64(0), int64(100))
	f.Add([]byte("\x03a\x00\x00\x10\x01a\x10\x02a\x00\x00\x11"), int64(-50), int64(50))
	f.Add([]byte{0x7f, 0xff, 0x00, 0x01, 0x02, 0x00, 0xff, 0xfe, 0x80, 0x81}, int64(math.MinInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, ops []byte, from, to int64) {
		s := NewInMemoryWindowStore("fuzz", 0, 16*ms, false)
		defer s.Close()
		model := map[winModelKey]string{}
		// Each op: len(1) key(len) time(1, signed) — times span segments.
		for i := 0; len(ops) > 0; i++ {
			n := int(ops[0]) % 4
			ops = ops[1:]
			if len(ops) < n+1 {
				break
			}
			key, ts := ops[:n], int64(int8(ops[n]))*3
			ops = ops[n+1:]
			v := fmt.Sprint(i)
			if err := s.Put(key, b(v), ts); err != nil {
				t.Fatal(err)
			}
			model[winModelKey{string(key), ts}] = v
		}
		var ents []winModelKey
		for mk := range model {
			ents = append(ents, mk)
		}
		sort.Slice(ents, func(i, j int) bool {
			return tupleCmp(b(ents[i].key), ents[i].start, 0, 0, b(ents[j].key), ents[j].start, 0, 0) < 0
		})
		var kf, kt []byte
		var fb [8]byte
		binary.BigEndian.PutUint64(fb[:], uint64(from))
		if from%3 != 0 {
			kf = fb[:int(uint64(from)%3)]
		}
		if to%3 != 0 {
			kt = fb[:int(uint64(to)%4)]
		}
		tf, tt := from/1e16, to/1e16
		var want, wantAll []string
		for _, mk := range ents {
			r := fmt.Sprintf("%s@%d=%s", mk.key, mk.start, model[mk])
			wantAll = append(wantAll, r)
			if mk.start < tf || mk.start > tt {
				continue
			}
			if (kf != nil && mk.key < string(kf)) || (kt != nil && mk.key > string(kt)) {
				continue
			}
			want = append(want, r)
		}
		eq(t, colW(t)(s.All()), wantAll)
		eq(t, colW(t)(s.FetchKeyRange(kf, kt, tf, tt)), want)
	})
}
