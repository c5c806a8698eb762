package connect

import (
	"fmt"
	"sort"
)

// Type is a Connect schema type.
type Type string

// The schema types of Kafka Connect. Values of each type are the Go types
// named: Int8 int8, Int16 int16, Int32 int32, Int64 int64, Float32 float32,
// Float64 float64, Boolean bool, String string, Bytes []byte, Array []any,
// Map map[string]any and Struct map[string]any (field name to value).
const (
	Int8    Type = "int8"
	Int16   Type = "int16"
	Int32   Type = "int32"
	Int64   Type = "int64"
	Float32 Type = "float32"
	Float64 Type = "float64"
	Boolean Type = "boolean"
	String  Type = "string"
	Bytes   Type = "bytes"
	Array   Type = "array"
	Map     Type = "map"
	Struct  Type = "struct"
)

// Logical type names, as Kafka Connect and Debezium use them. A logical
// type is carried in Schema.Name over its underlying type.
const (
	DecimalName        = "org.apache.kafka.connect.data.Decimal"   // bytes, parameter "scale"
	DateName           = "org.apache.kafka.connect.data.Date"      // int32 days since the epoch
	TimeName           = "org.apache.kafka.connect.data.Time"      // int32 ms of the day
	TimestampName      = "org.apache.kafka.connect.data.Timestamp" // int64 ms since the epoch
	DebeziumDate       = "io.debezium.time.Date"                   // int32 days since the epoch
	DebeziumMicroTime  = "io.debezium.time.MicroTime"              // int64 µs of the day
	DebeziumMicroTS    = "io.debezium.time.MicroTimestamp"         // int64 µs since the epoch
	DebeziumZonedTS    = "io.debezium.time.ZonedTimestamp"         // ISO-8601 string with zone
	DebeziumJSON       = "io.debezium.data.Json"                   // string
	DebeziumUUID       = "io.debezium.data.Uuid"                   // string
	DebeziumVariableSc = "io.debezium.data.VariableScaleDecimal"
)

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Schema *Schema
}

// Schema describes Connect data, as org.apache.kafka.connect.data.Schema.
// A nil *Schema means schemaless data.
type Schema struct {
	Type       Type
	Optional   bool
	Name       string
	Version    int
	Doc        string
	Default    any
	Parameters map[string]string
	Fields     []Field // Struct
	Items      *Schema // Array
	Keys       *Schema // Map
	Values     *Schema // Map
}

// Field returns the field called name, or nil.
func (s *Schema) Field(name string) *Field {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// Clone returns a copy of s whose field list may be changed freely.
func (s *Schema) Clone() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Fields = append([]Field(nil), s.Fields...)
	return &c
}

// OptionalCopy returns a copy of s marked optional.
func (s *Schema) OptionalCopy() *Schema {
	c := s.Clone()
	c.Optional = true
	return c
}

// Primitive schemas, required and optional.
var (
	Int8Schema            = &Schema{Type: Int8}
	Int16Schema           = &Schema{Type: Int16}
	Int32Schema           = &Schema{Type: Int32}
	Int64Schema           = &Schema{Type: Int64}
	Float32Schema         = &Schema{Type: Float32}
	Float64Schema         = &Schema{Type: Float64}
	BooleanSchema         = &Schema{Type: Boolean}
	StringSchema          = &Schema{Type: String}
	BytesSchema           = &Schema{Type: Bytes}
	OptionalInt32Schema   = &Schema{Type: Int32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
	OptionalFloat64Schema = &Schema{Type: Float64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: Boolean, Optional: true}
)

// Validate checks that v has the shape schema s describes and returns an
// error naming the first field that does not.
func Validate(s *Schema, v any) error {
	return validate(s, v, "")
}

func validate(s *Schema, v any, path string) error {
	if s == nil {
		return nil
	}
	where := func() string {
		if path == "" {
			return "value"
		}
		return "field " + path
	}
	if v == nil {
		if s.Optional || s.Default != nil {
			return nil
		}
		return fmt.Errorf("%s: null for a required %s schema", where(), s.Type)
	}
	ok := false
	switch s.Type {
	case Int8:
		_, ok = v.(int8)
	case Int16:
		_, ok = v.(int16)
	case Int32:
		_, ok = v.(int32)
	case Int64:
		_, ok = v.(int64)
	case Float32:
		_, ok = v.(float32)
	case Float64:
		_, ok = v.(float64)
	case Boolean:
		_, ok = v.(bool)
	case String:
		_, ok = v.(string)
	case Bytes:
		_, ok = v.([]byte)
	case Array:
		var a []any
		if a, ok = v.([]any); ok {
			for i, e := range a {
				if err := validate(s.Items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case Map:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			for k, e := range m {
				if err := validate(s.Values, e, path+"["+k+"]"); err != nil {
					return err
				}
			}
		}
	case Struct:
		var m map[string]any
		if m, ok = v.(map[string]any); ok {
			for _, f := range s.Fields {
				p := f.Name
				if path != "" {
					p = path + "." + f.Name
				}
				if err := validate(f.Schema, m[f.Name], p); err != nil {
					return err
				}
			}
			for k := range m {
				if s.Field(k) == nil {
					return fmt.Errorf("%s: %q is not a field of the schema", where(), k)
				}
			}
		}
	default:
		return fmt.Errorf("%s: unknown schema type %q", where(), s.Type)
	}
	if !ok {
		return fmt.Errorf("%s: %T is not a valid %s value", where(), v, s.Type)
	}
	return nil
}

// InferSchema returns a schema for a schemaless value as Kafka Connect's
// Values.inferSchema would, or nil when it has none (nil, empty or mixed
// containers).
func InferSchema(v any) *Schema {
	switch x := v.(type) {
	case int8:
		return Int8Schema
	case int16:
		return Int16Schema
	case int32:
		return Int32Schema
	case int64:
		return Int64Schema
	case float32:
		return Float32Schema
	case float64:
		return Float64Schema
	case bool:
		return BooleanSchema
	case string:
		return StringSchema
	case []byte:
		return BytesSchema
	case map[string]any:
		s := &Schema{Type: Struct}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fs := InferSchema(x[k])
			if fs == nil {
				fs = OptionalStringSchema
			}
			s.Fields = append(s.Fields, Field{Name: k, Schema: fs.OptionalCopy()})
		}
		return s
	}
	return nil
}
