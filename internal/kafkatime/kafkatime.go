package kafkatime

import "time"

// Millis is t in epoch milliseconds, as Kafka carries it: the zero time
// (no timestamp) is -1, Kafka's "none".
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// Time is Millis's inverse: a negative ms (Kafka's "none") is the zero
// time.
func Time(ms int64) time.Time {
	if ms < 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
