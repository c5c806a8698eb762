package runtime

// Backpressure, as Kafka Streams does it: a stream thread buffers the
// fetched records of each input partition in its task's queue and pauses
// fetching a partition whose queue holds more than
// BufferedRecordsPerPartition records; it resumes the partition once the
// queue has drained below half of that. Records of a paused partition that
// the client had already fetched are not lost: the client drops them and
// fetches them again from its position, right after the last record handed
// to the thread, when the partition is resumed.

// bufferedRecordsLimit is how many records a task processes per round of
// the thread's loop: enough to drain a full queue of each of its
// partitions, few enough that the thread polls, punctuates and commits
// between rounds when a large fetch arrives.
func (th *streamThread) bufferedRecordsLimit(t *activeTask) int {
	return th.app.cfg.maxBuffered * len(t.queues)
}

// backlog reports whether a task has records buffered that it has not
// processed yet: the thread then polls without waiting.
func (th *streamThread) backlog() bool {
	for _, t := range th.tasks {
		for _, q := range t.queues {
			if q.len() > 0 {
				return true
			}
		}
	}
	return false
}

// pauseIfFull pauses fetching q's partition when its queue is over the
// limit.
func (th *streamThread) pauseIfFull(q *partQueue) {
	if q.paused || q.len() <= th.app.cfg.maxBuffered {
		return
	}
	q.paused = true
	th.cl.PauseFetchPartitions(map[string][]int32{q.topic: {q.partition}})
	th.app.metrics.pauses.Add(1)
}

// resumeDrained resumes the paused partitions of t whose queues drained
// below half the limit.
func (th *streamThread) resumeDrained(t *activeTask) {
	for _, q := range t.queues {
		if q.paused && q.len() < max(th.app.cfg.maxBuffered/2, 1) {
			th.resume(q)
		}
	}
}

// resume resumes fetching q's partition.
func (th *streamThread) resume(q *partQueue) {
	q.paused = false
	th.cl.ResumeFetchPartitions(map[string][]int32{q.topic: {q.partition}})
	th.app.metrics.resumes.Add(1)
}

// resumeAll resumes the paused partitions of a task that is closing: the
// client keeps pauses across assignments, and a partition that comes back
// to this thread must be fetched.
func (th *streamThread) resumeAll(t *activeTask) {
	for _, q := range t.queues {
		if q.paused {
			th.resume(q)
		}
	}
}
