package avro

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/internal/avrocompat"
	"github.com/kafki/kafki/serde/registry"
)

// Registry is what the serde needs from a schema registry. *registry.Client
// implements it (with caching and retries).
type Registry interface {
	// Register registers schema under subject, or finds it already
	// registered, and returns its id.
	Register(ctx context.Context, subject string, schema sr.Schema) (int, error)
	// Lookup returns the id of schema among subject's versions without
	// registering it.
	Lookup(ctx context.Context, subject string, schema sr.Schema) (sr.SubjectSchema, error)
	// SchemaByID returns the schema with the given id.
	SchemaByID(ctx context.Context, id int) (sr.Schema, error)
}

// VersionRegistry is a Registry that also returns a subject's version. The
// serde needs it for schemas with references (named types defined in other
// subjects): it resolves them, recursively, before parsing.
// *registry.Client implements it (cached).
type VersionRegistry interface {
	Registry
	// SchemaByVersion returns version (1 or more) of subject.
	SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)
}

var _ VersionRegistry = (*registry.Client)(nil)

// maxReferenceDepth bounds the chain of references followed to parse one
// schema, so that a cycle in the registry ends with an error.
const maxReferenceDepth = 32

// MagicByte starts every record in the schema-registry wire format.
const MagicByte = 0

// HeaderSize is the length of the wire-format prefix (magic byte and id).
const HeaderSize = 5

// Errors the Avro serdes wrap (besides serde.ErrInvalidLength and
// serde.ErrInvalidData for malformed bytes).
var (
	// ErrSchemaNotFound means the registry has no schema with the record's
	// id, or (with AutoRegister(false)) the serde's schema is not
	// registered under the subject.
	ErrSchemaNotFound = errors.New("schema not found")
	// ErrIncompatible means the writer schema cannot be resolved against
	// the reader schema, or the registry rejected the schema as
	// incompatible with the subject's earlier versions.
	ErrIncompatible = errors.New("incompatible schema")
	// ErrRegistry means the registry could not be reached or failed.
	ErrRegistry = errors.New("schema registry error")
)

// SchemaError reports a problem with a schema: the subject, the id (0 when
// not known yet) and the cause. It is wrapped in a *serde.Error.
type SchemaError struct {
	Subject string
	ID      int
	Err     error
}

func (e *SchemaError) Error() string {
	s := "avro schema"
	if e.Subject != "" {
		s += " for subject " + strconv.Quote(e.Subject)
	}
	if e.ID > 0 {
		s += " id " + strconv.Itoa(e.ID)
	}
	return s + ": " + e.Err.Error()
}

func (e *SchemaError) Unwrap() error { return e.Err }

// SubjectNameStrategy names the registry subject for a topic, whether the
// serde is for keys, and the schema's full record name ("" for schemas that
// are not named types).
type SubjectNameStrategy func(topic string, isKey bool, recordName string) (string, error)

// TopicNameStrategy is the default: "<topic>-key" or "<topic>-value".
func TopicNameStrategy(topic string, isKey bool, _ string) (string, error) {
	if isKey {
		return topic + "-key", nil
	}
	return topic + "-value", nil
}

// RecordNameStrategy uses the record's full name, whatever the topic.
func RecordNameStrategy(_ string, _ bool, recordName string) (string, error) {
	if recordName == "" {
		return "", errors.New("record-name strategy needs a named schema (record, enum or fixed)")
	}
	return recordName, nil
}

// TopicRecordNameStrategy uses "<topic>-<record full name>".
func TopicRecordNameStrategy(topic string, _ bool, recordName string) (string, error) {
	if recordName == "" {
		return "", errors.New("topic-record-name strategy needs a named schema (record, enum or fixed)")
	}
	return topic + "-" + recordName, nil
}

type config struct {
	isKey        bool
	strategy     SubjectNameStrategy
	autoRegister bool
	timeout      time.Duration
	api          havro.API
	negativeTTL  time.Duration
	refs         []sr.SchemaReference
}

// Option configures a serde.
type Option func(*config)

// Key makes the serde a key serde (subject "<topic>-key" under the default
// strategy).
func Key() Option { return func(c *config) { c.isKey = true } }

// SubjectStrategy selects the subject-name strategy (default
// TopicNameStrategy).
func SubjectStrategy(s SubjectNameStrategy) Option { return func(c *config) { c.strategy = s } }

// AutoRegister sets whether Serialize registers the schema (true, the
// default) or only looks up an already registered one.
func AutoRegister(on bool) Option { return func(c *config) { c.autoRegister = on } }

// Timeout bounds each registry call made on the record path (default 30s).
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Config sets the hamba/avro API used to encode and decode (for example to
// change MaxByteSliceSize). The default limits strings and bytes to 1 MiB
// and slices to 64 Mi elements.
func Config(api havro.API) Option { return func(c *config) { c.api = api } }

// References declares the schema references of the serde's schema: the
// named types it uses that are defined in other subjects' versions. New
// resolves them through the registry (which must be a VersionRegistry) to
// parse the schema, and Serialize registers the schema with them, as
// Confluent's serializers do for schemas with references.
func References(refs ...sr.SchemaReference) Option {
	return func(c *config) { c.refs = append(c.refs, refs...) }
}

var defaultAPI = havro.Config{
	TagKey:            "avro",
	MaxByteSliceSize:  1 << 20,
	MaxSliceAllocSize: 64 << 20,
}.Freeze()

// Serde is an Avro serde for values of type T. It implements
// serde.Serde[T] and is safe for concurrent use.
type Serde[T any] struct {
	reg        Registry
	cfg        config
	schema     havro.Schema
	schemaText string
	recordName string

	ids   sync.Map // subject -> int
	plans sync.Map // writer id -> *plan

	readers sync.Pool
	writers sync.Pool
}

// plan is how to decode records written with one writer schema id.
type plan struct {
	writer  havro.Schema // the writer schema, to validate data with
	min     map[havro.Schema]int
	schema  havro.Schema // the reader schema or the resolved composite
	err     error        // permanent error (incompatible schemas)
	expires time.Time    // for transient "not found" results
}

var _ serde.Serde[int] = (*Serde[int])(nil)

// New returns an Avro serde for T with the given reader/writer schema (Avro
// JSON). T is a struct with avro tags, map[string]any for records, or any
// type hamba/avro maps to the schema.
func New[T any](reg Registry, schema string, opts ...Option) (*Serde[T], error) {
	cfg := config{strategy: TopicNameStrategy, autoRegister: true, timeout: 30 * time.Second, api: defaultAPI, negativeTTL: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if reg == nil {
		return nil, errors.New("avro: nil registry")
	}
	var parsed havro.Schema
	var err error
	if len(cfg.refs) == 0 {
		parsed, err = parse(schema)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		parsed, err = parseWithReferences(ctx, reg, schema, cfg.refs)
		cancel()
	}
	if err != nil {
		return nil, fmt.Errorf("avro: parse schema: %w", err)
	}
	s := &Serde[T]{reg: reg, cfg: cfg, schema: parsed, schemaText: schema}
	if n, ok := parsed.(havro.NamedSchema); ok {
		s.recordName = n.FullName()
	}
	api := cfg.api
	s.readers.New = func() any { return havro.NewReader(nil, 0, havro.WithReaderConfig(api)) }
	s.writers.New = func() any { return havro.NewWriter(nil, 256, havro.WithWriterConfig(api)) }
	return s, nil
}

// parse parses a schema with a private name cache, so that different
// versions of one record name never see each other.
func parse(schema string) (havro.Schema, error) {
	return havro.ParseWithCache(schema, "", &havro.SchemaCache{})
}

// parseWithReferences parses schema after the schemas its references name,
// depth first, into one name cache, so that the named types they define
// resolve. Each subject version is parsed once even when several schemas
// reference it.
func parseWithReferences(ctx context.Context, reg Registry, schema string, refs []sr.SchemaReference) (havro.Schema, error) {
	vr, ok := reg.(VersionRegistry)
	if !ok {
		return nil, fmt.Errorf("%w: the schema has references and the registry (%T) cannot look up subject versions", serde.ErrUnsupported, reg)
	}
	cache := &havro.SchemaCache{}
	done := map[sr.SchemaReference]bool{}
	var load func(refs []sr.SchemaReference, depth int) error
	load = func(refs []sr.SchemaReference, depth int) error {
		if depth > maxReferenceDepth {
			return fmt.Errorf("references nested more than %d deep (a cycle?)", maxReferenceDepth)
		}
		for _, ref := range refs {
			if done[ref] {
				continue
			}
			done[ref] = true
			ss, err := vr.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("reference %s (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, classify(err))
			}
			if ss.Type != sr.TypeAvro {
				return fmt.Errorf("reference %s (subject %q version %d) is %s, not AVRO", ref.Name, ref.Subject, ref.Version, ss.Type)
			}
			if err := load(ss.References, depth+1); err != nil {
				return err
			}
			if _, err := havro.ParseWithCache(ss.Schema.Schema, "", cache); err != nil {
				return fmt.Errorf("reference %s (subject %q version %d) does not parse: %w", ref.Name, ref.Subject, ref.Version, err)
			}
		}
		return nil
	}
	if err := load(refs, 1); err != nil {
		return nil, err
	}
	return havro.ParseWithCache(schema, "", cache)
}

// Schema returns the serde's parsed schema.
func (s *Serde[T]) Schema() havro.Schema { return s.schema }

// Subject returns the subject the serde uses for topic.
func (s *Serde[T]) Subject(topic string) (string, error) {
	return s.cfg.strategy(topic, s.cfg.isKey, s.recordName)
}

// ID returns the registry id of the serde's schema under the subject for
// topic, registering (or looking up) the schema on first use.
func (s *Serde[T]) ID(topic string) (int, error) {
	subject, err := s.Subject(topic)
	if err != nil {
		return 0, &SchemaError{Err: err}
	}
	if v, ok := s.ids.Load(subject); ok {
		return v.(int), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	ss := sr.Schema{Schema: s.schemaText, Type: sr.TypeAvro, References: s.cfg.refs}
	var id int
	if s.cfg.autoRegister {
		id, err = s.reg.Register(ctx, subject, ss)
	} else {
		var got sr.SubjectSchema
		got, err = s.reg.Lookup(ctx, subject, ss)
		id = got.ID
	}
	if err != nil {
		return 0, &SchemaError{Subject: subject, Err: classify(err)}
	}
	s.ids.Store(subject, id)
	return id, nil
}

// classify joins a registry error with the matching sentinel.
func classify(err error) error {
	switch code := registry.ErrorCode(err); {
	case code == 40401 || code == 40402 || code == 40403:
		return errors.Join(ErrSchemaNotFound, err)
	case code == 409:
		return errors.Join(ErrIncompatible, err)
	case code == 42201:
		return errors.Join(serde.ErrUnsupported, err)
	}
	return errors.Join(ErrRegistry, err)
}

// Serialize encodes v in the wire format for topic.
func (s *Serde[T]) Serialize(topic string, headers []serde.Header, v T) ([]byte, error) {
	return s.AppendSerialize(nil, topic, headers, v)
}

// AppendSerialize appends the wire-format encoding of v to dst.
func (s *Serde[T]) AppendSerialize(dst []byte, topic string, _ []serde.Header, v T) (out []byte, err error) {
	id, err := s.ID(topic)
	if err != nil {
		return dst, serde.SerializeError("avro", topic, err)
	}
	w := s.writers.Get().(*havro.Writer)
	w.Reset(nil)
	w.Error = nil
	defer func() {
		if r := recover(); r != nil {
			out, err = dst, serde.SerializeError("avro", topic, fmt.Errorf("%w: panic encoding %T: %v", serde.ErrUnsupported, v, r))
		}
		if cap(w.Buffer()) <= 1<<20 { // do not pin the buffer of a huge record
			s.writers.Put(w)
		}
	}()
	var hdr [HeaderSize]byte
	hdr[0] = MagicByte
	binary.BigEndian.PutUint32(hdr[1:], uint32(id))
	_, _ = w.Write(hdr[:])
	w.WriteVal(s.schema, v)
	if w.Error != nil {
		subject, _ := s.Subject(topic)
		return dst, serde.SerializeError("avro", topic, &SchemaError{Subject: subject, ID: id, Err: errors.Join(serde.ErrUnsupported, w.Error)})
	}
	if dst == nil {
		return append([]byte(nil), w.Buffer()...), nil
	}
	return append(dst, w.Buffer()...), nil
}

// Deserialize decodes a wire-format record read from topic.
func (s *Serde[T]) Deserialize(topic string, _ []serde.Header, data []byte) (v T, err error) {
	if len(data) < HeaderSize {
		return v, serde.DeserializeError("avro", topic, data,
			serde.Wrap(serde.ErrInvalidLength, "shorter than the 5-byte schema-registry header"))
	}
	if data[0] != MagicByte {
		return v, serde.DeserializeError("avro", topic, data,
			serde.Wrap(serde.ErrInvalidData, "unknown magic byte "+strconv.Itoa(int(data[0]))+" (want 0)"))
	}
	id := int(binary.BigEndian.Uint32(data[1:5]))
	p, err := s.plan(topic, id)
	if err != nil {
		return v, serde.DeserializeError("avro", topic, data, err)
	}
	if err := validate(p.writer, p.min, data[HeaderSize:]); err != nil {
		return v, serde.DeserializeError("avro", topic, data, &SchemaError{ID: id, Err: errors.Join(serde.ErrInvalidData, err)})
	}
	r := s.readers.Get().(*havro.Reader)
	r.Reset(data[HeaderSize:])
	r.Error = nil
	defer func() {
		if rec := recover(); rec != nil {
			var zero T
			v, err = zero, serde.DeserializeError("avro", topic, data, &SchemaError{ID: id, Err: fmt.Errorf("%w: panic decoding: %v", serde.ErrInvalidData, rec)})
		}
		r.Reset(nil)
		s.readers.Put(r)
	}()
	r.ReadVal(p.schema, &v)
	if r.Error != nil {
		var zero T
		return zero, serde.DeserializeError("avro", topic, data, &SchemaError{ID: id, Err: errors.Join(serde.ErrInvalidData, r.Error)})
	}
	return v, nil
}

// plan returns how to decode records written with schema id.
func (s *Serde[T]) plan(topic string, id int) (*plan, error) {
	if v, ok := s.plans.Load(id); ok {
		p := v.(*plan)
		if p.expires.IsZero() || time.Now().Before(p.expires) {
			if p.err != nil {
				return nil, p.err
			}
			return p, nil
		}
	}
	subject, _ := s.Subject(topic)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	ws, err := s.reg.SchemaByID(ctx, id)
	if err != nil {
		err = &SchemaError{Subject: subject, ID: id, Err: classify(err)}
		if errors.Is(err, ErrSchemaNotFound) {
			s.plans.Store(id, &plan{err: err, expires: time.Now().Add(s.cfg.negativeTTL)})
		}
		return nil, err
	}
	p := &plan{}
	var writer havro.Schema
	if ws.Type == sr.TypeAvro {
		if len(ws.References) == 0 {
			writer, err = parse(ws.Schema)
		} else {
			writer, err = parseWithReferences(ctx, s.reg, ws.Schema, ws.References)
		}
	}
	if ws.Type != sr.TypeAvro {
		p.err = &SchemaError{Subject: subject, ID: id, Err: fmt.Errorf("%w: writer schema is %s, not AVRO", ErrIncompatible, ws.Type)}
	} else if err != nil && (errors.Is(err, ErrRegistry) || errors.Is(err, ErrSchemaNotFound)) {
		// A reference could not be fetched: not a property of the schema,
		// so not cached as one (a missing one is retried after the
		// negative TTL).
		err = &SchemaError{Subject: subject, ID: id, Err: err}
		if errors.Is(err, ErrSchemaNotFound) {
			s.plans.Store(id, &plan{err: err, expires: time.Now().Add(s.cfg.negativeTTL)})
		}
		return nil, err
	} else if err != nil {
		p.err = &SchemaError{Subject: subject, ID: id, Err: fmt.Errorf("%w: writer schema does not parse: %w", serde.ErrInvalidData, err)}
	} else if writer.Fingerprint() == s.schema.Fingerprint() {
		p.schema, p.writer = s.schema, s.schema
	} else if resolved, err := havro.NewSchemaCompatibility().Resolve(s.schema, writer); err != nil {
		why := strings.Join(avrocompat.Explain(s.schema, writer), "; ")
		if why == "" {
			why = err.Error()
		}
		p.err = &SchemaError{Subject: subject, ID: id, Err: fmt.Errorf("%w: reader schema %s cannot read writer schema %s: %s",
			ErrIncompatible, describe(s.schema), describe(writer), why)}
	} else {
		p.schema, p.writer = resolved, writer
	}
	if p.writer != nil {
		p.min = newMinSizes(p.writer)
	}
	s.plans.Store(id, p)
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}

func describe(s havro.Schema) string {
	if n, ok := s.(havro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

// NewGeneric returns an Avro serde for generic values: records decode into
// map[string]any (arrays into []any, maps into map[string]any, unions into
// their branch's value), and encode from the same shapes.
func NewGeneric(reg Registry, schema string, opts ...Option) (*Serde[map[string]any], error) {
	return New[map[string]any](reg, schema, opts...)
}
