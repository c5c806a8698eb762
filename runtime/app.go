package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"
)

// App is one instance of a streams application (Kafka Streams'
// KafkaStreams): it runs a topology on a Kafka cluster with its stream
// threads, together with every other instance that has the same
// application id.
//
// Create it with New, run it with Start, stop it with Close.
type App struct {
	topo      *topology.Topology
	appID     string
	cfg       config
	processID string
	subs      []topology.SubTopology
	subByID   map[int]topology.SubTopology
	metrics   *metrics
	stateDir  *changelog.StateDir
	// global holds the global stores; nil without any. Set by Start
	// before the stream threads exist, read-only afterwards.
	global       *globalState
	globalStores map[string]state.Store

	// local lists the stores and tasks hosted here, for interactive
	// queries and the metrics; partitions is the partition count of every
	// topic the application uses, set by Start.
	local      *localRegistry
	partitions map[string]int32
	admin      *adminServer

	shutdownRequested atomic.Bool
	globalFailed      atomic.Bool
	// cleanerStop and cleanerDone stop and wait for the state cleanup
	// goroutine (cleanup.go); nil without one.
	cleanerStop, cleanerDone chan struct{}

	mu    sync.Mutex
	state State
	// pending are state changes not yet told to the state listener, and
	// notifying says that a goroutine is telling them: listeners run
	// outside mu, in order, one at a time (see unlockAndNotify).
	pending   [][2]State
	notifying bool
	err       error
	threads   map[int]*streamThread
	nextID    int
	started   bool
	closing   bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	done      chan struct{}
}

// New returns an application instance for topology t. applicationID names
// the consumer group, prefixes internal topics and the state directory, and
// must be the same on every instance. New validates the options and does
// not talk to the cluster; Start does.
func New(t *topology.Topology, applicationID string, opts ...Opt) (*App, error) {
	if t == nil {
		return nil, errors.New("runtime: nil topology")
	}
	if applicationID == "" {
		return nil, errors.New("runtime: empty application id")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// franz-go logs into the runtime's logger; first, so that a logger the
	// user passes in ClientOpts wins.
	cfg.clientOpts = append([]kgo.Opt{kgo.WithLogger(kslog.New(cfg.logger))}, cfg.clientOpts...)
	a := &App{topo: t, appID: applicationID, cfg: cfg, metrics: newMetrics(), threads: map[int]*streamThread{}, local: newLocalRegistry(),
		subByID: map[int]topology.SubTopology{}, done: make(chan struct{})}
	a.processID = cfg.processID
	if a.processID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		a.processID = hex.EncodeToString(b[:])
	}
	a.subs = t.SubTopologies(applicationID)
	for _, s := range a.subs {
		a.subByID[s.ID] = s
	}
	return a, nil
}

// Start checks the source topics, creates the internal topics, opens the
// state directory, bootstraps the global stores (GlobalKTables) to the end
// of their topics and starts the stream threads. It returns once the
// threads run; they join the group, restore and process in the background.
// ctx bounds the topic setup and the bootstrap of the global stores; while
// the cluster cannot be reached, Start keeps trying (and logs a warning)
// until ctx ends, as a service started before its broker expects. Errors wrap ErrMissingSourceTopics,
// ErrCoPartitioning or ErrInternalTopic when the topics are wrong.
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return ErrAlreadyStarted
	}
	a.started = true
	err := a.listenAdmin()
	a.mu.Unlock()
	if err != nil {
		return a.startFailed(err)
	}

	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}, a.cfg.clientOpts...)...)
	if err != nil {
		return a.startFailed(fmt.Errorf("runtime: admin client: %w", err))
	}
	plan, err := a.setupTopicsRetrying(ctx, cl)
	cl.Close()
	if err != nil {
		return a.startFailed(fmt.Errorf("runtime: application %s: %w", a.appID, err))
	}
	a.mu.Lock()
	a.partitions = plan.partitions
	a.mu.Unlock()
	if a.stateDir, err = changelog.OpenStateDir(a.cfg.stateDir, a.appID, changelog.WithLogger(a.cfg.logger)); err != nil {
		return a.startFailed(fmt.Errorf("runtime: %w", err))
	}
	// One instance per state directory: a second one would share the task
	// directories (changelog.ErrStateDirInUse names the holder).
	if err := a.stateDir.Lock(); err != nil {
		a.stateDir = nil
		return a.startFailed(fmt.Errorf("runtime: application %s: %w", a.appID, err))
	}
	// Global stores are complete before any task runs, as Kafka Streams'
	// global thread bootstraps them before the stream threads start.
	if a.global, err = a.startGlobal(ctx); err != nil {
		return a.startFailed(fmt.Errorf("runtime: application %s: %w", a.appID, err))
	}
	a.globalStores = a.global.storesByName()

	a.mu.Lock()
	defer a.unlockAndNotify()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.setStateLocked(Rebalancing)
	if a.global != nil {
		go a.runGlobal()
	}
	for i := 0; i < a.cfg.threads; i++ {
		if err := a.startThreadLocked(); err != nil {
			a.cancel()
			a.closing = true
			go a.finish(err)
			return err
		}
	}
	a.startCleaner()
	return nil
}

// Run starts the instance (see Start) and runs it until ctx ends or the
// instance stops by itself, then closes it (see Close) and returns. As
// with net/http's Server, the context of Start bounds only the start-up;
// Run is the way to tie the instance's life to a context. Run returns nil
// after a clean stop caused by ctx, and otherwise the error that stopped
// the instance (or that Start returned).
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.done:
	}
	// Close is bounded by the threads themselves: each one's final commit
	// and leave are bounded by the rebalance timeout.
	return a.Close(context.Background())
}

// setupTopicsRetrying checks and creates the topics, and keeps trying while
// the cluster cannot be reached, until ctx ends: a service may well start
// before its broker. Wrong topics (missing sources, co-partitioning) fail
// at once.
func (a *App) setupTopicsRetrying(ctx context.Context, cl *kgo.Client) (*topicPlan, error) {
	backoff := 200 * time.Millisecond
	var lastLog time.Time
	for {
		plan, err := a.setupWithAccess(ctx, cl)
		if err == nil || !isRetriable(err) || errors.Is(err, ErrMissingSourceTopics) || errors.Is(err, ErrCoPartitioning) ||
			errors.Is(err, ErrNotAuthorized) {
			return plan, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cluster unreachable until the start context ended: %w", err)
		}
		if time.Since(lastLog) >= 10*time.Second {
			a.cfg.logger.Warn("cannot reach the Kafka cluster; retrying until the start context ends",
				"brokers", a.cfg.brokers, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster unreachable until the start context ended: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (a *App) startFailed(err error) error {
	a.mu.Lock()
	a.closing = true // Close then only reports err
	a.err = err
	a.setStateLocked(PendingError)
	a.setStateLocked(Error)
	a.unlockAndNotify()
	if uerr := a.stateDir.Unlock(); uerr != nil {
		a.cfg.logger.Warn("releasing the state directory lock", "err", uerr)
	}
	a.closeAdmin() // before done: Close returns with the server gone
	close(a.done)
	return err
}

func (a *App) startThreadLocked() error {
	th, err := a.newThread(a.nextID)
	if err != nil {
		return err
	}
	a.nextID++
	a.threads[th.id] = th
	a.resizeCachesLocked()
	a.wg.Add(1)
	go a.runThread(th)
	return nil
}

// resizeCachesLocked splits CacheMaxBytes evenly over the running stream
// threads, as Kafka Streams resizes its thread caches when a thread is
// added or removed; a thread's caching stores evict down to the new budget
// on their next write. Called with a.mu held.
func (a *App) resizeCachesLocked() {
	if a.cfg.cacheBytes <= 0 || len(a.threads) == 0 {
		return
	}
	per := a.cfg.cacheBytes / int64(len(a.threads))
	for _, th := range a.threads {
		if th.cache != nil {
			th.cache.Resize(per)
		}
	}
}

// runThread runs a thread to its end and applies the uncaught-error
// handler when it failed.
func (a *App) runThread(th *streamThread) {
	defer a.wg.Done()
	err := th.run(a.ctx)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.rebalanceTimeout)
		th.shutdown(ctx, true)
		cancel()
		return
	}
	if errors.Is(err, errTaskMigrated) {
		a.rejoin(th, err)
		return
	}
	th.logger.Error("stream thread failed", "err", err)
	// Another instance asked the application to stop: no handler decides.
	resp := ShutdownClient
	if !errors.Is(err, ErrApplicationShutdown) {
		resp = a.cfg.uncaught(err)
	}
	if resp == ShutdownApplication {
		// Tell the group through this thread's membership: its next join
		// metadata asks for shutdown and the leader's assignment tells
		// every member. Wait (bounded) until the request went round.
		a.shutdownRequested.Store(true)
		th.failed.Store(true)
		th.cl.ForceRebalance()
		deadline := time.Now().Add(a.cfg.rebalanceTimeout)
		for !th.sawShutdown.Load() && time.Now().Before(deadline) && a.ctx.Err() == nil {
			pctx, cancel := context.WithTimeout(a.ctx, 100*time.Millisecond)
			th.cl.PollFetches(pctx)
			cancel()
			th.cl.AllowRebalance()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.rebalanceTimeout)
	th.failed.Store(true)
	th.shutdown(ctx, false)
	cancel()

	a.mu.Lock()
	delete(a.threads, th.id)
	a.resizeCachesLocked()
	if resp == ReplaceThread && !a.closing {
		th.logger.Info("replacing failed stream thread")
		if rerr := a.startThreadLocked(); rerr == nil {
			a.mu.Unlock()
			return
		} else {
			err = errors.Join(err, rerr)
		}
	}
	if a.closing {
		a.mu.Unlock()
		return
	}
	a.closing = true
	a.mu.Unlock()
	go a.finish(err)
}

// rejoin handles a thread that stopped because its tasks migrated (Kafka
// Streams' TaskMigratedException: a fenced producer, a lost epoch or
// sequence, a transaction that could not end during a broker outage): its
// tasks are closed dirty, its client leaves, and a thread with the same id
// (so the same transactional id, which fences any transaction left open)
// joins the group again with a new client. The uncaught-error handler is
// not involved: nothing failed that rejoining does not cure.
func (a *App) rejoin(th *streamThread, cause error) {
	th.logger.Warn("task migrated: closing the thread's tasks dirty and rejoining the group", "err", cause)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.rebalanceTimeout)
	th.failed.Store(true)
	th.shutdown(ctx, false)
	cancel()
	// A short pause, so that a broker that is still down is not hammered
	// by a thread failing and rejoining in a loop.
	select {
	case <-a.ctx.Done():
	case <-time.After(time.Second):
	}
	a.mu.Lock()
	defer a.unlockAndNotify()
	delete(a.threads, th.id)
	if a.closing || a.ctx.Err() != nil {
		return
	}
	nt, err := a.newThread(th.id)
	if err != nil {
		th.logger.Error("cannot rejoin after the task migration; stopping the instance", "err", err)
		a.closing = true
		go a.finish(fmt.Errorf("runtime: thread %d: rejoin: %w", th.id, errors.Join(cause, err)))
		return
	}
	a.threads[th.id] = nt
	a.resizeCachesLocked()
	a.wg.Add(1)
	go a.runThread(nt)
}

// runGlobal keeps the global stores up to date until the instance stops.
// A failure stops the whole instance, as a failed global thread does in
// Kafka Streams: every task may depend on the global stores.
func (a *App) runGlobal() {
	err := a.global.run(a.ctx)
	if err == nil {
		return
	}
	a.globalFailed.Store(true)
	a.cfg.logger.Error("global stream thread failed", "err", err)
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return
	}
	a.closing = true
	a.mu.Unlock()
	go a.finish(fmt.Errorf("runtime: global thread: %w", err))
}

// finish stops every thread and moves the instance to its final state.
func (a *App) finish(cause error) {
	a.mu.Lock()
	if cause != nil {
		a.err = cause
		a.setStateLocked(PendingError)
	}
	a.cancel()
	a.unlockAndNotify()
	a.wg.Wait()
	a.stopCleaner()
	if a.global != nil {
		// After the threads: their tasks read the global stores.
		<-a.global.done
		if err := a.global.close(!a.globalFailed.Load()); err != nil {
			a.cfg.logger.Warn("closing global stores", "err", err)
		}
	}
	if err := a.stateDir.Unlock(); err != nil {
		a.cfg.logger.Warn("releasing the state directory lock", "err", err)
	}
	a.mu.Lock()
	if cause != nil {
		a.setStateLocked(Error)
	} else {
		a.setStateLocked(NotRunning)
	}
	a.unlockAndNotify()
	a.closeAdmin() // before done: Close returns with the server gone
	close(a.done)
}

// Close stops the instance: each thread commits its processed records
// (flushing caches, stores and the producer first), checkpoints and
// releases its state, and leaves the group so that its tasks move at once.
// ctx bounds the wait; when it expires Close returns its error while the
// threads finish in the background. Close after a failure returns the
// failure. Close is safe to call more than once.
func (a *App) Close(ctx context.Context) error {
	a.mu.Lock()
	switch {
	case !a.started:
		a.started, a.closing = true, true
		a.setStateLocked(PendingShutdown)
		a.setStateLocked(NotRunning)
		a.unlockAndNotify()
		close(a.done)
		return nil
	case !a.closing:
		a.closing = true
		a.setStateLocked(PendingShutdown)
		a.unlockAndNotify()
		go a.finish(nil)
	default:
		a.mu.Unlock()
	}
	select {
	case <-a.done:
		return a.Err()
	case <-ctx.Done():
		return fmt.Errorf("runtime: close: %w", ctx.Err())
	}
}

// Done is closed when the instance has stopped, after Close or a failure.
func (a *App) Done() <-chan struct{} { return a.done }

// Err returns the error that stopped the instance, or nil.
func (a *App) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// State returns the instance's state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Metrics returns a snapshot of the instance's metrics.
func (a *App) Metrics() Snapshot {
	s := a.metrics.snapshot()
	s.State = a.State()
	return s
}

func (a *App) setStateLocked(next State) {
	if a.state == next && next != Rebalancing {
		return
	}
	if a.state == next || !a.state.validTransition(next) {
		return
	}
	old := a.state
	a.state = next
	a.cfg.logger.Info("state change", "from", old.String(), "to", next.String())
	if a.cfg.stateListener != nil {
		a.pending = append(a.pending, [2]State{next, old})
	}
}

// unlockAndNotify releases mu and tells the state listener the changes
// made meanwhile. The listener runs without mu, so that it may call any
// method of the App (State, Metrics, even Close); changes are told in the
// order they happened and never concurrently: a goroutine that finds
// another one telling leaves its changes to it.
func (a *App) unlockAndNotify() {
	if a.notifying || len(a.pending) == 0 {
		a.mu.Unlock()
		return
	}
	a.notifying = true
	for len(a.pending) > 0 {
		ch := a.pending[0]
		a.pending = a.pending[1:]
		a.mu.Unlock()
		a.cfg.stateListener(ch[0], ch[1])
		a.mu.Lock()
	}
	a.pending, a.notifying = nil, false
	a.mu.Unlock()
}

// updateState moves the instance between Rebalancing and Running as its
// threads lose and get their assignments.
func (a *App) updateState() {
	a.mu.Lock()
	defer a.unlockAndNotify()
	if a.closing || (a.state != Running && a.state != Rebalancing) {
		return
	}
	all := len(a.threads) > 0
	for _, th := range a.threads {
		all = all && th.assigned.Load()
	}
	if all {
		a.setStateLocked(Running)
	} else if a.state == Running {
		a.setStateLocked(Rebalancing)
	}
}

// stateTasks lists the tasks with a directory in the state directory: those
// whose state this process has, so that the assignment prefers it for them.
func (a *App) stateTasks() []topology.TaskID {
	ids, err := a.stateDir.TaskIDs()
	if err != nil {
		return nil
	}
	var out []topology.TaskID
	for _, s := range ids {
		if t, err := parseTask(s); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// ThreadMetadata describes one stream thread of the instance (Kafka
// Streams' ThreadMetadata).
type ThreadMetadata struct {
	// Name is the thread's client id.
	Name string
	// Active and Standby are the thread's tasks now.
	Active  []topology.TaskID
	Standby []topology.TaskID
}

// LocalThreads describes the instance's running stream threads.
func (a *App) LocalThreads() []ThreadMetadata {
	var out []ThreadMetadata
	for _, th := range a.threadList() {
		if m := th.meta.Load(); m != nil {
			out = append(out, *m)
		}
	}
	return out
}

func (a *App) threadList() []*streamThread {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*streamThread, 0, len(a.threads))
	for i := 0; i < a.nextID; i++ {
		if th := a.threads[i]; th != nil {
			out = append(out, th)
		}
	}
	return out
}
