package topology

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/state"
)

type schedule struct {
	node      string
	typ       PunctuationType
	interval  int64
	next      int64
	fn        Punctuator
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// punctuations is a task's schedule list. A task has few punctuators, so a
// scan beats a heap.
type punctuations struct {
	list []*schedule
}

func (t *Task) schedule(node string, interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error) {
	ms := interval.Milliseconds()
	switch {
	case ms < 1:
		return nil, fmt.Errorf("%w: node %q: punctuation interval %v is under 1ms", ErrInvalid, node, interval)
	case fn == nil:
		return nil, fmt.Errorf("%w: node %q: nil punctuator", ErrInvalid, node)
	case typ != StreamTime && typ != WallClockTime:
		return nil, fmt.Errorf("%w: node %q: unknown punctuation type %d", ErrInvalid, node, typ)
	}
	s := &schedule{node: node, typ: typ, interval: ms, fn: fn}
	if typ == WallClockTime {
		// As in Kafka Streams: first one interval from now.
		s.next = t.now().UnixMilli() + ms
	}
	// Stream-time schedules are aligned to 0, so the first fires with the
	// first record and later ones at multiples of the interval.
	t.punct.list = append(t.punct.list, s)
	return s, nil
}

// fire runs the punctuators of type typ due at now, earliest first, and
// reschedules them, skipping missed intervals as Kafka Streams does.
func (p *punctuations) fire(t *Task, typ PunctuationType, now int64) error {
	if len(p.list) == 0 || now < 0 {
		return nil
	}
	for {
		var due *schedule
		for _, s := range p.list {
			if s.typ == typ && !s.cancelled && s.next <= now && (due == nil || s.next < due.next) {
				due = s
			}
		}
		if due == nil {
			break
		}
		next := due.next + due.interval
		if now >= next {
			next = due.next + ((now-due.next)/due.interval+1)*due.interval
		}
		due.next = next
		// A punctuator writes and forwards with the punctuation time and
		// no headers, as Kafka Streams' punctuation record context.
		*t.rc = state.RecordContext{Timestamp: now, Offset: -1, Partition: -1}
		if err := due.fn(time.UnixMilli(now)); err != nil {
			return &ProcessingError{Task: t.cfg.ID, Node: due.node, Err: fmt.Errorf("%s punctuator: %w", typ, err)}
		}
	}
	p.list = compact(p.list)
	return nil
}

func compact(list []*schedule) []*schedule {
	out := list[:0]
	for _, s := range list {
		if !s.cancelled {
			out = append(out, s)
		}
	}
	return out
}

func (p *punctuations) cancelAll() {
	for _, s := range p.list {
		s.cancelled = true
	}
	p.list = nil
}
