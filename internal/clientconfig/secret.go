package clientconfig

import (
	"fmt"
	"log/slog"
)

// Secret is a password, key or credential. It prints as "[redacted]"
// through String, every fmt verb, slog and JSON, so that a Config can be
// logged or wrapped into an error without leaking; Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// Format redacts every fmt verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue redacts the secret in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
