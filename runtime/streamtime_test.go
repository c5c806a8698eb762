package runtime

import (
	"encoding/base64"
	"errors"
	"maps"
	"testing"
)

func TestCommitMetadata(t *testing.T) {
	for _, ts := range []int64{-1, 0, 1, 1_700_000_000_000, 1<<62 + 5} {
		for _, meta := range []map[string]int64{nil, {"sessions": 17}, {"a": 1, "counts": 1 << 40, "": -3}} {
			got, gotMeta, err := decodeCommitMetadata(encodeCommitMetadata(ts, meta))
			if err != nil || got != ts || !maps.Equal(gotMeta, meta) {
				t.Errorf("round trip of %d %v: %d %v, %v", ts, meta, got, gotMeta, err)
			}
		}
	}
	// Kafka Streams' version 2 (TopicPartitionMetadata.encode): 0x02, the
	// big-endian partition time, then ProcessorMetadata.serialize (empty
	// when there is none).
	if got := encodeCommitMetadata(258, nil); got != base64.StdEncoding.EncodeToString([]byte{2, 0, 0, 0, 0, 0, 0, 1, 2}) {
		t.Errorf("encoding of 258: %q", got)
	}
	withMeta := []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 'w', 's', 0, 0, 0, 0, 0, 0, 0, 9}
	if got := encodeCommitMetadata(7, map[string]int64{"ws": 9}); got != base64.StdEncoding.EncodeToString(withMeta) {
		t.Errorf("encoding of 7 {ws: 9}: %q", got)
	}
	// Version 1, which Kafka Streams wrote before 3.3 and Kafki before
	// this encoding: the time only.
	if got, meta, err := decodeCommitMetadata(base64.StdEncoding.EncodeToString([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7})); err != nil || got != 7 || meta != nil {
		t.Errorf("version 1: %d %v, %v", got, meta, err)
	}
	// A later version: the time comes first.
	if got, _, err := decodeCommitMetadata(base64.StdEncoding.EncodeToString([]byte{3, 0, 0, 0, 0, 0, 0, 0, 7, 9, 9})); err != nil || got != 7 {
		t.Errorf("version 3: %d, %v", got, err)
	}
	// Version 2 with malformed processor metadata: the time is kept.
	for _, tail := range [][]byte{{9, 9}, {0, 0, 0, 1}, {0, 0, 0, 1, 0, 0, 0, 9, 'k', 0, 0, 0, 0, 0, 0, 0, 1}, {0xff, 0xff, 0xff, 0xff}, append(withMeta[9:], 0)} {
		b := append([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7}, tail...)
		got, meta, err := decodeCommitMetadata(base64.StdEncoding.EncodeToString(b))
		if !errors.Is(err, errBadProcessorMetadata) || got != 7 || meta != nil {
			t.Errorf("version 2 with %v: %d %v, %v; want 7 and errBadProcessorMetadata", tail, got, meta, err)
		}
	}
	for _, bad := range []string{"", "member-1", "AQ==", base64.StdEncoding.EncodeToString(make([]byte, 9))} {
		if _, _, err := decodeCommitMetadata(bad); !errors.Is(err, errBadCommitMetadata) {
			t.Errorf("decode %q: %v, want errBadCommitMetadata", bad, err)
		}
	}
}

func FuzzDecodeCommitMetadata(f *testing.F) {
	for _, seed := range []string{"", "member-1", encodeCommitMetadata(42, nil), encodeCommitMetadata(42, map[string]int64{"s": 3}), "AQ=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, meta, err := decodeCommitMetadata(s)
		if errors.Is(err, errBadCommitMetadata) {
			return
		}
		got, gotMeta, err := decodeCommitMetadata(encodeCommitMetadata(ts, meta))
		if err != nil || got != ts || !maps.Equal(gotMeta, meta) {
			t.Fatalf("re-encoding %d %v: %d %v, %v", ts, meta, got, gotMeta, err)
		}
	})
}
