package registry

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the topic the server keeps its state in.
const DefaultTopic = "_schemas"

// Server is an embedded schema registry speaking the common calls of the
// Confluent REST API (subjects, versions, register, lookup, schemas by id,
// compatibility configuration and checks, soft and hard deletes) for Avro
// schemas. It is an http.Handler.
//
// # Storage
//
// All state lives in one compacted topic (default "_schemas") with a single
// partition. Every server reads the topic from the start before it serves
// (Start ends by writing a marker record and waiting until it has read it
// back, so it has seen everything written before), then keeps tailing it.
// A restarted server or a second one on the same topic therefore sees every
// subject, version, id and config. Reads are answered from memory; a read
// that finds nothing (an unknown id or subject) first catches up with the
// topic once more and tries again, so a registration made through one
// server is visible through any other as soon as it has been acknowledged.
//
// # Allocating ids and versions without a leader
//
// Every server applies the topic's records in offset order with the same
// deterministic rules, so all agree on the outcome of every record. To
// register a schema, a server catches up, checks compatibility against its
// up-to-date view, and writes a proposal (subject, version = the subject's
// next version, and id = the existing id of an identical schema, or 0 for a
// new schema), under a key of its own (a random nonce). The proposal is
// accepted, when it is applied, only if its version is still the subject's
// next one, and a new schema takes as its id the proposal's own offset in
// the partition: offsets are unique, so two servers can never hand out the
// same id for different schemas, and the first of two concurrent proposals
// for the same subject version wins. (A proposal asking for a new id is
// also refused if the same schema got an id meanwhile, so one schema keeps
// one id.) The proposer reads its proposal back; if it lost, it removes it
// with a tombstone and tries again from a fresh view (the compatibility
// check runs again too); if it won, it writes a confirmed copy of the
// record under the same key, with the id spelled out, and answers once that
// has been read back.
//
// Confirmed records apply whatever precedes them. That is what keeps the
// state stable under compaction, which keeps only the last record of each
// key and so removes proposals that were later confirmed, soft-deleted or
// tombstoned: replaying a compacted topic yields the same subjects,
// versions and ids. Rejected proposals are removed with tombstones by the
// proposer, and by any server that notices one left behind (a proposer
// that died); unconfirmed accepted proposals are confirmed the same way.
// Ids are therefore not consecutive (they are offsets), they are positive
// and fit in 31 bits as the wire format requires.
//
// Soft deletes rewrite a version's record with deleted=true; hard deletes
// write a tombstone for it. Configs are records keyed by subject (or the
// global key), last write wins.
type Server struct {
	cfg serverConfig
	cl  *kgo.Client
	log *slog.Logger
	mux *http.ServeMux

	mu      sync.RWMutex
	st      *state
	changed chan struct{} // closed and replaced after each applied batch
	tailErr error

	parsedMu sync.Mutex
	parsed   map[int]havro.Schema

	startOnce sync.Once
	startErr  error
	ready     chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

type serverConfig struct {
	topic       string
	kopts       []kgo.Opt
	defLevel    string
	user, pass  string
	tls         *tls.Config
	log         *slog.Logger
	replication int16
	onListen    func(net.Addr)
	timeout     time.Duration
	janitor     time.Duration
	orphanAge   time.Duration
}

// ServerOpt configures a [Server].
type ServerOpt func(*serverConfig)

// Topic sets the storage topic (default "_schemas").
func Topic(name string) ServerOpt { return func(c *serverConfig) { c.topic = name } }

// KafkaOpts adds franz-go client options (TLS, SASL...) for the storage
// topic's cluster.
func KafkaOpts(opts ...kgo.Opt) ServerOpt {
	return func(c *serverConfig) { c.kopts = append(c.kopts, opts...) }
}

// DefaultCompatibility sets the global compatibility level used until one
// is configured (default BACKWARD).
func DefaultCompatibility(level string) ServerOpt {
	return func(c *serverConfig) { c.defLevel = normLevel(level) }
}

// ServerBasicAuth makes the server require HTTP basic authentication.
func ServerBasicAuth(user, pass string) ServerOpt {
	return func(c *serverConfig) { c.user, c.pass = user, pass }
}

// ServerTLS makes Run and Serve speak HTTPS with the given configuration
// (which must hold the certificate).
func ServerTLS(cfg *tls.Config) ServerOpt { return func(c *serverConfig) { c.tls = cfg } }

// Logger sets the logger (default: slog.Default()).
func Logger(l *slog.Logger) ServerOpt { return func(c *serverConfig) { c.log = l } }

// ReplicationFactor sets the storage topic's replication factor when the
// server creates it (default -1: the broker's default).
func ReplicationFactor(n int16) ServerOpt { return func(c *serverConfig) { c.replication = n } }

// OnListen is called with the bound address once Run or Serve listens
// (useful with port 0).
func OnListen(fn func(net.Addr)) ServerOpt { return func(c *serverConfig) { c.onListen = fn } }

// RequestTimeout bounds each write (default 30s): a registration that
// cannot be written and read back in time fails with error code 50002.
func RequestTimeout(d time.Duration) ServerOpt { return func(c *serverConfig) { c.timeout = d } }

// NewServer returns a server storing its state on the cluster at brokers.
// It connects lazily: call Start (or Run, or Serve) before serving.
func NewServer(brokers []string, opts ...ServerOpt) (*Server, error) {
	cfg := serverConfig{
		topic:       DefaultTopic,
		defLevel:    CompatBackward,
		replication: -1,
		timeout:     30 * time.Second,
		janitor:     5 * time.Second,
		orphanAge:   10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.defLevel == "" {
		return nil, errors.New("registry: invalid default compatibility level")
	}
	if len(brokers) == 0 {
		return nil, errors.New("registry: no brokers")
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(cfg.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.topic: {0: kgo.NewOffset().AtStart()}}),
	}, cfg.kopts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("registry: kafka client: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		cl:      cl,
		log:     cfg.log.With("component", "registry", "topic", cfg.topic),
		st:      newState(),
		changed: make(chan struct{}),
		parsed:  make(map[int]havro.Schema),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.routes()
	return s, nil
}

// Start creates the storage topic if it is missing, reads it to its end,
// and keeps tailing it in the background until Close. It returns once the
// server is ready to serve; calling it again returns the first result.
func (s *Server) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		s.startErr = s.start(ctx)
		if s.startErr != nil {
			s.Close()
		}
	})
	return s.startErr
}

func (s *Server) start(ctx context.Context) error {
	if err := s.ensureTopic(ctx); err != nil {
		return err
	}
	tailCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.tail(tailCtx)
	if err := s.sync(ctx); err != nil {
		return fmt.Errorf("registry: read %s to its end: %w", s.cfg.topic, err)
	}
	s.mu.RLock()
	n := len(s.st.ids)
	s.mu.RUnlock()
	s.log.Info("schema registry ready", "schemas", n)
	close(s.ready)
	go s.janitor(tailCtx)
	return nil
}

func (s *Server) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(s.cl)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	compact := "compact"
	resp, err := adm.CreateTopic(cctx, 1, s.cfg.replication, map[string]*string{"cleanup.policy": &compact}, s.cfg.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("registry: create topic %s: %w", s.cfg.topic, err)
	}
	return nil
}

// Close stops tailing and closes the Kafka client.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		} else {
			close(s.done)
		}
		s.cl.Close()
	})
}

// Ready is closed once Start has read the topic to its end.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run starts the server and serves HTTP (HTTPS with ServerTLS) on
// listenAddr (e.g. "127.0.0.1:8081") until ctx is done, then shuts down
// gracefully and closes the server.
func (s *Server) Run(ctx context.Context, listenAddr string) error {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		s.Close()
		return fmt.Errorf("registry: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	if err := s.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	if s.cfg.tls != nil {
		ln = tls.NewListener(ln, s.cfg.tls)
	}
	if s.cfg.onListen != nil {
		s.cfg.onListen(ln.Addr())
	}
	s.log.Info("schema registry listening", "addr", ln.Addr().String())
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

// ServeHTTP serves the REST API. Requests wait until the server is ready.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.user != "" || s.cfg.pass != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="schema-registry"`)
			writeErr(w, &APIError{http.StatusUnauthorized, 401, "Unauthorized"})
			return
		}
	}
	select {
	case <-s.ready:
	case <-s.done:
		writeErr(w, &APIError{http.StatusInternalServerError, 50001, "Schema registry is closed"})
		return
	case <-r.Context().Done():
		return
	}
	s.mux.ServeHTTP(w, r)
}

// ---------------------------------------------------------------- the log

func (s *Server) tail(ctx context.Context) {
	defer close(s.done)
	for {
		fs := s.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			s.log.Warn("fetch failed", "partition", p, "err", err)
		})
		s.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition == 0 && r.Offset >= s.st.next {
				s.st.apply(r.Key, r.Value, r.Offset, r.Timestamp)
			}
		})
		ch := s.changed
		s.changed = make(chan struct{})
		s.mu.Unlock()
		close(ch)
	}
}

// waitApplied waits until the record at offset has been applied. Should
// that record vanish before it is read (a marker tombstone compacted away
// at once), a later marker moves the state past it: one is written every
// couple of seconds while waiting.
func (s *Server) waitApplied(ctx context.Context, offset int64) error {
	nudge := time.NewTicker(2 * time.Second)
	defer nudge.Stop()
	for {
		s.mu.RLock()
		next, ch := s.st.next, s.changed
		s.mu.RUnlock()
		if next > offset {
			return nil
		}
		select {
		case <-ch:
		case <-nudge.C:
			key, _ := json.Marshal(recordKey{KeyType: keyNoop, Nonce: nonce()})
			s.cl.Produce(ctx, &kgo.Record{Topic: s.cfg.topic, Partition: 0, Key: key}, nil)
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.New("registry closed")
		}
	}
}

func (s *Server) produce(ctx context.Context, key, value []byte) (int64, error) {
	r := &kgo.Record{Topic: s.cfg.topic, Partition: 0, Key: key, Value: value}
	if err := s.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return 0, err
	}
	return r.Offset, nil
}

// write produces a record and waits until it has been applied.
func (s *Server) write(ctx context.Context, key, value []byte) (int64, error) {
	off, err := s.produce(ctx, key, value)
	if err != nil {
		return 0, err
	}
	return off, s.waitApplied(ctx, off)
}

// catchUp waits until the state includes every record the topic held when
// it was called (its end offset then), without writing anything.
func (s *Server) catchUp(ctx context.Context) error {
	ends, err := kadm.NewClient(s.cl).ListEndOffsets(ctx, s.cfg.topic)
	if err != nil {
		return err
	}
	end, ok := ends.Lookup(s.cfg.topic, 0)
	if !ok {
		return fmt.Errorf("no end offset for %s", s.cfg.topic)
	}
	if end.Err != nil {
		return end.Err
	}
	if end.Offset <= 0 {
		return nil
	}
	return s.waitApplied(ctx, end.Offset-1)
}

// sync writes a marker and waits until it has been read back: afterwards
// the state includes everything written to the topic before the call, even
// if the topic's last records were compacted away.
func (s *Server) sync(ctx context.Context) error {
	key, _ := json.Marshal(recordKey{KeyType: keyNoop, Nonce: nonce()})
	_, err := s.write(ctx, key, nil)
	return err
}

func nonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// janitor tombstones rejected proposals left behind and confirms accepted
// proposals whose proposer did not (it died between the two writes).
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.janitor)
	defer t.Stop()
	for {
		s.cleanup(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) cleanup(ctx context.Context) {
	type rewrite struct {
		key   string
		value []byte
	}
	var todo []rewrite
	old := time.Now().Add(-s.cfg.orphanAge)
	s.mu.RLock()
	for k := range s.st.rejected {
		todo = append(todo, rewrite{k, nil})
	}
	for _, e := range s.st.byKey {
		if !e.confirmed && e.ts.Before(old) {
			todo = append(todo, rewrite{e.key, s.st.confirmed(e, e.deleted)})
		}
	}
	s.mu.RUnlock()
	for _, r := range todo {
		if ctx.Err() != nil {
			return
		}
		if _, err := s.produce(ctx, []byte(r.key), r.value); err != nil {
			s.log.Warn("cleanup write failed", "err", err)
			return
		}
	}
}

// confirmed returns the confirmed record of e, with the deleted flag set.
func (st *state) confirmed(e *entry, deleted bool) []byte {
	info := st.ids[e.id]
	v := schemaValue{Subject: e.subject, Version: e.version, ID: e.id, Deleted: deleted, Confirmed: true}
	if info != nil {
		v.Schema, v.SchemaType, v.References = info.text, info.typ, info.refs
	}
	b, _ := json.Marshal(v)
	return b
}

// parsedSchema returns the parsed Avro schema of id (cached: ids never
// change). Call with s.mu held for reading.
func (s *Server) parsedSchema(id int) (havro.Schema, error) {
	s.parsedMu.Lock()
	p, ok := s.parsed[id]
	s.parsedMu.Unlock()
	if ok {
		return p, nil
	}
	info := s.st.ids[id]
	if info == nil {
		return nil, fmt.Errorf("schema %d not found", id)
	}
	p, _, err := parseAvro(info.text, info.refs, s.st.refLookup, 0)
	if err != nil {
		return nil, err
	}
	s.parsedMu.Lock()
	s.parsed[id] = p
	s.parsedMu.Unlock()
	return p, nil
}

func (st *state) refLookup(r Reference) (string, []Reference, bool) {
	vs := st.subjects[r.Subject]
	var e *entry
	if r.Version <= 0 {
		for _, x := range st.versions(r.Subject, false) {
			e = x
		}
	} else {
		e = vs[r.Version]
	}
	if e == nil {
		return "", nil, false
	}
	info := st.ids[e.id]
	if info == nil {
		return "", nil, false
	}
	return info.text, info.refs, true
}
