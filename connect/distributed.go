package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Distributed is one worker of a Connect cluster. Workers with the same
// group.id share the connectors' tasks; what they share lives in Kafka:
//
//   - config.storage.topic (connect-configs): connector configurations,
//     target states (paused or started) and restart requests;
//   - offset.storage.topic (connect-offsets): source offsets;
//   - status.storage.topic (connect-status): each task's state and worker.
//
// Tasks are spread through a consumer group: the workers join group.id on
// a coordination topic (<group.id>-assignments, assignment.slots
// partitions, nothing is written to it) and a task runs on the worker
// that owns the partition its name hashes to. When a worker dies its
// partitions, and so its tasks, move to the others once its session times
// out (session.timeout.ms). This differs from Kafka Connect's own group
// protocol (a leader computing assignments) but gives the same outcome.
//
// A task given up in a rebalance is stopped, its offsets stored, and
// reported UNASSIGNED before the rebalance completes; its new worker then
// reads the offsets topic up to its last stable offset before starting
// it, so a moved source task resumes where the old one stopped. A worker
// that dies cannot report anything: its tasks show as RUNNING on it until
// its session times out and another worker reports them, as in Kafka
// Connect until the rebalance after a worker's departure. Sink tasks'
// consumers take consumer.session.timeout.ms (45 s by default, as Kafka's
// consumers) or the connector's consumer.override.session.timeout.ms: the
// partitions a dead worker's sink task read move after that.
//
// The first worker to start owns every slot until the others join, so a
// task may start and move again within a second; a CDC source moved in
// the middle of its initial snapshot takes the snapshot again, and a row
// deleted in between is not deleted downstream (Debezium behaves the
// same). Start the workers before creating connectors.
//
// Every worker serves Kafka Connect's REST API on listeners
// (http://127.0.0.1:8083 by default) and accepts writes itself: the
// configuration topic is the single source of truth.
type Distributed struct {
	cfg    Config
	id     string
	w      *Worker
	store  *KafkaOffsetStore
	cl     *kgo.Client
	group  *kgo.Client
	topics struct{ configs, status, assign string }
	slots  int32
	log    *slog.Logger
	ctx    context.Context

	mu       sync.Mutex
	configs  map[string]ConnectorConfig
	paused   map[string]bool
	restarts map[string]int64
	status   map[string]taskStatusRec
	applied  int64 // next offset of the configs topic to apply
	owned    map[int32]bool
	// unassigned is set while a revocation reconciles: the tasks it
	// stops are reported UNASSIGNED.
	unassigned bool
	running    map[taskKey]*taskRun
	kick       chan struct{}
}

type taskKey struct {
	name string
	id   int
}

type taskRun struct {
	stop    func()
	conf    string
	restart int64
}

type taskStatusRec struct {
	State  string `json:"state"`
	Trace  string `json:"trace,omitempty"`
	Worker string `json:"worker_id"`
}

// RunDistributed runs a distributed worker until ctx ends. onListen, when
// not nil, hears the REST address once it listens.
func RunDistributed(ctx context.Context, cfg Config, log *slog.Logger, onListen func(net.Addr)) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	listen := strings.TrimPrefix(cfg.String("listeners", "http://127.0.0.1:8083"), "http://")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	defer ln.Close()
	d := &Distributed{cfg: cfg, id: ln.Addr().String(), log: log, ctx: ctx,
		configs: map[string]ConnectorConfig{}, paused: map[string]bool{}, restarts: map[string]int64{},
		status: map[string]taskStatusRec{}, owned: map[int32]bool{}, running: map[taskKey]*taskRun{}, kick: make(chan struct{}, 1)}
	group := cfg.String("group.id", "connect-cluster")
	d.topics.configs = cfg.String("config.storage.topic", "connect-configs")
	d.topics.status = cfg.String("status.storage.topic", "connect-status")
	d.topics.assign = group + "-assignments"
	slots, err := cfg.Int("assignment.slots", 32)
	if err != nil {
		return err
	}
	d.slots = int32(slots)
	session, err := cfg.Millis("session.timeout.ms", 10*time.Second)
	if err != nil {
		return err
	}
	base, err := ClientOpts(cfg)
	if err != nil {
		return err
	}
	if err := checkAccess(ctx, cfg, base); err != nil {
		return err
	}
	if d.cl, err = kgo.NewClient(append(append([]kgo.Opt(nil), base...),
		kgo.ConsumeTopics(d.topics.configs, d.topics.status),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...); err != nil {
		return err
	}
	defer d.cl.Close()
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, t := range []string{d.topics.configs, d.topics.status} {
		if err := ensureTopic(ctx, d.cl, t, 1, compact); err != nil {
			return err
		}
	}
	if err := ensureTopic(ctx, d.cl, d.topics.assign, d.slots, nil); err != nil {
		return err
	}
	if d.store, err = OpenKafkaOffsetStore(ctx, d.cl, cfg.String("offset.storage.topic", "connect-offsets")); err != nil {
		return err
	}
	if d.w, err = NewWorker(cfg, d.store, log); err != nil {
		return err
	}
	if d.group, err = kgo.NewClient(append(append([]kgo.Opt(nil), base...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(d.topics.assign),
		kgo.SessionTimeout(session), kgo.HeartbeatInterval(session/6),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.assign(m[d.topics.assign], slotsGained)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.assign(m[d.topics.assign], slotsRevoked)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { d.assign(m[d.topics.assign], slotsLost) }),
	)...); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); d.tail(ctx) }()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			d.group.PollFetches(ctx)
		}
	}()
	go func() { defer wg.Done(); d.loop(ctx) }()
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if onListen != nil {
		onListen(ln.Addr())
	}
	log.Info("distributed worker running", "worker_id", d.id, "group", group)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Shutdown(sctx)
	cancel()
	wg.Wait()
	d.mu.Lock()
	for k, r := range d.running {
		r.stop()
		delete(d.running, k)
		d.writeStatus(k, StateUnassigned, nil)
		d.log.Info("task stopped", "connector", k.name, "task", k.id, "worker_id", d.id, "reason", "worker shutting down")
	}
	d.mu.Unlock()
	d.flushStatus()
	d.group.Close() // leaves the group: the others take the tasks at once
	return nil
}

func (d *Distributed) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

type slotChange int

const (
	slotsGained  slotChange = iota
	slotsRevoked            // given up in a rebalance: nobody has them yet
	slotsLost               // this worker was dropped from the group: others may have them already
)

func (c slotChange) String() string {
	return [...]string{"gained", "revoked", "lost"}[c]
}

// assign records gained or lost slots and stops lost tasks at once, so
// that no task runs on two workers. The rebalance waits for it, so a task
// given up here has stopped and committed before another worker starts
// it.
func (d *Distributed) assign(parts []int32, change slotChange) {
	if len(parts) == 0 {
		return
	}
	d.log.Info("assignment slots changed", "worker_id", d.id, "change", change, "slots", parts)
	d.mu.Lock()
	for _, p := range parts {
		if change == slotsGained {
			d.owned[p] = true
		} else {
			delete(d.owned, p)
		}
	}
	if change != slotsGained {
		d.unassigned = change == slotsRevoked
		d.reconcileLocked()
		d.unassigned = false
	}
	d.mu.Unlock()
	if change == slotsRevoked {
		// The UNASSIGNED statuses go out before the new owners' RUNNING.
		d.flushStatus()
	}
	d.poke()
}

func (d *Distributed) flushStatus() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.cl.Flush(ctx); err != nil {
		d.log.Warn("status writes not flushed", "err", err)
	}
}

// tail applies the configs and status topics as they grow.
func (d *Distributed) tail(ctx context.Context) {
	for ctx.Err() == nil {
		fs := d.cl.PollFetches(ctx)
		changed := false
		d.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			key := string(r.Key)
			switch r.Topic {
			case d.topics.status:
				if r.Value == nil {
					delete(d.status, key)
					return
				}
				var st taskStatusRec
				if json.Unmarshal(r.Value, &st) == nil {
					d.status[key] = st
				}
			case d.topics.configs:
				changed = true
				d.applied = r.Offset + 1
				switch {
				case strings.HasPrefix(key, "connector-"):
					name := strings.TrimPrefix(key, "connector-")
					var cc ConnectorConfig
					if r.Value == nil || json.Unmarshal(r.Value, &cc) != nil {
						delete(d.configs, name)
						delete(d.paused, name)
						return
					}
					d.configs[name] = cc
				case strings.HasPrefix(key, "target-state-"):
					var ts struct{ State string }
					json.Unmarshal(r.Value, &ts)
					d.paused[strings.TrimPrefix(key, "target-state-")] = ts.State == StatePaused
				case strings.HasPrefix(key, "restart-"):
					var rs struct{ Seq int64 }
					json.Unmarshal(r.Value, &rs)
					d.restarts[strings.TrimPrefix(key, "restart-")] = rs.Seq
				}
			}
		})
		d.mu.Unlock()
		if changed {
			d.poke()
		}
	}
}

func (d *Distributed) loop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		}
		d.mu.Lock()
		d.reconcileLocked()
		d.mu.Unlock()
	}
}

func (d *Distributed) slot(k taskKey) int32 {
	h := fnv.New32a()
	h.Write([]byte(k.name + "-" + strconv.Itoa(k.id)))
	return int32(h.Sum32() % uint32(d.slots))
}

// taskConfigs asks a connector for its tasks' configurations.
func taskConfigs(cc ConnectorConfig) (Connector, []map[string]string, error) {
	conn, err := NewConnector(cc.Config["connector.class"])
	if err != nil {
		return nil, nil, err
	}
	if err := conn.Start(cc.Config); err != nil {
		return nil, nil, err
	}
	max, err := Config(cc.Config).Int("tasks.max", 1)
	if err != nil {
		return nil, nil, err
	}
	tcs, err := conn.TaskConfigs(max)
	return conn, tcs, err
}

// reconcileLocked starts the tasks this worker should run and stops the
// others.
func (d *Distributed) reconcileLocked() {
	type want struct {
		conn    Connector
		cfg     Config
		conf    string
		restart int64
	}
	desired := map[taskKey]want{}
	for name, cc := range d.configs {
		if d.paused[name] {
			continue
		}
		conn, tcs, err := taskConfigs(cc)
		if err != nil {
			d.writeStatus(taskKey{name, 0}, StateFailed, err)
			continue
		}
		for i, tc := range tcs {
			k := taskKey{name, i}
			if !d.owned[d.slot(k)] {
				continue
			}
			merged := Config(cc.Config).Clone()
			for kk, v := range tc {
				merged[kk] = v
			}
			raw, _ := json.Marshal(merged)
			desired[k] = want{conn, merged, string(raw), d.restarts[name]}
		}
	}
	for k, r := range d.running {
		if w, ok := desired[k]; !ok || w.conf != r.conf || w.restart != r.restart {
			why := "configuration changed"
			switch {
			case !ok && d.paused[k.name]:
				why = "paused"
			case !ok && !d.exists(k.name):
				why = "connector deleted"
			case !ok && d.unassigned:
				why = "slot moved to another worker"
				d.writeStatus(k, StateUnassigned, nil)
			case !ok:
				why = "slot lost (this worker was out of the group)"
			case w.restart != r.restart:
				why = "restart requested"
			}
			r.stop()
			delete(d.running, k)
			d.log.Info("task stopped", "connector", k.name, "task", k.id, "worker_id", d.id, "reason", why)
			if d.paused[k.name] && d.owned[d.slot(k)] {
				d.writeStatus(k, StatePaused, nil)
			}
		}
	}
	for k, w := range desired {
		if _, ok := d.running[k]; ok {
			continue
		}
		key := k
		stop, err := d.w.runTask(d.ctx, k.name, w.conn, k.id, w.cfg, func(state string, err error) {
			// Not under this call's lock: reconcile may hold it while it
			// waits for this task to stop.
			go func() {
				d.mu.Lock()
				d.writeStatus(key, state, err)
				d.mu.Unlock()
			}()
		})
		if err != nil {
			d.writeStatus(k, StateFailed, err)
			continue
		}
		d.running[k] = &taskRun{stop: stop, conf: w.conf, restart: w.restart}
		d.writeStatus(k, StateRunning, nil)
		d.log.Info("task started", "connector", k.name, "task", k.id, "worker_id", d.id)
	}
	for name := range d.paused {
		if !d.paused[name] {
			continue
		}
		if cc, ok := d.configs[name]; ok {
			if _, tcs, err := taskConfigs(cc); err == nil {
				for i := range tcs {
					k := taskKey{name, i}
					if d.owned[d.slot(k)] && d.status[statusKey(k)].State != StatePaused {
						d.writeStatus(k, StatePaused, nil)
					}
				}
			}
		}
	}
}

func (d *Distributed) exists(name string) bool {
	_, ok := d.configs[name]
	return ok
}

func statusKey(k taskKey) string { return "status-task-" + k.name + "-" + strconv.Itoa(k.id) }

func (d *Distributed) writeStatus(k taskKey, state string, err error) {
	st := taskStatusRec{State: state, Worker: d.id}
	if err != nil {
		st.Trace = err.Error()
	}
	raw, _ := json.Marshal(st)
	d.status[statusKey(k)] = st
	d.cl.Produce(context.Background(), &kgo.Record{Topic: d.topics.status, Key: []byte(statusKey(k)), Value: raw}, nil)
}

// write appends to the configs topic and waits until this worker has
// applied it, so that a read right after a write sees it.
func (d *Distributed) write(ctx context.Context, key string, value any) error {
	var raw []byte
	if value != nil {
		var err error
		if raw, err = json.Marshal(value); err != nil {
			return err
		}
	}
	res := d.cl.ProduceSync(ctx, &kgo.Record{Topic: d.topics.configs, Key: []byte(key), Value: raw})
	r, err := res.First()
	if err != nil {
		return fmt.Errorf("write %s: %w", d.topics.configs, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d.mu.Lock()
		done := d.applied > r.Offset
		d.mu.Unlock()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the configuration was written but not read back within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
