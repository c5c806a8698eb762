package kafkatime

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, ms := range []int64{0, 1, 1_700_000_000_123} {
		if got := Millis(Time(ms)); got != ms {
			t.Errorf("Millis(Time(%d)) = %d", ms, got)
		}
	}
	if got := Millis(time.Time{}); got != -1 {
		t.Errorf("Millis(zero) = %d, want -1", got)
	}
	if got := Time(-1); !got.IsZero() {
		t.Errorf("Time(-1) = %v, want the zero time", got)
	}
	if got := Millis(time.UnixMilli(5).Add(999 * time.Microsecond)); got != 5 {
		t.Errorf("Millis truncates sub-millisecond time: got %d, want 5", got)
	}
}
