package connect

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/kafki/kafki/serde"
)

// ErrData is wrapped by every error about data that does not fit its
// schema or cannot be converted (Kafka Connect's DataException).
var ErrData = errors.New("data error")

func dataErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrData, fmt.Sprintf(format, args...))
}

// Converter turns Connect data into the bytes of a Kafka record key or
// value and back, as org.apache.kafka.connect.storage.Converter.
type Converter interface {
	// Configure applies the converter's settings (with the
	// "key.converter." or "value.converter." prefix removed).
	Configure(cfg Config, isKey bool) error
	// FromConnectData serializes v, described by s (nil: schemaless).
	// A nil value with a nil schema gives nil bytes (a tombstone).
	FromConnectData(topic string, headers []serde.Header, s *Schema, v any) ([]byte, error)
	// ToConnectData deserializes data; nil data gives a nil schema and
	// value.
	ToConnectData(topic string, headers []serde.Header, data []byte) (*Schema, any, error)
}

// Converter class names a worker accepts, with Kafka Connect's names.
const (
	JSONConverterClass      = "org.apache.kafka.connect.json.JsonConverter"
	StringConverterClass    = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverterClass = "org.apache.kafka.connect.converters.ByteArrayConverter"
	AvroConverterClass      = "io.confluent.connect.avro.AvroConverter"
)

// NewConverter returns an unconfigured converter of the named class.
func NewConverter(class string) (Converter, error) {
	switch class {
	case JSONConverterClass, "json", "JsonConverter":
		return &JSONConverter{}, nil
	case StringConverterClass, "string", "StringConverter":
		return &StringConverter{}, nil
	case ByteArrayConverterClass, "bytes", "ByteArrayConverter":
		return &ByteArrayConverter{}, nil
	case AvroConverterClass, "avro", "AvroConverter":
		return &AvroConverter{}, nil
	}
	return nil, fmt.Errorf("%w: unknown converter class %q", ErrConfig, class)
}

// ByteArrayConverter passes bytes through unchanged.
type ByteArrayConverter struct{}

// Configure implements Converter.
func (*ByteArrayConverter) Configure(Config, bool) error { return nil }

// FromConnectData implements Converter; v must be []byte or nil.
func (*ByteArrayConverter) FromConnectData(_ string, _ []serde.Header, s *Schema, v any) ([]byte, error) {
	if s != nil && s.Type != Bytes {
		return nil, dataErr("ByteArrayConverter needs a bytes schema, got %s", s.Type)
	}
	if v == nil {
		return nil, nil
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, dataErr("ByteArrayConverter needs []byte, got %T", v)
	}
	return b, nil
}

// ToConnectData implements Converter.
func (*ByteArrayConverter) ToConnectData(_ string, _ []serde.Header, data []byte) (*Schema, any, error) {
	if data == nil {
		return OptionalBytesSchema, nil, nil
	}
	return OptionalBytesSchema, data, nil
}

// StringConverter writes any value as its string form (UTF-8) and reads
// strings.
type StringConverter struct{}

// Configure implements Converter.
func (*StringConverter) Configure(Config, bool) error { return nil }

// FromConnectData implements Converter.
func (*StringConverter) FromConnectData(_ string, _ []serde.Header, _ *Schema, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	}
	return []byte(fmt.Sprint(v)), nil
}

// ToConnectData implements Converter.
func (*StringConverter) ToConnectData(_ string, _ []serde.Header, data []byte) (*Schema, any, error) {
	if data == nil {
		return OptionalStringSchema, nil, nil
	}
	if !utf8.Valid(data) {
		return nil, nil, dataErr("StringConverter: bytes are not valid UTF-8")
	}
	return OptionalStringSchema, string(data), nil
}
