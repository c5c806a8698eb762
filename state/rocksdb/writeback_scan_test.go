package rocksdb

import (
	"fmt"
	"slices"
	"testing"
)

// RocksDB iterators read a snapshot: a scan of the write-back buffer open
// while the buffer is written to the database must reopen its database
// iterator, or the entries it had not reached yet would be lost.
func TestWriteBackScanAcrossDrain(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		for _, at := range []int{1, 5} {
			t.Run(fmt.Sprintf("reverse=%v/drain-after-%d", reverse, at), func(t *testing.T) {
				s, err := OpenKeyValueStore("kv", t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				var want []string
				for i := 0; i < 40; i++ {
					k := fmt.Sprintf("k%02d", i)
					if err := s.Put([]byte(k), []byte("v")); err != nil {
						t.Fatal(err)
					}
					if i == 2 {
						if err := s.Flush(); err != nil {
							t.Fatal(err)
						}
					}
					want = append(want, k)
				}
				it, err := s.All()
				if reverse {
					it, err = s.ReverseAll()
					slices.Reverse(want)
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for it.Next() {
					got = append(got, string(it.Key()))
					if len(got) == at {
						if err := s.Flush(); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
				it.Close()
				if !slices.Equal(got, want) {
					t.Fatalf("scan read %v, want %v", got, want)
				}
			})
		}
	}
}
