package stream

import "time"

// The DSL's processors compute with epoch milliseconds, as Kafka and the
// stores keep time, and convert at the record's edge: a Record carries a
// time.Time.

// ms is a record's time in epoch milliseconds; the zero time (a record
// without a timestamp) is -1, Kafka's "none".
func ms(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// msTime is the record time of ms epoch milliseconds.
func msTime(ms int64) time.Time { return time.UnixMilli(ms) }
