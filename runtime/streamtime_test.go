package runtime

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestStreamTimeMetadata(t *testing.T) {
	for _, ts := range []int64{0, 1, 1_700_000_000_000, 1<<62 + 5} {
		got, err := decodeStreamTime(encodeStreamTime(ts))
		if err != nil || got != ts {
			t.Errorf("round trip of %d: %d, %v", ts, got, err)
		}
	}
	// Kafka Streams' version 1: base64 of 0x01 and the big-endian time.
	if got := encodeStreamTime(258); got != base64.StdEncoding.EncodeToString([]byte{1, 0, 0, 0, 0, 0, 0, 1, 2}) {
		t.Errorf("encoding of 258: %q", got)
	}
	// Later versions append more; the time comes first.
	if got, err := decodeStreamTime(base64.StdEncoding.EncodeToString([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 9, 9})); err != nil || got != 7 {
		t.Errorf("version 2: %d, %v", got, err)
	}
	for _, bad := range []string{"", "member-1", "AQ==", base64.StdEncoding.EncodeToString(make([]byte, 9))} {
		if _, err := decodeStreamTime(bad); !errors.Is(err, errBadCommitMetadata) {
			t.Errorf("decode %q: %v, want errBadCommitMetadata", bad, err)
		}
	}
}

func FuzzDecodeStreamTime(f *testing.F) {
	for _, seed := range []string{"", "member-1", encodeStreamTime(42), "AQ=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, meta string) {
		ts, err := decodeStreamTime(meta)
		if err != nil {
			return
		}
		if got, err := decodeStreamTime(encodeStreamTime(ts)); err != nil || got != ts {
			t.Fatalf("re-encoding %d: %d, %v", ts, got, err)
		}
	})
}
