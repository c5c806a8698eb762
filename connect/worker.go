package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/internal/clientconfig"
)

// Task and connector states, as Kafka Connect's status API names them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
)

// TaskStatus is one task's state; Trace holds the error of a failed task.
type TaskStatus struct {
	ID    int    `json:"id"`
	State string `json:"state"`
	Trace string `json:"trace,omitempty"`
}

// Worker runs connectors and their tasks in this process. Standalone and
// distributed mode both use it; they differ in where configurations and
// offsets live.
type Worker struct {
	cfg     Config
	base    []kgo.Opt
	offsets OffsetStore
	log     *slog.Logger

	mu         sync.Mutex
	connectors map[string]*runningConnector
}

type runningConnector struct {
	cfg    ConnectorConfig
	conn   Connector
	tasks  []*runningTask
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type runningTask struct {
	id     int
	mu     sync.Mutex
	status TaskStatus
}

func (t *runningTask) set(state string, err error) {
	t.mu.Lock()
	t.status.State = state
	t.status.Trace = ""
	if err != nil {
		t.status.Trace = err.Error()
	}
	t.mu.Unlock()
}

// NewWorker returns a worker for the worker configuration cfg
// (bootstrap.servers, key.converter, value.converter and their settings,
// offset.flush.interval.ms, exactly.once.source.support,
// consumer.session.timeout.ms), storing source offsets in offsets.
func NewWorker(cfg Config, offsets OffsetStore, log *slog.Logger) (*Worker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := ClientOpts(cfg)
	if err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, base: base, offsets: offsets, log: log, connectors: map[string]*runningConnector{}}, nil
}

// securityConfig reads the worker's client security settings.
func securityConfig(cfg Config) (*clientconfig.Config, error) {
	sec := map[string]string{}
	for k, v := range cfg {
		if isSecurityKey(k) {
			sec[k] = v
		}
	}
	cc, err := clientconfig.FromMap(sec)
	if err != nil {
		return nil, fmt.Errorf("worker security settings: %w", err)
	}
	return cc, nil
}

// checkAccess makes one request to the cluster, without retries, so that
// a refused certificate or password stops the worker at once with a
// message saying what to change, instead of being retried as a broker
// that is not up yet. Other failures are left to the clients' retries.
func checkAccess(ctx context.Context, cfg Config, base []kgo.Opt) error {
	cc, err := securityConfig(cfg)
	if err != nil || cc.SecurityProtocol == clientconfig.Plaintext {
		return err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), base...), kgo.RequestRetries(0))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(pctx, cl)
	if err == nil {
		return nil
	}
	usesSASL := cc.SecurityProtocol == clientconfig.SASLPlaintext || cc.SecurityProtocol == clientconfig.SASLSSL
	var x509Err x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), usesSASL && errors.Is(err, io.EOF):
		return fmt.Errorf("SASL authentication of user %q (%s) refused by the cluster: check sasl.jaas.config or sasl.username/sasl.password: %w",
			cc.Username, cc.Mechanism, err)
	case errors.As(err, &x509Err), errors.As(err, &hostErr):
		return fmt.Errorf("TLS: the broker's certificate is not trusted (ssl.truststore.location): %w", err)
	case errors.As(err, &alert):
		return fmt.Errorf("TLS: the broker refused the connection (a client certificate, ssl.keystore.location, may be needed or not trusted): %w", err)
	}
	return nil
}

// ClientOpts returns the franz-go options that reach the worker's cluster:
// bootstrap.servers and the security settings Kafka's clients take
// (security.protocol, ssl.* as PEM, sasl.mechanism, sasl.jaas.config or
// sasl.username/sasl.password), read as runtime/clientconfig reads them.
// They apply to every client of the worker: its own, the source tasks'
// producers and the sink tasks' consumers. Kafka Connect reads the task
// clients' settings from producer.* and consumer.* copies; such copies are
// accepted when they repeat the worker's value and refused when they
// differ, since kafki would not use them.
func ClientOpts(cfg Config) ([]kgo.Opt, error) {
	seeds := cfg.List("bootstrap.servers")
	if len(seeds) == 0 {
		return nil, configErr("bootstrap.servers", "missing")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		for _, prefix := range []string{"producer.", "consumer.", "admin."} {
			rest, ok := strings.CutPrefix(k, prefix)
			if ok && isSecurityKey(rest) && strings.TrimSpace(v) != strings.TrimSpace(cfg[rest]) {
				return nil, configErr(k, "differs from %s: kafki connect uses the worker's security settings for every client; set %s alone", rest, rest)
			}
		}
	}
	cc, err := securityConfig(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := cc.SecurityOpts()
	if err != nil {
		return nil, fmt.Errorf("worker security settings: %w", err)
	}
	return append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("kafki-connect")}, opts...), nil
}

// isSecurityKey reports whether k is a client security setting.
func isSecurityKey(k string) bool {
	return k == "security.protocol" || strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") ||
		k == "enable.ssl.certificate.verification"
}

// converter builds the key or value converter for a connector: its own
// setting, else the worker's, else JSON.
func (w *Worker) converter(cc Config, isKey bool) (Converter, error) {
	prefix := "value.converter"
	if isKey {
		prefix = "key.converter"
	}
	src := w.cfg
	if cc[prefix] != "" {
		src = cc
	}
	class := src.String(prefix, JSONConverterClass)
	c, err := NewConverter(class)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	if err := c.Configure(src.Sub(prefix+"."), isKey); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	return c, nil
}

// StartConnector starts a connector and its tasks. The tasks run until
// StopConnector or the context ends.
func (w *Worker) StartConnector(ctx context.Context, cc ConnectorConfig) error {
	w.mu.Lock()
	if _, ok := w.connectors[cc.Name]; ok {
		w.mu.Unlock()
		return fmt.Errorf("connector %q is already running", cc.Name)
	}
	w.mu.Unlock()
	cfg := Config(cc.Config)
	class, err := cfg.Required("connector.class")
	if err != nil {
		return err
	}
	conn, err := NewConnector(class)
	if err != nil {
		return err
	}
	if err := conn.Start(cc.Config); err != nil {
		return fmt.Errorf("connector %q: %w", cc.Name, err)
	}
	maxTasks, err := cfg.Int("tasks.max", 1)
	if err != nil {
		return err
	}
	if maxTasks < 1 {
		return configErr("tasks.max", "must be at least 1")
	}
	tcs, err := conn.TaskConfigs(maxTasks)
	if err != nil {
		conn.Stop()
		return fmt.Errorf("connector %q: task configs: %w", cc.Name, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	rc := &runningConnector{cfg: cc, conn: conn, cancel: cancel}
	for i, tc := range tcs {
		t := &runningTask{id: i, status: TaskStatus{ID: i, State: StateRunning}}
		rc.tasks = append(rc.tasks, t)
		merged := cfg.Clone()
		for k, v := range tc {
			merged[k] = v
		}
		if err := w.startTask(rctx, rc, t, merged); err != nil {
			cancel()
			rc.wg.Wait()
			conn.Stop()
			return fmt.Errorf("connector %q task %d: %w", cc.Name, i, err)
		}
	}
	w.mu.Lock()
	w.connectors[cc.Name] = rc
	w.mu.Unlock()
	w.log.Info("connector started", "connector", cc.Name, "tasks", len(tcs))
	return nil
}

func (w *Worker) startTask(ctx context.Context, rc *runningConnector, t *runningTask, tc Config) error {
	stop, err := w.runTask(ctx, rc.cfg.Name, rc.conn, t.id, tc, t.set)
	if err != nil {
		return err
	}
	rc.wg.Add(1)
	go func() {
		<-ctx.Done()
		stop()
		rc.wg.Done()
	}()
	return nil
}

// runTask starts task id of a connector and returns a function that stops
// it and waits until it has committed and ended. report hears when the
// task fails.
func (w *Worker) runTask(ctx context.Context, name string, conn Connector, id int, tc Config, report func(state string, err error)) (stop func(), err error) {
	keyConv, err := w.converter(tc, true)
	if err != nil {
		return nil, err
	}
	valConv, err := w.converter(tc, false)
	if err != nil {
		return nil, err
	}
	ts, err := Transforms(tc)
	if err != nil {
		return nil, err
	}
	flush, err := w.cfg.Millis("offset.flush.interval.ms", 60*time.Second)
	if err != nil {
		return nil, err
	}
	var run func(context.Context) error
	switch c := conn.(type) {
	case SourceConnector:
		eos, err := w.cfg.OneOf("exactly.once.source.support", "disabled", "enabled", "disabled", "preparing")
		if err != nil {
			return nil, err
		}
		sr := &sourceRunner{w: w, name: name, id: id, task: c.NewTask(), cfg: tc, key: keyConv, value: valConv,
			transforms: ts, flushEvery: flush, eos: eos == "enabled"}
		run = sr.run
	case SinkConnector:
		sk := &sinkRunner{w: w, name: name, id: id, task: c.NewTask(), cfg: tc, key: keyConv, value: valConv,
			transforms: ts, flushEvery: flush}
		run = sk.run
	default:
		return nil, fmt.Errorf("connector %q is neither a source nor a sink", name)
	}
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := run(tctx)
		w.log.Debug("task ended", "connector", name, "task", id, "err", err)
		if err != nil && tctx.Err() == nil {
			w.log.Error("task failed", "connector", name, "task", id, "err", err)
			report(StateFailed, err)
			return
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			w.log.Warn("task stopped with an error", "connector", name, "task", id, "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// StopConnector stops a connector's tasks, letting them commit, and the
// connector.
func (w *Worker) StopConnector(name string) error {
	w.mu.Lock()
	rc := w.connectors[name]
	delete(w.connectors, name)
	w.mu.Unlock()
	if rc == nil {
		return fmt.Errorf("connector %q is not running", name)
	}
	w.log.Debug("stopping connector", "connector", name)
	rc.cancel()
	rc.wg.Wait()
	return rc.conn.Stop()
}

// Stop stops every connector.
func (w *Worker) Stop() {
	w.mu.Lock()
	names := make([]string, 0, len(w.connectors))
	for n := range w.connectors {
		names = append(names, n)
	}
	w.mu.Unlock()
	for _, n := range names {
		if err := w.StopConnector(n); err != nil {
			w.log.Warn("stop connector", "connector", n, "err", err)
		}
	}
}

// Status returns the state of a connector's tasks, or false when it is not
// running here.
func (w *Worker) Status(name string) ([]TaskStatus, bool) {
	w.mu.Lock()
	rc := w.connectors[name]
	w.mu.Unlock()
	if rc == nil {
		return nil, false
	}
	out := make([]TaskStatus, 0, len(rc.tasks))
	for _, t := range rc.tasks {
		t.mu.Lock()
		out = append(out, t.status)
		t.mu.Unlock()
	}
	return out, true
}

// taskID is the name Kafka Connect gives a task.
func taskID(name string, id int) string { return name + "-" + strconv.Itoa(id) }

// Standalone runs connectors from configuration files in this process
// until ctx ends, as connect-standalone: source offsets live in the file
// offset.storage.file.filename (or, with exactly.once.source.support=enabled,
// in the offsets topic offset.storage.topic, written in the same
// transaction as the records).
func Standalone(ctx context.Context, workerCfg Config, connectors []ConnectorConfig, log *slog.Logger) error {
	base, err := ClientOpts(workerCfg)
	if err != nil {
		return err
	}
	if err := checkAccess(ctx, workerCfg, base); err != nil {
		return err
	}
	var store OffsetStore
	eos := workerCfg.String("exactly.once.source.support", "disabled") == "enabled"
	if eos {
		cl, err := kgo.NewClient(base...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ks, err := OpenKafkaOffsetStore(ctx, cl, workerCfg.String("offset.storage.topic", "connect-offsets"))
		if err != nil {
			return err
		}
		store = ks
	} else {
		path, err := workerCfg.Required("offset.storage.file.filename")
		if err != nil {
			return err
		}
		fs, err := OpenFileOffsetStore(path)
		if err != nil {
			return err
		}
		store = fs
	}
	w, err := NewWorker(workerCfg, store, log)
	if err != nil {
		return err
	}
	for _, cc := range connectors {
		if err := w.StartConnector(ctx, cc); err != nil {
			w.Stop()
			return err
		}
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
