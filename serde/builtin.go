package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
)

// Appender is implemented by serdes that can encode into a caller-owned
// buffer, so that the engine can reuse one buffer across records. Every
// built-in serde implements it. AppendSerialize appends the encoding of v to
// dst and returns the extended slice.
type Appender[T any] interface {
	AppendSerialize(dst []byte, topic string, headers []Header, v T) ([]byte, error)
}

// ---------------------------------------------------------------- bytes

type bytesSerde struct{}

// Bytes returns the identity serde for []byte (Kafka's ByteArraySerde).
// Neither direction copies: Deserialize returns the record's own slice and
// Serialize returns v itself. A nil value serializes to an empty, non-nil
// slice (nil is Kafka's null, which the engine handles itself).
func Bytes() Serde[[]byte] { return bytesSerde{} }

func (bytesSerde) Serialize(_ string, _ []Header, v []byte) ([]byte, error) {
	if v == nil {
		return []byte{}, nil
	}
	return v, nil
}

func (bytesSerde) AppendSerialize(dst []byte, _ string, _ []Header, v []byte) ([]byte, error) {
	return append(dst, v...), nil
}

func (bytesSerde) Deserialize(_ string, _ []Header, data []byte) ([]byte, error) {
	return data, nil
}

// ---------------------------------------------------------------- string

type stringSerde struct{}

// String returns the UTF-8 string serde (Kafka's StringSerde). Bytes that
// are not valid UTF-8 are passed through unchanged, as Kafka does.
func String() Serde[string] { return stringSerde{} }

func (stringSerde) Serialize(_ string, _ []Header, v string) ([]byte, error) {
	if len(v) == 0 {
		return []byte{}, nil
	}
	return []byte(v), nil
}

func (stringSerde) AppendSerialize(dst []byte, _ string, _ []Header, v string) ([]byte, error) {
	return append(dst, v...), nil
}

func (stringSerde) Deserialize(_ string, _ []Header, data []byte) (string, error) {
	return string(data), nil
}

// ---------------------------------------------------------------- fixed width

type int16Serde struct{}

// Int16 returns the 2-byte big-endian serde (Kafka's ShortSerde).
func Int16() Serde[int16] { return int16Serde{} }

func (int16Serde) Serialize(_ string, _ []Header, v int16) ([]byte, error) {
	return binary.BigEndian.AppendUint16(make([]byte, 0, 2), uint16(v)), nil
}

func (int16Serde) AppendSerialize(dst []byte, _ string, _ []Header, v int16) ([]byte, error) {
	return binary.BigEndian.AppendUint16(dst, uint16(v)), nil
}

func (int16Serde) Deserialize(topic string, _ []Header, data []byte) (int16, error) {
	if len(data) != 2 {
		return 0, errLength("int16", topic, 2, data)
	}
	return int16(binary.BigEndian.Uint16(data)), nil
}

type int32Serde struct{}

// Int32 returns the 4-byte big-endian serde (Kafka's IntegerSerde).
func Int32() Serde[int32] { return int32Serde{} }

func (int32Serde) Serialize(_ string, _ []Header, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) AppendSerialize(dst []byte, _ string, _ []Header, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)), nil
}

func (int32Serde) Deserialize(topic string, _ []Header, data []byte) (int32, error) {
	if len(data) != 4 {
		return 0, errLength("int32", topic, 4, data)
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

type int64Serde struct{}

// Int64 returns the 8-byte big-endian serde (Kafka's LongSerde).
func Int64() Serde[int64] { return int64Serde{} }

func (int64Serde) Serialize(_ string, _ []Header, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) AppendSerialize(dst []byte, _ string, _ []Header, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)), nil
}

func (int64Serde) Deserialize(topic string, _ []Header, data []byte) (int64, error) {
	if len(data) != 8 {
		return 0, errLength("int64", topic, 8, data)
	}
	return int64(binary.BigEndian.Uint64(data)), nil
}

type float32Serde struct{}

// Float32 returns the 4-byte big-endian IEEE 754 serde (Kafka's FloatSerde).
func Float32() Serde[float32] { return float32Serde{} }

func (float32Serde) Serialize(_ string, _ []Header, v float32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), math.Float32bits(v)), nil
}

func (float32Serde) AppendSerialize(dst []byte, _ string, _ []Header, v float32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, math.Float32bits(v)), nil
}

func (float32Serde) Deserialize(topic string, _ []Header, data []byte) (float32, error) {
	if len(data) != 4 {
		return 0, errLength("float32", topic, 4, data)
	}
	return math.Float32frombits(binary.BigEndian.Uint32(data)), nil
}

type float64Serde struct{}

// Float64 returns the 8-byte big-endian IEEE 754 serde (Kafka's DoubleSerde).
func Float64() Serde[float64] { return float64Serde{} }

func (float64Serde) Serialize(_ string, _ []Header, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

func (float64Serde) AppendSerialize(dst []byte, _ string, _ []Header, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v)), nil
}

func (float64Serde) Deserialize(topic string, _ []Header, data []byte) (float64, error) {
	if len(data) != 8 {
		return 0, errLength("float64", topic, 8, data)
	}
	return math.Float64frombits(binary.BigEndian.Uint64(data)), nil
}

type boolSerde struct{}

// Bool returns the 1-byte boolean serde (Kafka's BooleanSerde: 0x01 is
// true, 0x00 is false, anything else is an error).
func Bool() Serde[bool] { return boolSerde{} }

func (boolSerde) Serialize(_ string, _ []Header, v bool) ([]byte, error) {
	if v {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

func (boolSerde) AppendSerialize(dst []byte, _ string, _ []Header, v bool) ([]byte, error) {
	if v {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}

var errBoolByte = wrapSentinel(ErrInvalidData, "boolean byte must be 0x00 or 0x01")

func (boolSerde) Deserialize(topic string, _ []Header, data []byte) (bool, error) {
	if len(data) != 1 {
		return false, errLength("bool", topic, 1, data)
	}
	switch data[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, DeserializeError("bool", topic, data, errBoolByte)
}

// ---------------------------------------------------------------- JSON

type jsonSerde[T any] struct{}

// JSON returns a serde that encodes any Go type with encoding/json.
// Malformed input gives an *Error wrapping ErrInvalidData and the
// json package's own error (which tells the offset of a syntax error).
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

func (jsonSerde[T]) Serialize(topic string, _ []Header, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, SerializeError("json", topic, errors.Join(ErrUnsupported, err))
	}
	return b, nil
}

func (s jsonSerde[T]) AppendSerialize(dst []byte, topic string, h []Header, v T) ([]byte, error) {
	b, err := s.Serialize(topic, h, v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (jsonSerde[T]) Deserialize(topic string, _ []Header, data []byte) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, DeserializeError("json", topic, data, errors.Join(ErrInvalidData, err))
	}
	return v, nil
}

// ---------------------------------------------------------------- plug-ins

// SerializeFunc is the serializing half of a serde.
type SerializeFunc[T any] func(topic string, headers []Header, v T) ([]byte, error)

// DeserializeFunc is the deserializing half of a serde.
type DeserializeFunc[T any] func(topic string, headers []Header, data []byte) (T, error)

type funcSerde[T any] struct {
	ser SerializeFunc[T]
	de  DeserializeFunc[T]
}

// Func builds a serde from two functions. A nil function makes that
// direction return an error wrapping ErrUnsupported. Panics inside the
// functions are not recovered; the functions must return errors instead.
func Func[T any](ser SerializeFunc[T], de DeserializeFunc[T]) Serde[T] {
	return funcSerde[T]{ser: ser, de: de}
}

// Simple builds a serde from two functions that do not need the topic or
// the headers.
func Simple[T any](ser func(v T) ([]byte, error), de func(data []byte) (T, error)) Serde[T] {
	var f funcSerde[T]
	if ser != nil {
		f.ser = func(_ string, _ []Header, v T) ([]byte, error) { return ser(v) }
	}
	if de != nil {
		f.de = func(_ string, _ []Header, data []byte) (T, error) { return de(data) }
	}
	return f
}

func (f funcSerde[T]) Serialize(topic string, headers []Header, v T) ([]byte, error) {
	if f.ser == nil {
		return nil, SerializeError("func", topic, wrapSentinel(ErrUnsupported, "no serializer"))
	}
	return f.ser(topic, headers, v)
}

func (f funcSerde[T]) Deserialize(topic string, headers []Header, data []byte) (T, error) {
	if f.de == nil {
		var zero T
		return zero, DeserializeError("func", topic, data, wrapSentinel(ErrUnsupported, "no deserializer"))
	}
	return f.de(topic, headers, data)
}

// ---------------------------------------------------------------- helpers

type sentinelError struct {
	sentinel error
	msg      string
}

func (e sentinelError) Error() string { return e.sentinel.Error() + ": " + e.msg }
func (e sentinelError) Unwrap() error { return e.sentinel }

// wrapSentinel returns an error that reads "<sentinel>: msg" and unwraps to
// the sentinel.
func wrapSentinel(sentinel error, msg string) error { return sentinelError{sentinel, msg} }

// Wrap returns an error that reads "<sentinel>: msg" and unwraps to the
// sentinel, for custom serdes that want to report causes the same way as
// the built-ins (e.g. serde.Wrap(serde.ErrInvalidData, "bad magic byte 3")).
func Wrap(sentinel error, msg string) error { return wrapSentinel(sentinel, msg) }

// Compile-time checks.
var (
	_ Appender[[]byte]  = bytesSerde{}
	_ Appender[string]  = stringSerde{}
	_ Appender[int16]   = int16Serde{}
	_ Appender[int32]   = int32Serde{}
	_ Appender[int64]   = int64Serde{}
	_ Appender[float32] = float32Serde{}
	_ Appender[float64] = float64Serde{}
	_ Appender[bool]    = boolSerde{}
	_ Appender[int]     = jsonSerde[int]{}
)
