package state

import "errors"

// The record cache's writes below: what a flush or an eviction writes to
// the store below in one batch, and the listener calls that follow once the
// cache's lock is released.

// writeBelow writes dirty entries to the inner store in one batch, marks
// them clean and queues them for the listener. Called with mu held.
func (c *CachingKeyValueStore) writeBelow(entries []*cacheEntry) error {
	c.batch, c.ctxs = c.batch[:0], c.ctxs[:0]
	c.missOK = false
	start := len(c.pending)
	for _, e := range entries {
		var old []byte
		if c.listener != nil || e.value == nil {
			if e.belowKnown && (e.below == nil || c.belowLive == nil || c.belowLive(e.key)) {
				old = e.below
			} else {
				var err error
				if old, err = c.inner.Get(e.key); err != nil {
					return err
				}
			}
		}
		c.dirty.removeDirty(e)
		e.dirty = false
		e.below, e.belowKnown = nil, false
		if e.value == nil && old == nil && c.listener != nil {
			continue // never reached the store: nothing to write or forward
		}
		c.batch = append(c.batch, KeyValue{Key: e.key, Value: e.value})
		if c.rc != nil {
			rc := *c.rc
			rc.Timestamp, rc.Headers = e.ts, e.headers
			c.ctxs = append(c.ctxs, rc)
		}
		if c.listener != nil {
			c.pending = append(c.pending, flushed{key: e.key, newValue: e.value, oldValue: old, ts: e.ts, headers: e.headers})
		}
	}
	if len(c.batch) == 0 {
		return nil
	}
	var err error
	switch in := c.inner.(type) {
	case contextPutter:
		if c.rc != nil {
			err = in.putAllWithContexts(c.batch, c.ctxs)
		} else {
			err = c.inner.PutAll(c.batch)
		}
	case encodedKV:
		if in.putBatch != nil && len(c.batch) > 1 {
			var ctxs []RecordContext
			if c.rc != nil {
				ctxs = c.ctxs
			}
			err = in.putBatch(c.batch, ctxs)
			break
		}
		// A window or session store: its logging wrapper logs each Put
		// with the context in rc, so set it entry by entry.
		if c.rc == nil {
			err = in.PutAll(c.batch)
			break
		}
		saved := *c.rc
		for i, kv := range c.batch {
			*c.rc = c.ctxs[i]
			if err = in.Put(kv.Key, kv.Value); err != nil {
				break
			}
		}
		*c.rc = saved
	default:
		err = c.inner.PutAll(c.batch)
	}
	clear(c.batch)
	clear(c.ctxs)
	if err != nil {
		c.pending = c.pending[:start]
	}
	return err
}

// unlockAndNotify releases mu and then calls the listener for what was
// written below meanwhile.
func (c *CachingKeyValueStore) unlockAndNotify(err error) error {
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return err
	}
	pending := c.pending
	listener := c.listener
	rc := c.rc
	c.pending = nil
	c.mu.Unlock()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var saved RecordContext
	if rc != nil {
		saved = *rc
	}
	for _, f := range pending {
		if rc != nil {
			// What the listener forwards, and what is written because of
			// it, carries the context of the write that made the entry.
			rc.Timestamp, rc.Headers = f.ts, f.headers
		}
		if lerr := listener(f.key, f.newValue, f.oldValue, f.ts); lerr != nil {
			errs = append(errs, lerr)
			break
		}
	}
	if rc != nil {
		*rc = saved
	}
	clear(pending)
	c.mu.Lock()
	if c.pending == nil {
		c.pending = pending[:0]
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}
