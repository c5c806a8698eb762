package connect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Transformation is a single message transform: it changes one record,
// or drops it by returning nil, as
// org.apache.kafka.connect.transforms.Transformation.
type Transformation interface {
	Configure(cfg Config) error
	Apply(r *Record) (*Record, error)
}

// NewTransformation returns an unconfigured transform of the named class.
// Classes with $Key and $Value variants work on the key or the value.
func NewTransformation(class string) (Transformation, error) {
	base, part := class, "Value"
	if i := strings.LastIndexByte(class, '$'); i >= 0 {
		base, part = class[:i], class[i+1:]
		if part != "Key" && part != "Value" {
			return nil, fmt.Errorf("%w: transform class %q: want a $Key or $Value variant", ErrConfig, class)
		}
	}
	short := base[strings.LastIndexByte(base, '.')+1:]
	key := part == "Key"
	switch short {
	case "InsertField":
		return &InsertField{key: key}, nil
	case "ReplaceField":
		return &ReplaceField{key: key}, nil
	case "ExtractField":
		return &ExtractField{key: key}, nil
	case "ValueToKey":
		return &ValueToKey{}, nil
	case "RegexRouter":
		return &RegexRouter{}, nil
	case "ExtractNewRecordState":
		return &ExtractNewRecordState{}, nil
	}
	return nil, fmt.Errorf("%w: unknown transform class %q (known: InsertField, ReplaceField, ExtractField, ValueToKey, RegexRouter, io.debezium.transforms.ExtractNewRecordState)", ErrConfig, class)
}

// Transforms builds the chain a connector configuration names in
// "transforms", each configured from "transforms.<name>.*".
func Transforms(cfg Config) ([]Transformation, error) {
	var out []Transformation
	for _, name := range cfg.List("transforms") {
		sub := cfg.Sub("transforms." + name + ".")
		class, err := sub.Required("type")
		if err != nil {
			return nil, fmt.Errorf("transform %q: %w", name, err)
		}
		t, err := NewTransformation(class)
		if err != nil {
			return nil, fmt.Errorf("transform %q: %w", name, err)
		}
		if err := t.Configure(sub); err != nil {
			return nil, fmt.Errorf("transform %q (%s): %w", name, class, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// ApplyAll runs r through ts in order; nil means a transform dropped it.
func ApplyAll(ts []Transformation, r *Record) (*Record, error) {
	for _, t := range ts {
		var err error
		if r, err = t.Apply(r); err != nil || r == nil {
			return nil, err
		}
	}
	return r, nil
}

func part(r *Record, key bool) (*Schema, any) {
	if key {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

func setPart(r *Record, key bool, s *Schema, v any) *Record {
	c := *r
	if key {
		c.KeySchema, c.Key = s, v
	} else {
		c.ValueSchema, c.Value = s, v
	}
	return &c
}

func structOf(s *Schema, v any, what string) (map[string]any, error) {
	if s != nil && s.Type != Struct {
		return nil, dataErr("%s: needs a struct, the schema is %s", what, s.Type)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, dataErr("%s: needs a struct or map, got %T", what, v)
	}
	return m, nil
}

// InsertField adds fields from record metadata or a static value
// (topic.field, partition.field, offset.field, timestamp.field,
// static.field with static.value). A trailing "!" makes a field required,
// "?" (the default) optional.
type InsertField struct {
	key                                 bool
	topic, partition, offset, timestamp string
	static, staticValue                 string
}

// Configure implements Transformation.
func (t *InsertField) Configure(cfg Config) error {
	t.topic = cfg.String("topic.field", "")
	t.partition = cfg.String("partition.field", "")
	t.offset = cfg.String("offset.field", "")
	t.timestamp = cfg.String("timestamp.field", "")
	t.static = cfg.String("static.field", "")
	t.staticValue = cfg.String("static.value", "")
	if t.topic+t.partition+t.offset+t.timestamp+t.static == "" {
		return fmt.Errorf("%w: InsertField needs at least one of topic.field, partition.field, offset.field, timestamp.field, static.field", ErrConfig)
	}
	return nil
}

// Apply implements Transformation. The offset field is only filled for
// sink records (the worker passes it through SinkOffset).
func (t *InsertField) Apply(r *Record) (*Record, error) {
	s, v := part(r, t.key)
	if v == nil {
		return r, nil // tombstones pass unchanged, as Kafka's InsertField does
	}
	m, err := structOf(s, v, "InsertField")
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m)+4)
	for k, x := range m {
		out[k] = x
	}
	ns := s.Clone()
	add := func(spec string, fs *Schema, val any) {
		if spec == "" {
			return
		}
		name := strings.TrimRight(spec, "!?")
		required := strings.HasSuffix(spec, "!")
		if ns != nil && ns.Field(name) == nil {
			f := fs.Clone()
			f.Optional = !required
			ns.Fields = append(ns.Fields, Field{Name: name, Schema: f})
		}
		if val != nil {
			out[name] = val
		}
	}
	add(t.topic, StringSchema, r.Topic)
	var p any
	if r.Partition >= 0 {
		p = r.Partition
	}
	add(t.partition, Int32Schema, p)
	var ts any
	if !r.Timestamp.IsZero() {
		ts = r.Timestamp.UnixMilli()
	}
	add(t.timestamp, &Schema{Type: Int64, Name: TimestampName}, ts)
	add(t.static, StringSchema, t.staticValue)
	return setPart(r, t.key, ns, out), nil
}

// ReplaceField drops (exclude), keeps (include) and renames
// (renames=old:new,...) fields.
type ReplaceField struct {
	key              bool
	include, exclude map[string]bool
	renames          map[string]string
}

// Configure implements Transformation.
func (t *ReplaceField) Configure(cfg Config) error {
	set := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			for _, f := range cfg.List(k) {
				m[f] = true
			}
		}
		return m
	}
	t.exclude = set("exclude", "blacklist")
	t.include = set("include", "whitelist")
	t.renames = map[string]string{}
	for _, p := range cfg.List("renames") {
		old, nw, ok := strings.Cut(p, ":")
		if !ok || old == "" || nw == "" {
			return fmt.Errorf("%w: renames: %q is not old:new", ErrConfig, p)
		}
		t.renames[old] = nw
	}
	return nil
}

func (t *ReplaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *ReplaceField) rename(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

// Apply implements Transformation.
func (t *ReplaceField) Apply(r *Record) (*Record, error) {
	s, v := part(r, t.key)
	if v == nil {
		return r, nil
	}
	m, err := structOf(s, v, "ReplaceField")
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if t.keep(k) {
			out[t.rename(k)] = x
		}
	}
	var ns *Schema
	if s != nil {
		ns = s.Clone()
		ns.Fields = ns.Fields[:0]
		for _, f := range s.Fields {
			if t.keep(f.Name) {
				ns.Fields = append(ns.Fields, Field{Name: t.rename(f.Name), Schema: f.Schema})
			}
		}
	}
	return setPart(r, t.key, ns, out), nil
}

// ExtractField replaces the key or value with one of its fields.
type ExtractField struct {
	key   bool
	field string
}

// Configure implements Transformation.
func (t *ExtractField) Configure(cfg Config) error {
	f, err := cfg.Required("field")
	t.field = f
	return err
}

// Apply implements Transformation.
func (t *ExtractField) Apply(r *Record) (*Record, error) {
	s, v := part(r, t.key)
	if v == nil {
		return r, nil
	}
	m, err := structOf(s, v, "ExtractField")
	if err != nil {
		return nil, err
	}
	var fs *Schema
	if s != nil {
		f := s.Field(t.field)
		if f == nil {
			return nil, dataErr("ExtractField: the schema has no field %q", t.field)
		}
		fs = f.Schema
	}
	return setPart(r, t.key, fs, m[t.field]), nil
}

// ValueToKey makes the key a struct of fields copied from the value.
type ValueToKey struct {
	fields []string
}

// Configure implements Transformation.
func (t *ValueToKey) Configure(cfg Config) error {
	t.fields = cfg.List("fields")
	if len(t.fields) == 0 {
		return fmt.Errorf("%w: ValueToKey: fields: missing", ErrConfig)
	}
	return nil
}

// Apply implements Transformation.
func (t *ValueToKey) Apply(r *Record) (*Record, error) {
	if r.Value == nil {
		return nil, dataErr("ValueToKey: the value is null, there is no field to copy")
	}
	m, err := structOf(r.ValueSchema, r.Value, "ValueToKey")
	if err != nil {
		return nil, err
	}
	key := make(map[string]any, len(t.fields))
	var ks *Schema
	if r.ValueSchema != nil {
		ks = &Schema{Type: Struct}
	}
	for _, f := range t.fields {
		if ks != nil {
			fd := r.ValueSchema.Field(f)
			if fd == nil {
				return nil, dataErr("ValueToKey: the value schema has no field %q", f)
			}
			ks.Fields = append(ks.Fields, Field{Name: f, Schema: fd.Schema})
		}
		if x, ok := m[f]; ok {
			key[f] = x
		}
	}
	c := *r
	c.KeySchema, c.Key = ks, key
	return &c, nil
}

// RegexRouter renames the topic when it matches regex entirely, replacing
// it with replacement ($1 style group references, as Java's).
type RegexRouter struct {
	re          *regexp.Regexp
	replacement string
}

var javaGroup = regexp.MustCompile(`\$(\d+)`)

// Configure implements Transformation.
func (t *RegexRouter) Configure(cfg Config) error {
	expr, err := cfg.Required("regex")
	if err != nil {
		return err
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return fmt.Errorf("%w: regex: %v", ErrConfig, err)
	}
	t.re = re
	if _, ok := cfg["replacement"]; !ok {
		return fmt.Errorf("%w: RegexRouter: replacement: missing", ErrConfig)
	}
	t.replacement = javaGroup.ReplaceAllString(cfg["replacement"], "$${$1}")
	return nil
}

// Apply implements Transformation.
func (t *RegexRouter) Apply(r *Record) (*Record, error) {
	if !t.re.MatchString(r.Topic) {
		return r, nil
	}
	c := *r
	c.Topic = t.re.ReplaceAllString(r.Topic, t.replacement)
	return &c, nil
}

// ExtractNewRecordState is Debezium's "unwrap" transform: it replaces a
// change event's envelope with its "after" state. drop.tombstones (default
// true) drops tombstones; delete.handling.mode is drop (default: delete
// events are dropped), none (a delete becomes a record with a null value,
// which sinks take as a delete) or rewrite (the "before" state with a
// "__deleted" field set to "true"; other records get "false").
type ExtractNewRecordState struct {
	dropTombstones bool
	mode           string
}

// Configure implements Transformation.
func (t *ExtractNewRecordState) Configure(cfg Config) error {
	var err error
	if t.dropTombstones, err = cfg.Bool("drop.tombstones", true); err != nil {
		return err
	}
	t.mode, err = cfg.OneOf("delete.handling.mode", "drop", "drop", "none", "rewrite")
	return err
}

// Apply implements Transformation.
func (t *ExtractNewRecordState) Apply(r *Record) (*Record, error) {
	if r.Value == nil {
		if t.dropTombstones {
			return nil, nil
		}
		return r, nil
	}
	m, err := structOf(r.ValueSchema, r.Value, "ExtractNewRecordState")
	if err != nil {
		return nil, err
	}
	op, _ := m["op"].(string)
	if op == "" {
		return r, nil // not a change event: pass through, as Debezium does
	}
	var stateSchema *Schema
	if r.ValueSchema != nil {
		if f := r.ValueSchema.Field("after"); f != nil {
			stateSchema = f.Schema.Clone()
			stateSchema.Optional = false
		}
	}
	c := *r
	if op == "d" {
		switch t.mode {
		case "drop":
			return nil, nil
		case "none":
			c.ValueSchema, c.Value = nil, nil
			return &c, nil
		}
		before, _ := m["before"].(map[string]any)
		return withDeleted(&c, stateSchema, before, true), nil
	}
	after, _ := m["after"].(map[string]any)
	if t.mode == "rewrite" {
		return withDeleted(&c, stateSchema, after, false), nil
	}
	c.ValueSchema, c.Value = stateSchema, after
	return &c, nil
}

func withDeleted(c *Record, s *Schema, state map[string]any, deleted bool) *Record {
	out := make(map[string]any, len(state)+1)
	for k, v := range state {
		out[k] = v
	}
	out["__deleted"] = strconv.FormatBool(deleted)
	if s != nil {
		s.Fields = append(s.Fields, Field{Name: "__deleted", Schema: OptionalStringSchema})
	}
	c.ValueSchema, c.Value = s, out
	return c
}
