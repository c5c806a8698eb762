package state

// Batched writes of window and session stores: restoration and the record
// cache's flush write many windows or sessions at once. Done one Put at a
// time, each costs a lock of the segment set, a segment lookup and an
// engine call; in a batch the writes are grouped by time segment and each
// segment gets one engine write batch, with the same outcome as the Puts in
// order.

// WindowKeyValue is one window of a batch write.
type WindowKeyValue struct {
	Key   []byte
	Start int64
	Value []byte // nil deletes the window
	// enc, when set, is WindowKey(Key, Start), which a record cache
	// holds already: the store keys the window with it.
	enc []byte
}

// WindowBatchWriter is implemented by the window stores of this package and
// their logging wrapper: PutWindows stores entries as Put would, one after
// the other, with one engine write batch per time segment.
type WindowBatchWriter interface {
	PutWindows(entries []WindowKeyValue) error
}

// SessionKeyValue is one session of a batch write.
type SessionKeyValue struct {
	Key        []byte
	Start, End int64
	Value      []byte // nil removes the session
}

// SessionBatchWriter is implemented by the session stores of this package
// and their logging wrapper: PutSessions stores entries as Put (Remove for
// a nil value) would, one after the other, with one engine write batch per
// time segment.
type SessionBatchWriter interface {
	PutSessions(entries []SessionKeyValue) error
}

// segWrite is one engine write of a batch, into the segment of time t.
type segWrite struct {
	t  int64
	kv KeyValue
	// observe: the write advances the stream time, and is dropped when t
	// has expired by then (counted unless uncounted); create: it opens its
	// segment when missing (otherwise it is skipped, as a delete is).
	observe, uncounted, create bool
}

type segGroup struct {
	id     int64
	create bool
	seg    segmentKV
	kvs    []KeyValue
}

// writeBatch applies ws as that many observe, getOrCreate (or get) and Put
// calls in order would, and returns the number of writes dropped as
// expired. The stream time advances write by write, so that a write is
// live exactly when it would have been; segments are dropped once, at the
// end, and the writes of a segment dropped then are skipped, as they would
// have been lost with it.
//
// With buffered, a segment's write-back buffer absorbs the batch (see
// writeBack.PutAllBuffered); without (restoration), it goes to the engine.
func (g *segments) writeBatch(ws []segWrite, buffered bool) (dropped int64, err error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, ErrClosed
	}
	// A batch spans few segments; their write lists are reused from the
	// last batch (a cache flush writes tens of thousands of windows).
	groups := g.groups[:0]
	g.groups = nil
	observed := g.observed
	for _, w := range ws {
		if w.observe {
			observed = max(observed, w.t)
			if w.t < g.minLiveAt(observed) {
				if !w.uncounted {
					dropped++
				}
				continue
			}
		}
		id := g.id(w.t)
		var gr *segGroup
		for _, x := range groups {
			if x.id == id {
				gr = x
				break
			}
		}
		if gr == nil {
			if n := len(groups); n < cap(groups) && groups[:n+1][n] != nil {
				// The last batch's group: its write list's array
				// is reused.
				groups = groups[:n+1]
				gr = groups[n]
				*gr = segGroup{id: id, kvs: gr.kvs[:0]}
			} else {
				gr = &segGroup{id: id}
				groups = append(groups, gr)
			}
		}
		gr.create = gr.create || w.create
		gr.kvs = append(gr.kvs, w.kv)
	}
	var errs []error
	if observed > g.observed {
		g.observed = observed
		if err := g.cleanupLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	minLive := g.minLiveLocked()
	for _, gr := range groups {
		if minLive != minTime && gr.id < g.id(minLive) {
			continue // dropped with its segment
		}
		s, ok := g.segs[gr.id]
		if !ok {
			if !gr.create {
				continue
			}
			if s, err = g.open(gr.id); err != nil {
				g.mu.Unlock()
				return dropped, err
			}
			g.segs[gr.id] = s
		}
		gr.seg = s
	}
	g.mu.Unlock()
	defer g.keepGroups(groups)
	for _, gr := range groups {
		if gr.seg == nil {
			continue
		}
		var err error
		if b, ok := gr.seg.(bufferedBatchWriter); ok && buffered {
			err = g.wrote(b.PutAllBuffered(gr.kvs))
		} else {
			err = g.segErr(gr.seg.PutAll(gr.kvs))
		}
		if err != nil {
			return dropped, err
		}
	}
	if len(errs) > 0 {
		return dropped, errs[0]
	}
	return dropped, nil
}

// keepGroups keeps a batch's groups for the next one, their writes
// cleared (the engines and buffers copy what they keep).
func (g *segments) keepGroups(groups []*segGroup) {
	for _, gr := range groups {
		clear(gr.kvs)
		gr.seg = nil
	}
	g.mu.Lock()
	g.groups = groups
	g.mu.Unlock()
}

// bufferedBatchWriter is a segment's write-back buffer (see
// writeBack.PutAllBuffered): a batch goes into the buffer, not straight
// to the engine, so that windows written again before the next commit
// reach the engine once.
type bufferedBatchWriter interface {
	PutAllBuffered(entries []KeyValue) error
}

// windowBufferedPutter and sessionBufferedPutter are the stores' batch
// writes for the writes of processing (a record cache's evictions, through
// the logging wrapper), which their segments' write-back buffers absorb
// until the next commit. PutWindows and PutSessions, which restoration
// calls, write through to the engine, as a key-value store's PutAll does.
type windowBufferedPutter interface {
	putWindowsBuffered(entries []WindowKeyValue) error
}

type sessionBufferedPutter interface {
	putSessionsBuffered(entries []SessionKeyValue) error
}

// PutWindows: see WindowBatchWriter.
func (s *windowStore) PutWindows(entries []WindowKeyValue) error { return s.putWindows(entries, false) }

func (s *windowStore) putWindowsBuffered(entries []WindowKeyValue) error {
	return s.putWindows(entries, true)
}

func (s *windowStore) putWindows(entries []WindowKeyValue, buffered bool) error {
	ws := s.writes.Swap(nil)
	if ws == nil {
		ws = new([]segWrite)
	}
	defer func() {
		clear(*ws)
		*ws = (*ws)[:0]
		s.writes.Store(ws)
	}()
	return s.putWindowsWith(ws, entries, buffered)
}

// putWindowsWith is putWindows with *buf, empty, to list the writes in.
func (s *windowStore) putWindowsWith(buf *[]segWrite, entries []WindowKeyValue, buffered bool) error {
	ws := *buf
	for _, e := range entries {
		if e.Value == nil {
			if s.retainDup {
				continue // ignored, as by Put
			}
			k := e.enc
			if k == nil {
				k = WindowKey(e.Key, e.Start)
			}
			ws = append(ws, segWrite{t: e.Start, kv: KeyValue{Key: k}, observe: true})
			continue
		}
		k := e.enc
		if k == nil || s.retainDup {
			k = s.encode(e.Key, e.Start)
		}
		ws = append(ws, segWrite{t: e.Start, kv: KeyValue{Key: k, Value: e.Value}, observe: true, create: true})
	}
	*buf = ws
	dropped, err := s.segs.writeBatch(ws, buffered)
	s.dropped.Add(dropped)
	return err
}

// PutSessions: see SessionBatchWriter.
func (s *sessionStore) PutSessions(entries []SessionKeyValue) error {
	return s.putSessions(entries, false)
}

func (s *sessionStore) putSessionsBuffered(entries []SessionKeyValue) error {
	return s.putSessions(entries, true)
}

func (s *sessionStore) putSessions(entries []SessionKeyValue, buffered bool) error {
	ws := make([]segWrite, 0, len(entries)*2)
	for _, e := range entries {
		k := SessionKey(e.Key, e.Start, e.End)
		if e.Value == nil {
			// Remove: no stream time, no segment opened.
			ws = append(ws, segWrite{t: e.End, kv: KeyValue{Key: k}})
			if s.byEnd {
				ws = append(ws, segWrite{t: e.End, kv: KeyValue{Key: endIndexKey(e.Key, e.Start, e.End)}})
			}
			continue
		}
		if s.byEnd {
			// The index entry goes first, as in Put.
			ws = append(ws, segWrite{t: e.End, kv: KeyValue{Key: endIndexKey(e.Key, e.Start, e.End), Value: []byte{}},
				observe: true, uncounted: true, create: true})
		}
		ws = append(ws, segWrite{t: e.End, kv: KeyValue{Key: k, Value: e.Value}, observe: true, create: true})
	}
	dropped, err := s.segs.writeBatch(ws, buffered)
	s.dropped.Add(dropped)
	return err
}

// PutWindows writes entries below in one batch, then logs each: with the
// record context of each when ctxs is set (see putWindowsWithContexts).
func (s *loggingWindowStore) PutWindows(entries []WindowKeyValue) error {
	return s.putWindowsWithContexts(entries, nil)
}

// putWindowsWithContexts is PutWindows logging each entry with its own
// record context (a record cache's flush); nil ctxs logs them all with the
// current one.
func (s *loggingWindowStore) putWindowsWithContexts(entries []WindowKeyValue, ctxs []RecordContext) error {
	if bb, ok := s.WindowStore.(windowBufferedPutter); ok {
		if err := bb.putWindowsBuffered(entries); err != nil {
			return err
		}
	} else if bw, ok := s.WindowStore.(WindowBatchWriter); ok {
		if err := bw.PutWindows(entries); err != nil {
			return err
		}
	} else {
		for _, e := range entries {
			if err := s.WindowStore.Put(e.Key, e.Value, e.Start); err != nil {
				return err
			}
		}
	}
	return s.logEach(len(entries), ctxs, func(i int) error {
		e := &entries[i]
		if s.dups && e.Value == nil {
			return nil // ignored by the store, not logged
		}
		var seq uint32
		if s.dups {
			s.seq = (s.seq + 1) & 0x7fffffff
			seq = s.seq
		}
		return s.log(WindowChangelogKey(e.Key, e.Start, seq), e.Value)
	})
}

// PutSessions writes entries below in one batch, then logs each.
func (s *loggingSessionStore) PutSessions(entries []SessionKeyValue) error {
	return s.putSessionsWithContexts(entries, nil)
}

func (s *loggingSessionStore) putSessionsWithContexts(entries []SessionKeyValue, ctxs []RecordContext) error {
	if bb, ok := s.SessionStore.(sessionBufferedPutter); ok {
		if err := bb.putSessionsBuffered(entries); err != nil {
			return err
		}
	} else if bw, ok := s.SessionStore.(SessionBatchWriter); ok {
		if err := bw.PutSessions(entries); err != nil {
			return err
		}
	} else {
		for _, e := range entries {
			var err error
			if e.Value == nil {
				err = s.SessionStore.Remove(e.Key, e.Start, e.End)
			} else {
				err = s.SessionStore.Put(e.Key, e.Start, e.End, e.Value)
			}
			if err != nil {
				return err
			}
		}
	}
	return s.logEach(len(entries), ctxs, func(i int) error {
		e := &entries[i]
		return s.log(SessionChangelogKey(e.Key, e.Start, e.End), e.Value)
	})
}

// logEach calls log for 0..n-1, with the task's record context set to
// ctxs[i] during each call when ctxs is set, and restored after.
func (l *changeLogger) logEach(n int, ctxs []RecordContext, log func(i int) error) error {
	rc := l.cl.Context
	if ctxs != nil && rc != nil {
		saved := *rc
		defer func() { *rc = saved }()
	}
	for i := range n {
		if ctxs != nil && rc != nil {
			*rc = ctxs[i]
		}
		if err := log(i); err != nil {
			return err
		}
	}
	return nil
}
