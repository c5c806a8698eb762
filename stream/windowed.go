package stream

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// Windowed is a key of a windowed aggregation: the grouping key and the
// window it belongs to (Kafka Streams' Windowed, whose window() is the
// Window field here).
type Windowed[K any] struct {
	Key    K
	Window Window
}

// Window is the time span of a Windowed key. For time windows End is
// exclusive (Start plus the window size); for session windows both bounds
// are the timestamps of the session's first and last record, as in Kafka
// Streams. The bounds are held as epoch milliseconds, the unit Kafka and
// the stores keep, so a Window converts nothing until Start or End is
// called.
type Window struct{ start, end int64 }

// NewWindow returns the window from start to end, truncated to
// milliseconds as Kafka keeps time.
func NewWindow(start, end time.Time) Window {
	return Window{start: start.UnixMilli(), end: end.UnixMilli()}
}

// Start is the window's first instant (Kafka Streams' startTime()).
func (w Window) Start() time.Time { return time.UnixMilli(w.start) }

// End is the window's end (Kafka Streams' endTime()): exclusive for time
// windows, the last record's timestamp for session windows.
func (w Window) End() time.Time { return time.UnixMilli(w.end) }

// Size is End minus Start.
func (w Window) Size() time.Duration { return time.Duration(w.end-w.start) * time.Millisecond }

// String prints the window as "[start/end]" in epoch milliseconds, the
// bounds Windowed.String prints.
func (w Window) String() string { return fmt.Sprintf("[%d/%d]", w.start, w.end) }

// String prints the key's window as Kafka Streams does: "[k@start/end]",
// the bounds in epoch milliseconds.
func (w Windowed[K]) String() string {
	return fmt.Sprintf("[%v@%d/%d]", w.Key, w.Window.start, w.Window.end)
}

// windowedJSON is a Windowed key's JSON form, as it was when the bounds
// were exported millisecond fields; the JSON methods keep it so that a
// Windowed key written with a JSON serde reads the same as before.
type windowedJSON[K any] struct {
	Key        K
	Start, End int64
}

// MarshalJSON writes {"Key":k,"Start":ms,"End":ms}, the bounds in epoch
// milliseconds.
func (w Windowed[K]) MarshalJSON() ([]byte, error) {
	return json.Marshal(windowedJSON[K]{Key: w.Key, Start: w.Window.start, End: w.Window.end})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Windowed[K]) UnmarshalJSON(b []byte) error {
	var j windowedJSON[K]
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*w = Windowed[K]{Key: j.Key, Window: Window{start: j.Start, end: j.End}}
	return nil
}

// ErrBadWindowedKey is returned when windowed key bytes are too short.
var ErrBadWindowedKey = errors.New("stream: malformed windowed key")

// WindowedSerde serialises a time-windowed key as Kafka Streams'
// TimeWindowedSerializer does: the inner key's bytes then the window start
// as 8 big-endian bytes. The end is not written; it is derived on read
// from size, which must be the window size of the aggregation.
func WindowedSerde[K any](inner serde.Serde[K], size time.Duration) serde.Serde[Windowed[K]] {
	app, _ := inner.(serde.Appender[K])
	return windowedSerde[K]{inner: inner, app: app, share: any(inner) == any(serde.String()), size: size.Milliseconds()}
}

type windowedSerde[K any] struct {
	inner serde.Serde[K]
	app   serde.Appender[K] // inner, when it appends
	// share: inner is the built-in string serde, whose strings may share
	// the bytes they are decoded from (deserializeShared).
	share bool
	size  int64
}

// shareString decodes a string that shares b's bytes instead of copying
// them. Only bytes that are never modified may be decoded so (a
// suppression buffer's keys): the string then reads the same as a copy.
// It is a func value, not a function, so that a generic serde can take
// it as a func([]byte) K without boxing the string.
var shareString = func(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// sharedDecoder is a serde that can decode unmodifiable bytes without
// copying them (see shareString); ok is false when it cannot.
type sharedDecoder[K any] interface {
	deserializeShared(data []byte) (k K, ok bool, err error)
}

func (s windowedSerde[K]) Serialize(topic string, h []serde.Header, w Windowed[K]) ([]byte, error) {
	kb, err := s.inner.Serialize(topic, h, w.Key)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(kb)+8), kb...), uint64(w.Window.start)), nil
}

// AppendSerialize appends what Serialize returns to dst (serde.Appender),
// so that a sink or a store encodes a windowed key into a buffer it
// reuses; an inner serde that does not append is called as a Serializer.
func (s windowedSerde[K]) AppendSerialize(dst []byte, topic string, h []serde.Header, w Windowed[K]) ([]byte, error) {
	dst, err := appendInner(dst, s.inner, s.app, topic, h, w.Key)
	if err != nil {
		return dst, err
	}
	return binary.BigEndian.AppendUint64(dst, uint64(w.Window.start)), nil
}

// appendInner appends the bytes of k to dst, through app when inner
// appends.
func appendInner[K any](dst []byte, inner serde.Serde[K], app serde.Appender[K], topic string, h []serde.Header, k K) ([]byte, error) {
	if app != nil {
		return app.AppendSerialize(dst, topic, h, k)
	}
	kb, err := inner.Serialize(topic, h, k)
	if err != nil {
		return dst, err
	}
	return append(dst, kb...), nil
}

func (s windowedSerde[K]) Deserialize(topic string, h []serde.Header, data []byte) (Windowed[K], error) {
	return s.deserialize(topic, h, data, false)
}

// deserializeShared is Deserialize sharing data (sharedDecoder).
func (s windowedSerde[K]) deserializeShared(data []byte) (Windowed[K], bool, error) {
	if !s.share {
		return Windowed[K]{}, false, nil
	}
	w, err := s.deserialize("", nil, data, true)
	return w, true, err
}

func (s windowedSerde[K]) deserialize(topic string, h []serde.Header, data []byte, share bool) (Windowed[K], error) {
	var w Windowed[K]
	if len(data) < 8 {
		return w, fmt.Errorf("%w: %d bytes, need at least 8", ErrBadWindowedKey, len(data))
	}
	n := len(data) - 8
	var k K
	var err error
	decode, shared := (func([]byte) K)(nil), false
	if share {
		decode, shared = any(shareString).(func([]byte) K)
	}
	if shared {
		k = decode(data[:n])
	} else if k, err = s.inner.Deserialize(topic, h, data[:n]); err != nil {
		return w, err
	}
	start := int64(binary.BigEndian.Uint64(data[n:]))
	end := start + s.size
	if end < start { // overflow: Kafka Streams caps the end likewise
		end = math.MaxInt64
	}
	w.Key, w.Window = k, Window{start: start, end: end}
	return w, nil
}

// SessionWindowedSerde serialises a session-windowed key as Kafka Streams'
// SessionWindowedSerializer: the inner key's bytes, the session end, then
// the session start, each 8 big-endian bytes.
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[Windowed[K]] {
	app, _ := inner.(serde.Appender[K])
	return sessionWindowedSerde[K]{inner: inner, app: app}
}

type sessionWindowedSerde[K any] struct {
	inner serde.Serde[K]
	app   serde.Appender[K] // inner, when it appends
}

func (s sessionWindowedSerde[K]) Serialize(topic string, h []serde.Header, w Windowed[K]) ([]byte, error) {
	kb, err := s.inner.Serialize(topic, h, w.Key)
	if err != nil {
		return nil, err
	}
	out := append(make([]byte, 0, len(kb)+16), kb...)
	out = binary.BigEndian.AppendUint64(out, uint64(w.Window.end))
	return binary.BigEndian.AppendUint64(out, uint64(w.Window.start)), nil
}

// AppendSerialize appends what Serialize returns to dst (serde.Appender).
func (s sessionWindowedSerde[K]) AppendSerialize(dst []byte, topic string, h []serde.Header, w Windowed[K]) ([]byte, error) {
	dst, err := appendInner(dst, s.inner, s.app, topic, h, w.Key)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Window.end))
	return binary.BigEndian.AppendUint64(dst, uint64(w.Window.start)), nil
}

func (s sessionWindowedSerde[K]) Deserialize(topic string, h []serde.Header, data []byte) (Windowed[K], error) {
	var w Windowed[K]
	if len(data) < 16 {
		return w, fmt.Errorf("%w: %d bytes, need at least 16", ErrBadWindowedKey, len(data))
	}
	n := len(data) - 16
	k, err := s.inner.Deserialize(topic, h, data[:n])
	if err != nil {
		return w, err
	}
	w.Key = k
	w.Window.end = int64(binary.BigEndian.Uint64(data[n:]))
	w.Window.start = int64(binary.BigEndian.Uint64(data[n+8:]))
	return w, nil
}

// TimeWindows are fixed-size windows: tumbling when Advance equals Size,
// hopping (overlapping) when Advance is smaller. A record belongs to every
// window [start, start+Size) that contains its timestamp; window starts are
// multiples of Advance from the epoch.
type TimeWindows struct {
	Size, Advance time.Duration
	// Grace is how long after a window's end out-of-order records are
	// still added to it; later ones are dropped as "late".
	Grace time.Duration
}

// TumblingWindows returns non-overlapping windows of size with the given
// grace (Kafka Streams' TimeWindows.ofSizeAndGrace).
func TumblingWindows(size, grace time.Duration) TimeWindows {
	return TimeWindows{Size: size, Advance: size, Grace: grace}
}

// AdvanceBy makes the windows hop: a new window starts every advance.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.Advance = advance
	return w
}

func (w TimeWindows) validate() error {
	switch {
	case w.Size.Milliseconds() <= 0:
		return topologyInvalid("window size %v must be at least 1ms", w.Size)
	case w.Advance.Milliseconds() <= 0 || w.Advance > w.Size:
		return topologyInvalid("window advance %v must be in (0, size %v]", w.Advance, w.Size)
	case w.Grace < 0:
		return topologyInvalid("window grace %v must not be negative", w.Grace)
	}
	return nil
}

// windowStarts calls fn with the start of every window holding ts, in
// ascending order.
func (w TimeWindows) windowStarts(ts int64, fn func(start int64) error) error {
	size, adv := w.Size.Milliseconds(), w.Advance.Milliseconds()
	start := max(0, ts-size+adv) / adv * adv
	for ; start <= ts; start += adv {
		if err := fn(start); err != nil {
			return err
		}
	}
	return nil
}

// SessionWindows group a key's records into sessions separated by at least
// Gap of inactivity. A record that falls within Gap of two sessions merges
// them into one.
type SessionWindows struct {
	Gap   time.Duration
	Grace time.Duration
}

// SessionWindowsWithGap returns session windows with the given inactivity
// gap and grace (Kafka Streams' SessionWindows.ofInactivityGapAndGrace).
func SessionWindowsWithGap(gap, grace time.Duration) SessionWindows {
	return SessionWindows{Gap: gap, Grace: grace}
}

func (w SessionWindows) validate() error {
	if w.Gap.Milliseconds() <= 0 {
		return topologyInvalid("session inactivity gap %v must be at least 1ms", w.Gap)
	}
	if w.Grace < 0 {
		return topologyInvalid("session grace %v must not be negative", w.Grace)
	}
	return nil
}

// JoinWindows bound a stream-stream join: a left record at time t joins
// the right records with timestamps in [t-Before, t+After]. Grace keeps the
// windows open for out-of-order records; left and outer joins emit a record
// that found no partner only once its window and grace have passed.
type JoinWindows struct {
	Before, After, Grace time.Duration
}

// JoinTimeDifference returns symmetric join windows: records join when
// their timestamps differ by at most diff (Kafka Streams'
// JoinWindows.ofTimeDifferenceAndGrace).
func JoinTimeDifference(diff, grace time.Duration) JoinWindows {
	return JoinWindows{Before: diff, After: diff, Grace: grace}
}

// WithBefore changes how much earlier a right record may be.
func (w JoinWindows) WithBefore(d time.Duration) JoinWindows { w.Before = d; return w }

// WithAfter changes how much later a right record may be.
func (w JoinWindows) WithAfter(d time.Duration) JoinWindows { w.After = d; return w }

func (w JoinWindows) validate() error {
	if w.Before+w.After < 0 {
		return topologyInvalid("join window before %v + after %v must not be negative", w.Before, w.After)
	}
	if w.Grace < 0 {
		return topologyInvalid("join window grace %v must not be negative", w.Grace)
	}
	return nil
}

// extOptions are the options of windowing, joins and suppression; they
// live in their own struct so the core options stay as they are.
type extOptions struct {
	retention       time.Duration
	tsExtractor     any // func(K, V, time.Time) time.Time
	otherValueSerde any
	otherStoreName  string
	emit            Emit
}

// Emit is when a windowed aggregation forwards its results.
type Emit int

const (
	// OnWindowUpdate forwards every update of every window (the default;
	// Kafka Streams' EmitStrategy.onWindowUpdate()).
	OnWindowUpdate Emit = iota
	// OnWindowClose forwards only the final result of each window, once
	// stream time passes its end plus grace, with no suppression buffer
	// (Kafka Streams' EmitStrategy.onWindowClose()). Windows are emitted
	// in window-start order, then key order; sessions, once stream time
	// passes their end plus gap plus grace, in end, start, then key order,
	// each stamped with its end.
	OnWindowClose
)

func emitOpts(opts []option, e Emit) []option {
	return append(opts, func(o *options) { o.ext.emit = e })
}

// finalEmitter emits the windows of a window store that have closed since
// its last emission, for OnWindowClose. last is the close time up to which
// windows were emitted, kept in the task's processor metadata under the
// store's name (Kafka Streams' lastEmitWindowCloseTime) so that it
// survives restarts: a window closed before a restart was emitted before
// it, one that closes only with the resumed stream time is emitted after
// it (when the aggregation had not seen the task's last records).
type finalEmitter struct {
	last int64
	on   bool
	mark emitMark
}

func newFinalEmitter(ctx any, store string, on bool, resumed, grace int64) finalEmitter {
	mark := newEmitMark(ctx, store)
	last := int64(math.MinInt64)
	if v, ok := mark.load(); ok {
		last = v
	} else if resumed >= 0 {
		// Committed before the metadata was: the close time of the
		// resumed stream time.
		last = resumed - grace
	}
	if on {
		// Kept from the start: a restart before the first emission
		// must not take the resumed stream time's close time instead.
		mark.store(last)
	}
	return finalEmitter{last: last, on: on, mark: mark}
}

// processorMetadata is the task's processor metadata (Kafka Streams'
// ProcessorMetadata, committed with the input offsets), which the
// topology's processor contexts offer.
type processorMetadata interface {
	ProcessorMetadata(key string) (int64, bool)
	SetProcessorMetadata(key string, v int64)
}

// emitMark keeps an emit-on-close aggregation's last emitted close time
// in the processor metadata under key.
type emitMark struct {
	pm  processorMetadata
	key string
}

func newEmitMark(ctx any, key string) emitMark {
	pm, _ := ctx.(processorMetadata)
	return emitMark{pm: pm, key: key}
}

func (m emitMark) load() (int64, bool) {
	if m.pm == nil {
		return 0, false
	}
	return m.pm.ProcessorMetadata(m.key)
}

func (m emitMark) store(closeTime int64) {
	if m.pm != nil {
		m.pm.SetProcessorMetadata(m.key, closeTime)
	}
}

// emitClosed forwards, in window-start then key order, the windows of ws
// that have closed when the close time moved from e.last to closeTime. A
// window with start s ends at s+length and is closed once s+length <
// closeTime+inclusive (inclusive is 1 for windows whose end is exclusive).
func emitClosed[K, VA any](e *finalEmitter, ctx topology.ProcessorContext[Windowed[K], Change[VA]], ws state.WindowStore,
	store string, ks serde.Serde[K], vs serde.Serde[VA], length, inclusive, closeTime int64, headers []serde.Header) error {
	if !e.on || closeTime <= e.last {
		return nil
	}
	// Closed now, not before: end in [last+inclusive, closeTime+inclusive).
	from, to := max(0, e.last+inclusive-length), closeTime+inclusive-length-1
	if e.last == math.MinInt64 {
		from = 0
	}
	e.last = closeTime
	e.mark.store(closeTime)
	if to < from {
		return nil
	}
	it, err := ws.FetchAll(from, to)
	if err != nil {
		return fmt.Errorf("fetch closed windows of %s: %w", store, err)
	}
	type closed struct {
		w  Windowed[K]
		v  VA
		ts int64
	}
	var out []closed
	for it.Next() {
		k, err := ks.Deserialize(store, nil, it.Key())
		if err != nil {
			it.Close()
			return fmt.Errorf("deserialize key of %s: %w", store, err)
		}
		ts, vb, err := state.DecodeTimestamped(it.Value())
		var v VA
		if err == nil {
			v, err = vs.Deserialize(store, nil, vb)
		}
		if err != nil {
			it.Close()
			return fmt.Errorf("deserialize aggregate of %s: %w", store, err)
		}
		out = append(out, closed{Windowed[K]{Key: k, Window: Window{start: it.WindowStart(), end: it.WindowStart() + length}}, v, ts})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return fmt.Errorf("fetch closed windows of %s: %w", store, err)
	}
	for _, c := range out {
		if err := ctx.Forward(topology.Record[Windowed[K], Change[VA]]{Key: c.w, Value: Change[VA]{New: c.v, HasNew: true},
			Timestamp: msTime(c.ts), Headers: headers}); err != nil {
			return err
		}
	}
	return nil
}

// timestampExtractor returns the extractor a source's Consumed asks for,
// typed for topology.AddSourceWithExtractor, or nil. The source applies it
// (rather than a node after it) so that the task's stream time, which
// drives punctuators and the order of the task's partitions, follows the
// extracted timestamps too.
func timestampExtractor[K, V any](o *options) topology.TimestampExtractor[K, V] {
	fn, _ := o.ext.tsExtractor.(func(K, V, time.Time) time.Time)
	if fn == nil {
		return nil
	}
	return fn
}

// streamTime is the largest timestamp a processor has seen. Processors
// track it themselves, rather than reading the task's, so that it counts
// only the records that reach them (as Kafka Streams' observedStreamTime),
// not those of other sources of the task or those filtered out upstream.
type streamTime struct{ t int64 }

func newStreamTime() streamTime { return streamTime{t: -1} }

// resumeStreamTime is a processor's stream time at Init: the task's, which
// is -1 for a new task and the stream time committed before a restart for
// a resumed one, so that what was late before the restart stays late.
func resumeStreamTime[KO, VO any](ctx topology.ProcessorContext[KO, VO]) streamTime {
	return streamTime{t: ms(ctx.CurrentStreamTime())}
}

func (s *streamTime) observe(ts int64) int64 {
	if ts > s.t {
		s.t = ts
	}
	return s.t
}

// dropLate counts and logs a record that arrived after its window closed.
func dropLate[KO, VO any](ctx topology.ProcessorContext[KO, VO], ts, windowEnd, closeTime int64) {
	ctx.Logger().Debug("dropping late record", "timestamp", ts, "window_end", windowEnd, "close_time", closeTime)
	ctx.RecordDropped(DropLate)
}

// DropLate is the reason under which records that arrive after their
// window's grace period are counted.
const DropLate = "late"
