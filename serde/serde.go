package serde

// Header is one Kafka record header. Serdes see the headers of the record
// they work on, as Kafka's Serializer and Deserializer do.
type Header struct {
	Key   string
	Value []byte
}

// Serde serializes and deserializes values of one type.
//
// Implementations must be safe for concurrent use: one serde value serves
// every task of an application. Deserialize must return an error, never
// panic, on bytes it cannot decode.
//
// A nil byte slice is Kafka's null (a tombstone); the engine handles nulls
// itself and does not pass them to a serde.
type Serde[T any] interface {
	// Serialize encodes v for the given topic.
	Serialize(topic string, headers []Header, v T) ([]byte, error)
	// Deserialize decodes data read from the given topic.
	Deserialize(topic string, headers []Header, data []byte) (T, error)
}
