package serde

import (
	"errors"
	"strconv"
)

// Sentinel errors that every serde in this package (and its subpackages)
// wraps, so that callers can test the cause with errors.Is whatever the
// serde.
var (
	// ErrInvalidLength means the data has the wrong number of bytes for
	// the type (for example 3 bytes for an int32).
	ErrInvalidLength = errors.New("invalid length")
	// ErrInvalidData means the bytes are not a valid encoding of the type
	// (malformed JSON, a bad magic byte, a truncated Avro record...).
	ErrInvalidData = errors.New("invalid data")
	// ErrUnsupported means the value cannot be encoded by this serde.
	ErrUnsupported = errors.New("unsupported value")
)

// Op tells whether an [Error] came from serializing or deserializing.
type Op uint8

const (
	// OpSerialize marks an error from Serialize.
	OpSerialize Op = iota + 1
	// OpDeserialize marks an error from Deserialize.
	OpDeserialize
)

func (o Op) String() string {
	switch o {
	case OpSerialize:
		return "serialize"
	case OpDeserialize:
		return "deserialize"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Error is the error every built-in serde returns. It names the serde, the
// operation and the topic, and wraps the cause (one of the sentinels above,
// often joined with a lower-level error such as a JSON syntax error), so
// that errors.Is(err, ErrInvalidLength) and errors.As(err, &*serde.Error)
// both work. The engine wraps it again with the partition and offset.
type Error struct {
	// Serde names the serde, e.g. "int32", "string", "json", "avro".
	Serde string
	// Op is OpSerialize or OpDeserialize.
	Op Op
	// Topic is the topic the serde was called for (may be empty).
	Topic string
	// Len is the length of the data being deserialized (-1 when it does
	// not apply).
	Len int
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, e.Serde...)
	b = append(b, ' ')
	b = append(b, e.Op.String()...)
	if e.Topic != "" {
		b = append(b, " (topic "...)
		b = append(b, e.Topic...)
		b = append(b, ')')
	}
	if e.Len >= 0 && e.Op == OpDeserialize {
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(e.Len), 10)
		b = append(b, " bytes"...)
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// DeserializeError builds the *Error a deserializer returns: the serde's
// name, the topic, the data length and the cause. Custom serdes may use it
// to report errors the same way as the built-ins.
func DeserializeError(serdeName, topic string, data []byte, err error) error {
	return &Error{Serde: serdeName, Op: OpDeserialize, Topic: topic, Len: len(data), Err: err}
}

// SerializeError builds the *Error a serializer returns.
func SerializeError(serdeName, topic string, err error) error {
	return &Error{Serde: serdeName, Op: OpSerialize, Topic: topic, Len: -1, Err: err}
}

// lengthError is a cheap cause for fixed-width types: it reports the
// expected and the actual length and unwraps to ErrInvalidLength.
type lengthError struct {
	want, got int
}

func (e lengthError) Error() string {
	return "invalid length: want " + strconv.Itoa(e.want) + " bytes, got " + strconv.Itoa(e.got)
}

func (e lengthError) Unwrap() error { return ErrInvalidLength }

func errLength(name, topic string, want int, data []byte) error {
	return &Error{Serde: name, Op: OpDeserialize, Topic: topic, Len: len(data), Err: lengthError{want, len(data)}}
}
