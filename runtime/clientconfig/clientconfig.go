package clientconfig

import (
	"io"

	impl "github.com/kafki/kafki/internal/clientconfig"
)

// Security protocols (security.protocol).
const (
	Plaintext     = impl.Plaintext
	SSL           = impl.SSL
	SASLPlaintext = impl.SASLPlaintext
	SASLSSL       = impl.SASLSSL
)

// SASL mechanisms (sasl.mechanism) this package supports.
const (
	Plain       = impl.Plain
	ScramSHA256 = impl.ScramSHA256
	ScramSHA512 = impl.ScramSHA512
)

// ErrConfig is wrapped by every error about the content of a properties
// file: a bad value, a missing setting, an unsupported feature.
var ErrConfig = impl.ErrConfig

type (
	// Config is a parsed client properties file.
	Config = impl.Config
	// TLS holds the TLS settings of one connection kind (the cluster, or
	// the schema registry); PEM only.
	TLS = impl.TLS
	// Secret is a string that never prints.
	Secret = impl.Secret
	// Property is one key and value of a properties file, with its line.
	Property = impl.Property
)

// Load reads and checks the properties file at path; certificate and key
// files it names are read (and checked) as well.
func Load(path string) (*Config, error) { return impl.Load(path) }

// Read is Parse on the whole of r.
func Read(r io.Reader) (*Config, error) { return impl.Read(r) }

// Parse reads properties text and checks the settings against each other.
// Files named in it are not read here.
func Parse(text string) (*Config, error) { return impl.Parse(text) }

// FromMap builds a Config from properties already parsed, as Kafka's
// clients take a Properties object.
func FromMap(props map[string]string) (*Config, error) { return impl.FromMap(props) }

// ParseProperties reads the Java properties format
// (java.util.Properties.load).
func ParseProperties(data string) ([]Property, error) { return impl.ParseProperties(data) }
