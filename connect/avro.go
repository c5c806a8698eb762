package connect

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	havro "github.com/hamba/avro/v2"

	"github.com/kafki/kafki/internal/clientconfig"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/avro"
	"github.com/kafki/kafki/serde/registry"
)

// AvroConverter is Confluent's AvroConverter: records in the schema
// registry wire format, the Avro schema derived from the Connect schema
// and registered under the topic's subject (TopicNameStrategy).
//
// Settings: schema.registry.url (required, comma-separated),
// auto.register.schemas (default true), and for a secured registry
// basic.auth.credentials.source=USER_INFO with basic.auth.user.info
// (user:password) and schema.registry.ssl.* (PEM), as Confluent's
// converter takes them. Connect int8/int16 travel as Avro
// int and logical types as their underlying Avro type, each marked with
// "connect.type"/"connect.name" properties so that they read back as
// they were written.
type AvroConverter struct {
	reg    avro.Registry
	isKey  bool
	auto   bool
	mu     sync.Mutex
	byText map[string]*avro.Serde[any]
	byID   map[int]avroReader
}

type avroReader struct {
	schema *Schema
	avro   havro.Schema
	serde  *avro.Serde[any]
}

// NewAvroConverter returns an Avro converter on reg.
func NewAvroConverter(reg avro.Registry, isKey bool) *AvroConverter {
	return &AvroConverter{reg: reg, isKey: isKey, auto: true}
}

// Configure implements Converter.
func (c *AvroConverter) Configure(cfg Config, isKey bool) error {
	c.isKey = isKey
	auto, err := cfg.Bool("auto.register.schemas", true)
	if err != nil {
		return err
	}
	c.auto = auto
	if c.reg == nil {
		urls := cfg.List("schema.registry.url")
		if len(urls) == 0 {
			return configErr("schema.registry.url", "missing: the Avro converter needs a schema registry")
		}
		opts, err := registryOpts(cfg)
		if err != nil {
			return err
		}
		cl, err := registry.NewClient(urls, opts...)
		if err != nil {
			return fmt.Errorf("%w: schema.registry.url: %v", ErrConfig, err)
		}
		c.reg = cl
	}
	return nil
}

func (c *AvroConverter) init() {
	if c.byText == nil {
		c.byText = map[string]*avro.Serde[any]{}
		c.byID = map[int]avroReader{}
	}
}

// FromConnectData implements Converter.
func (c *AvroConverter) FromConnectData(topic string, headers []serde.Header, s *Schema, v any) ([]byte, error) {
	if v == nil && (s == nil || s.Optional) {
		return nil, nil
	}
	if s == nil {
		s = InferSchema(v)
		if s == nil {
			return nil, dataErr("avro: cannot infer a schema for %T", v)
		}
	}
	n := 0
	as := avroSchemaOf(s, &n)
	text, err := json.Marshal(as)
	if err != nil {
		return nil, dataErr("avro: schema: %v", err)
	}
	c.mu.Lock()
	c.init()
	sd := c.byText[string(text)]
	if sd == nil {
		opts := []avro.Option{avro.AutoRegister(c.auto)}
		if c.isKey {
			opts = append(opts, avro.Key())
		}
		sd, err = avro.New[any](c.reg, string(text), opts...)
		if err != nil {
			c.mu.Unlock()
			return nil, dataErr("avro: %v", err)
		}
		c.byText[string(text)] = sd
	}
	c.mu.Unlock()
	hv, err := toHamba(s, v, sd.Schema(), "")
	if err != nil {
		return nil, err
	}
	return sd.Serialize(topic, headers, hv)
}

// ToConnectData implements Converter.
func (c *AvroConverter) ToConnectData(topic string, headers []serde.Header, data []byte) (*Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	if len(data) < avro.HeaderSize || data[0] != avro.MagicByte {
		return nil, nil, dataErr("avro: not in the schema-registry wire format (magic byte 0 and a 4-byte id)")
	}
	id := int(binary.BigEndian.Uint32(data[1:5]))
	c.mu.Lock()
	c.init()
	rd, ok := c.byID[id]
	c.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		sch, err := c.reg.SchemaByID(ctx, id)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("avro: schema id %d: %w", id, err)
		}
		parsed, err := havro.ParseWithCache(sch.Schema, "", &havro.SchemaCache{})
		if err != nil {
			return nil, nil, dataErr("avro: schema id %d: %v", id, err)
		}
		cs, err := connectSchemaOf(parsed, false)
		if err != nil {
			return nil, nil, err
		}
		sd, err := avro.New[any](c.reg, sch.Schema)
		if err != nil {
			return nil, nil, dataErr("avro: schema id %d: %v", id, err)
		}
		rd = avroReader{schema: cs, avro: parsed, serde: sd}
		c.mu.Lock()
		c.byID[id] = rd
		c.mu.Unlock()
	}
	hv, err := rd.serde.Deserialize(topic, headers, data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	v, err := fromHamba(rd.schema, hv, rd.avro, "")
	if err != nil {
		return nil, nil, err
	}
	return rd.schema, v, nil
}

var avroPrim = map[Type]string{Int8: "int", Int16: "int", Int32: "int", Int64: "long", Float32: "float", Float64: "double", Boolean: "boolean", String: "string", Bytes: "bytes"}

func avroName(s *Schema, n *int) (name, ns string) {
	full := s.Name
	if full == "" {
		*n++
		if *n == 1 {
			return "ConnectDefault", "io.confluent.connect.avro"
		}
		return "ConnectDefault" + strconv.Itoa(*n), "io.confluent.connect.avro"
	}
	clean := func(p string) string {
		var b strings.Builder
		for i, r := range p {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	parts := strings.Split(full, ".")
	for i := range parts {
		parts[i] = clean(parts[i])
	}
	return parts[len(parts)-1], strings.Join(parts[:len(parts)-1], ".")
}

// avroSchemaOf builds the Avro schema (as JSON-ready values) for s.
func avroSchemaOf(s *Schema, n *int) any {
	var t any
	if p, ok := avroPrim[s.Type]; ok {
		m := map[string]any{"type": p}
		if s.Type == Int8 || s.Type == Int16 {
			m["connect.type"] = string(s.Type)
		}
		if s.Name != "" {
			m["connect.name"] = s.Name
		}
		if len(s.Parameters) > 0 {
			m["connect.parameters"] = s.Parameters
		}
		t = m
	} else {
		switch s.Type {
		case Array:
			t = map[string]any{"type": "array", "items": avroSchemaOf(s.Items, n)}
		case Map:
			t = map[string]any{"type": "map", "values": avroSchemaOf(s.Values, n)}
		case Struct:
			name, ns := avroName(s, n)
			fields := make([]any, 0, len(s.Fields))
			for _, f := range s.Fields {
				fm := map[string]any{"name": f.Name, "type": avroSchemaOf(f.Schema, n)}
				if f.Schema.Optional {
					fm["default"] = nil
				}
				fields = append(fields, fm)
			}
			m := map[string]any{"type": "record", "name": name, "fields": fields}
			if ns != "" {
				m["namespace"] = ns
			}
			t = m
		}
	}
	if s.Optional {
		return []any{"null", t}
	}
	return t
}

// branch returns the union branch name hamba uses for an Avro schema.
func branch(a havro.Schema) string {
	if n, ok := a.(havro.NamedSchema); ok {
		return n.FullName()
	}
	return string(a.Type())
}

func nonNull(a havro.Schema) havro.Schema {
	if u, ok := a.(*havro.UnionSchema); ok {
		for _, t := range u.Types() {
			if t.Type() != havro.Null {
				return t
			}
		}
	}
	return a
}

// toHamba shapes Connect data as hamba/avro encodes generic data: union
// values as single-key maps.
func toHamba(s *Schema, v any, a havro.Schema, path string) (any, error) {
	if v == nil {
		if s.Default != nil {
			v = s.Default
		} else if s.Optional {
			return nil, nil
		} else {
			return nil, dataErr("%s: null for a required %s field", pathName(path), s.Type)
		}
	}
	inner := nonNull(a)
	var out any
	switch s.Type {
	case Int8, Int16, Int32:
		n, ok := intOf(v)
		if !ok || !intFits(s.Type, n) {
			return nil, dataErr("%s: %T is not a valid %s value", pathName(path), v, s.Type)
		}
		out = int32(n)
	case Array:
		arr, ok := v.([]any)
		if !ok {
			return nil, dataErr("%s: %T is not an array", pathName(path), v)
		}
		items := inner.(*havro.ArraySchema).Items()
		res := make([]any, len(arr))
		for i, e := range arr {
			c, err := toHamba(s.Items, e, items, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			res[i] = c
		}
		out = res
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, dataErr("%s: %T is not a map", pathName(path), v)
		}
		vals := inner.(*havro.MapSchema).Values()
		res := make(map[string]any, len(m))
		for k, e := range m {
			c, err := toHamba(s.Values, e, vals, path+"["+k+"]")
			if err != nil {
				return nil, err
			}
			res[k] = c
		}
		out = res
	case Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, dataErr("%s: %T is not a struct", pathName(path), v)
		}
		rec := inner.(*havro.RecordSchema)
		res := make(map[string]any, len(s.Fields))
		for i, f := range s.Fields {
			c, err := toHamba(f.Schema, m[f.Name], rec.Fields()[i].Type(), joinPath(path, f.Name))
			if err != nil {
				return nil, err
			}
			res[f.Name] = c
		}
		out = res
	default:
		if err := validate(&Schema{Type: s.Type}, v, path); err != nil {
			return nil, err
		}
		out = v
	}
	if _, ok := a.(*havro.UnionSchema); ok {
		return map[string]any{branch(inner): out}, nil
	}
	return out, nil
}

// fromHamba converts hamba's generic data back to Connect data.
func fromHamba(s *Schema, v any, a havro.Schema, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	inner := nonNull(a)
	if _, ok := a.(*havro.UnionSchema); ok {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if x, ok := m[branch(inner)]; ok {
				v = x
			}
		}
	}
	bad := func() error { return dataErr("%s: avro gave %T for a %s", pathName(path), v, s.Type) }
	switch s.Type {
	case Int8, Int16, Int32:
		n, ok := intOf(v)
		if !ok || !intFits(s.Type, n) {
			return nil, bad()
		}
		switch s.Type {
		case Int8:
			return int8(n), nil
		case Int16:
			return int16(n), nil
		}
		return int32(n), nil
	case Int64:
		n, ok := intOf(v)
		if !ok {
			return nil, bad()
		}
		return n, nil
	case Array:
		arr, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		items := inner.(*havro.ArraySchema).Items()
		out := make([]any, len(arr))
		for i, e := range arr {
			c, err := fromHamba(s.Items, e, items, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case Map, Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		out := make(map[string]any, len(m))
		if s.Type == Map {
			vals := inner.(*havro.MapSchema).Values()
			for k, e := range m {
				c, err := fromHamba(s.Values, e, vals, path+"["+k+"]")
				if err != nil {
					return nil, err
				}
				out[k] = c
			}
			return out, nil
		}
		rec := inner.(*havro.RecordSchema)
		for i, f := range s.Fields {
			c, err := fromHamba(f.Schema, m[f.Name], rec.Fields()[i].Type(), joinPath(path, f.Name))
			if err != nil {
				return nil, err
			}
			if c != nil {
				out[f.Name] = c
			}
		}
		return out, nil
	}
	if err := validate(&Schema{Type: s.Type}, v, path); err != nil {
		return nil, err
	}
	return v, nil
}

// connectSchemaOf derives the Connect schema of an Avro writer schema.
func connectSchemaOf(a havro.Schema, optional bool) (*Schema, error) {
	if u, ok := a.(*havro.UnionSchema); ok {
		var rest []havro.Schema
		for _, t := range u.Types() {
			if t.Type() != havro.Null {
				rest = append(rest, t)
			}
		}
		if len(rest) != 1 {
			return nil, dataErr("avro: unions other than [null, T] are not supported")
		}
		return connectSchemaOf(rest[0], true)
	}
	s := &Schema{Optional: optional}
	prop := func(name string) string {
		if p, ok := a.(interface{ Prop(string) any }); ok {
			if v, ok := p.Prop(name).(string); ok {
				return v
			}
		}
		return ""
	}
	switch a.Type() {
	case havro.Int:
		s.Type = Int32
		switch prop("connect.type") {
		case "int8":
			s.Type = Int8
		case "int16":
			s.Type = Int16
		}
	case havro.Long:
		s.Type = Int64
	case havro.Float:
		s.Type = Float32
	case havro.Double:
		s.Type = Float64
	case havro.Boolean:
		s.Type = Boolean
	case havro.String:
		s.Type = String
	case havro.Bytes:
		s.Type = Bytes
	case havro.Array:
		items, err := connectSchemaOf(a.(*havro.ArraySchema).Items(), false)
		if err != nil {
			return nil, err
		}
		s.Type, s.Items = Array, items
	case havro.Map:
		vals, err := connectSchemaOf(a.(*havro.MapSchema).Values(), false)
		if err != nil {
			return nil, err
		}
		s.Type, s.Keys, s.Values = Map, StringSchema, vals
	case havro.Record:
		rec := a.(*havro.RecordSchema)
		s.Type = Struct
		if !strings.HasPrefix(rec.FullName(), "io.confluent.connect.avro.ConnectDefault") {
			s.Name = rec.FullName()
		}
		for _, f := range rec.Fields() {
			fs, err := connectSchemaOf(f.Type(), false)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
			s.Fields = append(s.Fields, Field{Name: f.Name(), Schema: fs})
		}
	default:
		return nil, dataErr("avro: type %s is not supported", a.Type())
	}
	if s.Type != Struct {
		s.Name = prop("connect.name")
		if p, ok := a.(interface{ Prop(string) any }); ok {
			if pm, ok := p.Prop("connect.parameters").(map[string]any); ok {
				s.Parameters = map[string]string{}
				for k, v := range pm {
					s.Parameters[k] = fmt.Sprint(v)
				}
			}
		}
	}
	return s, nil
}

// registryOpts reads a converter's registry security settings.
func registryOpts(cfg Config) ([]registry.ClientOpt, error) {
	sec := map[string]string{}
	for k, v := range cfg {
		switch {
		case k == "basic.auth.credentials.source", k == "basic.auth.user.info", k == "schema.registry.basic.auth.user.info",
			strings.HasPrefix(k, "schema.registry.ssl."):
			sec[k] = v
		}
	}
	if len(sec) == 0 {
		return nil, nil
	}
	cc, err := clientconfig.FromMap(sec)
	if err != nil {
		return nil, fmt.Errorf("avro converter registry settings: %w", err)
	}
	opts, err := cc.RegistryOpts()
	if err != nil {
		return nil, fmt.Errorf("avro converter registry settings: %w", err)
	}
	return opts, nil
}
